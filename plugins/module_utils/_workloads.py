# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What deployed workloads pull, as the ecr_pull_access role declares it (private module_utils).

Pure functions used by the ``pullaccess.aws.workloads`` inventory plugin: from a Lightsail
container service's deployments or an ECS service and its task definitions (boto3 shapes) to
one inventory host each, with the role's variables and facts to group on. The AWS calls are
the helpers of ``_lightsail``, ``_ecs`` and ``_ecr``.
"""

import fnmatch

from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import image_repository_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_image

#: Which Lightsail deployments the plugin reads images from, and the key of each in a container service.
LIGHTSAIL_DEPLOYMENTS = {"current": "currentDeployment", "pending": "nextDeployment"}
#: What ECS capacity providers launch on (any other provider is an Auto Scaling group: EC2).
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


def matches(name, include, exclude):
    """Whether a name is wanted: it matches one of ``include`` (shell patterns; none means all)
    and none of ``exclude``."""
    if include and not any(fnmatch.fnmatchcase(name, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude or [])


def image_entry(container, image, source, workload_type, region, account_id):
    """One image of a workload: ``{container, image, deployment, repository, skipped}``.

    ``repository`` is the ECR private repository the image comes from (as the role declares it:
    a name in the workload's own account and Region, else a mapping with ``registry_id``, and
    ``region`` when it differs), ``skipped`` why it needs or gets no grant (None when it does)."""
    entry = {"container": container, "image": image, "deployment": source, "repository": None, "repository_arn": None, "skipped": None}
    if workload_type == "lightsail" and str(image or "").startswith(":"):
        entry["skipped"] = "an image pushed to the container service (no grant needed)"
        return entry
    parsed = parse_image(image)
    if not parsed["full_ecr_uri"]:
        entry["skipped"] = f"not an ECR private image (registry {parsed['registry_host']}; no grant needed)"
        return entry
    if workload_type == "lightsail" and parsed["region"] != region:
        entry["skipped"] = f"in ECR in {parsed['region']}: a Lightsail container service in {region} pulls from its own Region only"
        return entry
    entry["repository_arn"] = image_repository_arn(parsed)
    if parsed["registry_id"] == account_id and parsed["region"] == region:
        entry["repository"] = parsed["repository"]
    else:
        entry["repository"] = {"name": parsed["repository"], "registry_id": parsed["registry_id"]}
        if parsed["region"] != region:
            entry["repository"]["region"] = parsed["region"]
    return entry


def repositories_of(images):
    """The distinct repositories of a workload's images, in the order first seen (tags and
    digests do not matter)."""
    found = []
    for entry in images:
        if entry["repository"] is not None and entry["repository"] not in found:
            found.append(entry["repository"])
    return found


def container_images(source, containers, workload_type, region, account_id):
    """The image entries of one deployment's or task definition's containers."""
    if isinstance(containers, dict):  # Lightsail: container name -> container
        pairs = sorted((name, (container or {}).get("image")) for name, container in containers.items())
    else:  # ECS: containerDefinitions
        pairs = [(container.get("name"), container.get("image")) for container in containers or []]
    return [image_entry(name, image, source, workload_type, region, account_id) for name, image in pairs]


def lightsail_workload(service, region, deployments, failed=None):
    """The host of a Lightsail container service: ``(variables, images)``.

    ``deployments`` are the kinds of :data:`LIGHTSAIL_DEPLOYMENTS` to read images from; ``failed``
    the service's latest deployment when it FAILED (newer than the current one), or None."""
    account_id = arn_account(service["arn"])[1]
    name = service["containerServiceName"]
    images = []
    for kind in deployments:
        deployment = service.get(LIGHTSAIL_DEPLOYMENTS[kind])
        if deployment:
            images.extend(container_images(kind, deployment.get("containers") or {}, "lightsail", region, account_id))
    if failed:
        images.extend(container_images("failed", failed.get("containers") or {}, "lightsail", region, account_id))
    current, pending = service.get("currentDeployment") or {}, service.get("nextDeployment") or {}
    variables = {
        "ecr_pull_access_type": "lightsail",
        "ecr_pull_access_region": region,
        "ecr_pull_access_service_name": name,
        "ecr_pull_access_repositories": repositories_of(images),
        "workload_type": "lightsail",
        "workload_name": name,
        "workload_region": region,
        "workload_account_id": account_id,
        "workload_arn": service["arn"],
        "workload_tags": {tag["key"]: tag.get("value", "") for tag in service.get("tags") or []},
        "workload_state": service.get("state"),
        "workload_deployment_state": current.get("state") or "NONE",
        "workload_pending_deployment_state": pending.get("state") or (failed or {}).get("state") or "NONE",
        "workload_images": images,
    }
    return variables, images


