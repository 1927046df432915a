# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""AWS names in one place (private module_utils): partitions and regions, account ids, ECR
repository names, ARNs and image URIs, IAM role names and ARNs, ECS task definition references,
and the constants for pulling (actions, launch types).

Pure: no boto3, so that the role's filters can import it in every forked worker. Every other
file of the collection asks this one whether a name is valid and how an ARN is written.
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

#: The two actions the Lightsail guide grants a puller role in a repository policy.
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: What an ECS role needs on a repository: the agent also checks layer availability.
ECS_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: The registry login; it has no resource to scope, so it is always allowed on ``*``.
ECR_TOKEN_ACTION = "ecr:GetAuthorizationToken"

WORKLOAD_TYPES = ("lightsail", "ecs")

#: Every statement the collection writes has a Sid starting with this (the role's statement modes:
#: one statement per workload, one shared per kind of workload, one account-wide for Lightsail).
OWNED_SID_PREFIX = "PullAccess"
#: The statement of each kind of workload in the shared mode.
SHARED_SIDS = {"lightsail": "PullAccessLightsailShared", "ecs": "PullAccessEcsShared"}
#: The account mode's statement (followed by a hash of the service name pattern unless it is ``*``).
ACCOUNT_SID = "PullAccessLightsailAccount"
#: The Sids the role owns in every statement mode start with one of these (the prefix and the kind of
#: workload): what its fleet-wide cleanup (ecr_pull_access_remove_undeclared) may remove.
OWNED_SID_PREFIXES = tuple(OWNED_SID_PREFIX + kind.capitalize() for kind in WORKLOAD_TYPES)

#: Per ECS launch type: the role that pulls images, the service that assumes it, and the AWS
#: managed policy (path and name under ``arn:<partition>:iam::aws:policy``) that lets it pull.
LAUNCH_TYPES = {
    "fargate": {
        "role": "task execution role",
        "service": "ecs-tasks.amazonaws.com",
        "managed_policy": "/service-role/AmazonECSTaskExecutionRolePolicy",
    },
    "ec2": {
        "role": "container instance role",
        "service": "ec2.amazonaws.com",
        "managed_policy": "/service-role/AmazonEC2ContainerServiceforEC2Role",
    },
    "external": {
        "role": "ECS Anywhere instance role",
        "service": "ssm.amazonaws.com",
        "managed_policy": "/service-role/AmazonEC2ContainerServiceforEC2Role",
    },
}

DOCKER_HUB = "docker.io"
ECR_PUBLIC = "public.ecr.aws"

#: Partitions AWS uses today (a regular expression).
PARTITION = r"aws(?:-cn|-us-gov|-iso(?:-[a-z])?|-eusc)?"
#: Region codes: us-east-1, us-gov-west-1, cn-north-1, eusc-de-east-1, us-isob-east-1, ...
REGION = r"[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}"

# Region prefixes of the partitions other than aws.
_REGION_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
)

