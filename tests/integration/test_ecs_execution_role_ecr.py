# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""pullaccess.aws.ecs_execution_role_ecr through ansible-runner against moto over HTTP.

moto runs with MOTO_IAM_LOAD_MANAGED_POLICIES=true, so the AWS managed policies exist and
can be attached; ECS task definitions are registered with boto3 in each test's setup.
"""

import json

import pytest

from integration.conftest import dump
from integration.harness import writes

MODULE = "pullaccess.aws.ecs_execution_role_ecr"
ACCOUNT = "123456789012"
OTHER = "210987654321"
REGION = "us-east-1"
EXEC_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
EC2_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
FOREIGN_POLICY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
FOREIGN_INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


@pytest.fixture
def iam(aws):
    return aws.client("iam")


def make_role(iam, name="exec", service="ecs-tasks.amazonaws.com", foreign=True):
    """A role with a foreign managed policy and a foreign inline policy attached."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    if foreign:
        iam.attach_role_policy(RoleName=name, PolicyArn=FOREIGN_POLICY)
        iam.put_role_policy(RoleName=name, PolicyName="theirs", PolicyDocument=json.dumps(FOREIGN_INLINE))
    return arn


def attached(iam, name="exec"):
    return sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])


def inline_names(iam, name="exec"):
    return sorted(iam.list_role_policies(RoleName=name)["PolicyNames"])


def four_way(ansible, aws, module_args, expect_ops):
    """amazon.aws's pattern: check (changed), real (changed), check again and real again
    (unchanged). Check runs and the converged run make no mutating call."""
    mark = aws.mark()
    check = ansible.module(MODULE, module_args, check=True, diff=True)
    assert not check.failed and check.changed, check
    assert writes(aws, mark) == [], "check mode made a mutating call"

    mark = aws.mark()
    real = ansible.module(MODULE, module_args, diff=True)
    assert not real.failed and real.changed, real
    assert sorted(writes(aws, mark)) == sorted(expect_ops)
    for key in ("role_arn", "attached_policy_arns", "inline_policy", "instance_profile_arns", "diff"):
        assert real.get(key) == check.get(key), f"check mode predicted another {key}: {dump(check.res)}"

    mark = aws.mark()
    again = ansible.module(MODULE, module_args, check=True, diff=True)
    assert not again.failed and not again.changed, again
    final = ansible.module(MODULE, module_args)
    assert not final.failed and not final.changed, final
    assert aws.requests(since=mark, mutating=True) == [], "a converged run wrote"
    return check, real


def test_fargate_managed_four_way_keeps_foreign_policies(ansible, aws, iam):
    arn = make_role(iam)
    check, real = four_way(ansible, aws, {"role_name": "exec"}, ["AttachRolePolicy"])
    assert real["role_name"] == "exec" and real["role_arn"] == arn and real["launch_type"] == "fargate"
    assert real["attached_policy_arns"] == sorted([EXEC_POLICY, FOREIGN_POLICY])
    assert real["inline_policy"] is None
    assert "images" not in real.res and "instance_profile_arns" not in real.res
    assert check["diff"]["before"]["attached_policy_arns"] == [FOREIGN_POLICY]
    assert check["diff"]["after"]["attached_policy_arns"] == sorted([EXEC_POLICY, FOREIGN_POLICY])
    assert attached(iam) == sorted([EXEC_POLICY, FOREIGN_POLICY])
    assert inline_names(iam) == ["theirs"], "a foreign inline policy was touched"
    assert json.loads(json.dumps(iam.get_role(RoleName="exec")["Role"]["AssumeRolePolicyDocument"]))["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"}


def test_ec2_managed_create_role_with_instance_profile(ansible, aws, iam):
    args = {"role_name": "ecs-instances", "launch_type": "ec2", "create_role": True}
    check, real = four_way(ansible, aws, args, ["CreateRole", "AttachRolePolicy", "CreateInstanceProfile", "AddRoleToInstanceProfile"])
    arn = f"arn:aws:iam::{ACCOUNT}:role/ecs-instances"
    assert real["role_arn"] == arn and check["role_arn"] == arn
    assert real["attached_policy_arns"] == [EC2_POLICY]
    assert real["instance_profile_arns"] == [f"arn:aws:iam::{ACCOUNT}:instance-profile/ecs-instances"]
    assert check["diff"]["before"] == {"role_arn": None, "attached_policy_arns": [], "inline_policy": None, "instance_profile_arns": []}
    role = iam.get_role(RoleName="ecs-instances")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    profile = iam.get_instance_profile(InstanceProfileName="ecs-instances")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["ecs-instances"]