def latest_failed_deployment(deployments, service):
    """The newest of a service's deployments when it FAILED and is newer than the current one."""
    if not deployments:
        return None
    newest = max(deployments, key=lambda d: d.get("version") or 0)
    current = (service.get("currentDeployment") or {}).get("version") or 0
    return newest if newest.get("state") == "FAILED" and (newest.get("version") or 0) > current else None


def ecs_launch_type(service):
    """The launch type of an ECS service as the role names it: from its launch type, else its
    first capacity provider (FARGATE and FARGATE_SPOT are Fargate, others EC2), else EC2 (ECS's
    default when a service names neither and the cluster has no default strategy)."""
    if service.get("launchType"):
        return service["launchType"].lower()
    strategy = service.get("capacityProviderStrategy") or []
    if strategy:
        return "fargate" if strategy[0].get("capacityProvider") in FARGATE_PROVIDERS else "ec2"
    return "ec2"


def ecs_task_definitions(service, rolling):
    """The task definitions whose images the service runs: its own, and with ``rolling`` every
    deployment's while a rollout goes on (primary first)."""
    found = [service["taskDefinition"]] if service.get("taskDefinition") else []
    if rolling:
        for deployment in sorted(service.get("deployments") or [], key=lambda d: d.get("status") != "PRIMARY"):
            if deployment.get("taskDefinition") and deployment["taskDefinition"] not in found:
                found.append(deployment["taskDefinition"])
    return found


def ecs_workload(service, cluster_name, region, task_definitions, instance_role=None):
    """The host of an ECS service: ``(variables, images, problem)``; ``problem`` says why the
    service gets no host (None when it does).

    ``task_definitions`` are the service's task definitions (boto3 shape; the first is the
    service's own). Fargate pulls with the task definition's execution role; EC2 and EXTERNAL
    with the container instance role, ``instance_role``."""
    account_id = arn_account(service["serviceArn"])[1]
    launch_type = ecs_launch_type(service)
    images = []
    for index, task in enumerate(task_definitions):
        source = "service" if index == 0 else "rolling"
        images.extend(container_images(source, task.get("containerDefinitions"), "ecs", region, account_id))
    primary = next((d for d in service.get("deployments") or [] if d.get("status") == "PRIMARY"), {})
    variables = {
        "ecr_pull_access_type": "ecs",
        "ecr_pull_access_region": region,
        "ecr_pull_access_ecs_launch_type": launch_type,
        "ecr_pull_access_repositories": repositories_of(images),
        "workload_type": "ecs",
        "workload_name": service["serviceName"],
        "workload_cluster": cluster_name,
        "workload_region": region,
        "workload_account_id": account_id,
        "workload_arn": service["serviceArn"],
        "workload_tags": {tag["key"]: tag.get("value", "") for tag in service.get("tags") or []},
        "workload_state": service.get("status"),
        "workload_launch_type": launch_type,
        "workload_task_definition": service.get("taskDefinition"),
        "workload_deployment_state": primary.get("rolloutState") or "NONE",
        "workload_images": images,
    }
    problem = None
    if launch_type == "fargate":
        task = task_definitions[0] if task_definitions else {}
        if task.get("executionRoleArn"):
            variables["ecr_pull_access_ecs_task_definition"] = task["taskDefinitionArn"]
        else:
            problem = f"its task definition {service.get('taskDefinition')} has no execution role (executionRoleArn), the role that pulls on Fargate"
    elif instance_role:
        variables["ecr_pull_access_ecs_role_name"] = instance_role
    else:
        problem = (f"it runs on {launch_type.upper()} instances, which pull with the container instance role: name it for cluster "
                   f"{cluster_name!r} in the option ecs_instance_roles")
    return variables, images, problem