_REGION_RE = re.compile(r"^" + REGION + r"$")
_ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
# Private registry hosts: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn], the dual-stack
# <account>.dkr-ecr[-fips].<region>.on.aws (.on.amazonwebservices.com.cn in China) and the
# isolated partitions' domains.
_ECR_HOST_RE = re.compile(
    r"^(?P<registry_id>\d{12})\.(?:dkr\.ecr|dkr-ecr)(?P<fips>-fips)?\.(?P<region>" + REGION + r")\."
    r"(?P<domain>amazonaws\.com(?:\.cn)?|on\.aws|on\.amazonwebservices\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov"
    r"|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$"
)
# ECR repository names: lowercase components separated by . _ - and / (2 to 256 characters).
_REPOSITORY_NAME_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_REPOSITORY_ARN_RE = re.compile(
    r"^arn:(?P<partition>" + PARTITION + r"):ecr:(?P<region>" + REGION + r"):(?P<account>\d{12}):repository/(?P<name>.+)$"
)
_TASK_DEFINITION_RE = re.compile(
    r"^(?:arn:(?P<partition>" + PARTITION + r"):ecs:(?P<region>" + REGION + r"):(?P<account>\d{12}):task-definition/)?"
    r"(?P<family>[A-Za-z0-9_-]{1,255})(?::(?P<revision>[1-9]\d*))?$"
)
# 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.
_SERVICE_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Lightsail: a container service's own principal and its ECR image puller role.
_LIGHTSAIL_ROLE_RE = re.compile(
    r"^arn:(?P<partition>" + PARTITION + r"):iam::(?P<account>\d{12}):role/amazon/lightsail/(?P<region>" + REGION + r")/containers/"
    r"(?P<service>[^/]+)/(?P<puller>private-repo-access/)?(?P<id>[^/]+)$"
)
_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_ROLE_ARN_RE = re.compile(
    r"^arn:(?P<partition>" + PARTITION + r"):iam::(?P<account>\d{12}):role(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]{1,64})$"
)


class InvalidReferenceError(ValueError):
    """A name or ARN given by the user (or found in AWS) is not valid; the message says what is expected."""


# --------------------------------------------------------------------------------------------
# Partitions, regions, accounts
# --------------------------------------------------------------------------------------------


def partition_for_region(region):
    """The AWS partition a region belongs to (``aws`` for anything not recognised)."""
    for prefix, partition in _REGION_PARTITIONS:
        if (region or "").startswith(prefix):
            return partition
    return "aws"


def is_region(value):
    """Whether ``value`` is written like a region code (us-east-1, eusc-de-east-1, ...)."""
    return isinstance(value, str) and bool(_REGION_RE.match(value))


def is_account_id(value):
    """Whether ``value`` is a 12-digit AWS account id."""
    return isinstance(value, str) and bool(_ACCOUNT_ID_RE.match(value))


def arn_account(arn):
    """``(partition, account_id)`` of an ARN (``(None, None)`` when it is not one)."""
    parsed = parse_aws_arn(str(arn or "")) if str(arn or "").startswith("arn:") else None
    if not parsed:
        return None, None
    return parsed["partition"], parsed["account_id"] or None


# --------------------------------------------------------------------------------------------
# ECR repositories and images
# --------------------------------------------------------------------------------------------


def repository_arn(partition, region, registry_id, repository):
    """The ARN of an ECR private repository."""
    return f"arn:{partition}:ecr:{region}:{registry_id}:repository/{repository}"


def is_repository_name(name, wildcards=False):
    """Whether ``name`` is a valid ECR repository name; with ``wildcards``, ``*`` may stand
    anywhere (an IAM resource pattern)."""
    if not isinstance(name, str):
        return False
    if wildcards:
        if name == "*":
            return True
        name = name.replace("*", "a")
    return 2 <= len(name) <= 256 and bool(_REPOSITORY_NAME_RE.match(name))


def parse_repository_arn(arn):
    """``{"partition", "region", "registry_id", "name"}`` of a repository ARN, or None."""
    match = _REPOSITORY_ARN_RE.match(arn or "")
    if not match:
        return None
    return {"partition": match.group("partition"), "region": match.group("region"), "registry_id": match.group("account"),
            "name": match.group("name")}


