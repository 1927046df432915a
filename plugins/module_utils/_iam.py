# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""IAM calls for the role that pulls container images from ECR (private module_utils).

amazon.aws's IAM helpers (``module_utils/iam.py``) are reused where they exist; the calls they
lack are one small function each here, with the same error handler (the client's botocore
standard mode is the only retry). The ``ensure_*`` helpers take ``check_mode`` and return
whether something changed (or would); no helper ever touches a role's trust policy or a policy
it does not own.
"""

from ansible_collections.amazon.aws.plugins.module_utils.iam import AnsibleIAMError
from ansible_collections.amazon.aws.plugins.module_utils.iam import IAMErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.iam import add_role_to_iam_instance_profile
from ansible_collections.amazon.aws.plugins.module_utils.iam import create_iam_instance_profile
from ansible_collections.amazon.aws.plugins.module_utils.iam import detach_iam_role_policy
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_instance_profiles
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_policies

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import described
from ansible_collections.pullaccess.aws.plugins.module_utils._names import LAUNCH_TYPES
from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import instance_profile_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import partition_for_region
from ansible_collections.pullaccess.aws.plugins.module_utils._names import role_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import documents_equivalent
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import parse_iam_policy_document
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import render_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import service_trust_policy


class RoleMissingError(AnsibleIAMError):
    """The role does not exist and may not be created."""


class RoleMismatchError(AnsibleIAMError):
    """The role ARN given names another account or path than the role IAM has under that name."""


def trust_policy(launch_type):
    """The trust policy a role created for ``launch_type`` gets."""
    return service_trust_policy(LAUNCH_TYPES[launch_type]["service"])


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


def role_to_manage(reference, found, present, create, caller, region):
    """The role a parsed reference names: ``found`` (what IAM has under the reference's name, or
    None), or, when it is missing and is to be ``present`` and ``create``d, the role to create.

    Returns ``(role or None, created)``; ``caller()`` gives the credentials' ``(account_id,
    partition)``. Raises RoleMissingError / RoleMismatchError."""
    role = matching_role(found, reference)
    if role is not None or not present:
        return role, False
    if not create:
        raise RoleMissingError(
            message=(
                f"role {reference['arn'] or reference['name']!r} does not exist; nothing was changed. Create it, set "
                "create_role=true to have it created with the launch type's trust policy, or check the name"
            )
        )
    account_id, caller_partition = caller()
    if reference["account_id"] and reference["account_id"] != account_id:
        raise RoleMismatchError(
            message=(
                f"cannot create role {reference['arn']}: the credentials are for account {account_id}, and IAM creates "
                "roles in the caller's account; nothing was changed"
            )
        )
    partition = reference["partition"] or (partition_for_region(region) if region else caller_partition)
    path = reference["path"] or "/"
    return {"RoleName": reference["name"], "Path": path, "Arn": role_arn(partition, account_id, reference["name"], path)}, True


# --------------------------------------------------------------------------------------------
# AWS calls (one each)
# --------------------------------------------------------------------------------------------


@described(IAMErrorHandler.common_error_handler, "create role {name}")
def _create_role(client, name, path, trust_policy_text, description):
    return client.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust_policy_text, Description=description)["Role"]


@described(IAMErrorHandler.common_error_handler, "wait for role {name} to exist")
def _wait_role_exists(client, name):
    client.get_waiter("role_exists").wait(RoleName=name)


@described(IAMErrorHandler.common_error_handler, "wait for instance profile {name} to exist")
def _wait_instance_profile_exists(client, name):
    client.get_waiter("instance_profile_exists").wait(InstanceProfileName=name)


@described(IAMErrorHandler.common_error_handler, "attach policy {policy_arn} to role {role_name}")
def _attach_role_policy(client, role_name, policy_arn):
    client.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    return True


@described(IAMErrorHandler.list_error_handler, "get inline policy {policy_name} of role {role_name}")
def _get_role_policy(client, role_name, policy_name):
    return client.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]


@described(IAMErrorHandler.common_error_handler, "put inline policy {policy_name} on role {role_name}")
def _put_role_policy(client, role_name, policy_name, policy_text):
    client.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy_text)
    return True


@described(IAMErrorHandler.deletion_error_handler, "delete inline policy {policy_name} of role {role_name}")
def _delete_role_policy(client, role_name, policy_name):
    client.delete_role_policy(RoleName=role_name, PolicyName=policy_name)
    return True


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


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


def get_instance_profile(client, name):
    """The instance profile ``name`` (boto3 shape, with the ``Roles`` it holds), or None."""
    found = list_iam_instance_profiles(client, name=name)
    return found[0] if found else None


def read_permissions(client, role_name, exists, policy_names, ec2, wants_profile):
    """What the module manages on a role: ``(attached managed policy ARNs, {policy name: inline
    document or None} for ``policy_names``, ARNs of the instance profiles holding it (with
    ``ec2``), the instance profile named like it when ``wants_profile`` and none holds it)``.
    A role that does not exist yet (``exists`` false) has only that instance profile to read."""
    attached = attached_policy_arns(client, role_name) if exists else []
    documents = {policy_name: get_inline_policy(client, role_name, policy_name) if exists else None for policy_name in policy_names}
    profile_arns = role_instance_profile_arns(client, role_name) if exists and ec2 else []
    named = get_instance_profile(client, role_name) if wants_profile and not profile_arns else None
    return attached, documents, profile_arns, named


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


def ensure_managed_policy(client, role_name, policy_arn, attached, present, check_mode):
    """Attach (``present``) or detach the managed policy ``policy_arn``; ``attached`` lists the
    ARNs attached now. Other attachments are never touched. Returns whether it changed."""
    if present == (policy_arn in attached):
        return False
    if not check_mode:
        if present:
            _attach_role_policy(client, role_name, policy_arn)
        else:
            detach_iam_role_policy(client, policy_arn, role_name)
    return True


def ensure_inline_policy(client, role_name, policy_name, current, wanted, check_mode):
    """Put ``wanted`` as the role's inline policy ``policy_name`` (None: delete it); ``current``
    is the document there now. Documents equal by meaning are not written. Other inline
    policies are never touched. Returns whether it changed."""
    if documents_equivalent(current, wanted):
        return False
    if not check_mode:
        if wanted is None:
            _delete_role_policy(client, role_name, policy_name)
        else:
            _put_role_policy(client, role_name, policy_name, render_policy(wanted))
    return True


def ensure_instance_profile(client, role, profile_arns, named, check_mode):
    """Put ``role`` (boto3 shape) in the instance profile named like it, created when missing
    (``named``: that profile as read, or None), unless an instance profile already holds it
    (``profile_arns``). The caller makes sure ``named`` holds no other role.

    Returns ``(changed, profile_arns)``, in check mode the ARN the profile would have."""
    if profile_arns:
        return False, profile_arns
    name = role["RoleName"]
    if named is not None:
        arn = named["Arn"]
    else:
        partition, account_id = arn_account(role["Arn"])
        arn = instance_profile_arn(partition, account_id, name, role["Path"])
    if check_mode:
        return True, [arn]
    if named is None:
        arn = create_iam_instance_profile(client, name, role["Path"], None)["Arn"]
        _wait_instance_profile_exists(client, name)
    add_role_to_iam_instance_profile(client, name, name)
    return True, [arn]


def read_pull_permissions(client, role_name):
    """What may let a role pull: ``{"attached": managed policy ARNs, "inline": {name: document}}``
    (every inline policy, the one this collection writes included)."""
    inline = {name: get_inline_policy(client, role_name, name) for name in sorted(list_iam_role_policies(client, role_name))}
    return {"attached": attached_policy_arns(client, role_name), "inline": inline}


# --------------------------------------------------------------------------------------------
# The caller's own permissions (the role's check before its first write)
# --------------------------------------------------------------------------------------------


@IAMErrorHandler.common_error_handler("get the caller's identity")
def get_caller_arn(sts_client):
    """The ARN of the credentials' identity (``sts:GetCallerIdentity``, which needs no permission)."""
    return sts_client.get_caller_identity()["Arn"]


