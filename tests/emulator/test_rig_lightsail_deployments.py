# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Lightsail emulator's deployments, driven through boto3 over real HTTP; whether an ECR
image can be pulled is read from moto's repository policies."""

import json

import pytest
from botocore.exceptions import ClientError

from rig_testlib import wait_for

ACCOUNT = "123456789012"
PRIVATE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app/web:1.2"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def _service(client, name="web"):
    return client.get_container_services(serviceName=name)["containerServices"][0]


def _steady(client, name="web"):
    return wait_for(lambda: (svc := _service(client, name))["state"] in ("READY", "RUNNING") and svc)


def _create(client, name="web", puller=False):
    client.create_container_service(serviceName=name, power="nano", scale=1,
                                    privateRegistryAccess={"ecrImagePullerRole": {"isActive": puller}})
    return _steady(client, name)


def _deploy(client, image, name="web"):
    return client.create_container_service_deployment(serviceName=name, containers={"app": {"image": image}})["containerService"]


def _allow(rig, puller_arn, repository="app/web", **statement):
    body = {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": puller_arn}, "Action": PULL}
    body.update(statement)
    rig.client("ecr").set_repository_policy(repositoryName=repository, policyText=json.dumps({"Version": "2012-10-17", "Statement": [body]}))


def test_deployment_activates_and_replaces_the_current_one(lightsail):
    _create(lightsail)
    started = _deploy(lightsail, "nginx:1.27")
    assert started["state"] == "DEPLOYING" and "currentDeployment" not in started
    assert (started["nextDeployment"]["state"], started["nextDeployment"]["version"]) == ("ACTIVATING", 1)
    first = _steady(lightsail)
    assert first["state"] == "RUNNING" and "nextDeployment" not in first
    assert (first["currentDeployment"]["state"], first["currentDeployment"]["containers"]) == ("ACTIVE", {"app": {"image": "nginx:1.27"}})
    _deploy(lightsail, "public.ecr.aws/nginx/nginx:1.28")
    second = _steady(lightsail)
    assert (second["currentDeployment"]["version"], second["currentDeployment"]["state"]) == (2, "ACTIVE")
    listed = lightsail.get_container_service_deployments(serviceName="web")["deployments"]
    assert [(d["version"], d["state"]) for d in listed] == [(2, "ACTIVE"), (1, "INACTIVE")]


def test_private_image_fails_without_a_grant_and_deploys_after_it(rig, lightsail):
    rig.client("ecr").create_repository(repositoryName="app/web")
    svc = _create(lightsail, puller=True)
    puller_arn = svc["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    _deploy(lightsail, PRIVATE)
    failed = _steady(lightsail)
    assert failed["state"] == "READY" and "currentDeployment" not in failed and "nextDeployment" not in failed
    assert [d["state"] for d in lightsail.get_container_service_deployments(serviceName="web")["deployments"]] == ["FAILED"]
    _allow(rig, puller_arn)
    _deploy(lightsail, PRIVATE)
    deployed = _steady(lightsail)
    assert (deployed["state"], deployed["currentDeployment"]["state"], deployed["currentDeployment"]["version"]) == ("RUNNING", "ACTIVE", 2)


@pytest.mark.parametrize("statement, expected", [
    ({}, "ACTIVE"),
    ({"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT},
                                      "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/us-east-1/containers/*"}}},
     "ACTIVE"),
    ({"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "999988887777"}}}, "FAILED"),
    ({"Action": ["ecr:GetDownloadUrlForLayer"]}, "FAILED"),
    ({"Action": "ecr:*"}, "ACTIVE"),
    ({"Effect": "Deny"}, "FAILED"),
    ({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, "FAILED"),
])
def test_which_policies_let_the_puller_role_pull(rig, lightsail, statement, expected):
    rig.client("ecr").create_repository(repositoryName="app/web")
    svc = _create(lightsail, puller=True)
    _allow(rig, svc["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"], **statement)
    _deploy(lightsail, PRIVATE)
    _steady(lightsail)
    assert lightsail.get_container_service_deployments(serviceName="web")["deployments"][0]["state"] == expected


def test_other_reasons_a_private_image_fails(rig, lightsail):
    rig.client("ecr").create_repository(repositoryName="app/web")
    _create(lightsail)  # puller role inactive
    _deploy(lightsail, PRIVATE)
    _steady(lightsail)
    _deploy(lightsail, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/no/such:1")  # no repository
    _steady(lightsail)
    _deploy(lightsail, f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/app/web:1")  # another Region
    svc = _steady(lightsail)
    assert "currentDeployment" not in svc
    assert [d["state"] for d in lightsail.get_container_service_deployments(serviceName="web")["deployments"]] == ["FAILED"] * 3


def test_a_held_deployment_is_pending_until_released(rig, lightsail):
    _create(lightsail)
    _deploy(lightsail, "nginx")
    rig.lightsail_set_state("web", "DEPLOYING")
    held = _service(lightsail)
    assert held["state"] == "DEPLOYING" and held["nextDeployment"]["state"] == "ACTIVATING"
    with pytest.raises(ClientError) as excinfo:
        _deploy(lightsail, "nginx:2")
    assert excinfo.value.response["Error"]["Code"] == "InvalidInputException"
    released = rig.lightsail_set_state("web", "RUNNING")
    assert released["currentDeployment"]["state"] == "ACTIVE" and "nextDeployment" not in released


def test_deployment_input_is_checked(lightsail):
    _create(lightsail)
    with pytest.raises(ClientError) as excinfo:
        lightsail.create_container_service_deployment(serviceName="web")
    assert excinfo.value.response["Error"]["Code"] == "InvalidInputException"
    with pytest.raises(ClientError) as excinfo:
        lightsail.get_container_service_deployments(serviceName="nope")
    assert excinfo.value.response["Error"]["Code"] == "NotFoundException"


def test_deleted_service_shows_as_a_unique_id_in_repository_policies(rig, lightsail):
    ecr = rig.client("ecr")
    for name in ("app/web", "other"):
        ecr.create_repository(repositoryName=name)
    web, keep = _create(lightsail, puller=True), _create(lightsail, "keep", puller=True)
    web_puller = web["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    keep_puller = keep["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    _allow(rig, [web_puller, keep_puller])
    condition = {"ArnLike": {"aws:PrincipalArn": web_puller}}
    _allow(rig, "*", "other", Condition=condition)
    lightsail.delete_container_service(serviceName="web")
    stored = json.loads(ecr.get_repository_policy(repositoryName="app/web")["policyText"])
    (unique_id, kept) = sorted(stored["Statement"][0]["Principal"]["AWS"], key=lambda p: p.startswith("arn:"))
    assert kept == keep_puller and unique_id.startswith("AROA") and len(unique_id) == 21 and unique_id.isalnum()
    # Only principals change: a condition naming the role keeps its ARN.
    other = json.loads(ecr.get_repository_policy(repositoryName="other")["policyText"])
    assert other["Statement"][0]["Condition"] == condition and other["Statement"][0]["Principal"] == {"AWS": "*"}
    # ECR refuses a policy naming the unique id of a role that no longer exists.
    with pytest.raises(ClientError, match="Principal not found"):
        _allow(rig, [unique_id, keep_puller])