def parse_repository_reference(reference, wildcards=True):
    """Check one repository the user named: a repository name (``team/app``; ``*`` wildcards
    allowed with ``wildcards``) or a repository ARN (``arn:aws:ecr:us-east-1:123456789012:repository/team/app``).

    Returns ``{"name": ..., "arn": ARN or None}``; raises InvalidReferenceError saying what is
    wrong and what is expected."""
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidReferenceError(f"repository {reference!r} is empty; give a repository name or ARN")
    value = reference.strip()
    if value.startswith("arn:"):
        parsed = parse_repository_arn(value)
        if not parsed or not is_repository_name(parsed["name"], wildcards):
            raise InvalidReferenceError(
                f"repository ARN {value!r} is malformed: expected arn:<partition>:ecr:<region>:<12-digit account>:repository/<name>, "
                "e.g. arn:aws:ecr:us-east-1:123456789012:repository/team/app"
            )
        return {"name": parsed["name"], "arn": value}
    image = parse_image(value)
    if image["full_ecr_uri"]:
        raise InvalidReferenceError(
            f"repository {value!r} is an image URI, not a repository; give the repository name ({image['repository']}) "
            f"or its ARN ({image_repository_arn(image)})"
        )
    if not is_repository_name(value, wildcards):
        raise InvalidReferenceError(
            f"repository {value!r} is not a valid ECR repository name (2-256 lowercase letters, digits and . _ - / "
            "separators, e.g. team/app) nor a repository ARN"
        )
    return {"name": value, "arn": None}


def resolve_repository_arns(references, partition, region, account_id):
    """Repository ARNs for parsed references (see ``parse_repository_reference``): names resolve
    in ``account_id`` and ``region``; ARNs are kept as given. Sorted, without duplicates."""
    arns = set()
    for reference in references:
        if reference["name"] == "*" and reference["arn"] is None:
            arns.add("*")
        else:
            arns.add(reference["arn"] or repository_arn(partition, region, account_id, reference["name"]))
    return sorted(arns)


def parse_image(image):
    """Split a container image reference (``[host[:port]/]path[:tag][@digest]``) the way the
    container runtime reads it, and tell whether it names an ECR private repository by its full
    URI.

    Returns a dict: ``image`` (as given), ``registry_host`` (``docker.io`` when none is written),
    ``full_ecr_uri``, ``registry_id``, ``region`` and ``partition`` (ECR only, else None),
    ``repository``, ``tag`` (``latest`` when neither tag nor digest is given) and ``digest``.
    """
    reference = (image or "").strip()
    digest = None
    if "@" in reference:
        reference, digest = reference.split("@", 1)
    host = None
    first, slash, rest = reference.partition("/")
    # Like Docker: the first component is a registry host only when it looks like one.
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), rest
    else:
        path = reference
    tag = None
    head, colon, last = path.rpartition(":")
    if colon and "/" not in last:
        path, tag = head, last
    if tag is None and digest is None:
        tag = "latest"
    result = {
        "image": image,
        "registry_host": host or DOCKER_HUB,
        "full_ecr_uri": False,
        "registry_id": None,
        "region": None,
        "partition": None,
        "repository": path,
        "tag": tag,
        "digest": digest,
    }
    match = _ECR_HOST_RE.match(host or "")
    if match and path:
        result.update(
            full_ecr_uri=True,
            registry_id=match.group("registry_id"),
            region=match.group("region"),
            partition=partition_for_region(match.group("region")),
        )
    return result


def image_repository_arn(parsed):
    """The repository ARN of a parsed full ECR URI image (None for other images)."""
    if not parsed["full_ecr_uri"]:
        return None
    return repository_arn(parsed["partition"], parsed["region"], parsed["registry_id"], parsed["repository"])


def ecr_uri_example(account_id, region, repository, tag="latest"):
    """What an image should have been called to come from ECR (for messages)."""
    domain = "amazonaws.com.cn" if partition_for_region(region) == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{domain}/{repository}:{tag}"


# --------------------------------------------------------------------------------------------
# Lightsail container services, ECS task definitions, IAM roles
# --------------------------------------------------------------------------------------------


def validate_service_name(name):
    """``None`` when ``name`` is a valid Lightsail container service name, else what is wrong."""
    if not isinstance(name, str) or not _SERVICE_NAME_RE.match(name):
        return (
            f"service_name {name!r} is not a valid Lightsail container service name: use 1 to 63 lowercase letters, "
            "digits and hyphens, starting and ending with a letter or digit"
        )
    return None


