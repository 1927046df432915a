# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The operator's least privilege, from the declared workloads (pure, no boto3): the statements
the role's calls need for exactly these workloads (``operator_statements``), rendered as IAM
managed policy documents within IAM's size limit (``pull_access_operator_policy``), and the
same permissions as the checks a run simulates before its first write
(``pull_access_permission_checks``). One list of statements feeds both, so what the generated
policy grants is what the run checks for."""

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.pullaccess.aws.plugins.filter.pull_access import _policy_changes
from ansible_collections.pullaccess.aws.plugins.filter.pull_access import _results
from ansible_collections.pullaccess.aws.plugins.filter.pull_access import plain_workloads
from ansible_collections.pullaccess.aws.plugins.filter.pull_access import pull_access_plan
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ECR_POLICY_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ECS_READ_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_CREATE_ROLE_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_DELETE_INLINE_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_INSTANCE_PROFILE_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_INSTANCE_PROFILE_READ_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_MANAGED_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_PASS_ROLE_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_PASSED_TO_SERVICE_KEY
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_POLICY_ARN_KEY
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_PUT_INLINE_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_ROLE_READ_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import IAM_SIMULATE_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import LAUNCH_TYPES
from ansible_collections.pullaccess.aws.plugins.module_utils._names import LIGHTSAIL_READ_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import LIGHTSAIL_UPDATE_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import MANAGED_POLICY_LIMIT
from ansible_collections.pullaccess.aws.plugins.module_utils._names import OPERATOR_SIDS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import instance_profile_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_account_id
from ansible_collections.pullaccess.aws.plugins.module_utils._names import lightsail_container_service_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import managed_policy_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import partition_for_region
from ansible_collections.pullaccess.aws.plugins.module_utils._names import repository_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import role_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import user_arn

VERSION = "2012-10-17"


def _service_arns(workloads, puller_reads):
    """``{(region, service name): container service ARN}`` from the role's puller reads."""
    batches = pull_access_plan(workloads)["puller_reads"]
    found = {}
    for batch, result in zip(batches, _results(puller_reads)):
        for puller in result.get("pullers") or []:
            if puller.get("service_arn"):
                found[(batch["region"], puller["service_name"])] = puller["service_arn"]
    return found


def _role_arns(ecs_reads):
    """``{host: role ARN}`` from the role's ECS reads."""
    return {entry["name"]: entry["role_arn"] for result in _results(ecs_reads) for entry in result.get("workloads") or [] if entry.get("role_arn")}


def _statement(sid, actions, resources, condition=None, account=None):
    found = {"sid": sid, "actions": sorted(set(actions)), "resources": sorted(set(resources)), "account": account}
    if condition:
        found["condition"] = condition
    return found


# How the generated policy names the container services whose puller role the operator may switch.
LIGHTSAIL_SCOPES = ("services", "region")


