# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ECS task definition lookup, container image references and ECR repository ARNs (private module_utils).

The AWS call is one small function with amazon.aws's error handler over a jittered retry; the
rest is pure and unit tested: parsing the images a task definition names (the seed's rule: ECS
pulls from ECR only what is named by its full registry URI,
``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``), and turning the repositories a
user names into the ARNs an identity policy is scoped to.
"""

import re

try:
    import botocore  # pylint: disable=unused-import
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_message
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.pullaccess.aws.plugins.module_utils._names import PARTITION as _PARTITION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import partition_for_region
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import resources_cover

# AWSRetry's default codes do not include ECS's own throttling and server error codes.
ECS_RETRYABLE_CODES = ["ThrottlingException", "ServerException"]
ecs_retry = AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=20, catch_extra_error_codes=ECS_RETRYABLE_CODES)

DOCKER_HUB = "docker.io"
ECR_PUBLIC = "public.ecr.aws"

_REGION = r"[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}"
# Private registry hosts: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn], the dual-stack
# <account>.dkr-ecr[-fips].<region>.on.aws (.on.amazonwebservices.com.cn in China) and the
# isolated partitions' domains.
_ECR_HOST_RE = re.compile(
    r"^(?P<registry_id>\d{12})\.(?:dkr\.ecr|dkr-ecr)(?P<fips>-fips)?\.(?P<region>" + _REGION + r")\."
    r"(?P<domain>amazonaws\.com(?:\.cn)?|on\.aws|on\.amazonwebservices\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov"
    r"|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$"
)
# ECR repository names: lowercase components separated by . _ - and / (2 to 256 characters).
_REPOSITORY_NAME_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_REPOSITORY_ARN_RE = re.compile(
    r"^arn:(?P<partition>" + _PARTITION + r"):ecr:(?P<region>" + _REGION + r"):(?P<account>\d{12}):repository/(?P<name>.+)$"
)
_TASK_DEFINITION_RE = re.compile(
    r"^(?:arn:(?P<partition>" + _PARTITION + r"):ecs:(?P<region>" + _REGION + r"):(?P<account>\d{12}):task-definition/)?"
    r"(?P<family>[A-Za-z0-9_-]{1,255})(?::(?P<revision>[1-9]\d*))?$"
)


class InvalidReferenceError(ValueError):
    """A repository or task definition given by the user is not a valid name or ARN."""


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
# Pure helpers
# --------------------------------------------------------------------------------------------


def repository_arn(partition, region, registry_id, repository):
    """The ARN of an ECR private repository."""
    return f"arn:{partition}:ecr:{region}:{registry_id}:repository/{repository}"


def _valid_repository_name(name):
    # A "*" anywhere is an IAM wildcard; check the rest as if it were one letter.
    if name == "*":
        return True
    plain = name.replace("*", "a")
    return 2 <= len(plain) <= 256 and bool(_REPOSITORY_NAME_RE.match(plain))


def parse_repository_reference(reference):
    """Check one repository the user named: a repository name (``team/app``; ``*`` wildcards
    allowed) or a repository ARN (``arn:aws:ecr:us-east-1:123456789012:repository/team/app``).

    Returns ``{"name": ..., "arn": ARN or None}``; raises InvalidReferenceError saying what is
    wrong and what is expected."""
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidReferenceError(f"repository {reference!r} is empty; give a repository name or ARN")
    value = reference.strip()
    if value.startswith("arn:"):
        match = _REPOSITORY_ARN_RE.match(value)
        if not match or not _valid_repository_name(match.group("name")):
            raise InvalidReferenceError(
                f"repository ARN {value!r} is malformed: expected arn:<partition>:ecr:<region>:<12-digit account>:repository/<name>, "
                "e.g. arn:aws:ecr:us-east-1:123456789012:repository/team/app"
            )
        return {"name": match.group("name"), "arn": value}
    image = parse_image(value)
    if image["full_ecr_uri"]:
        raise InvalidReferenceError(
            f"repository {value!r} is an image URI, not a repository; give the repository name ({image['repository']}) "
            f"or its ARN ({image_repository_arn(image)})"
        )
    if not _valid_repository_name(value):
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
# AWS calls
# --------------------------------------------------------------------------------------------


@ECSErrorHandler.list_error_handler("describe task definition {task_definition}")
@ecs_retry
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