def parse_lightsail_role_arn(arn):
    """What a Lightsail role ARN is: ``{"kind": "puller" | "service", "partition", "account_id",
    "region", "service_name"}``, or None for any other ARN. ``puller`` is a service's ECR image puller
    role (``.../containers/SERVICE/private-repo-access/ID``), ``service`` the service's own principal
    (``.../containers/SERVICE/ID``), which must never be granted pull access (deployments end as Canceled)."""
    match = _LIGHTSAIL_ROLE_RE.match(arn) if isinstance(arn, str) else None
    if not match:
        return None
    return {
        "kind": "puller" if match.group("puller") else "service",
        "partition": match.group("partition"),
        "account_id": match.group("account"),
        "region": match.group("region"),
        "service_name": match.group("service"),
    }


def lightsail_puller_arn_pattern(partition, account_id, region, service_pattern="*"):
    """The ARN pattern (``ArnLike``) of the puller roles of ``account_id``'s services in ``region``
    whose name matches ``service_pattern`` (the role's account statement mode)."""
    return f"arn:{partition}:iam::{account_id}:role/amazon/lightsail/{region}/containers/{service_pattern}/private-repo-access/*"


def parse_task_definition_reference(reference):
    """Check a task definition reference: ``family``, ``family:revision`` or a task definition ARN.

    Returns ``{"family", "revision" (int or None), "region" (of an ARN, else None)}``; raises
    InvalidReferenceError otherwise."""
    value = (reference or "").strip()
    match = _TASK_DEFINITION_RE.match(value)
    if not match:
        raise InvalidReferenceError(
            f"task_definition {reference!r} is not a task definition family (my-app), family:revision (my-app:3) or "
            "task definition ARN (arn:aws:ecs:us-east-1:123456789012:task-definition/my-app:3)"
        )
    revision = match.group("revision")
    return {"family": match.group("family"), "revision": int(revision) if revision else None, "region": match.group("region")}


def parse_role_reference(reference):
    """Check a role given by name (``my-role``) or ARN (``arn:aws:iam::123456789012:role/path/my-role``).

    Returns ``{"name", "arn", "path", "account_id", "partition"}`` (the last four None for a
    bare name); raises InvalidReferenceError saying what is expected."""
    value = reference.strip() if isinstance(reference, str) else ""
    if value.startswith("arn:"):
        match = _ROLE_ARN_RE.match(value)
        if not match:
            raise InvalidReferenceError(
                f"role {reference!r} is not a valid IAM role ARN: expected arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>, "
                "e.g. arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
            )
        return {
            "name": match.group("name"),
            "arn": value,
            "path": match.group("path"),
            "account_id": match.group("account"),
            "partition": match.group("partition"),
        }
    if not _ROLE_NAME_RE.match(value):
        raise InvalidReferenceError(
            f"role {reference!r} is not a valid IAM role name (1-64 letters, digits and +=,.@_-) nor a role ARN"
        )
    return {"name": value, "arn": None, "path": None, "account_id": None, "partition": None}


def role_arn(partition, account_id, name, path="/"):
    """The ARN of an IAM role."""
    return f"arn:{partition}:iam::{account_id}:role{path or '/'}{name}"


def user_arn(partition, account_id, name, path="/"):
    """The ARN of an IAM user."""
    return f"arn:{partition}:iam::{account_id}:user{path or '/'}{name}"


def instance_profile_arn(partition, account_id, name, path="/"):
    """The ARN of an IAM instance profile."""
    return f"arn:{partition}:iam::{account_id}:instance-profile{path or '/'}{name}"


def managed_policy_arn(launch_type, partition):
    """The ARN of the AWS managed policy that lets the launch type's role pull from ECR."""
    return f"arn:{partition}:iam::aws:policy{LAUNCH_TYPES[launch_type]['managed_policy']}"


# --------------------------------------------------------------------------------------------
# The operator's permissions (what the role's calls need, by the service authorization reference)
# --------------------------------------------------------------------------------------------