def operator_statements(workloads, account_id, puller_reads=None, ecs_reads=None, operator_arns=None, lightsail_scope="services"):
    """The statements the role's calls need for ``workloads`` (from ``pull_access_workload``), each
    ``{"sid", "actions", "resources", "condition" (optional), "account"}``: ``account`` is the
    other account whose repositories a statement is about (None: the operator's own account,
    ``account_id``). Exact resources where the service authorization reference allows them:
    repository ARNs, container service ARNs (from ``puller_reads``, the role's read of the
    services; a service not read gets every container service of its Region and account), role
    ARNs (from ``ecs_reads``, else from the declared role name), instance profile ARNs of roles
    the run creates. ``operator_arns`` are whose policies the run may simulate (default: every
    user and role of the account). ``lightsail_scope`` ``region``: every container service of the
    account in each Region of the workloads instead (one ARN per Region, for fleets whose service
    ARNs would not fit in the managed policies one principal can have)."""
    if lightsail_scope not in LIGHTSAIL_SCOPES:
        raise AnsibleFilterError(f"pull_access_operator_policy: lightsail_scope {lightsail_scope!r} is not one of {', '.join(LIGHTSAIL_SCOPES)}")
    if not is_account_id(str(account_id or "")):
        raise AnsibleFilterError(f"pull_access_operator_policy: account_id {account_id!r} is not a 12-digit account id")
    account_id = str(account_id)
    workloads = [w for w in workloads or [] if w]
    services, roles = _service_arns(workloads, puller_reads), _role_arns(ecs_reads)
    statements = []
    ecs = [w for w in workloads if w["type"] == "ecs"]
    host_roles = {w["host"]: _ecs_role_arn(w, roles, account_id) for w in ecs}
    # Repository policies: every repository a run of these workloads can write (grants, moves, exclusive cleanups).
    principals = {("ecs", host): arn or role_arn(partition_for_region(w["region"]), account_id, "not-read-yet")
                  for w in ecs for host, arn in [(w["host"], host_roles[w["host"]])]}
    principals.update({("account", w["region"]): account_id for w in workloads})
    repositories = {}
    for change in _policy_changes(workloads, principals, stand_in=True):
        registry = change["registry_id"] or account_id
        arn = repository_arn(partition_for_region(change["region"]), change["region"], registry, change["repository"])
        repositories.setdefault(registry, set()).add(arn)
    for registry in sorted(repositories, key=lambda r: (r != account_id, r)):
        own = registry == account_id
        statements.append(_statement(OPERATOR_SIDS["ecr"] + ("" if own else registry), ECR_POLICY_ACTIONS, repositories[registry],
                                     account=None if own else registry))
    lightsail = [w for w in workloads if w["type"] == "lightsail"]
    if lightsail:
        statements.append(_statement(OPERATOR_SIDS["lightsail_read"], [LIGHTSAIL_READ_ACTION], ["*"]))
        every = {w["host"]: lightsail_container_service_arn(partition_for_region(w["region"]), w["region"], account_id) for w in lightsail}
        arns = {every[w["host"]] if lightsail_scope == "region" else services.get((w["region"], w["name"])) or every[w["host"]] for w in lightsail}
        statements.append(_statement(OPERATOR_SIDS["lightsail_update"], [LIGHTSAIL_UPDATE_ACTION], arns))
    if any(w["task_definition"] for w in ecs):
        statements.append(_statement(OPERATOR_SIDS["ecs_read"], [ECS_READ_ACTION], ["*"]))
    by_role = {}
    for workload in ecs:
        if host_roles[workload["host"]]:
            by_role.setdefault(host_roles[workload["host"]], []).append(workload)
    if by_role:
        statements.append(_statement(OPERATOR_SIDS["role_read"], IAM_ROLE_READ_ACTIONS, by_role))
        # Inline policies only on the roles of workloads with inline permissions (a move from inline to
        # managed permissions needs the policy generated before it, which still has them).
        inline = [arn for arn, found in by_role.items() if any(w["permissions"] == "inline" for w in found)]
        if inline:
            statements.append(_statement(OPERATOR_SIDS["role_inline"], [IAM_PUT_INLINE_ACTION, IAM_DELETE_INLINE_ACTION], inline))
        policies = sorted({managed_policy_arn(launch_type, partition_for_region(w["region"])) for launch_type in LAUNCH_TYPES for w in ecs})
        statements.append(_statement(OPERATOR_SIDS["role_managed"], IAM_MANAGED_ACTIONS, by_role, {"ArnEquals": {IAM_POLICY_ARN_KEY: policies}}))
    created = {arn: found for arn, found in by_role.items() if any(w["create_role"] and w["state"] == "present" for w in found)}
    if created:
        statements.append(_statement(OPERATOR_SIDS["role_create"], [IAM_CREATE_ROLE_ACTION], created))
        profiles = {arn: found for arn, found in created.items() if any(w["launch_type"] == "ec2" for w in found)}
        if profiles:
            statements.append(_statement(OPERATOR_SIDS["role_pass"], [IAM_PASS_ROLE_ACTION], profiles,
                                         {"StringEquals": {IAM_PASSED_TO_SERVICE_KEY: LAUNCH_TYPES["ec2"]["service"]}}))
            # GetInstanceProfile looks the profile up by name alone: before it exists, IAM knows no path for it.
            arns = {_profile_arn(arn, path) for arn in profiles for path in (True, False)}
            statements.append(_statement(OPERATOR_SIDS["instance_profile_read"], [IAM_INSTANCE_PROFILE_READ_ACTION], arns))
            statements.append(_statement(OPERATOR_SIDS["instance_profiles"], IAM_INSTANCE_PROFILE_ACTIONS, [_profile_arn(arn) for arn in profiles]))
    partition = partition_for_region(workloads[0]["region"]) if workloads else "aws"
    simulated = operator_arns or [role_arn(partition, account_id, "*"), user_arn(partition, account_id, "*")]
    statements.append(_statement(OPERATOR_SIDS["simulate"], [IAM_SIMULATE_ACTION], simulated))
    return statements


def _ecs_role_arn(workload, roles, account_id):
    """The ARN of an ECS workload's role: as read, else from the declared role name (None for a
    task definition not read)."""
    if roles.get(workload["host"]):
        return roles[workload["host"]]
    if not workload["role_name"]:
        return None
    reference = parse_role_reference(workload["role_name"])
    return reference["arn"] or role_arn(partition_for_region(workload["region"]), account_id, reference["name"])


def _profile_arn(arn, with_path=True):
    """The instance profile the module creates for a role: the role's name and path (without
    ``with_path``: the name alone, as a lookup by name before it exists is checked)."""
    head, dummy, path_and_name = arn.partition(":role")
    partition, account = head.split(":")[1], head.split(":")[4]
    path, dummy, name = path_and_name.rpartition("/")
    return instance_profile_arn(partition, account, name, path + "/" if with_path else "/")


