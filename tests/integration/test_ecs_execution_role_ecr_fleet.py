# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""pullaccess.aws.ecs_execution_role_ecr's fleet form (``workloads``) through ansible-runner
against moto over HTTP: many workloads in one call, everything read and checked before any
write, one failure message naming every failing workload, results in input order.
"""

import json

import pytest

from integration.conftest import dump
from integration.harness import writes

# The single form's tests' names for the module, accounts and policies.
from integration.test_ecs_execution_role_ecr import ACCOUNT, EC2_POLICY, EXEC_POLICY, FOREIGN_POLICY, MODULE, OTHER, PULL, REGION

# The reads of the read step; none may come after the first write of a run.
READS = {"DescribeTaskDefinition", "ListAttachedRolePolicies", "GetRolePolicy", "ListInstanceProfilesForRole"}


def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def pull_policy(*resources):
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
        {"Sid": "PullImages", "Effect": "Allow", "Action": PULL, "Resource": sorted(resources)}]}


def repo(name, account=ACCOUNT, region=REGION):
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


@pytest.fixture
def iam(aws):
    return aws.client("iam")


@pytest.fixture
def ecs(aws):
    return aws.client("ecs")


def make_role(iam, name, service="ecs-tasks.amazonaws.com"):
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]


def attached(iam, name):
    return sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])


def inline_names(iam, name):
    return sorted(iam.list_role_policies(RoleName=name)["PolicyNames"])


def by_name(result):
    return {entry["name"]: entry for entry in result["workloads"]}


def read_after_write(aws, mark):
    """Read-step calls made after the run's first write (there must be none)."""
    logged = aws.requests(since=mark)
    first_write = next((r["seq"] for r in logged if r["mutating"]), None)
    return [r["operation"] for r in logged if first_write is not None and r["seq"] > first_write and r["operation"] in READS]


