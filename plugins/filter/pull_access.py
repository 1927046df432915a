# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of the ecr_pull_access role: check one workload's declaration (``pull_access_workload``),
plan the play (``pull_access_plan``: what to read, what to change, what to write in each
repository policy) and name a workload's statement (``pull_access_sid``).

Everything here is pure and fast (no boto3): the declaration check runs once per host."""

import hashlib
import json
import re

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.pullaccess.aws.plugins.module_utils._names import ACCOUNT_SID
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ECS_PULL_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import LAUNCH_TYPES
from ansible_collections.pullaccess.aws.plugins.module_utils._names import PARTITION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import OWNED_SID_PREFIX
from ansible_collections.pullaccess.aws.plugins.module_utils._names import OWNED_SID_PREFIXES
from ansible_collections.pullaccess.aws.plugins.module_utils._names import PULL_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import SHARED_SIDS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import WORKLOAD_TYPES
from ansible_collections.pullaccess.aws.plugins.module_utils._names import InvalidReferenceError
from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_account_id
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_region
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_repository_name
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_image
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_task_definition_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import partition_for_region
from ansible_collections.pullaccess.aws.plugins.module_utils._names import repository_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import aws_principals
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import canonical_principal
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import canonical_statement
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import find_statement

PULL_ACTIONS = list(PULL_ACTIONS)
ECS_PULL_ACTIONS = list(ECS_PULL_ACTIONS)

#: How a repository policy holds the play's workloads (ecr_pull_access_statement_mode).
STATEMENT_MODES = ("shared", "account", "workload")
_SERVICE_PATTERN_RE = re.compile(r"^[a-z0-9*?-]{1,63}$")

# Stands in, in the policy checks before the puller roles are activated, for a principal ARN that
# Lightsail assigns only on activation: the same shape and length, so the size check sees what
# the real statement will weigh.
STAND_IN_ACCOUNT = "000000000000"
STAND_IN_ROLE_ID = "pendingactivation".ljust(52, "0")


def plain(value):
    """``value`` as plain Python data: lists, dicts and untagged scalars. Ansible hands a filter lazy
    containers that template every item on each access, and tagged values that copy slowly; a
    fleet's plan walks its inputs many times, so it copies them once."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    for kind in (str, bool, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


def plain_workloads(workloads):
    """The workloads as plain data, from a list or its JSON text (the declaration check's
    ``workloads_json``: Ansible passes one string at once, a list item by item on every use)."""
    if isinstance(workloads, str):
        return json.loads(workloads)
    return plain(workloads or [])


def _fail(host, message):
    raise AnsibleFilterError(f"ecr_pull_access: host {host}: {message}")


# --------------------------------------------------------------------------------------------
# One workload's declaration
# --------------------------------------------------------------------------------------------


