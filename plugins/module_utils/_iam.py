# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""IAM calls for the role that pulls container images from ECR (private module_utils).

amazon.aws's IAM helpers (``module_utils/iam.py``) are reused where they exist; the calls they
lack are one small function each here, with the same error handler over a jittered retry. The
``ensure_*`` helpers take ``check_mode`` and return whether something changed (or would); no
helper ever touches a role's trust policy or a policy it does not own.
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.iam import AnsibleIAMError
from ansible_collections.amazon.aws.plugins.module_utils.iam import IAMErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.iam import add_role_to_iam_instance_profile
from ansible_collections.amazon.aws.plugins.module_utils.iam import create_iam_instance_profile
from ansible_collections.amazon.aws.plugins.module_utils.iam import detach_iam_role_policy
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_instance_profiles
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.pullaccess.aws.plugins.module_utils._names import PARTITION as _PARTITION
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import documents_equivalent
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import parse_iam_policy_document
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import render_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import service_trust_policy

#: Per launch type: the role that pulls images, the service that assumes it, and the AWS managed
#: policy (path and name under ``arn:<partition>:iam::aws:policy``) that lets it pull.
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

_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_ROLE_ARN_RE = re.compile(
    r"^arn:(?P<partition>" + _PARTITION + r"):iam::(?P<account>\d{12}):role(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]{1,64})$"
)


class InvalidRoleError(ValueError):
    """A role given by the user (or named by a task definition) is not a valid role name or ARN."""


class RoleMissingError(AnsibleIAMError):
    """The role does not exist and may not be created."""


class RoleMismatchError(AnsibleIAMError):
    """The role ARN given names another account or path than the role IAM has under that name."""


class InstanceProfileConflictError(AnsibleIAMError):
    """The instance profile named like the role already holds another role."""


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def parse_role_reference(reference):
    """Check a role given by name (``my-role``) or ARN (``arn:aws:iam::123456789012:role/path/my-role``).

    Returns ``{"name", "arn", "path", "account_id", "partition"}`` (the last four None for a
    bare name); raises InvalidRoleError saying what is expected."""
    value = reference.strip() if isinstance(reference, str) else ""
    if value.startswith("arn:"):
        match = _ROLE_ARN_RE.match(value)
        if not match:
            raise InvalidRoleError(
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
        raise InvalidRoleError(
            f"role {reference!r} is not a valid IAM role name (1-64 letters, digits and +=,.@_-) nor a role ARN"
        )
    return {"name": value, "arn": None, "path": None, "account_id": None, "partition": None}


def parse_arn_account(arn):
    """``(partition, account_id)`` of an IAM ARN."""
    parts = arn.split(":")
    return parts[1], parts[4]


def role_arn(partition, account_id, name, path="/"):
    """The ARN of an IAM role."""
    return f"arn:{partition}:iam::{account_id}:role{path or '/'}{name}"


def instance_profile_arn(partition, account_id, name, path="/"):
    """The ARN of an IAM instance profile."""
    return f"arn:{partition}:iam::{account_id}:instance-profile{path or '/'}{name}"


def managed_policy_arn(launch_type, partition):
    """The ARN of the AWS managed policy that lets the launch type's role pull from ECR."""
    return f"arn:{partition}:iam::aws:policy{LAUNCH_TYPES[launch_type]['managed_policy']}"


def trust_policy(launch_type):
    """The trust policy a role created for ``launch_type`` gets."""
    return service_trust_policy(LAUNCH_TYPES[launch_type]["service"])


# --------------------------------------------------------------------------------------------
# AWS calls (one each)
# --------------------------------------------------------------------------------------------


@IAMErrorHandler.common_error_handler("create role {name}")
@AWSRetry.jittered_backoff()
def _create_role(client, name, path, trust_policy_text, description):
    return client.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust_policy_text, Description=description)["Role"]


@IAMErrorHandler.common_error_handler("wait for role {name} to exist")
def _wait_role_exists(client, name):
    client.get_waiter("role_exists").wait(RoleName=name)


@IAMErrorHandler.common_error_handler("wait for instance profile {name} to exist")
def _wait_instance_profile_exists(client, name):
    client.get_waiter("instance_profile_exists").wait(InstanceProfileName=name)


@IAMErrorHandler.common_error_handler("attach policy {policy_arn} to role {role_name}")
@AWSRetry.jittered_backoff()
def _attach_role_policy(client, role_name, policy_arn):
    client.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    return True


@IAMErrorHandler.list_error_handler("get inline policy {policy_name} of role {role_name}")
@AWSRetry.jittered_backoff()
def _get_role_policy(client, role_name, policy_name):
    return client.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]


@IAMErrorHandler.common_error_handler("put inline policy {policy_name} on role {role_name}")
@AWSRetry.jittered_backoff()
def _put_role_policy(client, role_name, policy_name, policy_text):
    client.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy_text)
    return True


