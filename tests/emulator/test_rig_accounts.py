# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Cross-account ECR: requests naming another account's registryId are served as that account."""

import json

import pytest
from botocore.exceptions import ClientError

from rig_testlib import NO_RETRY

OTHER = "222222222222"
DEFAULT = "123456789012"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEFAULT}:root"},
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_policy_of_a_repository_in_another_account(rig):
    other = rig.account_client("ecr", OTHER, config=NO_RETRY)
    assert other.create_repository(repositoryName="base")["repository"]["registryId"] == OTHER
    ecr = rig.client("ecr", config=NO_RETRY)
    mark = rig.mark()

    found = ecr.describe_repositories(registryId=OTHER)["repositories"]
    assert [(r["repositoryName"], r["registryId"], r["repositoryArn"]) for r in found] == [
        ("base", OTHER, f"arn:aws:ecr:us-east-1:{OTHER}:repository/base")]
    assert ecr.describe_repositories(registryId=OTHER, repositoryNames=["base"])["repositories"][0]["registryId"] == OTHER
    assert ecr.set_repository_policy(repositoryName="base", registryId=OTHER, policyText=POLICY)["registryId"] == OTHER
    got = ecr.get_repository_policy(repositoryName="base", registryId=OTHER)
    assert (got["registryId"], json.loads(got["policyText"])) == (OTHER, json.loads(POLICY))
    # The other account sees the policy on its own repository.
    assert json.loads(other.get_repository_policy(repositoryName="base")["policyText"]) == json.loads(POLICY)
    assert ecr.delete_repository_policy(repositoryName="base", registryId=OTHER)["registryId"] == OTHER
    with pytest.raises(ClientError) as excinfo:
        ecr.get_repository_policy(repositoryName="base", registryId=OTHER)
    assert _code(excinfo) == "RepositoryPolicyNotFoundException"

    # Nothing landed in the caller's own account.
    assert ecr.describe_repositories()["repositories"] == []
    entries = rig.requests(since=mark, service="ecr")
    assert [(e["operation"], e.get("registry_id"), e["status"]) for e in entries] == [
        ("DescribeRepositories", OTHER, 200), ("DescribeRepositories", OTHER, 200), ("SetRepositoryPolicy", OTHER, 200),
        ("GetRepositoryPolicy", OTHER, 200), ("GetRepositoryPolicy", None, 200),  # the other account's own call
        ("DeleteRepositoryPolicy", OTHER, 200), ("GetRepositoryPolicy", OTHER, 400), ("DescribeRepositories", None, 200)]
    assert "registry_id" not in entries[-1]  # only requests naming a registryId carry one


def test_missing_repository_in_another_account(rig):
    ecr = rig.client("ecr", config=NO_RETRY)
    ecr.create_repository(repositoryName="base")  # same name, in the caller's own account
    with pytest.raises(ClientError) as excinfo:
        ecr.get_repository_policy(repositoryName="base", registryId=OTHER)
    assert _code(excinfo) == "RepositoryNotFoundException"
    assert f"registry with id '{OTHER}'" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        ecr.set_repository_policy(repositoryName="base", registryId=OTHER, policyText=POLICY)
    assert _code(excinfo) == "RepositoryNotFoundException"


def test_same_account_with_explicit_registry_id_is_unchanged(rig):
    ecr = rig.client("ecr", config=NO_RETRY)
    ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", registryId=DEFAULT, policyText=POLICY)
    assert ecr.get_repository_policy(repositoryName="app", registryId=DEFAULT)["registryId"] == DEFAULT
    assert ecr.get_repository_policy(repositoryName="app")["registryId"] == DEFAULT
    assert [r["repositoryName"] for r in ecr.describe_repositories(registryId=DEFAULT)["repositories"]] == ["app"]
    assert rig.account_client("ecr", OTHER, config=NO_RETRY).describe_repositories()["repositories"] == []
    assert [e["registry_id"] for e in rig.requests(service="ecr") if "registry_id" in e] == [DEFAULT] * 3


def test_a_session_in_another_account_reaches_back(rig):
    rig.client("ecr", config=NO_RETRY).create_repository(repositoryName="app")
    other = rig.account_client("ecr", OTHER, config=NO_RETRY)
    with pytest.raises(ClientError) as excinfo:
        other.get_repository_policy(repositoryName="app")  # its own account has no "app"
    assert f"registry with id '{OTHER}'" in excinfo.value.response["Error"]["Message"]
    other.set_repository_policy(repositoryName="app", registryId=DEFAULT, policyText=POLICY)
    assert rig.client("ecr", config=NO_RETRY).get_repository_policy(repositoryName="app")["registryId"] == DEFAULT


def test_cross_account_routing_can_be_switched_off(rig):
    rig.account_client("ecr", OTHER, config=NO_RETRY).create_repository(repositoryName="base")
    assert rig.iam_settings(cross_account=False)["cross_account"] is False
    ecr = rig.client("ecr", config=NO_RETRY)
    with pytest.raises(ClientError) as excinfo:
        ecr.get_repository_policy(repositoryName="base", registryId=OTHER)  # moto's own behaviour
    assert _code(excinfo) == "RepositoryNotFoundException"
    rig.reset(moto=False)
    assert rig.iam_settings()["cross_account"] is True
    with pytest.raises(ClientError) as excinfo:
        ecr.get_repository_policy(repositoryName="base", registryId=OTHER)
    assert _code(excinfo) == "RepositoryPolicyNotFoundException"  # found the repository; it has no policy


def test_account_client_for_lightsail_acts_in_that_account(rig):
    rig.account_client("lightsail", OTHER, config=NO_RETRY).create_container_service(serviceName="web", power="nano", scale=1)
    assert [(s["containerServiceName"], s["account"]) for s in rig.lightsail_services()] == [("web", OTHER)]
    assert rig.client("lightsail", config=NO_RETRY).get_container_services()["containerServices"] == []


def test_account_credentials(rig):
    creds = rig.account_credentials(OTHER)
    assert set(creds) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    identity = rig.client("sts", credentials=creds, config=NO_RETRY).get_caller_identity()
    assert identity["Account"] == OTHER
    assert identity["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/pullaccess-rig-cross-account/pullaccess-rig"
    with pytest.raises(ValueError):
        rig.account_credentials("2222")