def workload_sid(workload_type, name, region):
    """The statement id of a workload: deterministic, letters and digits only (valid for ECR),
    readable (type and name) and unique (a hash of type, region and name)."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    readable = "".join(word[:1].upper() + word[1:] for word in words if word)[:48]
    digest = hashlib.sha256(f"{workload_type}:{region}:{name}".encode()).hexdigest()[:8]
    return f"{OWNED_SID_PREFIX}{workload_type.capitalize()}{readable}{digest}"


def _repository_arn_fields(entry, host):
    parsed = parse_aws_arn(entry)
    if (not parsed or parsed["service"] != "ecr" or parsed["resource_type"] != "repository" or not is_account_id(parsed["account_id"])
            or not re.fullmatch(PARTITION, parsed["partition"])):
        _fail(host, f"repository {entry!r} is not a valid ECR repository ARN (arn:aws:ecr:REGION:ACCOUNT:repository/NAME)")
    return {"name": parsed["resource_id"], "registry_id": parsed["account_id"], "region": parsed["region"], "partition": parsed["partition"]}


def repository_ref(entry, region, host):
    """Normalise one repository reference: a name (same account and region), an ARN, or a dict
    with ``name`` and optional ``registry_id`` / ``region``."""
    if isinstance(entry, str):
        entry = _repository_arn_fields(entry, host) if entry.startswith("arn:") else {"name": entry}
    if not isinstance(entry, dict) or not entry.get("name"):
        _fail(host, f"repository {entry!r} must be a name, an ARN, or a mapping with name (and optional registry_id, region)")
    unknown = set(entry) - {"name", "registry_id", "region", "partition"}
    if unknown:
        _fail(host, f"repository {entry['name']!r} has unknown keys {sorted(unknown)}; use name, registry_id, region")
    name = str(entry["name"])
    if parse_image(name)["full_ecr_uri"]:
        _fail(host, f"repository {name!r} is an image URI; give the repository name (or its ARN) instead")
    if not is_repository_name(name):
        _fail(host, f"repository name {name!r} is not valid: lowercase letters, digits, '.', '_', '-' and '/' separated parts")
    registry_id = entry.get("registry_id")
    if registry_id is not None:
        registry_id = str(registry_id)
        if not is_account_id(registry_id):
            _fail(host, f"repository {name!r}: registry_id {registry_id!r} is not a 12-digit account id")
    repo_region = entry.get("region") or region
    if not is_region(str(repo_region)):
        _fail(host, f"repository {name!r}: region {repo_region!r} is not a region code such as us-east-1")
    repo_region = str(repo_region)
    partition = entry.get("partition") or partition_for_region(repo_region)
    return {"name": name, "registry_id": registry_id, "region": repo_region, "partition": partition}


def pull_access_workload(declaration, host="?"):
    """Check a workload's declaration and return the workload, normalised.

    ``declaration`` holds the role variables without their prefix: type, name, region, state,
    repositories, extra_repositories, exclusive, and the ECS ones. Raises AnsibleFilterError with
    what to fix."""
    unknown = sorted(set(declaration.get("variables") or []) - set(declaration.get("known_variables") or []))
    if declaration.get("known_variables") and unknown:
        _fail(
            host,
            f"unknown variables {', '.join(unknown)}: the ecr_pull_access role has no such variables (misspelt?); "
            "see its argument specification (ansible-doc -t role pullaccess.aws.ecr_pull_access)",
        )
    workload_type = declaration.get("type")
    if workload_type not in WORKLOAD_TYPES:
        _fail(host, f"ecr_pull_access_type {workload_type!r} is not one of {', '.join(WORKLOAD_TYPES)}")
    state = declaration.get("state") or "present"
    if state not in ("present", "absent"):
        _fail(host, f"ecr_pull_access_state {state!r} is not present or absent")
    region = declaration.get("region")
    if not region or not is_region(str(region)):
        _fail(host, f"ecr_pull_access_region {region!r} is not set to a region code (set it, or AWS_REGION in the environment)")
    name = declaration.get("name")
    mode = declaration.get("statement_mode") or "shared"
    if mode not in STATEMENT_MODES:
        _fail(host, f"ecr_pull_access_statement_mode {mode!r} is not one of {', '.join(STATEMENT_MODES)}")
    pattern = str(declaration.get("service_pattern") or "*")
    if not _SERVICE_PATTERN_RE.match(pattern):
        _fail(host, f"ecr_pull_access_service_pattern {pattern!r} is not a container service name pattern (lowercase letters, digits, - and * or ?)")
    workload = {"type": workload_type, "state": state, "region": region, "exclusive": bool(declaration.get("exclusive")), "host": host,
                "remove_undeclared": bool(declaration.get("remove_undeclared")),
                "statement_mode": mode if workload_type == "lightsail" or mode != "account" else "shared", "service_pattern": pattern}
    if workload_type == "lightsail":
        if not name:
            _fail(host, "ecr_pull_access_service_name is empty")
        workload["name"] = str(name)
    else:
        role_name, task_definition = declaration.get("ecs_role_name"), declaration.get("ecs_task_definition")
        if bool(role_name) == bool(task_definition):
            _fail(host, "an ECS workload needs exactly one of ecr_pull_access_ecs_role_name and ecr_pull_access_ecs_task_definition")
        # The ECS module's own reference checks: a declaration it would refuse stops the play before any write.
        try:
            if role_name:
                parse_role_reference(role_name)
            else:
                parse_task_definition_reference(task_definition)
        except InvalidReferenceError as e:
            _fail(host, str(e))
        launch_type = declaration.get("ecs_launch_type") or "fargate"
        if launch_type not in LAUNCH_TYPES:
            _fail(host, f"ecr_pull_access_ecs_launch_type {launch_type!r} is not one of {', '.join(LAUNCH_TYPES)}")
        permissions = declaration.get("ecs_permissions") or "managed"
        if permissions not in ("managed", "inline"):
            _fail(host, f"ecr_pull_access_ecs_permissions {permissions!r} is not managed or inline")
        workload.update(role_name=role_name, task_definition=task_definition, launch_type=launch_type, permissions=permissions,
                        create_role=bool(declaration.get("ecs_create_role")), policy_name=declaration.get("ecs_policy_name") or None)
        # The Sid must outlive task definition revisions: family:3 and family:4 are one workload.
        identity = str(role_name or task_definition).rsplit("/", 1)[-1]
        workload["name"] = identity.split(":", 1)[0] if task_definition else identity
    repositories = []
    seen = set()
    for entry in list(declaration.get("repositories") or []) + list(declaration.get("extra_repositories") or []):
        ref = repository_ref(entry, region, host)
        key = (ref["registry_id"], ref["region"], ref["name"])
        if key not in seen:
            seen.add(key)
            repositories.append(ref)
    if workload_type == "ecs":
        for ref in repositories:
            if ref["region"] != region and not ref["registry_id"]:
                _fail(host, f"repository {ref['name']!r} is in {ref['region']}, not {region}: give its registry_id (or its ARN)")
        # What the role's inline policy is scoped to: names resolve in the role's own account and region.
        workload["inline_repositories"] = [
            repository_arn(ref["partition"], ref["region"], ref["registry_id"], ref["name"]) if ref["registry_id"] else ref["name"]
            for ref in repositories
        ]
    if workload_type == "lightsail":
        for ref in repositories:
            if ref["region"] != region:
                _fail(
                    host,
                    f"Lightsail service {name!r} is in {region} but repository {ref['name']!r} is in {ref['region']}: "
                    "a Lightsail container service can only pull from ECR repositories in its own Region",
                )
    workload["repositories"] = repositories
    workload["cleanup_repositories"] = [repository_ref(entry, region, host) for entry in declaration.get("cleanup_repositories") or []]
    workload["sid"] = workload_sid(workload_type, workload["name"], region)
    return workload


# --------------------------------------------------------------------------------------------
# The play: what to read, what to change, what to write
# --------------------------------------------------------------------------------------------


def _puller_batches(workloads, state=None):
    """The Lightsail workloads by region and state (only ``state`` when given): one
    ``{"region", "state", "service_names"}`` each, for one lightsail_ecr_puller call."""
    batches = {}
    for workload in workloads:
        if workload["type"] == "lightsail" and state in (None, workload["state"]):
            names = batches.setdefault((workload["region"], workload["state"]), [])
            if workload["name"] not in names:
                names.append(workload["name"])
    return [{"region": region, "state": wanted, "service_names": names} for (region, wanted), names in sorted(batches.items())]


def _ecs_batches(workloads, state=None):
    """The ECS workloads by region (only those in ``state`` when given): one ``{"region",
    "workloads"}`` each, for one ecs_execution_role_ecr call, each workload named after its host."""
    batches = {}
    for workload in workloads:
        if workload["type"] != "ecs" or state not in (None, workload["state"]):
            continue
        entry = {"name": workload["host"], "launch_type": workload["launch_type"], "permissions": workload["permissions"], "state": workload["state"]}
        if workload["role_name"]:
            entry["role_name"] = workload["role_name"]
        else:
            entry["task_definition"] = workload["task_definition"]
        if workload["permissions"] == "inline":
            entry["repositories"] = workload["inline_repositories"]
            entry["policy_name"] = workload.get("policy_name")
        if workload["state"] == "present":
            entry["create_role"] = workload.get("create_role", False)
        batches.setdefault(workload["region"], []).append(entry)
    return [{"region": region, "workloads": entries} for region, entries in sorted(batches.items())]


def _to_change(reads, state=None):
    """From ``[(batch, result)]`` of a check-mode module run, the batches reduced to the services or
    workloads the run must change (batches of ``state`` only, when given). A puller role to be
    active that has no ARN yet (an activation still running, e.g. of a stopped run) counts too:
    the real run waits for its ARN."""
    found = []
    for batch, result in reads:
        if state is not None and batch.get("state", state) != state:
            continue
        if "service_names" in batch:
            waiting = batch["state"] == "present"
            changing = {p["service_name"] for p in result.get("pullers") or [] if p.get("changed") or (waiting and not p.get("principal_arn"))}
            names = [name for name in batch["service_names"] if name in changing]
            if names:
                found.append(dict(batch, service_names=names))
        else:
            changing = {w["name"] for w in result.get("workloads") or [] if w.get("changed")}
            entries = [w for w in batch["workloads"] if w["name"] in changing and state in (None, w["state"])]
            if entries:
                found.append(dict(batch, workloads=entries))
    return found


def _principals(puller_reads=(), ecs_results=()):
    """Principal ARNs from module results: Lightsail pullers by ``("lightsail", region, service)``
    from ``[(batch, result)]``, ECS roles by ``("ecs", host)``, and the account of each region's
    Lightsail services by ``("account", region)``. Later results override earlier ones."""
    found = {}
    for batch, result in puller_reads:
        for puller in result.get("pullers") or []:
            # After a deactivation (or in check mode, before one) the ARN it had is the one to take out.
            arn = puller.get("principal_arn") if puller.get("principal_arn_known", True) else ""
            if arn or puller.get("principal_arn_before"):
                found[("lightsail", batch["region"], puller["service_name"])] = arn or puller["principal_arn_before"]
            account = arn_account(puller.get("service_arn"))[1]
            if account:
                found[("account", batch["region"])] = account
    for result in ecs_results:
        for entry in result.get("workloads") or []:
            if entry.get("role_arn"):
                found[("ecs", entry["name"])] = entry["role_arn"]
    return found


def _principal_of(workload, principals):
    if workload["type"] == "lightsail":
        return principals.get(("lightsail", workload["region"], workload["name"]), "")
    return principals.get(("ecs", workload["host"]), "")


def stand_in_puller_arn(workload):
    """A stand-in for the puller principal ARN of a Lightsail service not activated yet."""
    partition = partition_for_region(workload["region"])
    return (f"arn:{partition}:iam::{STAND_IN_ACCOUNT}:role/amazon/lightsail/{workload['region']}/containers/{workload['name']}/"
            f"private-repo-access/{STAND_IN_ROLE_ID}")


def account_sid(pattern):
    """The Sid of the account mode's statement for a service name pattern."""
    return ACCOUNT_SID if pattern == "*" else ACCOUNT_SID + hashlib.sha256(pattern.encode()).hexdigest()[:8]


