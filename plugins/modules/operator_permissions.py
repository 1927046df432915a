#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: operator_permissions
short_description: Check that the caller's IAM policies allow what a run will do, before it does anything
version_added: 0.1.0
description:
  - Finds out who the credentials are (C(sts:GetCallerIdentity); an assumed-role session is taken as its role) and
    simulates that user's or role's identity policies (C(iam:SimulatePrincipalPolicy)) for every action on every
    resource of O(checks). Changes nothing.
  - Fails, naming each action and resource that is not allowed, when one is missing (unless O(fail_on_missing=false)).
  - When the simulation itself is refused, C(iam:SimulatePrincipalPolicy) on the caller's own user or role is what is
    missing, and the module fails (or warns) naming it like any other. For the root user and federated users there is
    nothing to simulate, so it warns and returns RV(simulated=false).
  - The role C(pullaccess.aws.ecr_pull_access) runs it before its first write, with the checks the
    C(pullaccess.aws.pull_access_permission_checks) filter makes from the declared workloads.
  - The simulation covers identity policies (and permission boundaries); service control policies, session
    policies and the resource policies of other accounts' repositories are not part of it.
author:
  - pullaccess.aws maintainers (@pullaccess)
options:
  checks:
    description:
      - What to simulate. Each item has C(actions) (IAM action names), C(resources) (ARNs, or C(*)), optionally
        C(context) (condition keys and one string value each, such as C(iam:PolicyARN)) and C(sid) (a name for
        messages).
    type: list
    elements: dict
    default: []
  fail_on_missing:
    description:
      - Fail when an action is not allowed on a resource. With V(false), report it in RV(missing) and warn.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - pullaccess.aws.attributes.read_only
"""

EXAMPLES = r"""
- name: Stop before anything is written if the operator lacks a permission
  pullaccess.aws.operator_permissions:
    checks:
      - sid: EcrRepositoryPolicies
        actions: [ecr:GetRepositoryPolicy, ecr:SetRepositoryPolicy, ecr:DeleteRepositoryPolicy]
        resources: [arn:aws:ecr:us-east-1:123456789012:repository/web]
      - sid: EcsManagedPullPolicies
        actions: [iam:AttachRolePolicy]
        resources: [arn:aws:iam::123456789012:role/api-execution]
        context:
          iam:PolicyARN: arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy

- name: Who am I (no checks)
  pullaccess.aws.operator_permissions:
  register: caller
"""

RETURN = r"""
caller_arn:
  description: The credentials' identity as C(sts:GetCallerIdentity) returns it.
  returned: always
  type: str
  sample: arn:aws:sts::123456789012:assumed-role/deployer/session
principal_arn:
  description: The user or role whose policies were simulated (an assumed-role session's role); C(null) for the root
    user and federated users.
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:role/deployer
account_id:
  description: The caller's account.
  returned: always
  type: str
  sample: "123456789012"
partition:
  description: The caller's partition.
  returned: always
  type: str
  sample: aws
simulated:
  description: Whether the simulation ran (false when it was refused or there was nothing to simulate).
  returned: always
  type: bool
checked:
  description: How many action and resource pairs were simulated.
  returned: always
  type: int
missing:
  description: The action and resource pairs the caller's policies do not allow.
  returned: always
  type: list
  elements: dict
  contains:
    sid:
      description: The check's C(sid).
      type: str
    action:
      description: The action.
      type: str
    resource:
      description: The resource ARN.
      type: str
    context:
      description: The condition keys it was simulated with.
      type: dict
    decision:
      description: C(implicitDeny) (no statement allows it) or C(explicitDeny).
      type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import ITEM_ERRORS
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import error_code
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import fail_with
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import get_caller_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import simulate_principal_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_SIMULATE_ACTION as SIMULATE_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import principal_arn_of_caller

#: Resources per simulation call (AWS pages the results; smaller calls keep each answer short).
RESOURCES_PER_CALL = 50
#: How many missing permissions the failure message spells out.
SHOWN = 20


def check_items(checks):
    """The checks, validated: ``[(sid, actions, resources, context)]``; ValueError saying what is wrong."""
    found = []
    for index, check in enumerate(checks):
        actions, resources, context = check.get("actions"), check.get("resources") or ["*"], check.get("context") or {}
        if not actions or not all(isinstance(a, str) and ":" in a for a in actions):
            raise ValueError(f"checks[{index}].actions must be a non-empty list of IAM action names (service:Action)")
        if not all(isinstance(r, str) and r for r in resources):
            raise ValueError(f"checks[{index}].resources must be a list of ARNs")
        if not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values()):
            raise ValueError(f"checks[{index}].context must map condition keys to one string value each")
        found.append((check.get("sid") or f"checks[{index}]", list(actions), list(resources), dict(context)))
    return found


def missing_message(missing, principal_arn):
    lines = [f"{m['action']} on {m['resource']}" + (f" (with {', '.join(f'{k}={v}' for k, v in m['context'].items())})" if m["context"] else "")
             + f" [{m['sid']}]" for m in missing[:SHOWN]]
    more = f"; and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    return (f"{principal_arn} is not allowed {len(missing)} of the calls this run needs, so nothing was changed: " + "; ".join(lines) + more
            + ". Add them to its policy (ansible-playbook pullaccess.aws.operator_policy writes the least-privilege policy for the inventory)")


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(checks=dict(type="list", elements="dict", default=[]), fail_on_missing=dict(type="bool", default=True)),
        supports_check_mode=True,
    )
    result = dict(changed=False, simulated=False, checked=0, missing=[], principal_arn=None)
    try:
        checks = check_items(module.params["checks"])
        caller = get_caller_arn(module.client("sts", config=CLIENT_CONFIG))
        partition, account_id = arn_account(caller)
        result.update(caller_arn=caller, account_id=account_id, partition=partition, principal_arn=principal_arn_of_caller(caller))
        if not checks:
            module.exit_json(**result)
        if result["principal_arn"] is None:
            module.warn(f"the permissions of {caller} are not checked before the run: it is not an IAM user or an assumed role "
                        "(the root user, a federated user), so there is no policy to simulate")
            module.exit_json(**result)
        iam = module.client("iam", config=CLIENT_CONFIG)
        for sid, actions, resources, context in checks:
            for start in range(0, len(resources), RESOURCES_PER_CALL):
                chunk = resources[start:start + RESOURCES_PER_CALL]
                for action, resource, decision in simulate_principal_policy(iam, result["principal_arn"], actions, chunk, context):
                    result["checked"] += 1
                    if decision != "allowed":
                        result["missing"].append({"sid": sid, "action": action, "resource": resource, "context": context, "decision": decision})
        result["simulated"] = True
    except ITEM_ERRORS as e:
        if result["principal_arn"] and error_code(getattr(e, "exception", None)) in ("AccessDenied", "AccessDeniedException"):
            # Not allowed to look is a missing permission like any other: the policy lacks the check's own statement.
            result["missing"] = [{"sid": "permission check", "action": SIMULATE_ACTION, "resource": result["principal_arn"], "context": {},
                                  "decision": "implicitDeny"}]
        else:
            fail_with(module, e, **result)
    if result["missing"]:
        message = missing_message(result["missing"], result["principal_arn"])
        if module.params["fail_on_missing"]:
            module.fail_json(msg=message, **result)
        module.warn(message)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