def _rendered(statement):
    rendered = {"Sid": statement["sid"], "Effect": "Allow", "Action": statement["actions"], "Resource": statement["resources"]}
    if statement.get("condition"):
        rendered["Condition"] = statement["condition"]
    return rendered


def _size(statements):
    """A document's size as IAM counts it (JSON without whitespace)."""
    return len(json.dumps({"Version": VERSION, "Statement": statements}, separators=(",", ":")))


def _fitting(statement, limit):
    """The statement, split by resources into as few statements (numbered Sids) as each fit in a
    document alone, each filled as far as it goes."""
    if _size([_rendered(statement)]) <= limit:
        return [statement]
    # Room for the longest numbered Sid; each resource adds its JSON text and a comma.
    empty = _size([_rendered(dict(statement, sid=statement["sid"] + "9" * len(str(len(statement["resources"]))), resources=[]))])
    parts, size = [[]], empty
    for resource in statement["resources"]:
        extra = len(json.dumps(resource)) + 1
        if parts[-1] and size + extra > limit + 1:
            parts.append([])
            size = empty
        if empty + extra > limit + 1:
            raise AnsibleFilterError(f"pull_access_operator_policy: statement {statement['sid']} does not fit in {limit} characters")
        parts[-1].append(resource)
        size += extra
    return [dict(statement, sid=f"{statement['sid']}{index}", resources=resources) for index, resources in enumerate(parts, 1)]


def _packed(statements, limit):
    """The statements in as few documents of at most ``limit`` characters as first-fit by size
    finds (the largest first): ``[[statement, ...], ...]``."""
    documents = []
    for statement in sorted(statements, key=lambda s: -_size([_rendered(s)])):
        for document in documents:
            if _size([_rendered(s) for s in document + [statement]]) <= limit:
                document.append(statement)
                break
        else:
            documents.append([statement])
    return documents


def pull_access_operator_policy(workloads, account_id, puller_reads=None, ecs_reads=None, operator_arns=None, limit=MANAGED_POLICY_LIMIT,
                                lightsail_scope="services"):
    """The generated operator policy as documents of at most ``limit`` characters (IAM's managed
    policy limit, without whitespace): ``[{"name", "account", "document", "characters"}]``. The
    operator's own account's statements come first (``operator-policy.json``,
    ``operator-policy-2.json``, ... when split); each other account whose repositories the
    workloads name gets its own (``operator-policy-ACCOUNT.json``)."""
    workloads, puller_reads, ecs_reads = plain_workloads(workloads), _results(puller_reads), _results(ecs_reads)
    groups = {}
    for statement in operator_statements(workloads, account_id, puller_reads, ecs_reads, operator_arns, lightsail_scope):
        groups.setdefault(statement["account"] or "", []).extend(_fitting(statement, limit))
    documents = []
    for account in sorted(groups):
        for index, statements in enumerate(_packed(groups[account], limit), 1):
            name = "operator-policy" + (f"-{account}" if account else "") + (f"-{index}" if index > 1 else "") + ".json"
            document = {"Version": VERSION, "Statement": [_rendered(s) for s in statements]}
            documents.append({"name": name, "account": account or str(account_id), "document": document, "characters": _size(document["Statement"])})
    return documents


def caller_account(puller_reads=None, ecs_reads=None):
    """The caller's account as the role's reads show it: Lightsail services and the ECS roles
    it manages are in the caller's own account (None when the reads show neither)."""
    arns = [p.get("service_arn") for result in _results(puller_reads) for p in result.get("pullers") or []]
    arns += [w.get("role_arn") for result in _results(ecs_reads) for w in result.get("workloads") or []]
    return next((arn_account(arn)[1] for arn in arns if arn_account(arn)[1]), None)


def pull_access_permission_checks(workloads, account_id=None, puller_reads=None, ecs_reads=None):
    """What a run simulates before its first write: one ``{"sid", "actions", "resources",
    "context"}`` per statement of the generated policy and value of its condition key (the
    simulation itself left out: it has run by then). Without ``account_id``, the caller's
    account from the reads (no checks when they show none)."""
    workloads, puller_reads, ecs_reads = plain_workloads(workloads), _results(puller_reads), _results(ecs_reads)
    account_id = account_id or caller_account(puller_reads, ecs_reads)
    if not account_id:
        return []
    checks = []
    for statement in operator_statements(workloads, account_id, puller_reads, ecs_reads):
        if statement["sid"] == OPERATOR_SIDS["simulate"]:
            continue
        condition = statement.get("condition") or {}
        entries = [(key, value) for block in condition.values() for key, values in block.items()
                   for value in (values if isinstance(values, list) else [values])]
        for key, value in entries or [(None, None)]:
            checks.append({"sid": statement["sid"], "actions": statement["actions"], "resources": statement["resources"],
                           "context": {key: value} if key else {}})
    return checks


class FilterModule:
    """The operator's least-privilege policy."""

    def filters(self):
        return {
            "pull_access_operator_policy": pull_access_operator_policy,
            "pull_access_permission_checks": pull_access_permission_checks,
        }