def account_statement(region, account, pattern):
    """The account mode's statement request: every Lightsail puller role of ``account`` in
    ``region`` whose service name matches ``pattern`` may pull. ``*`` is limited by conditions."""
    partition = partition_for_region(region)
    arn = f"arn:{partition}:iam::{account}:role/amazon/lightsail/{region}/containers/{pattern}/private-repo-access/*"
    return {"sid": account_sid(pattern), "principals": ["*"], "actions": PULL_ACTIONS,
            "conditions": {"StringEquals": {"aws:PrincipalAccount": account}, "ArnLike": {"aws:PrincipalArn": arn}}}


def _workload_statements(workload, ref, principal, account):
    """The statement requests of one workload in one repository (in its statement mode), with the
    removals that move it out of the other modes."""
    shared = SHARED_SIDS[workload["type"]]
    actions = ECS_PULL_ACTIONS if workload["type"] == "ecs" else PULL_ACTIONS
    mode, present = workload["statement_mode"], workload["state"] == "present"
    if present and not principal and mode != "account":
        # Not active yet: nothing to grant, and the moves wait for the run that knows its ARN.
        return []
    found = []
    if mode == "workload" and present and principal:
        found.append({"sid": workload["sid"], "principals": [principal], "actions": actions})
    elif mode != "workload" or not present:
        found.append({"sid": workload["sid"], "state": "absent"})
    if mode == "shared" and present and principal:
        found.append({"sid": shared, "principals": [principal], "actions": actions, "purge_principals": False})
    elif principal and (mode != "shared" or not present):
        found.append({"sid": shared, "state": "absent", "principals": [principal], "purge_principals": False})
    if mode == "account" and present and account:
        found.append(account_statement(ref["region"], account, workload["service_pattern"]))
    return found


