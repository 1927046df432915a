# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the engine behind ecs_execution_role_ecr (_ecs_roles): checking the requests and
planning (table-driven, pure), and the read, apply and result steps over a tiny fake IAM
client that records the calls."""

import pytest

from botocore.exceptions import ClientError

from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import RoleState
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import apply
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import check_requests
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import plan
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import plan_role
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import read
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import read_roles
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import workload_result
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import ecr_pull_policy

ACCOUNT = "123456789012"
OTHER = "210987654321"
REGION = "us-east-1"
EXEC = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
EC2 = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
DEFAULTS = dict(name=None, role_name=None, task_definition=None, launch_type="fargate", permissions="managed", repositories=None,
                policy_name=None, create_role=False, state="present")


def repo(name, account=ACCOUNT, region=REGION):
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def iam_role(name, path="/", account=ACCOUNT):
    return {"RoleName": name, "Path": path, "Arn": f"arn:aws:iam::{account}:role{path}{name}"}


def requests(*entries):
    """Module arguments of workloads; the role is exec unless a task definition is named."""
    return [{**DEFAULTS, **({} if "task_definition" in entry else {"role_name": "exec"}), **entry} for entry in entries]


class FakeIAM:
    """Just enough of an IAM client: roles, attachments, inline policies and instance profiles
    in dicts; every call is recorded; ``fail`` names an operation that answers AccessDenied."""

    def __init__(self, roles=(), attached=None, inline=None, profiles=None, fail=None):
        self.roles = {role["RoleName"]: role for role in roles}
        self.attached = attached or {}
        self.inline = inline or {}
        self.profiles = profiles or {}  # profile name -> [role names]
        self.fail = fail
        self.calls = []

    def _call(self, operation, **kwargs):
        self.calls.append((operation, kwargs))
        if operation == self.fail:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, operation)

    def _missing(self, operation):
        raise ClientError({"Error": {"Code": "NoSuchEntity", "Message": "missing"}}, operation)

    def get_role(self, RoleName):
        self._call("GetRole", RoleName=RoleName)
        if RoleName not in self.roles:
            self._missing("GetRole")
        return {"Role": self.roles[RoleName]}

    def get_role_policy(self, RoleName, PolicyName):
        self._call("GetRolePolicy", RoleName=RoleName, PolicyName=PolicyName)
        if PolicyName not in self.inline.get(RoleName, {}):
            self._missing("GetRolePolicy")
        return {"PolicyDocument": self.inline[RoleName][PolicyName]}

    def get_instance_profile(self, InstanceProfileName):
        self._call("GetInstanceProfile", InstanceProfileName=InstanceProfileName)
        if InstanceProfileName not in self.profiles:
            self._missing("GetInstanceProfile")
        holders = [{"RoleName": name} for name in self.profiles[InstanceProfileName]]
        return {"InstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{InstanceProfileName}", "Roles": holders}}

    def get_paginator(self, operation):
        fake = self

        class Paginator:
            def paginate(self, **kwargs):
                fake._call(operation, **kwargs)
                if operation == "list_attached_role_policies":
                    found = {"AttachedPolicies": [{"PolicyArn": arn} for arn in fake.attached.get(kwargs["RoleName"], [])]}
                else:
                    held = [name for name, roles in fake.profiles.items() if kwargs["RoleName"] in roles]
                    found = {"InstanceProfiles": [{"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}"} for name in held]}
                return type("Pages", (), {"build_full_result": lambda self: found})()

        return Paginator()

    def get_waiter(self, name):
        return type("Waiter", (), {"wait": lambda self, **kwargs: None})()

    def create_role(self, RoleName, Path, AssumeRolePolicyDocument, Description):
        self._call("CreateRole", RoleName=RoleName, Path=Path)
        return {"Role": iam_role(RoleName, Path)}

    def attach_role_policy(self, RoleName, PolicyArn):
        self._call("AttachRolePolicy", RoleName=RoleName, PolicyArn=PolicyArn)

    def detach_role_policy(self, RoleName, PolicyArn):
        self._call("DetachRolePolicy", RoleName=RoleName, PolicyArn=PolicyArn)

    def put_role_policy(self, RoleName, PolicyName, PolicyDocument):
        self._call("PutRolePolicy", RoleName=RoleName, PolicyName=PolicyName)

    def delete_role_policy(self, RoleName, PolicyName):
        self._call("DeleteRolePolicy", RoleName=RoleName, PolicyName=PolicyName)

    def create_instance_profile(self, InstanceProfileName, Path, Tags):
        self._call("CreateInstanceProfile", InstanceProfileName=InstanceProfileName)
        return {"InstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile{Path}{InstanceProfileName}"}}

    def add_role_to_instance_profile(self, InstanceProfileName, RoleName):
        self._call("AddRoleToInstanceProfile", InstanceProfileName=InstanceProfileName, RoleName=RoleName)


def caller():
    return ACCOUNT, "aws"


def grouped(client, *entries, region=REGION):
    """The roles of checked requests, as the read step groups them."""
    workloads, problems = check_requests(requests(*entries), region)
    assert problems == []
    roles, problems = read_roles(client, workloads, caller, region)
    assert problems == []
    return workloads, roles


def operations(client):
    return [operation for operation, dummy in client.calls]


# ----- 1. checking the requests --------------------------------------------------------------


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"role_name": "exec", "task_definition": "web"}, "give exactly one of role_name and task_definition"),
        ({"role_name": None}, "give exactly one of role_name and task_definition"),
        ({"repositories": ["app"]}, "repositories scopes the inline policy and cannot be used with permissions=managed"),
        ({"policy_name": "mine"}, "policy_name names the inline policy and only applies to permissions=inline"),
        ({"task_definition": "web", "launch_type": "ec2"}, "with launch_type=ec2 the container instance role pulls the images"),
        ({"permissions": "inline", "policy_name": "no spaces"}, "policy_name 'no spaces' is not a valid IAM policy name"),
        ({"permissions": "inline", "policy_name": "p" * 129}, "is not a valid IAM policy name"),
        ({"task_definition": "web:0"}, "is not a task definition family"),
        ({"permissions": "inline", "repositories": []}, "repositories is empty"),
        ({"permissions": "inline", "repositories": ["Bad Name"]}, "is not a valid ECR repository name"),
        ({"role_name": "no spaces please"}, "is not a valid IAM role name"),
        ({"role_name": "arn:aws:iam::1234:role/x"}, "is not a valid IAM role ARN"),
    ],
)
def test_check_requests_rejects(entry, message):
    workloads, problems = check_requests(requests(dict(entry, name="w")), REGION)
    assert workloads == [] and len(problems) == 1
    assert problems[0].indexes == (0,) and problems[0].names == ("w",) and message in str(problems[0].error)


def test_check_requests_reports_every_bad_request_and_keeps_the_good():
    workloads, problems = check_requests(requests({"role_name": "a"}, {"role_name": None}, {"task_definition": "web:0"}, {"role_name": "b"}), REGION)
    assert [w.name for w in workloads] == ["a", "b"]
    assert [(p.indexes, p.names) for p in problems] == [((1,), ("workloads[1]",)), ((2,), ("web:0",))]


def test_repository_names_need_a_region_but_arns_do_not():
    dummy, problems = check_requests(requests({"permissions": "inline", "repositories": ["app"]}), None)
    assert "no region is set" in str(problems[0].error)
    arn = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/web:3"
    workloads, problems = check_requests(requests({"permissions": "inline", "repositories": ["app"], "task_definition": arn}), None)
    assert problems == [] and workloads[0].region == "eu-west-1" and workloads[0].policy_name == "ecr-pull"


# ----- 3. planning ---------------------------------------------------------------------------

PULL_APP = ecr_pull_policy([repo("app")])
# The same meaning as PULL_APP in another shape: plain strings, statements reordered.
PULL_APP_REORDERED = {"Version": "2012-10-17", "Statement": [
    {"Sid": "PullImages", "Effect": "Allow", "Resource": repo("app"),
     "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"]},
    {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]}

# entries, the state read, then the changes, the managed policies attached after and the inline policies after.
PLANS = {
    "attach": ([{}], RoleState(["other"]), [("managed", EXEC)], sorted(["other", EXEC]), {}),
    "attached already": ([{}], RoleState([EXEC]), [], [EXEC], {}),
    "detach": ([{"state": "absent"}], RoleState([EXEC, "other"]), [("managed", EXEC)], ["other"], {}),
    "detached already": ([{"state": "absent"}], RoleState(["other"]), [], ["other"], {}),
    "two launch types, two policies": ([{}, {"launch_type": "ec2"}], RoleState(), [("managed", EXEC), ("managed", EC2)], [EC2, EXEC], {}),
    "the same request twice": ([{}, {"role_name": f"arn:aws:iam::{ACCOUNT}:role/exec"}], RoleState(), [("managed", EXEC)], [EXEC], {}),
    "put inline": ([{"permissions": "inline", "repositories": ["app"]}], RoleState(documents={"ecr-pull": None}),
                   [("inline", "ecr-pull")], [], {"ecr-pull": PULL_APP}),
    "inline equivalent": ([{"permissions": "inline", "repositories": ["app"]}], RoleState(documents={"ecr-pull": PULL_APP_REORDERED}),
                          [], [], {"ecr-pull": PULL_APP_REORDERED}),
    "inline by name and by ARN": ([{"permissions": "inline", "repositories": ["app"]}, {"permissions": "inline", "repositories": [repo("app")]}],
                                  RoleState(documents={"ecr-pull": None}), [("inline", "ecr-pull")], [], {"ecr-pull": PULL_APP}),
    "delete inline": ([{"permissions": "inline", "state": "absent"}], RoleState(documents={"ecr-pull": PULL_APP}),
                      [("inline", "ecr-pull")], [], {"ecr-pull": None}),
    "two inline policies": ([{"permissions": "inline", "policy_name": "a"}, {"permissions": "inline", "policy_name": "b", "state": "absent"}],
                            RoleState(documents={"a": None, "b": PULL_APP}), [("inline", "a"), ("inline", "b")], [],
                            {"a": ecr_pull_policy(), "b": None}),
    "managed before inline": ([{"permissions": "inline"}, {}], RoleState(documents={"ecr-pull": None}),
                              [("managed", EXEC), ("inline", "ecr-pull")], [EXEC], {"ecr-pull": ecr_pull_policy()}),
    "ec2 role already in a profile": ([{"launch_type": "ec2", "create_role": True}], RoleState(profile_arns=["p"]), [("managed", EC2)], [EC2], {}),
    "ec2 role into a profile": ([{"launch_type": "ec2", "create_role": True}], RoleState([EC2]), ["instance_profile"], [EC2], {}),
    "ec2 role without create_role": ([{"launch_type": "ec2"}], RoleState([EC2]), [], [EC2], {}),
}


@pytest.mark.parametrize("entries, state, changes, attached, inline", PLANS.values(), ids=PLANS.keys())
def test_plan_role(entries, state, changes, attached, inline):
    dummy, (role,) = grouped(FakeIAM([iam_role("exec")]), *entries)
    planned, problems = plan_role(role, state)
    assert problems == []
    assert planned.changes == changes and planned.attached == attached and planned.inline == inline
    assert planned.create is None


def test_plan_role_creates_a_missing_role_with_the_first_creators_trust_policy():
    workloads, (role,) = grouped(FakeIAM(), {"launch_type": "ec2", "create_role": True}, {"launch_type": "ec2", "create_role": True, "name": "again"})
    planned, problems = plan_role(role, RoleState())
    assert problems == [] and planned.create == "ec2" and not role.exists
    assert planned.changes == ["role", ("managed", EC2), "instance_profile"]
    assert role.iam_role == iam_role("exec")


def test_plan_role_scopes_names_in_the_roles_account_and_the_workloads_region():
    client = FakeIAM([iam_role("exec", account=OTHER)])
    workloads, (role,) = grouped(client, {"permissions": "inline", "repositories": ["app", repo("base", ACCOUNT, "eu-west-1")]})
    planned, dummy = plan_role(role, RoleState(documents={"ecr-pull": None}))
    assert planned.wants[0] == (("inline", "ecr-pull"), sorted([repo("app", OTHER), repo("base", ACCOUNT, "eu-west-1")]))


CONFLICTS = {
    "managed present and absent": (
        [{"name": "grant"}, {"name": "revoke", "state": "absent"}],
        f"both manage the attachment of {EXEC} to role 'exec', one with state=present and the other "
        "with state=absent, so nothing was changed. Give them the same state, or leave one of them out"),
    "inline, different repositories": (
        [{"name": "a", "permissions": "inline", "repositories": ["web/app"]}, {"name": "b", "permissions": "inline", "repositories": ["web/api"]}],
        f"both manage inline policy 'ecr-pull' of role 'exec' with different repositories ({repo('web/app')} and {repo('web/api')}), so "
        "nothing was changed. The policy holds one list of repositories"),
    "inline, every repository and one": (
        [{"name": "a", "permissions": "inline"}, {"name": "b", "permissions": "inline", "repositories": ["app"]}],
        f"with different repositories (* and {repo('app')})"),
    "inline present and absent": (
        [{"name": "x", "permissions": "inline"}, {"name": "y", "permissions": "inline", "state": "absent"}],
        "both manage inline policy 'ecr-pull' of role 'exec', one with state=present and the other with state=absent, so nothing was "
        "changed. Give them the same state, or give each its own policy_name"),
}


@pytest.mark.parametrize("entries, message", CONFLICTS.values(), ids=CONFLICTS.keys())
def test_plan_role_conflicts(entries, message):
    fine = {"name": "fine", "permissions": "inline", "policy_name": "other"}
    dummy, (role,) = grouped(FakeIAM([iam_role("exec")]), fine, *entries)
    dummy, problems = plan_role(role, RoleState())
    assert len(problems) == 1 and problems[0].indexes == (1, 2), problems
    assert message in str(problems[0].error)


@pytest.mark.parametrize(
    "second, message",
    [
        ({"launch_type": "external"}, "would both create role 'fresh', one with the trust policy of launch_type=fargate and the other with "
                                      "that of launch_type=external, so nothing was changed. Give them the same launch_type"),
        ({"role_name": f"arn:aws:iam::{ACCOUNT}:role/ecs/fresh"},
         f"would both create role 'fresh', one as arn:aws:iam::{ACCOUNT}:role/fresh and the other as arn:aws:iam::{ACCOUNT}:role/ecs/fresh"),
    ],
)
def test_plan_role_creation_conflicts(second, message):
    dummy, (role,) = grouped(FakeIAM(), {"name": "new-1", "role_name": "fresh", "create_role": True},
                             dict({"name": "new-2", "role_name": "fresh", "create_role": True}, **second))
    dummy, problems = plan_role(role, RoleState())
    assert [p.names for p in problems] == [("new-1", "new-2")] and message in str(problems[0].error)


def test_plan_role_instance_profile_holding_another_role():
    dummy, (role,) = grouped(FakeIAM([iam_role("taken")]), {"role_name": "taken", "launch_type": "ec2", "create_role": True})
    planned, problems = plan_role(role, RoleState(named_profile={"Arn": "p", "Roles": [{"RoleName": "holder"}]}))
    assert "instance_profile" not in planned.changes
    assert [p.names for p in problems] == [("taken",)]
    assert str(problems[0].error).startswith("instance profile 'taken' already holds role 'holder' (an instance profile holds one role)")


# ----- 2., 4. and 5. over the fake client ------------------------------------------------------


def run(client, *entries, check_mode=False):
    workloads, problems = check_requests(requests(*entries), REGION)
    roles, found = read(workloads, client, None, caller, REGION)
    problems += found + plan(roles)
    return workloads, problems, apply(client, roles, check_mode) if not problems else None


def test_a_run_reads_everything_before_writing_and_writes_only_what_differs():
    client = FakeIAM([iam_role("a"), iam_role("b")], attached={"a": [EXEC]}, profiles={})
    entries = [{"role_name": "a"}, {"role_name": "b", "permissions": "inline"}, {"role_name": "new", "launch_type": "ec2", "create_role": True}]
    workloads, problems, failures = run(client, *entries)
    assert problems == [] and failures == []
    calls = operations(client)
    first_write = min(calls.index(op) for op in ("CreateRole", "PutRolePolicy"))
    assert sorted(calls[first_write:]) == ["AddRoleToInstanceProfile", "AttachRolePolicy", "CreateInstanceProfile", "CreateRole", "PutRolePolicy"]
    assert sorted(calls[:first_write]) == ["GetInstanceProfile", "GetRole", "GetRole", "GetRole", "GetRolePolicy", "list_attached_role_policies",
                                           "list_attached_role_policies"]
    results = [workload_result(w)[0] for w in workloads]
    assert [r["changed"] for r in results] == [False, True, True]
    assert results[2]["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/new"
    assert results[2]["instance_profile_arns"] == [f"arn:aws:iam::{ACCOUNT}:instance-profile/new"]
    assert results[1]["inline_policy"] == {"policy_name": "ecr-pull", "policy_document": ecr_pull_policy()}


def test_check_mode_writes_nothing_and_predicts_the_same_results():
    entries = [{"role_name": "a", "permissions": "inline", "repositories": ["app"]}, {"role_name": "new", "launch_type": "ec2", "create_role": True}]
    predicted_client = FakeIAM([iam_role("a")])
    predicted, dummy, dummy_failures = run(predicted_client, *entries, check_mode=True)
    assert all(op.startswith(("Get", "list_")) for op in operations(predicted_client)), operations(predicted_client)
    real, dummy, dummy_failures = run(FakeIAM([iam_role("a")]), *entries)
    assert [workload_result(w) for w in predicted] == [workload_result(w) for w in real]


def test_a_failed_write_stops_only_its_role_and_says_what_was_written():
    client = FakeIAM([iam_role("a"), iam_role("b")], fail="PutRolePolicy")
    workloads, problems, failures = run(client, {"role_name": "a"}, {"role_name": "a", "permissions": "inline"}, {"role_name": "b"})
    assert problems == [] and [f.names for f in failures] == [("a", "a")]
    first, second, other = (workload_result(w)[0] for w in workloads)
    # The attachment was written before the inline policy failed.
    assert first == second == {"changed": True, "failed": True, "msg": first["msg"]} and "not allowed" in first["msg"]
    assert other["changed"] and other["attached_policy_arns"] == [EXEC]


def test_read_problems_name_their_workloads():
    client = FakeIAM([iam_role("exec", account=OTHER)])
    entries = [{"name": "missing", "role_name": "nobody"}, {"name": "gone", "role_name": "ghost", "state": "absent"},
               {"name": "foreign", "role_name": f"arn:aws:iam::{ACCOUNT}:role/exec"},
               {"name": "elsewhere", "role_name": f"arn:aws:iam::{OTHER}:role/new", "create_role": True}]
    workloads, problems, dummy = run(client, *entries)
    messages = {p.names: str(p.error) for p in problems}
    assert "role 'nobody' does not exist; nothing was changed" in messages[("missing",)]
    assert "IAM roles can only be managed with credentials of their own account" in messages[("foreign",)]
    assert f"the credentials are for account {ACCOUNT}" in messages[("elsewhere",)]
    assert ("gone",) not in messages
    # A missing role with state=absent is nothing to do.
    assert workload_result(workloads[1])[0] == {"role_arn": None, "attached_policy_arns": [], "inline_policy": None, "changed": False,
                                                "launch_type": "fargate", "role_name": "ghost"}
