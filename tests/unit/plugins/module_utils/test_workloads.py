# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of what the workloads inventory plugin makes of deployed workloads."""

import pytest

from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import ecs_launch_type
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import ecs_task_definitions
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import ecs_workload
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import image_entry
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import latest_failed_deployment
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import lightsail_workload
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import matches
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import repositories_of

ACCOUNT = "123456789012"
OTHER = "210987654321"
HERE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"

# (workload type, image) -> (repository, skipped starts with)
IMAGES = [
    ("lightsail", f"{HERE}/shop/web:1", "shop/web", None),
    ("lightsail", f"{HERE}/shop/web@sha256:" + "0" * 64, "shop/web", None),
    ("lightsail", f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com/base", {"name": "base", "registry_id": OTHER}, None),
    ("lightsail", f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shop/web:1", None, "in ECR in eu-west-1"),
    ("lightsail", ":shop.web.3", None, "an image pushed"),
    ("lightsail", "nginx", None, "not an ECR private image (registry docker.io"),
    ("lightsail", "public.ecr.aws/nginx/nginx:1", None, "not an ECR private image (registry public.ecr.aws"),
    ("lightsail", "ghcr.io/org/app:1", None, "not an ECR private image (registry ghcr.io"),
    ("ecs", f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shop/web:1", {"name": "shop/web", "registry_id": ACCOUNT, "region": "eu-west-1"}, None),
    ("ecs", f"{OTHER}.dkr.ecr.eu-west-1.amazonaws.com/base:2", {"name": "base", "registry_id": OTHER, "region": "eu-west-1"}, None),
    ("ecs", ":shop.web.3", None, "not an ECR private image"),
]


@pytest.mark.parametrize("workload_type, image, repository, skipped", IMAGES)
def test_image_entry(workload_type, image, repository, skipped):
    entry = image_entry("app", image, "current", workload_type, "us-east-1", ACCOUNT)
    assert entry["repository"] == repository
    if skipped is None:
        assert entry["skipped"] is None and entry["repository_arn"].startswith("arn:aws:ecr:")
    else:
        assert entry["skipped"].startswith(skipped) and entry["repository_arn"] is None


def test_repositories_are_listed_once_in_order():
    images = [image_entry(str(i), ref, "current", "lightsail", "us-east-1", ACCOUNT)
              for i, ref in enumerate([f"{HERE}/b:1", f"{HERE}/a:2", f"{HERE}/b:3", "nginx", f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com/b"])]
    assert repositories_of(images) == ["b", "a", {"name": "b", "registry_id": OTHER}]


@pytest.mark.parametrize("name, include, exclude, expected", [
    ("shop-web", [], [], True),
    ("shop-web", ["shop-*"], [], True),
    ("blog", ["shop-*"], [], False),
    ("shop-web", ["shop-*"], ["*-web"], False),
    ("shop-api", [], ["*-web"], True),
    ("Shop-web", ["shop-*"], [], False),
])
def test_matches(name, include, exclude, expected):
    assert matches(name, include, exclude) is expected


@pytest.mark.parametrize("service, expected", [
    ({"launchType": "FARGATE"}, "fargate"),
    ({"launchType": "EXTERNAL"}, "external"),
    ({"launchType": "EC2"}, "ec2"),
    ({"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}]}, "fargate"),
    ({"capacityProviderStrategy": [{"capacityProvider": "my-asg-provider"}]}, "ec2"),
    ({}, "ec2"),
])
def test_ecs_launch_type(service, expected):
    assert ecs_launch_type(service) == expected


def test_ecs_task_definitions_of_a_rollout():
    service = {"taskDefinition": "td:2", "deployments": [{"status": "ACTIVE", "taskDefinition": "td:1"},
                                                         {"status": "PRIMARY", "taskDefinition": "td:2"}]}
    assert ecs_task_definitions(service, rolling=False) == ["td:2"]
    assert ecs_task_definitions(service, rolling=True) == ["td:2", "td:1"]


def _ecs_service(**extra):
    service = {"serviceName": "api", "serviceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/api", "taskDefinition": "td-arn",
               "status": "ACTIVE", "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]}
    service.update(extra)
    return service


@pytest.mark.parametrize("service, task, role, expected_vars, problem", [
    (_ecs_service(launchType="FARGATE"), {"taskDefinitionArn": "td-arn", "executionRoleArn": "arn:aws:iam::1:role/x"}, None,
     {"ecr_pull_access_ecs_task_definition": "td-arn", "ecr_pull_access_ecs_launch_type": "fargate"}, None),
    (_ecs_service(launchType="FARGATE"), {"taskDefinitionArn": "td-arn"}, None, {}, "has no execution role"),
    (_ecs_service(launchType="EC2"), {"taskDefinitionArn": "td-arn"}, "instances", {"ecr_pull_access_ecs_role_name": "instances"}, None),
    (_ecs_service(launchType="EXTERNAL"), {"taskDefinitionArn": "td-arn"}, None, {}, "ecs_instance_roles"),
])
def test_ecs_workload(service, task, role, expected_vars, problem):
    task = dict(task, containerDefinitions=[{"name": "c", "image": f"{HERE}/api:1"}])
    variables, images, found = ecs_workload(service, "prod", "us-east-1", [task], role)
    assert variables["ecr_pull_access_repositories"] == ["api"] and images[0]["repository"] == "api"
    assert variables["workload_deployment_state"] == "COMPLETED" and variables["workload_cluster"] == "prod"
    for key, value in expected_vars.items():
        assert variables[key] == value
    assert (found is None) if problem is None else (problem in found)


def test_lightsail_workload_reads_the_deployments_asked_for():
    service = {"containerServiceName": "web", "arn": f"arn:aws:lightsail:us-east-1:{ACCOUNT}:ContainerService/x", "state": "DEPLOYING",
               "tags": [{"key": "team", "value": "shop"}],
               "currentDeployment": {"state": "ACTIVE", "version": 1, "containers": {"a": {"image": f"{HERE}/one:1"}}},
               "nextDeployment": {"state": "ACTIVATING", "version": 2, "containers": {"a": {"image": f"{HERE}/two:1"}}}}
    current = lightsail_workload(service, "us-east-1", ["current"])[0]
    both = lightsail_workload(service, "us-east-1", ["current", "pending"])[0]
    assert current["ecr_pull_access_repositories"] == ["one"] and both["ecr_pull_access_repositories"] == ["one", "two"]
    assert (both["workload_tags"], both["workload_pending_deployment_state"], both["workload_account_id"]) == ({"team": "shop"}, "ACTIVATING", ACCOUNT)


@pytest.mark.parametrize("deployments, current, expected", [
    ([], None, None),
    ([{"version": 2, "state": "FAILED"}, {"version": 1, "state": "ACTIVE"}], 1, 2),
    ([{"version": 2, "state": "ACTIVE"}, {"version": 1, "state": "FAILED"}], 2, None),
    ([{"version": 1, "state": "FAILED"}], None, 1),
    ([{"version": 3, "state": "ACTIVATING"}, {"version": 2, "state": "FAILED"}], 1, None),
])
def test_latest_failed_deployment(deployments, current, expected):
    service = {"currentDeployment": {"version": current}} if current else {}
    found = latest_failed_deployment(deployments, service)
    assert (found or {}).get("version") == expected