def _policy_changes(workloads, principals=None, stand_in=False):
    """One change per repository, sorted by repository: ``{"repository", "registry_id", "region", "statements"}``.

    ``workloads`` are workloads (their principals looked up in ``principals``) or ``{"plan":
    workload, "principal": ARN or ""}``. Present workloads add their principal in their statement
    mode (ECS workloads only in repositories of another account than their role's: the role's
    IAM policy grants the rest) and leave the other modes; absent ones take theirs away;
    exclusive ones take theirs from every other repository of the run. A present Lightsail
    workload whose principal is not known yet is left out (its account statement is not), or
    with ``stand_in`` given a stand-in ARN (to check the policies before activation). An account
    statement goes when the run moves the repository's workloads to another mode, never on a revoke alone."""
    principals = principals or {}
    entries = [w if "plan" in w else {"plan": w, "principal": _principal_of(w, principals)} for w in workloads]
    if stand_in:
        entries = [dict(e, principal=e["principal"] or (stand_in_puller_arn(e["plan"]) if e["plan"]["type"] == "lightsail" else ""))
                   for e in entries]
    changes = {}

    def change(ref):
        key = (ref["registry_id"] or "", ref["region"], ref["name"])
        if key not in changes:
            changes[key] = {"repository": ref["name"], "registry_id": ref["registry_id"], "region": ref["region"], "statements": [],
                            "patterns": {}}
        return changes[key]

    def add(entry_change, statement):
        entry_change["statements"].append(statement)

    declared = {}
    for entry in entries:
        workload = entry["plan"]
        if workload["state"] == "present":
            declared.setdefault(workload["sid"], set()).update((r["registry_id"] or "", r["region"], r["name"]) for r in workload["repositories"])
    for entry in entries:
        workload, principal = entry["plan"], entry.get("principal") or ""
        for ref in workload["repositories"]:
            if workload["type"] == "ecs" and (not ref["registry_id"] or ref["registry_id"] == arn_account(principal)[1]):
                continue
            target = change(ref)
            for statement in _workload_statements(workload, ref, principal, principals.get(("account", workload["region"]))):
                add(target, statement)
            if workload["type"] == "lightsail":
                # An account statement stays while a present workload wants it; it goes only when
                # the run moves the repository's workloads to another mode (a revoke keeps it).
                patterns, present = target["patterns"], workload["state"] == "present"
                in_account = workload["statement_mode"] == "account"
                patterns.setdefault("*", False)
                patterns[workload["service_pattern"]] = patterns.get(workload["service_pattern"], False) or (in_account and present)
                target["moved"] = target.get("moved", False) or (present and not in_account and bool(principal))
    for target in changes.values():
        patterns = target.pop("patterns")
        if target.pop("moved", False):
            for pattern, wanted in patterns.items():
                if not wanted:
                    add(target, {"sid": account_sid(pattern), "state": "absent"})
    for workload in (e["plan"] for e in entries if e["plan"]["exclusive"]):
        for ref in workload.get("cleanup_repositories", []):
            target = change(ref)
            target.pop("patterns", None)
            target.pop("moved", None)
    for entry in entries:
        workload, principal = entry["plan"], entry.get("principal") or ""
        if not workload["exclusive"]:
            continue
        # Never remove a workload's statement from a repository it declares, known principal or not.
        keep = declared.get(workload["sid"], set()) if workload["state"] == "present" else set()
        for key in sorted(changes):
            if key in keep:
                continue
            add(changes[key], {"sid": workload["sid"], "state": "absent"})
            if principal:
                add(changes[key], {"sid": SHARED_SIDS[workload["type"]], "state": "absent", "principals": [principal], "purge_principals": False})
    if any(entry["plan"].get("remove_undeclared") for entry in entries):
        for entry in entries:
            for ref in entry["plan"]["repositories"] + list(entry["plan"].get("cleanup_repositories") or []):
                target = change(ref)
                target.pop("patterns", None)
                target.pop("moved", None)
        _remove_undeclared(changes, entries, add)
    return [dict(changes[key], statements=_merged(changes[key]["statements"]))
            for key in sorted(changes, key=lambda k: (k[2], k[0], k[1])) if changes[key]["statements"]]