@IAMErrorHandler.deletion_error_handler("delete inline policy {policy_name} of role {role_name}")
@AWSRetry.jittered_backoff()
def _delete_role_policy(client, role_name, policy_name):
    client.delete_role_policy(RoleName=role_name, PolicyName=policy_name)
    return True


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def matching_role(role, reference):
    """``role`` (what IAM returned for the reference's name, or None) when it is the role the parsed
    reference names; RoleMismatchError when the reference is an ARN of another account or path."""
    if role is not None and reference["arn"] and role["Arn"] != reference["arn"]:
        raise RoleMismatchError(
            message=(
                f"role {reference['arn']} does not match the role IAM has under the name {reference['name']!r} "
                f"({role['Arn']}); IAM roles can only be managed with credentials of their own account. Check the ARN, "
                "or use credentials of its account"
            )
        )
    return role


def attached_policy_arns(client, role_name):
    """ARNs of every managed policy attached to the role, sorted."""
    return sorted(policy["PolicyArn"] for policy in list_iam_role_attached_policies(client, role_name))


def get_inline_policy(client, role_name, policy_name):
    """The role's inline policy ``policy_name`` as a document, or None when there is none.

    IAM answers with URL-encoded JSON, which boto3 usually decodes into a dict; both are handled."""
    document = _get_role_policy(client, role_name, policy_name)
    return parse_iam_policy_document(document, f"inline policy {policy_name!r} of role {role_name!r}")


def role_instance_profile_arns(client, role_name):
    """ARNs of the instance profiles that hold the role, sorted."""
    return sorted(profile["Arn"] for profile in list_iam_instance_profiles(client, role=role_name))


# --------------------------------------------------------------------------------------------
# Changing (check mode aware)
# --------------------------------------------------------------------------------------------


def create_role(client, name, path, launch_type, check_mode, predicted_arn):
    """Create a role for ``launch_type`` with its trust policy and wait until IAM knows it.

    Returns the role (boto3 shape); in check mode the role that would be created."""
    if check_mode:
        return {"RoleName": name, "Path": path, "Arn": predicted_arn}
    description = f"ECS {LAUNCH_TYPES[launch_type]['role']}, created by pullaccess.aws.ecs_execution_role_ecr"
    role = _create_role(client, name, path, render_policy(trust_policy(launch_type)), description)
    _wait_role_exists(client, name)
    return role


def read_instance_profile(client, role_name, role_exists):
    """Read what ``apply_instance_profile`` needs for an EC2 container instance role: the
    instance profiles that hold the role and, when there are none, the instance profile named
    like the role (None when missing).

    Returns ``{"profile_arns": [...], "named": profile or None}``. Raises
    InstanceProfileConflictError when the role would have to go into an instance profile that
    already holds another role, so that this is known before anything is written."""
    profiles = role_instance_profile_arns(client, role_name) if role_exists else []
    if profiles:
        return {"profile_arns": profiles, "named": None}
    found = list_iam_instance_profiles(client, name=role_name)
    profile = found[0] if found else None
    if profile and profile.get("Roles"):
        holder = profile["Roles"][0].get("RoleName")
        raise InstanceProfileConflictError(
            message=(
                f"instance profile {role_name!r} already holds role {holder!r} (an instance profile holds one role), so "
                f"role {role_name!r} cannot be added to it; remove that role from it, or put {role_name!r} in another "
                "instance profile yourself"
            )
        )
    return {"profile_arns": [], "named": profile}


def apply_instance_profile(client, role_name, path, partition, account_id, current, check_mode):
    """Put the role in the instance profile named like it (created when missing) unless an
    instance profile already holds it; ``current`` is what ``read_instance_profile`` returned.

    Returns ``(changed, profile_arns)``."""
    if current["profile_arns"]:
        return False, current["profile_arns"]
    profile = current["named"]
    arn = profile["Arn"] if profile else instance_profile_arn(partition, account_id, role_name, path)
    if check_mode:
        return True, [arn]
    if profile is None:
        arn = create_iam_instance_profile(client, role_name, path, None)["Arn"]
        _wait_instance_profile_exists(client, role_name)
    add_role_to_iam_instance_profile(client, role_name, role_name)
    return True, [arn]


def ensure_managed_policy(client, role_name, policy_arn, attached, present, check_mode):
    """Attach (``present``) or detach the managed policy ``policy_arn``; ``attached`` lists the
    ARNs attached now. Other attachments are never touched.

    Returns ``(changed, attached_after)``."""
    if present == (policy_arn in attached):
        return False, sorted(attached)
    if present:
        after = sorted(set(attached) | {policy_arn})
        if not check_mode:
            _attach_role_policy(client, role_name, policy_arn)
        return True, after
    after = sorted(set(attached) - {policy_arn})
    if not check_mode:
        detach_iam_role_policy(client, policy_arn, role_name)
    return True, after


def ensure_inline_policy(client, role_name, policy_name, current, wanted, check_mode):
    """Put ``wanted`` as the role's inline policy ``policy_name`` (None: delete it); ``current``
    is the document there now. Documents equal by meaning are not written. Other inline
    policies are never touched.

    Returns ``(changed, document_after)``."""
    if documents_equivalent(current, wanted):
        return False, current
    if not check_mode:
        if wanted is None:
            _delete_role_policy(client, role_name, policy_name)
        else:
            _put_role_policy(client, role_name, policy_name, render_policy(wanted))
    return True, wanted