def test_external_role_by_arn_and_create_with_path(ansible, aws, iam):
    # An existing ECS Anywhere role, given by ARN: the managed policy is attached, the trust kept.
    arn = make_role(iam, "anywhere", "ssm.amazonaws.com", foreign=False)
    mark = aws.mark()
    real = ansible.module(MODULE, {"role_name": arn, "launch_type": "external"})
    assert real.changed and not real.failed, real
    assert writes(aws, mark) == ["AttachRolePolicy"]
    assert real["attached_policy_arns"] == [EC2_POLICY]
    assert "instance_profile_arns" not in real.res
    # A missing one, given by ARN with a path, is created there with the SSM trust policy.
    path_arn = f"arn:aws:iam::{ACCOUNT}:role/ecs/anywhere-2"
    mark = aws.mark()
    created = ansible.module(MODULE, {"role_name": path_arn, "launch_type": "external", "create_role": True})
    assert created.changed and not created.failed, created
    assert writes(aws, mark) == ["CreateRole", "AttachRolePolicy"]
    assert created["role_arn"] == path_arn
    role = iam.get_role(RoleName="anywhere-2")["Role"]
    assert role["Path"] == "/ecs/" and role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ssm.amazonaws.com"}


def test_inline_with_repository_names_and_arns(ansible, aws, iam):
    make_role(iam)
    foreign_arn = f"arn:aws:ecr:eu-west-1:{OTHER}:repository/shared/base"
    args = {"role_name": "exec", "permissions": "inline", "repositories": ["web/app", foreign_arn]}
    check, real = four_way(ansible, aws, args, ["PutRolePolicy"])
    resources = sorted([f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/web/app", foreign_arn])
    expected = {"Version": "2012-10-17", "Statement": [
        {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
        {"Sid": "PullImages", "Effect": "Allow", "Action": PULL, "Resource": resources}]}
    assert real["inline_policy"] == {"policy_name": "ecr-pull", "policy_document": expected}
    assert iam.get_role_policy(RoleName="exec", PolicyName="ecr-pull")["PolicyDocument"] == expected
    assert check["diff"]["before"]["inline_policy"] is None and check["diff"]["after"]["inline_policy"] == expected
    assert attached(iam) == [FOREIGN_POLICY], "managed attachments changed"
    assert inline_names(iam) == ["ecr-pull", "theirs"]

    # Narrowing the scope rewrites only our policy.
    mark = aws.mark()
    narrowed = ansible.module(MODULE, dict(args, repositories=["web/app"]), diff=True)
    assert narrowed.changed and writes(aws, mark) == ["PutRolePolicy"], narrowed
    assert narrowed["diff"]["before"]["inline_policy"] == expected
    narrow = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/web/app"]
    stored = iam.get_role_policy(RoleName="exec", PolicyName="ecr-pull")["PolicyDocument"]
    pull = [s for s in stored["Statement"] if s.get("Sid") == "PullImages"]
    assert len(pull) == 1 and pull[0]["Resource"] == narrow, stored
    assert stored == {"Version": "2012-10-17", "Statement": [expected["Statement"][0], dict(expected["Statement"][1], Resource=narrow)]}, stored
    assert narrowed["diff"]["after"]["inline_policy"] == stored
    assert narrowed["inline_policy"] == {"policy_name": "ecr-pull", "policy_document": stored}
    assert iam.get_role_policy(RoleName="exec", PolicyName="theirs")["PolicyDocument"] == FOREIGN_INLINE


def test_equivalent_inline_policy_is_not_rewritten(ansible, aws, iam):
    make_role(iam)
    repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/web/app"
    # Same meaning, other shape: statements and actions reordered, strings for one-element lists, no Sids' order.
    iam.put_role_policy(RoleName="exec", PolicyName="pull", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Sid": "PullImages", "Resource": repo, "Action": list(reversed(PULL))},
        {"Sid": "GetAuthorizationToken", "Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"}]}, indent=2))
    mark = aws.mark()
    run = ansible.module(MODULE, {"role_name": "exec", "permissions": "inline", "policy_name": "pull", "repositories": ["web/app"]},
                         check=True)
    assert not run.failed and not run.changed, run
    run = ansible.module(MODULE, {"role_name": "exec", "permissions": "inline", "policy_name": "pull", "repositories": ["web/app"]})
    assert not run.failed and not run.changed, run
    assert aws.requests(since=mark, mutating=True) == []
    assert run["inline_policy"]["policy_name"] == "pull"


