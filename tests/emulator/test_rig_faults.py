# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fault injection as botocore sees it, and proof that faulted requests never reach a backend."""

import json
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from rig import RigError
from rig.faults import ECR_PRINCIPAL_NOT_FOUND_MESSAGE, ecr_principal_not_found
from rig_testlib import NO_RETRY

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/puller"},
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})


def _error(excinfo):
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def _clients(rig, *names):
    return [rig.client(name, config=NO_RETRY) for name in names]


def test_throttle_in_each_protocol(rig):
    ecr, sts, lightsail = _clients(rig, "ecr", "sts", "lightsail")
    rig.set_faults([{"kind": "throttle", "times": 3}])
    for call, code in ((ecr.describe_repositories, "ThrottlingException"), (sts.get_caller_identity, "Throttling"),
                       (lightsail.get_container_services, "ThrottlingException")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert _error(excinfo) == (code, "Rate exceeded", 400)
    # Exhausted: requests pass again.
    ecr.describe_repositories()
    assert [(e["error_code"], e["fault"]) for e in rig.requests()] == [
        ("ThrottlingException", "throttle"), ("Throttling", "throttle"), ("ThrottlingException", "throttle"), (None, None)]


def test_server_error_uses_each_services_exception(rig):
    ecr, ecs, iam, sts, lightsail = _clients(rig, "ecr", "ecs", "iam", "sts", "lightsail")
    rig.set_faults([{"kind": "server_error"}])
    for call, code in ((ecr.describe_repositories, "ServerException"), (ecs.list_clusters, "ServerException"),
                       (iam.list_roles, "ServiceFailure"), (sts.get_caller_identity, "InternalFailure"),
                       (lightsail.get_container_services, "ServiceException")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert _error(excinfo)[0::2] == (code, 500)
    assert [e["status"] for e in rig.requests()] == [500] * 5


def test_principal_not_found_error_does_not_set_the_policy(rig):
    ecr, = _clients(rig, "ecr")
    ecr.create_repository(repositoryName="app")
    rig.create_roles("arn:aws:iam::123456789012:role/puller")  # it exists, but (the fault says) has not propagated yet
    rig.set_faults([ecr_principal_not_found(times=1)])
    with pytest.raises(ClientError) as excinfo:
        ecr.set_repository_policy(repositoryName="app", policyText=POLICY)
    assert _error(excinfo) == ("InvalidParameterException", ECR_PRINCIPAL_NOT_FOUND_MESSAGE, 400)
    with pytest.raises(ClientError) as excinfo:
        ecr.get_repository_policy(repositoryName="app")
    assert _error(excinfo)[0] == "RepositoryPolicyNotFoundException"
    ecr.set_repository_policy(repositoryName="app", policyText=POLICY)  # the rule fired once only
    assert json.loads(ecr.get_repository_policy(repositoryName="app")["policyText"]) == json.loads(POLICY)
    assert [(e["operation"], e["fault"]) for e in rig.requests(operation="SetRepositoryPolicy")] == [
        ("SetRepositoryPolicy", "principal-not-found"), ("SetRepositoryPolicy", None)]


def test_custom_error_in_query_protocol(rig):
    iam, = _clients(rig, "iam")
    rig.set_faults([{"service": "iam", "operation": "CreateRole", "kind": "error", "status": 409,
                     "code": "EntityAlreadyExists", "message": "Role with name puller already exists."}])
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName="puller", AssumeRolePolicyDocument=TRUST)
    assert _error(excinfo) == ("EntityAlreadyExists", "Role with name puller already exists.", 409)
    assert excinfo.value.response["Error"]["Type"] == "Sender"
    assert [(e["status"], e["error_code"], e["fault"]) for e in rig.requests()] == [(409, "EntityAlreadyExists", "error")]


def test_slow_passes_through_after_the_delay(rig):
    ecr, = _clients(rig, "ecr")
    rig.set_faults([{"service": "ecr", "operation": "CreateRepository", "kind": "slow", "delay": 0.4, "times": 1}])
    started = time.monotonic()
    ecr.create_repository(repositoryName="app")
    assert time.monotonic() - started >= 0.4
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["app"]
    assert [(e["operation"], e["status"], e["fault"]) for e in rig.requests()] == [
        ("CreateRepository", 200, "slow"), ("DescribeRepositories", 200, None)]


def test_drop_is_a_connection_error_and_changes_nothing(rig):
    ecr, lightsail = _clients(rig, "ecr", "lightsail")
    rig.set_faults([{"operation": "CreateRepository", "kind": "drop", "times": 1},
                    {"operation": "CreateContainerService", "kind": "drop", "times": 1}])
    with pytest.raises(ConnectionClosedError):
        ecr.create_repository(repositoryName="app")
    with pytest.raises(ConnectionClosedError):
        lightsail.create_container_service(serviceName="web", power="nano", scale=1)
    assert ecr.describe_repositories()["repositories"] == []
    assert lightsail.get_container_services()["containerServices"] == []
    assert [(e["operation"], e["status"], e["fault"]) for e in rig.requests()][:2] == [
        ("CreateRepository", None, "drop"), ("CreateContainerService", None, "drop")]


def test_faulted_mutations_never_reach_the_backend(rig):
    ecr, iam, lightsail, ecs = _clients(rig, "ecr", "iam", "lightsail", "ecs")
    rig.set_faults([{"service": "ecr", "kind": "throttle"}, {"service": "iam", "kind": "server_error"},
                    {"service": "lightsail", "kind": "drop"}, {"service": "ecs", "kind": "error", "code": "ClientException", "message": "no"}])
    for call in (lambda: ecr.create_repository(repositoryName="app"),
                 lambda: iam.create_role(RoleName="puller", AssumeRolePolicyDocument=TRUST),
                 lambda: lightsail.create_container_service(serviceName="web", power="nano", scale=1),
                 lambda: ecs.create_cluster(clusterName="c")):
        with pytest.raises((ClientError, ConnectionClosedError)):
            call()
    assert [e["fault"] for e in rig.requests()] == ["throttle", "server_error", "drop", "error"]
    rig.clear_faults()
    assert ecr.describe_repositories()["repositories"] == []
    assert iam.list_roles()["Roles"] == []
    assert lightsail.get_container_services()["containerServices"] == []
    assert ecs.list_clusters()["clusterArns"] == []


def test_matching_by_service_and_operation(rig):
    ecr, sts = _clients(rig, "ecr", "sts")
    rig.set_faults([{"service": "ecr", "operation": "DescribeRepositories", "kind": "throttle"}])
    ecr.create_repository(repositoryName="app")
    sts.get_caller_identity()
    with pytest.raises(ClientError):
        ecr.describe_repositories()
    assert [e["fault"] for e in rig.requests()] == [None, None, "throttle"]


def test_probability_with_seed_is_reproducible(rig):
    sts, = _clients(rig, "sts")

    def outcomes(rule):
        rig.set_faults([rule])
        results = []
        for _attempt in range(12):
            try:
                sts.get_caller_identity()
                results.append(True)
            except ClientError:
                results.append(False)
        return results

    first = outcomes({"kind": "throttle", "probability": 0.5, "seed": 42})
    assert first == outcomes({"kind": "throttle", "probability": 0.5, "seed": 42})
    assert True in first and False in first
    assert all(outcomes({"kind": "throttle", "probability": 0}))
    assert not any(outcomes({"kind": "throttle", "probability": 1, "times": 12}))


def test_rules_are_listed_validated_and_cleared(rig):
    rules = rig.set_faults([{"kind": "throttle", "times": 2}, {"kind": "slow", "delay": 0.1, "probability": 0.5, "seed": 1}])
    assert rules[0] == {"service": "*", "operation": "*", "kind": "throttle", "name": "throttle", "fired": 0, "times": 2, "remaining": 2}
    assert rules[1]["delay"] == 0.1 and rules[1]["seed"] == 1
    for bad in ([{"kind": "explode"}], [{"kind": "error"}], [{"kind": "throttle", "times": -1}],
                [{"kind": "throttle", "probability": 2}], [{"kind": "slow", "delay": "long"}], [{"kind": "throttle", "colour": "red"}],
                {"kind": "throttle"}):
        with pytest.raises(RigError, match="400"):
            rig.control("POST", "faults", bad)
    assert len(rig.faults()) == 2  # an invalid update keeps the old rules
    assert rig.clear_faults() == []
    assert rig.faults() == []


def test_control_endpoints_are_never_faulted(rig):
    rig.set_faults([{"kind": "drop"}])
    assert rig.health()["ok"] is True
    assert rig.requests() == []
    rig.reset()
    assert rig.faults() == []
