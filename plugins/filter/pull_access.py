# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters behind the ecr_pull_access role: check a workload's declaration, and aggregate the
play's declarations into one policy change per repository."""

import hashlib
import re

from ansible.errors import AnsibleFilterError

# Pure (no boto3): the filters run in every forked worker.
from ansible_collections.pullaccess.aws.plugins.module_utils._names import partition_for_region

WORKLOAD_TYPES = ("lightsail", "ecs")
LAUNCH_TYPES = ("fargate", "ec2", "external")
PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
# Cross-account pulls by ECS also check layer availability.
ECS_PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

_REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
# ECR repository names: lowercase, digits, . _ - and / separated components.
_REPOSITORY_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_REPOSITORY_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?):ecr:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):repository/(?P<name>.+)$"
)


def _fail(host, message):
    raise AnsibleFilterError(f"ecr_pull_access: host {host}: {message}")


def workload_sid(workload_type, name, region):
    """The statement id of a workload: deterministic, letters and digits only (valid for ECR),
    readable (type and name) and unique (a hash of type, region and name)."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    readable = "".join(word[:1].upper() + word[1:] for word in words if word)[:48]
    digest = hashlib.sha256(f"{workload_type}:{region}:{name}".encode()).hexdigest()[:8]
    return f"PullAccess{workload_type.capitalize()}{readable}{digest}"


def repository_ref(entry, region, host):
    """Normalise one repository reference: a name (same account and region), an ARN, or a dict
    with ``name`` and optional ``registry_id`` / ``region``."""
    if isinstance(entry, str):
        match = _REPOSITORY_ARN_RE.match(entry)
        if entry.startswith("arn:") and not match:
            _fail(host, f"repository {entry!r} is not a valid ECR repository ARN (arn:aws:ecr:REGION:ACCOUNT:repository/NAME)")
        if match:
            entry = {"name": match.group("name"), "registry_id": match.group("account"), "region": match.group("region"),
                     "partition": match.group("partition")}
        else:
            entry = {"name": entry}
    if not isinstance(entry, dict) or not entry.get("name"):
        _fail(host, f"repository {entry!r} must be a name, an ARN, or a mapping with name (and optional registry_id, region)")
    unknown = set(entry) - {"name", "registry_id", "region", "partition"}
    if unknown:
        _fail(host, f"repository {entry['name']!r} has unknown keys {sorted(unknown)}; use name, registry_id, region")
    name = str(entry["name"])
    if ".amazonaws.com" in name.split("/", 1)[0]:
        _fail(host, f"repository {name!r} is an image URI; give the repository name (or its ARN) instead")
    if not _REPOSITORY_RE.match(name) or not 2 <= len(name) <= 256:
        _fail(host, f"repository name {name!r} is not valid: lowercase letters, digits, '.', '_', '-' and '/' separated parts")
    registry_id = entry.get("registry_id")
    if registry_id is not None:
        registry_id = str(registry_id)
        if not _ACCOUNT_RE.match(registry_id):
            _fail(host, f"repository {name!r}: registry_id {registry_id!r} is not a 12-digit account id")
    repo_region = entry.get("region") or region
    if not repo_region or not _REGION_RE.match(str(repo_region)):
        _fail(host, f"repository {name!r}: region {repo_region!r} is not a region code such as us-east-1")
    repo_region = str(repo_region)
    partition = entry.get("partition") or partition_for_region(repo_region)
    return {"name": name, "registry_id": registry_id, "region": repo_region, "partition": partition}


def pull_access_plan(declaration, host="?"):
    """Check a workload's declaration and return its normalised plan.

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
    if not region or not _REGION_RE.match(str(region)):
        _fail(host, f"ecr_pull_access_region {region!r} is not set to a region code (set it, or AWS_REGION in the environment)")
    name = declaration.get("name")
    plan = {"type": workload_type, "state": state, "region": region, "exclusive": bool(declaration.get("exclusive")), "host": host}
    if workload_type == "lightsail":
        if not name:
            _fail(host, "ecr_pull_access_service_name is empty")
        plan["name"] = str(name)
    else:
        role_name, task_definition = declaration.get("ecs_role_name"), declaration.get("ecs_task_definition")
        if bool(role_name) == bool(task_definition):
            _fail(host, "an ECS workload needs exactly one of ecr_pull_access_ecs_role_name and ecr_pull_access_ecs_task_definition")
        # The ECS module's own reference checks, so that a declaration it would refuse stops the
        # whole play before anything is written. Imported here: they pull in amazon.aws and boto3,
        # which every forked worker would otherwise import for every host's plan.
        from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import InvalidReferenceError
        from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import parse_task_definition_reference
        from ansible_collections.pullaccess.aws.plugins.module_utils._iam import InvalidRoleError
        from ansible_collections.pullaccess.aws.plugins.module_utils._iam import parse_role_reference

        try:
            if role_name:
                parse_role_reference(role_name)
            else:
                parse_task_definition_reference(task_definition)
        except (InvalidRoleError, InvalidReferenceError) as e:
            _fail(host, str(e))
        launch_type = declaration.get("ecs_launch_type") or "fargate"
        if launch_type not in LAUNCH_TYPES:
            _fail(host, f"ecr_pull_access_ecs_launch_type {launch_type!r} is not one of {', '.join(LAUNCH_TYPES)}")
        permissions = declaration.get("ecs_permissions") or "managed"
        if permissions not in ("managed", "inline"):
            _fail(host, f"ecr_pull_access_ecs_permissions {permissions!r} is not managed or inline")
        plan.update(role_name=role_name, task_definition=task_definition, launch_type=launch_type, permissions=permissions,
                    create_role=bool(declaration.get("ecs_create_role")), policy_name=declaration.get("ecs_policy_name") or None)
        # The Sid must outlive task definition revisions: family:3 and family:4 are one workload.
        identity = str(role_name or task_definition).rsplit("/", 1)[-1]
        plan["name"] = identity.split(":", 1)[0] if task_definition else identity
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
        plan["inline_repositories"] = [
            f"arn:{ref['partition']}:ecr:{ref['region']}:{ref['registry_id']}:repository/{ref['name']}" if ref["registry_id"] else ref["name"]
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
    plan["repositories"] = repositories
    plan["cleanup_repositories"] = [repository_ref(entry, region, host) for entry in declaration.get("cleanup_repositories") or []]
    plan["sid"] = workload_sid(workload_type, plan["name"], region)
    return plan


def _account_of(arn):
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 else None


# Stands in, in the checks before the puller roles are activated, for a principal ARN that
# Lightsail assigns only on activation: the same shape and length, so that the policy size check
# sees what the real statement will weigh.
PENDING_ACCOUNT = "000000000000"
PENDING_ROLE_ID = "pendingactivation".ljust(52, "0")


def pending_puller_arn(plan):
    """A stand-in for the puller principal ARN of a Lightsail service not activated yet."""
    partition = partition_for_region(plan["region"])
    return (f"arn:{partition}:iam::{PENDING_ACCOUNT}:role/amazon/lightsail/{plan['region']}/containers/{plan['name']}/"
            f"private-repo-access/{PENDING_ROLE_ID}")


def _principals(pullers, ecs):
    """Principal ARNs by workload from registered module results: Lightsail pullers by
    (region, service name) and ECS roles by workload name (the host); later results win."""
    found = {}
    for result in pullers or []:
        for puller in result.get("pullers") or []:
            if puller.get("principal_arn") and puller.get("principal_arn_known", True):
                found[("lightsail", result.get("item", {}).get("region"), puller.get("service_name"))] = puller["principal_arn"]
    for result in ecs or []:
        for workload in result.get("workloads") or []:
            if workload.get("role_arn"):
                found[("ecs", workload.get("name"))] = workload["role_arn"]
    return found


def _workload_principal(plan, found):
    if plan["type"] == "lightsail":
        return found.get(("lightsail", plan["region"], plan["name"]), "")
    return found.get(("ecs", plan.get("host")), "")


def pull_access_policy_changes(workloads, pullers=None, ecs=None, pending=False):
    """Aggregate the play's workloads into one change per repository.

    ``workloads`` is a list of plans (``pull_access_plan``), whose principals are looked up in
    ``pullers`` and ``ecs`` (the registered results of the role's batched lightsail_ecr_puller and
    ecs_execution_role_ecr tasks), or of ``{"plan": <plan>, "principal": ARN or ""}``. Returns
    a list of ``{"repository", "registry_id", "region", "statements"}`` sorted by repository:
    present workloads add their statement (ECS workloads only on repositories in another account
    than their role: same-account pulls are granted by the role's IAM policy), absent workloads
    remove theirs, and exclusive workloads remove theirs from every other repository of the run.
    A present Lightsail workload whose principal is not known yet (before activation) is left
    out, or with ``pending`` given a stand-in ARN (for checking the policies before activation).
    """
    found = _principals(pullers, ecs)
    workloads = [w if "plan" in w else {"plan": w, "principal": _workload_principal(w, found)} for w in workloads]
    if pending:
        workloads = [
            dict(w, principal=w["principal"] or (pending_puller_arn(w["plan"]) if w["plan"]["type"] == "lightsail" else ""))
            for w in workloads
        ]
    changes = {}

    def change(ref):
        key = (ref["registry_id"] or "", ref["region"], ref["name"])
        if key not in changes:
            changes[key] = {"repository": ref["name"], "registry_id": ref["registry_id"], "region": ref["region"], "statements": []}
        return changes[key]

    declared = {}
    for workload in workloads:
        plan = workload["plan"]
        if plan["state"] == "present":
            declared.setdefault(plan["sid"], set()).update((r["registry_id"] or "", r["region"], r["name"]) for r in plan["repositories"])
    for workload in workloads:
        plan, principal = workload["plan"], workload.get("principal") or ""
        for ref in plan["repositories"]:
            if plan["type"] == "ecs":
                if not ref["registry_id"] or ref["registry_id"] == _account_of(principal):
                    continue
                actions = ECS_PULL_ACTIONS
            else:
                actions = PULL_ACTIONS
            if plan["state"] == "absent":
                change(ref)["statements"].append({"sid": plan["sid"], "state": "absent"})
            elif principal:
                change(ref)["statements"].append({"sid": plan["sid"], "principals": [principal], "actions": actions})
    exclusive = [w["plan"] for w in workloads if w["plan"]["exclusive"]]
    for plan in exclusive:
        for ref in plan.get("cleanup_repositories", []):
            change(ref)
    for plan in exclusive:
        # Never remove a workload's statement from a repository it declares, known principal or not.
        keep = declared.get(plan["sid"], set()) if plan["state"] == "present" else set()
        for key in sorted(changes):
            if key not in keep and not any(s["sid"] == plan["sid"] for s in changes[key]["statements"]):
                changes[key]["statements"].append({"sid": plan["sid"], "state": "absent"})
    return [changes[key] for key in sorted(changes, key=lambda k: (k[2], k[0], k[1])) if changes[key]["statements"]]


def pull_access_policy_batches(changes):
    """Group per-repository changes (from ``pull_access_policy_changes``) by region: one
    ``{"region", "policies"}`` per region, for one ecr_repo_policy_statement call (its
    ``policies`` form) each."""
    batches = {}
    for change in changes:
        entry = {"repository": change["repository"], "registry_id": change["registry_id"], "statements": change["statements"]}
        batches.setdefault(change["region"], []).append(entry)
    return [{"region": region, "policies": policies} for region, policies in sorted(batches.items())]


def pull_access_puller_batches(plans, state=None):
    """Group the play's Lightsail workloads by region and state (only ``state`` when given): one
    ``{"region", "state", "service_names"}`` per region and state, for one lightsail_ecr_puller
    call each."""
    batches = {}
    for plan in plans:
        if plan and plan["type"] == "lightsail" and state in (None, plan["state"]):
            names = batches.setdefault((plan["region"], plan["state"]), [])
            if plan["name"] not in names:
                names.append(plan["name"])
    return [{"region": region, "state": wanted, "service_names": names} for (region, wanted), names in sorted(batches.items())]


def pull_access_ecs_batches(plans, state=None):
    """Group the play's ECS workloads by region (only those in ``state`` when given): one
    ``{"region", "workloads"}`` per region, for one ecs_execution_role_ecr call each (its
    ``workloads`` form), each workload named after its inventory host."""
    batches = {}
    for plan in plans:
        if not plan or plan["type"] != "ecs" or state not in (None, plan["state"]):
            continue
        workload = {"name": plan["host"], "launch_type": plan["launch_type"], "permissions": plan["permissions"], "state": plan["state"]}
        if plan["role_name"]:
            workload["role_name"] = plan["role_name"]
        else:
            workload["task_definition"] = plan["task_definition"]
        if plan["permissions"] == "inline":
            workload["repositories"] = plan["inline_repositories"]
            workload["policy_name"] = plan.get("policy_name")
        if plan["state"] == "present":
            workload["create_role"] = plan.get("create_role", False)
        batches.setdefault(plan["region"], []).append(workload)
    return [{"region": region, "workloads": workloads} for region, workloads in sorted(batches.items())]


def pull_access_pending(results, state=None):
    """From the registered results of a batched task run in check mode (lightsail_ecr_puller
    with ``service_names``, ecs_execution_role_ecr with ``workloads``), the batches reduced to
    the services / workloads that would change (only batches in ``state`` when given), for the
    task that changes them; batches with nothing to change are left out. A service to be
    present whose puller role has no principal ARN yet counts as changing: the real task waits
    for the ARN."""
    pending = []
    for result in results or []:
        item = result.get("item") or {}
        if state is not None and item.get("state", state) != state:
            continue
        if "service_names" in item:
            # A puller role active without its principal ARN yet (an activation still running,
            # e.g. of a run that was stopped) needs the waiting of a real run too.
            waiting = item.get("state") == "present"
            changing = {p["service_name"] for p in result.get("pullers") or [] if p.get("changed") or (waiting and not p.get("principal_arn"))}
            names = [name for name in item["service_names"] if name in changing]
            if names:
                pending.append(dict(item, service_names=names))
        elif "workloads" in item:
            changing = {w["name"] for w in result.get("workloads") or [] if w.get("changed")}
            workloads = [w for w in item["workloads"] if w["name"] in changing and (state is None or w["state"] == state)]
            if workloads:
                pending.append(dict(item, workloads=workloads))
    return pending


def pull_access_unknown_principals(plans, pullers):
    """The present Lightsail workloads of ``plans`` whose puller principal ARN is not known from
    ``pullers`` (registered lightsail_ecr_puller results), as ``{"host", "name", "sid",
    "repositories"}`` (repository names): what a dry run cannot put into the policy diffs."""
    found = _principals(pullers, None)
    return [
        {"host": plan["host"], "name": plan["name"], "sid": plan["sid"], "repositories": [ref["name"] for ref in plan["repositories"]]}
        for plan in plans
        if plan and plan["type"] == "lightsail" and plan["state"] == "present" and not _workload_principal(plan, found)
    ]


def pull_access_puller_arn(plan, batch_results):
    """The puller principal ARN of a Lightsail workload from the registered results of the
    batched lightsail_ecr_puller task (``""`` when not known, e.g. before activation)."""
    return _workload_principal(plan, _principals(batch_results, None))


class FilterModule:
    """ecr_pull_access role filters."""

    def filters(self):
        return {
            "pull_access_plan": pull_access_plan,
            "pull_access_policy_changes": pull_access_policy_changes,
            "pull_access_sid": workload_sid,
            "pull_access_puller_batches": pull_access_puller_batches,
            "pull_access_policy_batches": pull_access_policy_batches,
            "pull_access_puller_arn": pull_access_puller_arn,
            "pull_access_ecs_batches": pull_access_ecs_batches,
            "pull_access_pending": pull_access_pending,
            "pull_access_unknown_principals": pull_access_unknown_principals,
        }