def test_task_definition_resolves_role_and_reports_images(ansible, aws, iam):
    arn = make_role(iam, foreign=False)
    ecs = aws.client("ecs")
    same = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web/app:1.4"
    far = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/web/app@sha256:" + "ab" * 32
    cross = f"{OTHER}.dkr.ecr.{REGION}.amazonaws.com/shared/base:2"
    containers = [
        {"name": "web", "image": same, "memory": 128},
        {"name": "far", "image": far, "memory": 128},
        {"name": "base", "image": cross, "memory": 128},
        {"name": "hub", "image": "my-repo:latest", "memory": 128},
    ]
    ecs.register_task_definition(family="web", executionRoleArn=arn, containerDefinitions=containers[:1])
    task_arn = ecs.register_task_definition(family="web", executionRoleArn=arn, containerDefinitions=containers)[
        "taskDefinition"]["taskDefinitionArn"]

    mark = aws.mark()
    run = ansible.module(MODULE, {"task_definition": "web", "permissions": "inline", "repositories": ["web/app"]})
    assert run.changed and not run.failed, run
    assert writes(aws, mark) == ["PutRolePolicy"]
    assert run["task_definition_arn"] == task_arn, "a family must resolve to its latest revision"
    assert run["role_name"] == "exec" and run["role_arn"] == arn
    images = {image["container_name"]: image for image in run["images"]}
    assert images["web"] == {
        "container_name": "web", "image": same, "full_ecr_uri": True, "registry_host": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com",
        "registry_id": ACCOUNT, "region": REGION, "partition": "aws", "repository": "web/app", "tag": "1.4", "digest": None}
    assert images["far"]["region"] == "eu-west-1" and images["far"]["tag"] is None and images["far"]["digest"].startswith("sha256:")
    assert images["hub"]["full_ecr_uri"] is False and images["hub"]["registry_host"] == "docker.io"
    assert run["cross_account_repositories"] == [{
        "registry_id": OTHER, "region": REGION, "repository": "shared/base", "arn": f"arn:aws:ecr:{REGION}:{OTHER}:repository/shared/base"}]
    warnings = "\n".join(run.get("warnings", []))
    assert "image 'my-repo:latest' is not a full ECR URI" in warnings, warnings
    assert f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/my-repo:latest" in warnings
    assert "container 'far'" in warnings and "region eu-west-1, not us-east-1" in warnings
    # The inline scope (web/app here) covers neither the other region's nor the other account's repository.
    assert f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/web/app of image" in warnings
    assert f"arn:aws:ecr:{REGION}:{OTHER}:repository/shared/base of image" in warnings
    assert "container 'web'" not in warnings

    # By ARN (revision 1, one image): converged, nothing written, no warnings about images.
    first = task_arn.replace(":2", ":1")
    mark = aws.mark()
    again = ansible.module(MODULE, {"task_definition": first, "permissions": "inline", "repositories": ["web/app"]})
    assert not again.changed and not again.failed, again
    assert aws.requests(since=mark, mutating=True) == []
    assert [image["container_name"] for image in again["images"]] == ["web"] and again["cross_account_repositories"] == []
    assert not again.get("warnings"), again