@IAMErrorHandler.common_error_handler("simulate the caller's policies")
def _simulate(client, principal_arn, actions, resources, context_entries):
    params = {"PolicySourceArn": principal_arn, "ActionNames": list(actions), "ResourceArns": list(resources)}
    if context_entries:
        params["ContextEntries"] = context_entries
    return client.get_paginator("simulate_principal_policy").paginate(**params).build_full_result()["EvaluationResults"]


def simulate_principal_policy(client, principal_arn, actions, resources, context=None):
    """Evaluate ``principal_arn``'s identity policies for every action on every resource
    (``iam:SimulatePrincipalPolicy``) with the condition keys in ``context`` (``{key: value}``,
    strings). Returns ``[(action, resource, decision)]``, decision ``allowed``,
    ``explicitDeny`` or ``implicitDeny``."""
    entries = [{"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"} for key, value in sorted((context or {}).items())]
    found = []
    for result in _simulate(client, principal_arn, actions, resources, entries):
        specific = result.get("ResourceSpecificResults") or []
        if specific and len(resources) > 1:
            found += [(result["EvalActionName"], item["EvalResourceName"], item["EvalResourceDecision"]) for item in specific]
        else:
            found.append((result["EvalActionName"], result.get("EvalResourceName") or "*", result["EvalDecision"]))
    return found