def test_fleet_grants_in_one_call_then_converges(ansible, aws, iam, ecs):
    web_arn = make_role(iam, "web-exec")
    iam.attach_role_policy(RoleName="web-exec", PolicyArn=FOREIGN_POLICY)
    api_arn = make_role(iam, "api-exec")
    api_task = ecs.register_task_definition(family="api", executionRoleArn=api_arn, containerDefinitions=[
        {"name": "api", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/api/app:3", "memory": 128},
        {"name": "proxy", "image": "nginx:1.27", "memory": 128},
    ])["taskDefinition"]["taskDefinitionArn"]
    workloads = [
        {"name": "web-1", "role_name": "web-exec", "permissions": "inline", "repositories": ["web/app", repo("shared/base", OTHER)]},
        {"name": "api-1", "task_definition": "api"},
        {"name": "cluster", "role_name": "ecs-instances", "launch_type": "ec2", "create_role": True},
        # The same request as api-1 for the same role, by name: done once, reported by both.
        {"role_name": "api-exec"},
    ]
    names = ["web-1", "api-1", "cluster", "api-exec"]
    args = {"workloads": workloads}
    cluster_arn = f"arn:aws:iam::{ACCOUNT}:role/ecs-instances"
    profile_arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/ecs-instances"

    mark = aws.mark()
    check = ansible.module(MODULE, args, check=True, diff=True)
    assert not check.failed and check.changed, check
    assert writes(aws, mark) == [], "check mode made a mutating call"
    assert [entry["name"] for entry in check["workloads"]] == names
    assert all(entry["changed"] for entry in check["workloads"]), dump(check.res)

    mark = aws.mark()
    played = ansible.tasks([{"name": "under test", MODULE: args}], diff=True)
    real = played.task("under test")
    assert not real.failed and real.changed, real
    # Ansible shows one diff per workload, headed by its name.
    assert "--- before: web-1" in played.stdout and "+++ after: cluster" in played.stdout, played.stdout
    assert sorted(writes(aws, mark)) == sorted([
        "PutRolePolicy", "AttachRolePolicy", "CreateRole", "AttachRolePolicy", "CreateInstanceProfile", "AddRoleToInstanceProfile"])
    assert read_after_write(aws, mark) == [], "the read step read after writing"
    assert [entry["name"] for entry in real["workloads"]] == names
    for key in ("workloads", "diff"):
        assert real[key] == check[key], f"check mode predicted another {key}:\n{dump(check.res)}\n{dump(real.res)}"

    found = by_name(real)
    assert [found[name]["role_arn"] for name in names] == [web_arn, api_arn, cluster_arn, api_arn]
    assert all(found[name]["changed"] for name in names)
    web = found["web-1"]
    assert web["role_name"] == "web-exec" and web["launch_type"] == "fargate"
    assert web["inline_policy"] == {"policy_name": "ecr-pull", "policy_document": pull_policy(repo("web/app"), repo("shared/base", OTHER))}
    assert web["attached_policy_arns"] == [FOREIGN_POLICY]
    assert "images" not in web and "instance_profile_arns" not in web
    api = found["api-1"]
    assert api["task_definition_arn"] == api_task and api["role_name"] == "api-exec"
    assert api["attached_policy_arns"] == [EXEC_POLICY] and api["inline_policy"] is None
    assert [image["container_name"] for image in api["images"]] == ["api", "proxy"] and api["cross_account_repositories"] == []
    assert found["api-exec"]["attached_policy_arns"] == [EXEC_POLICY] and "task_definition_arn" not in found["api-exec"]
    cluster = found["cluster"]
    assert cluster["attached_policy_arns"] == [EC2_POLICY] and cluster["instance_profile_arns"] == [profile_arn]

    # One diff per workload, in order, named after it.
    assert [d["before_header"] for d in real["diff"]] == names == [d["after_header"] for d in real["diff"]]
    assert real["diff"][0]["before"] == {"role_arn": web_arn, "attached_policy_arns": [FOREIGN_POLICY], "inline_policy": None}
    assert real["diff"][2]["before"] == {"role_arn": None, "attached_policy_arns": [], "inline_policy": None, "instance_profile_arns": []}
    assert real["diff"][2]["after"] == {"role_arn": cluster_arn, "attached_policy_arns": [EC2_POLICY], "inline_policy": None,
                                        "instance_profile_arns": [profile_arn]}

    # Image notes name their workload.
    warnings = real.get("warnings", [])
    assert any(w.startswith("api-1: container 'proxy': image 'nginx:1.27' is not a full ECR URI") for w in warnings), warnings

    assert attached(iam, "web-exec") == [FOREIGN_POLICY] and inline_names(iam, "web-exec") == ["ecr-pull"]
    assert attached(iam, "api-exec") == [EXEC_POLICY]
    assert attached(iam, "ecs-instances") == [EC2_POLICY]
    assert iam.get_role(RoleName="ecs-instances")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"}

    # Converged: a check run and a real run change nothing and make no mutating call.
    mark = aws.mark()
    again = ansible.module(MODULE, args, check=True, diff=True)
    assert not again.failed and not again.changed, again
    final = ansible.module(MODULE, args)
    assert not final.failed and not final.changed, final
    assert aws.requests(since=mark, mutating=True) == [], "a converged run wrote"
    assert [entry["changed"] for entry in final["workloads"]] == [False] * 4
    assert [entry["role_arn"] for entry in final["workloads"]] == [web_arn, api_arn, cluster_arn, api_arn]
    assert [d["before"] for d in again["diff"]] == [d["after"] for d in again["diff"]]


def test_workloads_sharing_a_role_share_its_reads_and_writes(ansible, aws, iam):
    arn = make_role(iam, "shared")
    workloads = [
        {"name": "a", "role_name": "shared"},
        {"name": "b", "role_name": arn},
        {"name": "c", "role_name": "shared", "permissions": "inline", "policy_name": "pull-c", "repositories": ["c/app"]},
        {"name": "d", "role_name": "shared", "permissions": "inline", "policy_name": "pull-c", "repositories": [repo("c/app")]},
        {"name": "e", "role_name": "shared", "launch_type": "ec2"},
    ]
    mark = aws.mark()
    run = ansible.module(MODULE, {"workloads": workloads})
    assert not run.failed and run.changed, run
    assert sorted(writes(aws, mark)) == ["AttachRolePolicy", "AttachRolePolicy", "PutRolePolicy"]
    gets = [r["operation"] for r in aws.requests(since=mark, service="iam")]
    assert gets.count("GetRole") == 1 and gets.count("ListAttachedRolePolicies") == 1, gets
    results = run["workloads"]
    assert [entry["name"] for entry in results] == ["a", "b", "c", "d", "e"]
    # Every workload reports the role as it is after all of the run's writes.
    assert all(entry["attached_policy_arns"] == sorted([EXEC_POLICY, EC2_POLICY]) for entry in results), dump(results)
    assert all(entry["changed"] and entry["role_arn"] == arn for entry in results)
    assert results[2]["inline_policy"] == results[3]["inline_policy"] == {"policy_name": "pull-c", "policy_document": pull_policy(repo("c/app"))}
    assert results[0]["inline_policy"] is None and results[4]["instance_profile_arns"] == []
    assert inline_names(iam, "shared") == ["pull-c"]


def test_check_mode_predicts_and_writes_nothing(ansible, aws, iam):
    make_role(iam, "exec")
    workloads = [
        {"name": "new", "role_name": "arn:aws:iam::123456789012:role/ecs/new-exec", "create_role": True, "permissions": "inline"},
        {"name": "old", "role_name": "exec"},
    ]
    mark = aws.mark()
    run = ansible.module(MODULE, {"workloads": workloads}, check=True, diff=True)
    assert not run.failed and run.changed, run
    assert writes(aws, mark) == []
    new, old = run["workloads"]
    assert new["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/ecs/new-exec" and new["changed"]
    assert new["inline_policy"] == {"policy_name": "ecr-pull", "policy_document": pull_policy("*")}
    assert old["attached_policy_arns"] == [EXEC_POLICY] and old["changed"]
    assert run["diff"][0]["before"]["role_arn"] is None and run["diff"][1]["before"]["attached_policy_arns"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="new-exec")
    assert attached(iam, "exec") == []


def test_one_bad_workload_fails_them_all_and_nothing_is_written(ansible, aws, iam, ecs):
    arn = make_role(iam, "exec")
    make_role(iam, "other-exec")
    ecs.register_task_definition(family="web", executionRoleArn=arn, containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
    ecs.register_task_definition(family="no-role", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
    # An instance profile named like the role, holding another role.
    make_role(iam, "holder", "ec2.amazonaws.com")
    iam.create_instance_profile(InstanceProfileName="taken")
    iam.add_role_to_instance_profile(InstanceProfileName="taken", RoleName="holder")
    make_role(iam, "taken", "ec2.amazonaws.com")
    workloads = [
        {"name": "good-web", "task_definition": "web", "permissions": "inline"},
        {"name": "host-a", "role_name": "nobody"},
        {"name": "good-other", "role_name": "other-exec"},
        {"name": "host-b", "task_definition": "ghost:3"},
        {"name": "host-c", "task_definition": "no-role"},
        {"name": "host-d", "role_name": arn.replace(ACCOUNT, OTHER)},
        {"name": "host-e", "role_name": "exec", "task_definition": "web"},
        {"name": "host-f", "role_name": "exec", "repositories": ["app"]},
        {"name": "host-g", "role_name": "taken", "launch_type": "ec2", "create_role": True},
        {"name": "good-new", "role_name": "brand-new", "create_role": True},
    ]
    expected = {
        "host-a": "workload 'host-a': role 'nobody' does not exist; nothing was changed",
        "host-b": "workload 'host-b': task definition 'ghost:3' does not exist in region us-east-1",
        "host-c": "workload 'host-c': task definition arn:aws:ecs:us-east-1:123456789012:task-definition/no-role:1 has no execution role",
        "host-d": f"workload 'host-d': role {arn.replace(ACCOUNT, OTHER)} does not match the role IAM has under the name 'exec'",
        "host-e": "workload 'host-e': give exactly one of role_name and task_definition",
        "host-f": "workload 'host-f': repositories scopes the inline policy and cannot be used with permissions=managed",
        "host-g": "workload 'host-g': instance profile 'taken' already holds role 'holder'",
    }
    for check_mode in (True, False):
        mark = aws.mark()
        run = ansible.module(MODULE, {"workloads": workloads}, check=check_mode)
        assert run.failed, run
        assert run.msg.startswith("7 of 10 workloads failed their checks, so nothing was changed: "), run.msg
        for message in expected.values():
            assert message in run.msg, f"{message!r} not in {run.msg}"
        # Listed in input order; the good workloads are not named.
        positions = [run.msg.index(f"workload '{name}'") for name in expected]
        assert positions == sorted(positions), run.msg
        assert "good-" not in run.msg, run.msg
        assert aws.requests(since=mark, mutating=True) == [], "a failed run wrote"
    assert attached(iam, "exec") == [] and inline_names(iam, "exec") == [] and attached(iam, "other-exec") == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="brand-new")


def test_conflicting_workloads_fail_before_any_write(ansible, aws, iam, ecs):
    arn = make_role(iam, "exec")
    make_role(iam, "other")
    ecs.register_task_definition(family="web", executionRoleArn=arn, containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
    workloads = [
        {"name": "web-1", "role_name": "exec", "permissions": "inline", "repositories": ["web/app"]},
        {"name": "fine", "role_name": "other"},
        {"name": "web-2", "task_definition": "web", "permissions": "inline", "repositories": ["web/api"]},
        {"name": "grant", "role_name": "exec"},
        {"name": "revoke", "role_name": arn, "state": "absent"},
        {"name": "new-1", "role_name": "fresh", "create_role": True},
        {"name": "new-2", "role_name": "fresh", "create_role": True, "launch_type": "external"},
    ]
    mark = aws.mark()
    run = ansible.module(MODULE, {"workloads": workloads})
    assert run.failed, run
    assert run.msg.startswith("6 of 7 workloads failed their checks, so nothing was changed: "), run.msg
    assert (
        "workloads 'web-1' and 'web-2': both manage inline policy 'ecr-pull' of role 'exec' with different repositories "
        f"({repo('web/app')} and {repo('web/api')}), so nothing was changed. The policy holds one list of repositories: give both the "
        "same repositories (every one the role pulls from), or give each its own policy_name"
    ) in run.msg
    assert (
        f"workloads 'grant' and 'revoke': both manage the attachment of {EXEC_POLICY} to role 'exec', one with state=present and the "
        "other with state=absent, so nothing was changed. Give them the same state, or leave one of them out"
    ) in run.msg
    assert ("workloads 'new-1' and 'new-2': would both create role 'fresh', one with the trust policy of launch_type=fargate and the other "
            "with that of launch_type=external") in run.msg
    assert "'fine'" not in run.msg
    assert aws.requests(since=mark, mutating=True) == [], "a conflicting run wrote"

    # The same inline policy present and absent is a conflict too; the same request twice is not.
    mark = aws.mark()
    run = ansible.module(MODULE, {"workloads": [
        {"name": "x", "role_name": "exec", "permissions": "inline"},
        {"name": "y", "role_name": "exec", "permissions": "inline", "state": "absent"},
    ]})
    assert run.failed and "workloads 'x' and 'y': both manage inline policy 'ecr-pull' of role 'exec', one with state=present and the other " \
        "with state=absent" in run.msg, run.msg
    assert aws.requests(since=mark, mutating=True) == []


def test_absent_for_several_workloads(ansible, aws, iam, ecs):
    task_arn = make_role(iam, "task-exec")
    make_role(iam, "inline-exec")
    make_role(iam, "instances", "ec2.amazonaws.com")
    iam.attach_role_policy(RoleName="task-exec", PolicyArn=EXEC_POLICY)
    iam.attach_role_policy(RoleName="task-exec", PolicyArn=FOREIGN_POLICY)
    iam.put_role_policy(RoleName="inline-exec", PolicyName="pull", PolicyDocument=json.dumps(pull_policy("*")))
    iam.put_role_policy(RoleName="inline-exec", PolicyName="theirs", PolicyDocument=json.dumps(pull_policy("*")))
    iam.attach_role_policy(RoleName="instances", PolicyArn=EC2_POLICY)
    ecs.register_task_definition(family="svc", executionRoleArn=task_arn, containerDefinitions=[{"name": "s", "image": "nginx", "memory": 128}])
    workloads = [
        {"name": "svc", "task_definition": "svc", "state": "absent"},
        {"name": "inline", "role_name": "inline-exec", "permissions": "inline", "policy_name": "pull", "state": "absent"},
        {"name": "gone", "role_name": "nobody", "state": "absent"},
        {"name": "instances", "role_name": "instances", "launch_type": "ec2", "state": "absent"},
    ]
    mark = aws.mark()
    check = ansible.module(MODULE, {"workloads": workloads}, check=True, diff=True)
    assert check.changed and not check.failed and writes(aws, mark) == [], check
    real = ansible.module(MODULE, {"workloads": workloads}, diff=True)
    assert real.changed and not real.failed, real
    assert sorted(writes(aws, mark)) == ["DeleteRolePolicy", "DetachRolePolicy", "DetachRolePolicy"]
    assert real["workloads"] == check["workloads"] and real["diff"] == check["diff"]
    assert [entry["name"] for entry in real["workloads"]] == ["svc", "inline", "gone", "instances"]
    assert [entry["changed"] for entry in real["workloads"]] == [True, True, False, True]
    svc, inline, gone, instances = real["workloads"]
    assert svc["role_arn"] == task_arn and svc["attached_policy_arns"] == [FOREIGN_POLICY]
    assert inline["inline_policy"] is None and real["diff"][1]["before"]["inline_policy"] == pull_policy("*")
    assert gone["role_arn"] is None and gone["attached_policy_arns"] == []
    assert instances["attached_policy_arns"] == [] and instances["instance_profile_arns"] == []
    assert attached(iam, "task-exec") == [FOREIGN_POLICY] and inline_names(iam, "inline-exec") == ["theirs"] and attached(iam, "instances") == []

    mark = aws.mark()
    again = ansible.module(MODULE, {"workloads": workloads})
    assert not again.changed and not again.failed, again
    assert aws.requests(since=mark, mutating=True) == []


def test_task_options_do_not_apply_to_workloads(ansible, aws, iam):
    make_role(iam, "exec")
    cases = {
        "state": ({"workloads": [{"role_name": "exec"}], "state": "absent"},
                  "state=absent is an option of the single form (role_name or task_definition) and does not apply to workloads"),
        "launch type": ({"workloads": [{"role_name": "exec"}], "launch_type": "ec2"}, "set launch_type on each entry of workloads"),
        "repositories": ({"workloads": [{"role_name": "exec"}], "repositories": ["app"]}, "mutually exclusive: repositories|workloads"),
        "role and workloads": ({"workloads": [{"role_name": "exec"}], "role_name": "exec"}, "mutually exclusive: role_name|task_definition|workloads"),
        "empty": ({"workloads": []}, "workloads is empty"),
        "no role": ({"workloads": [{"name": "lonely"}]}, "workload 'lonely': give exactly one of role_name and task_definition"),
        "bad choice": ({"workloads": [{"role_name": "exec", "state": "gone"}]}, "value of state must be one of: present, absent"),
    }
    tasks = [{"name": name, MODULE: case[0], "ignore_errors": True} for name, case in cases.items()]
    mark = aws.mark()
    run = ansible.tasks(tasks)
    for name, (_args, message) in cases.items():
        result = run.task(name)
        assert result.failed and message in result.msg, f"{name}: {result}"
    assert aws.requests(since=mark, mutating=True) == []
    assert attached(iam, "exec") == []


def test_a_failed_write_names_its_workloads_and_reports_the_others(ansible, aws, iam):
    make_role(iam, "a-exec")
    make_role(iam, "b-exec")
    aws.set_faults([{"service": "iam", "operation": "PutRolePolicy", "kind": "error", "status": 403, "code": "AccessDenied",
                     "message": "not allowed to put role policies", "times": 1}])
    workloads = [
        {"name": "a", "role_name": "a-exec", "permissions": "inline"},
        {"name": "b", "role_name": "b-exec"},
    ]
    mark = aws.mark()
    run = ansible.module(MODULE, {"workloads": workloads})
    assert run.failed and run.changed, run
    # Workload a's own message is its error (the call, the role and IAM's answer); the run's
    # message names it and says the others were changed.
    a_msg = ("Failed to put inline policy ecr-pull on role a-exec: An error occurred (AccessDenied) when calling the PutRolePolicy "
             "operation: not allowed to put role policies")
    assert run.msg == f"1 of 2 workloads could not be changed (the others were, see workloads): workload 'a': {a_msg}", run.msg
    assert run["workloads"][0] == {"name": "a", "changed": False, "failed": True, "msg": a_msg}, run["workloads"][0]
    assert run["workloads"][1]["name"] == "b" and run["workloads"][1]["changed"] and run["workloads"][1]["attached_policy_arns"] == [EXEC_POLICY]
    assert sorted(writes(aws, mark)) == ["AttachRolePolicy", "PutRolePolicy"]
    assert attached(iam, "b-exec") == [EXEC_POLICY] and inline_names(iam, "a-exec") == []