def test_absent_removes_only_what_it_manages(ansible, aws, iam):
    make_role(iam)
    iam.attach_role_policy(RoleName="exec", PolicyArn=EXEC_POLICY)
    iam.put_role_policy(RoleName="exec", PolicyName="ecr-pull", PolicyDocument=json.dumps(FOREIGN_INLINE))

    mark = aws.mark()
    check = ansible.module(MODULE, {"role_name": "exec", "state": "absent"}, check=True, diff=True)
    assert check.changed and writes(aws, mark) == [], check
    real = ansible.module(MODULE, {"role_name": "exec", "state": "absent"}, diff=True)
    assert real.changed and writes(aws, mark) == ["DetachRolePolicy"], real
    assert real["attached_policy_arns"] == [FOREIGN_POLICY] == check["attached_policy_arns"]
    assert real["diff"] == check["diff"]
    assert attached(iam) == [FOREIGN_POLICY] and inline_names(iam) == ["ecr-pull", "theirs"]

    mark = aws.mark()
    inline = ansible.module(MODULE, {"role_name": "exec", "permissions": "inline", "state": "absent"})
    assert inline.changed and writes(aws, mark) == ["DeleteRolePolicy"], inline
    assert inline["inline_policy"] is None
    assert attached(iam) == [FOREIGN_POLICY] and inline_names(iam) == ["theirs"]
    iam.get_role(RoleName="exec")  # the role stays

    # Converged, and a missing role is nothing to remove.
    mark = aws.mark()
    run = ansible.tasks([
        {"name": "managed", MODULE: {"role_name": "exec", "state": "absent"}},
        {"name": "inline", MODULE: {"role_name": "exec", "permissions": "inline", "state": "absent"}},
        {"name": "missing", MODULE: {"role_name": "nobody", "state": "absent"}},
    ])
    assert run.changed_tasks == [] and all(not r.failed for r in run.results), run.results
    assert run.task("missing")["role_arn"] is None
    assert aws.requests(since=mark, mutating=True) == []


def test_errors_are_clear_and_write_nothing(ansible, aws, iam):
    arn = make_role(iam, foreign=False)
    ecs = aws.client("ecs")
    ecs.register_task_definition(family="no-role", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
    cases = {
        "missing role": ({"role_name": "nobody"}, "role 'nobody' does not exist; nothing was changed"),
        "missing task definition": ({"task_definition": "ghost:3"}, "task definition 'ghost:3' does not exist in region us-east-1"),
        "no execution role": ({"task_definition": "no-role"}, "has no execution role (executionRoleArn)"),
        "malformed repository ARN": (
            {"role_name": "exec", "permissions": "inline", "repositories": [f"arn:aws:ecr:{REGION}:123:repository/app"]},
            f"repository ARN 'arn:aws:ecr:{REGION}:123:repository/app' is malformed: expected arn:<partition>:ecr:"),
        "repositories with managed": (
            {"role_name": "exec", "repositories": ["app"]},
            "repositories scopes the inline policy and cannot be used with permissions=managed: the AWS managed policies allow "
            "pulling from every repository (Resource *)"),
        "policy_name with managed": ({"role_name": "exec", "policy_name": "mine"}, "policy_name names the inline policy and only applies to"),
        "both role and task definition": ({"role_name": "exec", "task_definition": "web"}, "mutually exclusive: role_name|task_definition"),
        "neither role nor task definition": ({}, "one of the following is required: role_name, task_definition"),
        "task definition with ec2": ({"task_definition": "web", "launch_type": "ec2"}, "with launch_type=ec2 the container instance role pulls"),
        "role of another account": ({"role_name": arn.replace(ACCOUNT, OTHER)}, f"does not match the role IAM has under the name 'exec' ({arn})"),
        "create in another account": (
            {"role_name": f"arn:aws:iam::{OTHER}:role/new", "create_role": True}, f"the credentials are for account {ACCOUNT}"),
        "invalid role name": ({"role_name": "no spaces please"}, "is not a valid IAM role name"),
        "empty repositories": ({"role_name": "exec", "permissions": "inline", "repositories": []}, "repositories is empty"),
    }
    tasks = [{"name": name, MODULE: case[0], "ignore_errors": True} for name, case in cases.items()]
    tasks.append({"name": "missing role, check mode", MODULE: {"role_name": "nobody"}, "ignore_errors": True, "check_mode": True})
    mark = aws.mark()
    run = ansible.tasks(tasks)
    for name, (_args, message) in cases.items():
        result = run.task(name)
        assert result.failed and message in result.msg, f"{name}: {result}"
    assert "does not exist" in run.task("missing role, check mode").msg
    assert aws.requests(since=mark, mutating=True) == [], "a failed task wrote"
    assert attached(iam) == [] and inline_names(iam) == []
