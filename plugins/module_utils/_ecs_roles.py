# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What ECS workloads want of the IAM roles that pull their images, for a list of workloads
(private module_utils: the engine of ecs_execution_role_ecr; its single form is a list of one).

Each step runs for every workload before the next: ``check_requests`` (no AWS call) -> ``read``
(task definitions, roles, attachments, inline policies, instance profiles: every read before any
write) -> ``plan`` (pure: what changes, conflicts between workloads sharing a role) -> ``apply``
(check mode aware) -> ``workload_result``. Steps return problems naming their workloads; the
caller fails on any before ``apply``.
"""

import functools

from collections import namedtuple

from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import ITEM_ERRORS
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import run_all
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_execution_role
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_images
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import create_role
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_inline_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_instance_profile
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_managed_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import read_permissions
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import role_to_manage
from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import managed_policy_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_repository_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_task_definition_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import resolve_repository_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import documents_equivalent
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import ecr_pull_policy

DEFAULT_POLICY_NAME = "ecr-pull"
_POLICY_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-")
#: What one workload or role may fail with without stopping the others (anything else is a bug).

#: A problem of the run: the indexes and names of the workloads it concerns, and what is wrong.
Problem = namedtuple("Problem", "indexes names error")
#: What was read of a role: managed policy ARNs attached, its workloads' inline policies (name ->
#: document or None), the instance profiles holding it, and the one named like it (when needed).
RoleState = namedtuple("RoleState", "attached documents profile_arns named_profile", defaults=((), {}, (), None))
#: What the apply step did to a role: the role and its instance profiles after it (predicted in
#: check mode), the changes made (or that would be), and the error that stopped it.
Applied = namedtuple("Applied", "iam_role profile_arns written error")


class RoleConflictError(ValueError):
    """Workloads want different things of a role, or its instance profile holds another role."""


class Workload:
    """One checked request, and what the read step found for it."""

    def __init__(self, index, name, request, region):
        self.index = index
        self.name = name
        self.launch_type = request["launch_type"]
        self.present = request["state"] == "present"
        self.create_role = request["create_role"]
        self.task_definition = request["task_definition"]
        self.region = region  # where repository names resolve and images are compared
        self.policy_name = None  # the inline policy it owns; None with permissions=managed
        self.repositories = None  # parsed repository references scoping its inline policy
        self.role_reference = None  # parsed; from role_name, or the task definition's execution role
        self.task = None  # the task definition, as described
        self.role = None  # the Role it shares with the other workloads naming the same role

    @property
    def wants_instance_profile(self):
        """Whether the workload puts its ec2 role in an instance profile when none holds it."""
        return self.launch_type == "ec2" and self.present and self.create_role


class Role:
    """One IAM role and the workloads that name it: read, planned and changed once."""

    def __init__(self):
        self.workloads = []
        self.iam_role = None  # boto3 shape: IAM's role, or the one the run creates; None for neither
        self.exists = False
        self.creators = []  # (workload, the role it would create) for the workloads that create it
        self.state = None  # RoleState, from the read step
        self.plan = None  # RolePlan, from the plan step
        self.applied = None  # Applied, from the apply step


class RolePlan:
    """What the run does to one role (the answer of ``plan_role``)."""

    def __init__(self):
        self.create = None  # the launch type whose trust policy the role gets when the run creates it
        self.managed = {}  # managed policy ARN -> whether it is attached after the run
        self.inline = {}  # inline policy name -> its document after the run (None: no policy)
        self.wants = {}  # workload index -> (what it manages: ("managed", ARN) or ("inline", name), its repository ARNs)
        self.changes = []  # what differs from what was read, in the order written: "role", the keys of wants, "instance_profile"
        self.attached = []  # managed policy ARNs attached after the run, sorted


def problem(workloads, error):
    """A Problem of ``workloads``."""
    return Problem(tuple(w.index for w in workloads), tuple(w.name for w in workloads), error)


# 1. Check the requests ---------------------------------------------------------------------


def check_request(index, name, request, region):
    """A Workload from one request (the module's workload options), or a ValueError saying what to fix."""
    if (request["role_name"] is None) == (request["task_definition"] is None):
        raise InvalidRequestError("give exactly one of role_name and task_definition")
    inline = request["permissions"] == "inline"
    if not inline and request["repositories"] is not None:
        raise InvalidRequestError(
            "repositories scopes the inline policy and cannot be used with permissions=managed: the AWS managed "
            "policies allow pulling from every repository (Resource *). Use permissions=inline to allow only the "
            "listed repositories, or drop repositories"
        )
    if not inline and request["policy_name"] is not None:
        raise InvalidRequestError("policy_name names the inline policy and only applies to permissions=inline; drop it or set permissions=inline")
    if request["task_definition"] is not None and request["launch_type"] != "fargate":
        raise InvalidRequestError(
            f"task_definition gives the task execution role, the role that pulls on Fargate; with launch_type={request['launch_type']} "
            "the container instance role pulls the images, so name it with role_name instead"
        )
    policy_name = request["policy_name"] or DEFAULT_POLICY_NAME
    if not 1 <= len(policy_name) <= 128 or set(policy_name) - _POLICY_NAME_CHARS:
        raise InvalidRequestError(f"policy_name {policy_name!r} is not a valid IAM policy name (1-128 letters, digits and +=,.@_-)")
    if request["task_definition"] is not None:
        region = parse_task_definition_reference(request["task_definition"])["region"] or region
    workload = Workload(index, name, request, region)
    if inline:
        workload.policy_name = policy_name
        if request["repositories"] is not None:
            if not request["repositories"]:
                raise InvalidRequestError("repositories is empty; list the repositories to allow, or leave it out to allow every repository")
            workload.repositories = [parse_repository_reference(reference) for reference in request["repositories"]]
            if not region and any(reference["arn"] is None for reference in workload.repositories):
                raise InvalidRequestError("repository names resolve in the task's region, and no region is set; set region or give repository ARNs")
    if request["role_name"] is not None:
        workload.role_reference = parse_role_reference(request["role_name"])
    return workload


def check_requests(requests, region):
    """Check every request (all the bad ones are reported at once). Returns ``(workloads, problems)``."""
    workloads, problems = [], []
    for index, request in enumerate(requests):
        name = request.get("name") or request["role_name"] or request["task_definition"] or f"workloads[{index}]"
        try:
            workloads.append(check_request(index, name, request, region))
        except ValueError as e:
            problems.append(Problem((index,), (name,), e))
    return workloads, problems


# 2. Read -----------------------------------------------------------------------------------


def read_task_definitions(ecs_client, workloads):
    """Describe each task definition named (once), and take its execution role as the workload's
    role; ``ecs_client(region)`` gives a region's client. Returns the problems."""
    named = [w for w in workloads if w.task_definition is not None]
    clients = {region: ecs_client(region) for region in dict.fromkeys(w.region for w in named)}
    keys = list(dict.fromkeys((w.region, w.task_definition) for w in named))
    found = dict(zip(keys, run_all(lambda key: describe_execution_role(clients[key[0]], key[1], key[0]), keys)))
    problems = []
    for workload in named:
        value, error = found[(workload.region, workload.task_definition)]
        if error is not None:
            problems.append(problem([workload], error))
        else:
            workload.task, workload.role_reference = value
    return problems


def read_roles(client, workloads, caller, region):
    """Look up each role named (once) and group the workloads by role; ``caller()`` gives the
    credentials' ``(account_id, partition)`` for a role to create. Returns ``(roles, problems)``."""
    names = list(dict.fromkeys(w.role_reference["name"] for w in workloads))
    found = dict(zip(names, run_all(lambda name: get_iam_role(client, name), names)))
    caller_account = functools.lru_cache(maxsize=None)(caller)
    roles, problems = {}, []
    for workload in workloads:
        iam_role, error = found[workload.role_reference["name"]]
        created = False
        if error is None:
            try:
                iam_role, created = role_to_manage(workload.role_reference, iam_role, workload.present, workload.create_role, caller_account, region)
            except ITEM_ERRORS as e:
                error = e
        if error is not None:
            problems.append(problem([workload], error))
            continue
        role = roles.setdefault(iam_role["RoleName"] if iam_role else workload.role_reference["name"], Role())
        role.workloads.append(workload)
        workload.role = role
        if created:
            role.creators.append((workload, iam_role))
            role.iam_role = role.iam_role or iam_role
        elif iam_role is not None:
            role.iam_role, role.exists = iam_role, True
    return list(roles.values()), problems


def read_role_state(client, role):
    """What the role's workloads manage on it, a RoleState."""
    policy_names = list(dict.fromkeys(w.policy_name for w in role.workloads if w.policy_name is not None))
    ec2 = any(w.launch_type == "ec2" for w in role.workloads)
    wants_profile = any(w.wants_instance_profile for w in role.workloads)
    return RoleState(*read_permissions(client, role.iam_role["RoleName"], role.exists, policy_names, ec2, wants_profile))


def read(workloads, iam_client, ecs_client, caller, region):
    """The read step: task definitions, roles, then each role's state. Returns ``(roles, problems)``."""
    problems = read_task_definitions(ecs_client, workloads)
    roles, found = read_roles(iam_client, [w for w in workloads if w.role_reference is not None], caller, region)
    problems += found
    # A role that neither exists nor is created by the run has nothing to read or remove.
    present = [role for role in roles if role.iam_role is not None]
    for role, (state, error) in zip(present, run_all(lambda role: read_role_state(iam_client, role), present)):
        role.state = state
        if error is not None:
            problems.append(problem(role.workloads, error))
    return roles, problems


# 3. Plan (pure) ----------------------------------------------------------------------------


def workload_wants(workload, partition, account_id):
    """What a workload wants of its role: ``(key, wanted, repository_arns)``: ``("managed", ARN)``
    and whether it is attached, or ``("inline", policy name)`` and its document (None: none)."""
    arns = None
    if workload.repositories is not None:
        arns = resolve_repository_arns(workload.repositories, partition, workload.region, account_id)
    if workload.policy_name is None:
        return ("managed", managed_policy_arn(workload.launch_type, partition)), workload.present, arns
    return ("inline", workload.policy_name), ecr_pull_policy(arns) if workload.present else None, arns


def conflict(first, second, what, how):
    """A problem of two workloads that want different things of the same role."""
    return problem([first, second], RoleConflictError(f"{what}, so nothing was changed. {how}"))


def creation_conflicts(role):
    """Workloads that would create the role differently."""
    problems = []
    name = role.iam_role["RoleName"]
    founder, founded = role.creators[0]
    for creator, created in role.creators[1:]:
        if creator.launch_type != founder.launch_type:
            what = (
                f"would both create role {name!r}, one with the trust policy of launch_type={founder.launch_type} and the other "
                f"with that of launch_type={creator.launch_type}"
            )
            problems.append(conflict(founder, creator, what, "Give them the same launch_type, or create the role first"))
        elif created["Arn"] != founded["Arn"]:
            what = f"would both create role {name!r}, one as {founded['Arn']} and the other as {created['Arn']}"
            problems.append(conflict(founder, creator, what, "Name the role the same way in both (by name, or by the same ARN), or create it first"))
    return problems


def wants_conflict(role, key, first, workload):
    """Two workloads want different things of one policy; each is ``(workload, wanted, repository_arns)``."""
    (first, first_wanted, first_arns), (workload, wanted, arns) = first, workload
    name = role.iam_role["RoleName"]
    first_state, state = ("state=present" if w.present else "state=absent" for w in (first, workload))
    if key[0] == "managed":
        what = f"both manage the attachment of {key[1]} to role {name!r}, one with {first_state} and the other with {state}"
        return conflict(first, workload, what, "Give them the same state, or leave one of them out")
    if first.present != workload.present:
        what = f", one with {first_state} and the other with {state}"
        how = "Give them the same state, or give each its own policy_name"
    else:
        what = f" with different repositories ({', '.join(first_arns or ['*'])} and {', '.join(arns or ['*'])})"
        how = (
            "The policy holds one list of repositories: give both the same repositories (every one the role pulls from), "
            "or give each its own policy_name"
        )
    return conflict(first, workload, f"both manage inline policy {key[1]!r} of role {name!r}{what}", how)


def plan_role(role, state):
    """Pure: what the run does to ``role``, given what was read of it (``state``, a RoleState).
    Returns ``(plan, problems)``: workloads wanting different things of the role, or an
    instance profile named like it holding another role when the role is to go into it."""
    role_plan = RolePlan()
    problems = creation_conflicts(role) if role.creators else []
    role_plan.create = role.creators[0][0].launch_type if role.creators else None
    iam_role = role.iam_role
    partition, account_id = arn_account(iam_role["Arn"])
    firsts = {}  # key -> (first workload, wanted, repository ARNs)
    for workload in role.workloads:
        key, wanted, arns = workload_wants(workload, partition, account_id)
        role_plan.wants[workload.index] = (key, arns)
        first = firsts.setdefault(key, (workload, wanted, arns))
        same = first[1] == wanted if key[0] == "managed" else documents_equivalent(first[1], wanted)
        if not same:
            problems.append(wants_conflict(role, key, first, (workload, wanted, arns)))

    role_plan.changes = ["role"] if role_plan.create else []
    attached = set(state.attached)
    for key, (dummy, wanted, dummy_arns) in firsts.items():
        if key[0] == "managed":
            role_plan.managed[key[1]] = wanted
            if wanted != (key[1] in attached):
                role_plan.changes.append(key)
                attached ^= {key[1]}
    for key, (dummy, wanted, dummy_arns) in firsts.items():
        if key[0] == "inline":
            current = state.documents.get(key[1])
            if documents_equivalent(current, wanted):
                role_plan.inline[key[1]] = current
            else:
                role_plan.inline[key[1]] = wanted
                role_plan.changes.append(key)
    role_plan.attached = sorted(attached)

    if state.profile_arns or not any(w.wants_instance_profile for w in role.workloads):
        return role_plan, problems
    holders = [held.get("RoleName") for held in (state.named_profile or {}).get("Roles") or []]
    if not holders:
        role_plan.changes.append("instance_profile")
        return role_plan, problems
    name = iam_role["RoleName"]
    error = RoleConflictError(
        f"instance profile {name!r} already holds role {holders[0]!r} (an instance profile holds one role), so role "
        f"{name!r} cannot be added to it; remove that role from it, or put {name!r} in another instance profile yourself"
    )
    return role_plan, problems + [problem(role.workloads, error)]


def plan(roles):
    """The plan step for every role that is there or is created. Returns the problems. A role not
    read is planned as empty: the run fails anyway, and its conflicts are still reported."""
    problems = []
    for role in roles:
        if role.iam_role is not None:
            role.plan, found = plan_role(role, role.state or RoleState())
            problems += found
    return problems


# 4. Apply ----------------------------------------------------------------------------------


def apply_role(client, role, check_mode):
    """Make the changes of ``role.plan`` in order (check mode: none). Returns Applied; an error
    stops this role's writes, not the other roles'."""
    state, role_plan = role.state, role.plan
    iam_role, profile_arns, written = role.iam_role, list(state.profile_arns), []
    name = iam_role["RoleName"]
    try:
        for change in role_plan.changes:
            if change == "role":
                iam_role = create_role(client, name, iam_role["Path"], role_plan.create, check_mode, iam_role["Arn"])
                changed = True
            elif change == "instance_profile":
                changed, profile_arns = ensure_instance_profile(client, iam_role, state.profile_arns, state.named_profile, check_mode)
            elif change[0] == "managed":
                changed = ensure_managed_policy(client, name, change[1], state.attached, role_plan.managed[change[1]], check_mode)
            else:
                changed = ensure_inline_policy(client, name, change[1], state.documents[change[1]], role_plan.inline[change[1]], check_mode)
            if changed:
                written.append(change)
    except ITEM_ERRORS as e:
        return Applied(iam_role, profile_arns, written, e)
    return Applied(iam_role, profile_arns, written, None)


def apply(client, roles, check_mode):
    """The apply step, side by side per role. Returns the problems: roles whose writes stopped part way."""
    planned = [role for role in roles if role.plan is not None]
    for role, (applied, dummy) in zip(planned, run_all(lambda role: apply_role(client, role, check_mode), planned)):
        role.applied = applied
    return [problem(role.workloads, role.applied.error) for role in planned if role.applied.error is not None]


# 5. Results --------------------------------------------------------------------------------


def workload_result(workload):
    """``(result, diff, notes)`` of one workload, ``notes`` the warnings about its images. When its
    role's writes stopped part way: only ``changed``, ``failed`` and ``msg``, and no diff."""
    role = workload.role
    applied = role.applied
    if applied is not None and applied.error is not None:
        return dict(changed=bool(applied.written), failed=True, msg=str(applied.error)), None, []
    before = dict(role_arn=None, attached_policy_arns=[], inline_policy=None)
    after = dict(before)
    changed, repository_arns = False, None
    if applied is not None:
        state, role_plan = role.state, role.plan
        key, repository_arns = role_plan.wants[workload.index]
        creator = any(creator is workload for creator, dummy in role.creators)
        changed = (
            ("role" in applied.written and creator)
            or key in applied.written
            or (workload.wants_instance_profile and "instance_profile" in applied.written)
        )
        before.update(role_arn=role.iam_role["Arn"] if role.exists else None, attached_policy_arns=list(state.attached))
        after.update(role_arn=applied.iam_role["Arn"], attached_policy_arns=role_plan.attached)
        if workload.policy_name is not None:
            before["inline_policy"], after["inline_policy"] = state.documents[workload.policy_name], role_plan.inline[workload.policy_name]
        if workload.launch_type == "ec2":
            before["instance_profile_arns"], after["instance_profile_arns"] = list(state.profile_arns), applied.profile_arns
    result = dict(after, changed=bool(changed), launch_type=workload.launch_type, role_name=workload.role_reference["name"])
    if after["inline_policy"] is not None:
        result["inline_policy"] = dict(policy_name=workload.policy_name, policy_document=after["inline_policy"])
    notes = []
    task = workload.task
    if task is not None:
        result["task_definition_arn"] = task["taskDefinitionArn"]
        account_id = arn_account(after["role_arn"] or task["taskDefinitionArn"])[1]
        # With an inline policy, images its scope does not cover are worth a warning.
        scope = (repository_arns or ["*"]) if workload.policy_name and workload.present and applied is not None else None
        result["images"], result["cross_account_repositories"], notes = describe_images(task.get("containerDefinitions"), workload.region, account_id, scope)
    return result, dict(before=before, after=after), notes
