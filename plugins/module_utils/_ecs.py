# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ECS task definitions and the images they name (private module_utils).

One small helper for the one ECS call (amazon.aws's error handler; the client's botocore
standard mode is the only retry). The rest is pure and unit tested: what a task definition's
images mean for the role that pulls them. ECS pulls from ECR only images named by their full
registry URI, ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``.
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_message
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import described
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._names import DOCKER_HUB
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ECR_PUBLIC
from ansible_collections.pullaccess.aws.plugins.module_utils._names import InvalidReferenceError
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ecr_uri_example
from ansible_collections.pullaccess.aws.plugins.module_utils._names import image_repository_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_image
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import resources_cover


class AnsibleECSError(AnsibleAWSError):
    """An ECS call failed."""


class TaskDefinitionMissingError(AnsibleECSError):
    """The task definition does not exist (in that region)."""


class ECSErrorHandler(AWSErrorHandler):
    """amazon.aws error handler for ECS: ECS answers a missing task definition with a generic
    ClientException whose message says so."""

    _CUSTOM_EXCEPTION = AnsibleECSError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_message("Unable to describe task definition")


# --------------------------------------------------------------------------------------------
# A task definition's images (pure)
# --------------------------------------------------------------------------------------------


def image_notes(container, parsed, home_region, account_id):
    """Warnings about one container's image, for a task in ``home_region`` of ``account_id``."""
    image = parsed["image"]
    if parsed["full_ecr_uri"]:
        if home_region and parsed["region"] != home_region:
            return [
                f"container {container!r}: image {image!r} is in ECR in region {parsed['region']}, not {home_region} "
                "where the task definition is. ECS can pull across regions, but slower and with data transfer charges; "
                f"consider ECR replication to {home_region}"
            ]
        return []
    if parsed["registry_host"] == DOCKER_HUB and not parsed["image"].lower().startswith(DOCKER_HUB):
        example = ecr_uri_example(account_id or "<account>", home_region or "<region>", parsed["repository"], parsed["tag"] or "latest")
        return [
            f"container {container!r}: image {image!r} is not a full ECR URI, so ECS pulls it from Docker Hub, not from "
            "ECR, and this role's ECR permissions are not used for it. Amazon ECS pulls from ECR only images named "
            f"by their full registry URI, e.g. {example}"
        ]
    if parsed["registry_host"] == ECR_PUBLIC:
        return [
            f"container {container!r}: image {image!r} is in ECR Public, which needs no ECR permissions; it is not a "
            "full ECR private URI (<account>.dkr.ecr.<region>.amazonaws.com/<repository>)"
        ]
    return [
        f"container {container!r}: image {image!r} is in registry {parsed['registry_host']}, not an ECR private "
        "registry (<account>.dkr.ecr.<region>.amazonaws.com), so this role's ECR permissions are not used for it"
    ]


def describe_images(container_definitions, home_region, account_id, repository_resources=None):
    """Parse the images of a task definition's containers.

    Returns ``(images, cross_account_repositories, notes)``: ``images`` one dict per container
    (``container_name`` plus ``parse_image``'s keys); ``cross_account_repositories`` the
    distinct ECR repositories held by a registry other than ``account_id`` (their own repository
    policies must allow the role), each ``{registry_id, region, repository, arn}``; ``notes``
    warnings. With ``repository_resources`` (an inline policy's scope), ECR images the scope
    does not cover are noted too.
    """
    images, cross_account, notes = [], {}, []
    for container in container_definitions or []:
        name = container.get("name")
        parsed = parse_image(container.get("image"))
        images.append(dict(container_name=name, **parsed))
        notes.extend(image_notes(name, parsed, home_region, account_id))
        arn = image_repository_arn(parsed)
        if arn is None:
            continue
        if account_id and parsed["registry_id"] != account_id:
            cross_account[arn] = {
                "registry_id": parsed["registry_id"],
                "region": parsed["region"],
                "repository": parsed["repository"],
                "arn": arn,
            }
        if repository_resources is not None and not resources_cover(repository_resources, arn):
            notes.append(
                f"container {name!r}: repository {arn} of image {parsed['image']!r} is not in repositories, so the "
                "inline policy does not let the role pull it"
            )
    return images, [cross_account[arn] for arn in sorted(cross_account)], notes


# --------------------------------------------------------------------------------------------
# The ECS call
# --------------------------------------------------------------------------------------------


@described(ECSErrorHandler.list_error_handler, "describe task definition {task_definition}")
def _describe_task_definition(client, task_definition):
    return client.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]


def describe_task_definition(client, task_definition, region=None):
    """Return a task definition (family, family:revision or ARN; a family means its latest
    ACTIVE revision). Raises TaskDefinitionMissingError naming the region when there is none."""
    found = _describe_task_definition(client, task_definition)
    if found is None:
        raise TaskDefinitionMissingError(
            message=(
                f"task definition {task_definition!r} does not exist in region {region or 'unknown'}; check the family "
                "and revision (and region), or register it first"
            )
        )
    return found


def describe_execution_role(client, task_definition, region):
    """``(task definition, its execution role's parsed reference)``. Raises AnsibleECSError when
    it is missing, InvalidRequestError when it names no execution role, InvalidReferenceError when
    what it names is not a role ARN."""
    task = describe_task_definition(client, task_definition, region)
    if not task.get("executionRoleArn"):
        raise InvalidRequestError(
            f"task definition {task['taskDefinitionArn']} has no execution role (executionRoleArn), so there is no role to "
            "give ECR pull access; nothing was changed. Register a revision with an execution role, or name the role with role_name"
        )
    try:
        return task, parse_role_reference(task["executionRoleArn"])
    except InvalidReferenceError as e:
        raise InvalidReferenceError(f"task definition {task['taskDefinitionArn']}: {e}") from e


@described(ECSErrorHandler.common_error_handler, "list the services of cluster {cluster}")
def _list_service_arns(client, cluster):
    return client.get_paginator("list_services").paginate(cluster=cluster).build_full_result()["serviceArns"]


@described(ECSErrorHandler.common_error_handler, "describe the services of cluster {cluster}")
def _describe_services(client, cluster, service_arns, include=None):
    if include:
        return client.describe_services(cluster=cluster, services=service_arns, include=include)["services"]
    return client.describe_services(cluster=cluster, services=service_arns)["services"]


@ECSErrorHandler.common_error_handler("list the ECS clusters of the region")
def list_cluster_arns(client):
    """The ARNs of every ECS cluster of the client's region (ListClusters page by page)."""
    return client.get_paginator("list_clusters").paginate().build_full_result()["clusterArns"]


def describe_cluster_services(client, cluster):
    """Every service of an ECS cluster (boto3 shape, with its tags): ListServices page by page,
    DescribeServices ten at a time."""
    arns = _list_service_arns(client, cluster)
    services = []
    for start in range(0, len(arns), 10):
        services.extend(_describe_services(client, cluster, arns[start:start + 10], include=["TAGS"]))
    return services


def cluster_task_definitions(client, cluster):
    """``{task definition ARN: launch type or None}`` of the services of an ECS cluster (ListServices
    page by page, DescribeServices ten at a time)."""
    arns = _list_service_arns(client, cluster)
    found = {}
    for start in range(0, len(arns), 10):
        for service in _describe_services(client, cluster, arns[start:start + 10]):
            if service.get("taskDefinition"):
                found.setdefault(service["taskDefinition"], service.get("launchType"))
    return found