def _merged(statements):
    """The statement requests without repeats, and the requests that only add (or only take away)
    principals of one Sid as one request with all of them, in first-seen order: a thousand
    workloads sharing a repository make one request, not a thousand."""
    found, seen, merged = [], set(), {}
    for statement in statements:
        if statement.get("purge_principals") is False and statement.get("principals"):
            key = json.dumps({k: v for k, v in statement.items() if k != "principals"}, sort_keys=True)
            if key in merged:
                target, known = merged[key]
                for principal in statement["principals"]:
                    if principal not in known:
                        known.add(principal)
                        target["principals"].append(principal)
                continue
            statement = dict(statement, principals=list(dict.fromkeys(statement["principals"])))
            merged[key] = (statement, set(statement["principals"]))
        else:
            key = json.dumps(statement, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
        found.append(statement)
    return found


def _declared_access(entries):
    """Per repository key, what the play's present workloads declare in it: the Sids the role
    keeps for them (their own, their account statement) and each kind's principals in the shared
    statement."""
    declared = {}
    for entry in entries:
        workload, principal = entry["plan"], entry.get("principal") or ""
        if workload["state"] != "present":
            continue
        for ref in workload["repositories"]:
            found = declared.setdefault((ref["registry_id"] or "", ref["region"], ref["name"]), {"keep": set(), "lightsail": set(), "ecs": set()})
            found["keep"].add(workload["sid"])
            if workload["type"] == "lightsail" and workload["statement_mode"] == "account":
                found["keep"].add(account_sid(workload["service_pattern"]))
            # ECS roles get a statement only in another account's repository (their IAM policy grants the rest).
            same_account = workload["type"] == "ecs" and (not ref["registry_id"] or ref["registry_id"] == arn_account(principal)[1])
            if workload["statement_mode"] == "shared" and principal and not same_account:
                found[workload["type"]].add(principal)
    return declared


def _remove_undeclared(changes, entries, add):
    """Add to every repository's change what removes the role's own statements and principals that
    no present workload of the play declares (ecr_pull_access_remove_undeclared): each shared
    statement narrowed to the declared principals (unique ids of deleted roles go too), and every
    other statement with one of the role's Sid prefixes removed unless a declared workload keeps it."""
    declared = _declared_access(entries)
    for key, target in changes.items():
        found = declared.get(key, {"keep": set(), "lightsail": set(), "ecs": set()})
        for kind in WORKLOAD_TYPES:
            if found[kind]:
                actions = ECS_PULL_ACTIONS if kind == "ecs" else PULL_ACTIONS
                add(target, {"sid": SHARED_SIDS[kind], "principals": sorted(found[kind]), "actions": actions, "purge_principals": True})
            else:
                add(target, {"sid": SHARED_SIDS[kind], "state": "absent"})
        target["purge_sid_prefixes"] = list(OWNED_SID_PREFIXES)
        target["keep_sids"] = sorted(found["keep"])


def _policy_batches(changes):
    """Per-repository changes grouped by region: one ``{"region", "policies"}`` each, for one
    ecr_repo_policy_statement call (its ``policies`` form)."""
    batches = {}
    for change in changes:
        entry = {"repository": change["repository"], "registry_id": change["registry_id"], "statements": change["statements"]}
        entry.update({key: change[key] for key in ("purge_sid_prefixes", "keep_sids") if key in change})
        batches.setdefault(change["region"], []).append(entry)
    return [{"region": region, "policies": policies} for region, policies in sorted(batches.items())]


def _unknown_principals(workloads, principals):
    """The present Lightsail workloads whose puller ARN is not known: what a dry run cannot put
    into the policy diffs, as ``{"host", "name", "sid", "repositories"}``. The account mode's
    statement names no ARN, so its workloads are in the diffs all the same."""
    return [
        {"host": w["host"], "name": w["name"], "sid": w["sid"], "repositories": [ref["name"] for ref in w["repositories"]]}
        for w in workloads
        if w["type"] == "lightsail" and w["state"] == "present" and w["statement_mode"] != "account" and not _principal_of(w, principals)
    ]


# What the role's decisions read of a module result (the rest, e.g. a fleet's diff, is not copied).
RESULT_KEYS = ("skipped", "changed", "pullers", "workloads", "policies")


def _results(registered):
    """The module results of a registered task: its ``results`` (a loop), in loop order, as plain
    data with the ``RESULT_KEYS`` only."""
    if registered is None:
        return []
    results = registered.get("results") or [] if isinstance(registered, Mapping) else registered
    return [{key: plain(result[key]) for key in RESULT_KEYS if key in result} for result in results]


def _access_view(document, workload, principal):
    """What a repository policy says about one workload: its own statement, whether the shared
    statement names its principal, and the account statement of its pattern."""
    own = find_statement(document, workload["sid"])
    shared = {canonical_principal(p) for p in aws_principals(find_statement(document, SHARED_SIDS[workload["type"]]))}
    account = find_statement(document, account_sid(workload["service_pattern"])) if workload["type"] == "lightsail" else None
    return (canonical_statement(own) if own else None, bool(principal) and canonical_principal(principal) in shared,
            canonical_statement(account) if account else None)


def _changed_hosts(workloads, pullers, ecs, policy_writes, written, principals):
    """The hosts whose access the run changed (in check mode: would change): a puller role or ECS
    permission switched, or what a repository policy says about the workload."""
    changed = set()
    hosts = {}
    for workload in workloads:
        key = ("lightsail", workload["region"], workload["name"]) if workload["type"] == "lightsail" else ("ecs", workload["host"])
        hosts.setdefault(key, []).append(workload)
    for batch, result in pullers:
        for puller in result.get("pullers") or []:
            if puller.get("changed"):
                changed.update(w["host"] for w in hosts.get(("lightsail", batch["region"], puller["service_name"]), []))
    for dummy, result in ecs:
        changed.update(entry["name"] for entry in result.get("workloads") or [] if entry.get("changed"))
    # A policy change concerns the workloads that declare its repository and the exclusive ones.
    concerned = {}
    for workload in workloads:
        names = {ref["name"] for ref in workload["repositories"]} if not workload["exclusive"] else {None}
        for name in names:
            concerned.setdefault(name, []).append(workload)
    for batch, result in zip(policy_writes, _results(written)):
        for entry in result.get("policies") or []:
            if not entry.get("changed"):
                continue
            for workload in concerned.get(entry.get("repository"), []) + concerned.get(None, []):
                principal = _principal_of(workload, principals)
                if _access_view(entry.get("policy_before"), workload, principal) != _access_view(entry.get("policy"), workload, principal):
                    changed.add(workload["host"])
    return sorted(changed)


def _repository_workloads(workloads):
    """How many workloads of the run declare each repository, and in which statement modes."""
    found = {}
    for workload in workloads:
        for ref in workload["repositories"]:
            entry = found.setdefault((ref["region"], ref["registry_id"] or "", ref["name"]),
                                     {"repository": ref["name"], "region": ref["region"], "registry_id": ref["registry_id"], "workloads": 0,
                                      "modes": []})
            entry["workloads"] += 1
            if workload["statement_mode"] not in entry["modes"]:
                entry["modes"].append(workload["statement_mode"])
    return [found[key] for key in sorted(found)]


def pull_access_plan(workloads, puller_reads=None, ecs_reads=None, activations=None, ecs_grants=None, policy_writes=None):
    """The role's decisions for the play's ``workloads`` (from ``pull_access_workload``).

    Without read results: ``{"puller_reads", "ecs_reads"}``, the batches to read (one module call
    per region). With the registered results of those reads (check mode), in the same order,
    also: ``activate``/``deactivate`` (puller batches to switch), ``ecs_grant``/``ecs_revoke``
    (ECS batches to change), ``policy_checks`` (the policy batches with stand-in ARNs for pullers
    not active yet, to check before anything changes), ``unknown_principals``,
    ``repository_workloads`` and ``policy_writes`` (the policy batches, with every principal the
    reads, ``activations`` and ``ecs_grants`` gave). With the registered result of the
    ``policy_writes`` loop, also ``changed_hosts``: whose access the run changed."""
    workloads = [w for w in plain_workloads(workloads) if w]
    plan = {"puller_reads": _puller_batches(workloads), "ecs_reads": _ecs_batches(workloads)}
    if puller_reads is None and ecs_reads is None:
        return plan
    pullers = list(zip(plan["puller_reads"], _results(puller_reads)))
    ecs = list(zip(plan["ecs_reads"], _results(ecs_reads)))
    plan.update(
        activate=_to_change(pullers, "present"),
        deactivate=_to_change(pullers, "absent"),
        ecs_grant=_to_change(ecs, "present"),
        ecs_revoke=_to_change(ecs, "absent"),
        repository_workloads=_repository_workloads(workloads),
    )
    read = _principals(pullers, [result for dummy, result in ecs])
    plan["unknown_principals"] = _unknown_principals(workloads, read)
    plan["policy_checks"] = _policy_batches(_policy_changes(workloads, read, stand_in=True)) if plan["activate"] or plan["ecs_grant"] else []
    changed = _principals(pullers + list(zip(plan["activate"], _results(activations))), [r for dummy, r in ecs] + _results(ecs_grants))
    plan["policy_writes"] = _policy_batches(_policy_changes(workloads, changed))
    if policy_writes is not None:
        plan["changed_hosts"] = _changed_hosts(workloads, pullers, ecs, plan["policy_writes"], policy_writes, changed)
    return plan


class FilterModule:
    """ecr_pull_access role filters."""

    def filters(self):
        return {
            "pull_access_workload": pull_access_workload,
            "pull_access_plan": pull_access_plan,
            "pull_access_sid": workload_sid,
        }