#: The repository policy calls, on the repository's ARN.
ECR_POLICY_ACTIONS = ("ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy")
#: Lightsail: GetContainerServices has no resource-level permissions (``*`` only);
#: UpdateContainerService takes the container service's ARN (``ContainerService/<id>``, an id, not the name).
LIGHTSAIL_READ_ACTION = "lightsail:GetContainerServices"
LIGHTSAIL_UPDATE_ACTION = "lightsail:UpdateContainerService"
#: No resource-level permissions either.
ECS_READ_ACTION = "ecs:DescribeTaskDefinition"
#: Reading an ECS workload's role.
IAM_ROLE_READ_ACTIONS = ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:GetRolePolicy", "iam:ListInstanceProfilesForRole")
IAM_PUT_INLINE_ACTION = "iam:PutRolePolicy"
IAM_DELETE_INLINE_ACTION = "iam:DeleteRolePolicy"
#: Limited by ``iam:PolicyARN`` (``IAM_POLICY_ARN_KEY``) to the launch types' AWS managed policies.
IAM_MANAGED_ACTIONS = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")
IAM_POLICY_ARN_KEY = "iam:PolicyARN"
IAM_CREATE_ROLE_ACTION = "iam:CreateRole"
#: AddRoleToInstanceProfile also needs PassRole on the role (limited by ``IAM_PASSED_TO_SERVICE_KEY``).
IAM_PASS_ROLE_ACTION = "iam:PassRole"
IAM_PASSED_TO_SERVICE_KEY = "iam:PassedToService"
IAM_INSTANCE_PROFILE_READ_ACTION = "iam:GetInstanceProfile"
IAM_INSTANCE_PROFILE_ACTIONS = ("iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile")
#: The permission check before the first write: who the caller is, and a simulation of its policies.
STS_CALLER_ACTION = "sts:GetCallerIdentity"
IAM_SIMULATE_ACTION = "iam:SimulatePrincipalPolicy"
#: IAM's limit for a customer managed policy, counted without whitespace.
MANAGED_POLICY_LIMIT = 6144


def lightsail_container_service_arn(partition, region, account_id, resource_id="*"):
    """The ARN IAM knows a Lightsail container service by (its resource id, not its name)."""
    return f"arn:{partition}:lightsail:{region}:{account_id}:ContainerService/{resource_id}"


def principal_arn_of_caller(caller_arn):
    """The ARN to simulate for the caller ``sts:GetCallerIdentity`` names: an IAM user as it is,
    an assumed-role session as its role (``arn:aws:sts::ID:assumed-role/NAME/SESSION`` ->
    ``arn:aws:iam::ID:role/NAME``; a role with a path cannot be told from the session ARN, so the
    path is left out), None for the root user and federated users (nothing to simulate)."""
    parsed = re.match(r"^arn:(?P<partition>" + PARTITION + r"):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$", caller_arn or "")
    if not parsed:
        return None
    resource = parsed.group("resource")
    if parsed.group("service") == "iam" and resource.startswith("user/"):
        return caller_arn
    if parsed.group("service") == "sts" and resource.startswith("assumed-role/"):
        return role_arn(parsed.group("partition"), parsed.group("account"), resource.split("/")[1])
    return None


#: The Sids of the generated operator policy's statements.
OPERATOR_SIDS = {
    "ecr": "EcrRepositoryPolicies",
    "lightsail_read": "LightsailRead",
    "lightsail_update": "LightsailPullerRoles",
    "ecs_read": "EcsTaskDefinitions",
    "role_read": "EcsRoleRead",
    "role_inline": "EcsRoleInlinePolicy",
    "role_managed": "EcsManagedPullPolicies",
    "role_create": "EcsCreateRole",
    "role_pass": "EcsPassRoleToInstanceProfile",
    "instance_profile_read": "EcsInstanceProfileRead",
    "instance_profiles": "EcsInstanceProfiles",
    "simulate": "PermissionCheck",
}
