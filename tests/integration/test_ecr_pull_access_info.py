# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""pullaccess.aws.ecr_pull_access_info through ansible-runner against the rig: a seeded account
with one example of every finding, a clean account with none, and bad input. The module only
reads: every run is checked against the rig's request log for mutating calls."""

import json
import time

import pytest

from integration.conftest import dump
from integration.harness import writes

MODULE = "pullaccess.aws.ecr_pull_access_info"
ACCOUNT = "123456789012"
OTHER = "444455556666"
TRUSTED = "777788889999"
REGION = "us-east-1"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
DELETED = "AROAEXAMPLEDELETED01"
MANAGED = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ROLE_OK = f"arn:aws:iam::{ACCOUNT}:role/exec-ok"
ROLE_NONE = f"arn:aws:iam::{ACCOUNT}:role/exec-none"
GONE_PULLER = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/gone/private-repo-access/{'0' * 52}"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:1"


def statement(sid, principal, actions=None, condition=None):
    found = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": actions or PULL}
    if condition:
        found["Condition"] = condition
    return found


def put_policy(ecr, repository, *statements):
    ecr.create_repository(repositoryName=repository)
    if statements:
        ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def service_with_puller(aws, name, active=True):
    """A READY Lightsail service; with ``active``, its puller role activated; returns (puller ARN, service principal ARN)."""
    client = aws.client("lightsail")
    client.create_container_service(serviceName=name, power="nano", scale=1)
    if active:
        wait_for(client, name, lambda s: s["state"] == "READY")
        client.update_container_service(serviceName=name, privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})
        found = wait_for(client, name, lambda s: s["state"] == "READY" and s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"])
    else:
        found = wait_for(client, name, lambda s: s["state"] == "READY")
    return found["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"], found["principalArn"]


def wait_for(client, name, done, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        found = client.get_container_services(serviceName=name)["containerServices"][0]
        if done(found):
            return found
        assert time.monotonic() < deadline, f"emulator did not settle: {dump(found)}"
        time.sleep(0.1)


def task_definition(ecs, family, role, images):
    ecs.register_task_definition(
        family=family, executionRoleArn=role, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": f"c{index}", "image": image, "memory": 128} for index, image in enumerate(images)],
    )


def declared(name, sid, mode="shared", repositories=("app",)):
    return {"type": "lightsail", "name": name, "sid": sid, "statement_mode": mode, "state": "present",
            "repositories": [{"name": repository, "registry_id": None, "region": REGION} for repository in repositories]}


@pytest.fixture
def seeded(aws):
    """One example of every finding (and a few grants that must not be findings)."""
    aws.lightsail_config(create_delay=0.1)
    web, web_own = service_with_puller(aws, "web")
    api = service_with_puller(aws, "api")[0]  # active, granted nowhere: unused
    old = service_with_puller(aws, "old")[0]
    aws.create_roles(ROLE_OK, ROLE_NONE, f"arn:aws:iam::{TRUSTED}:role/ci", f"arn:aws:iam::{OTHER}:role/ci")
    aws.client("iam").attach_role_policy(RoleName="exec-ok", PolicyArn=MANAGED)
    ecr = aws.client("ecr")
    # States ECR would refuse now (a deleted role's unique id, gone puller roles): planted with its principal check off.
    aws.ecr_settings(check_principals=False)
    put_policy(ecr, "app", statement("PullAccessLightsailShared", {"AWS": [web]}), statement("PullAccessLightsailRetired1a2b3c4d", {"AWS": web}),
               statement("OldDeploy", {"AWS": DELETED}))
    put_policy(ecr, "public-repo", statement("Everyone", "*"))
    put_policy(ecr, "org-repo", statement("Org", {"AWS": "*"}, condition={"ForAnyValue:StringEquals": {"AWS:PrincipalOrgID": "o-abc123"}}))
    put_policy(ecr, "cross-repo", statement("Partner", {"AWS": f"arn:aws:iam::{OTHER}:role/ci"}),
               statement("Ci", {"AWS": f"arn:aws:iam::{TRUSTED}:role/ci"}))
    put_policy(ecr, "stale-repo", statement("Old", {"AWS": [old, GONE_PULLER]}))
    put_policy(ecr, "trap-repo", statement("Trap", {"AWS": web_own}))
    put_policy(ecr, "push-repo", statement("PushToo", {"AWS": web}, actions=["ecr:*"]))
    put_policy(ecr, "big-repo", statement("Many", {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/r{i:04d}-{'x' * 40}" for i in range(115)]}))
    put_policy(ecr, "empty-repo")
    aws.ecr_settings(check_principals=True)
    lightsail = aws.client("lightsail")
    lightsail.update_container_service(serviceName="old", privateRegistryAccess={"ecrImagePullerRole": {"isActive": False}})
    wait_for(lightsail, "old", lambda s: s["state"] == "READY" and not s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"])
    ecs = aws.client("ecs")
    task_definition(ecs, "app-ok", ROLE_OK, [IMAGE])
    task_definition(ecs, "app-bad", ROLE_NONE, [IMAGE, "nginx:latest"])
    ecs.create_cluster(clusterName="prod")
    ecs.create_service(cluster="prod", serviceName="bad", taskDefinition="app-bad", desiredCount=0)
    return {"web": web, "api": api, "old": old, "web_own": web_own}


def run(ansible, aws, **args):
    mark = aws.mark()
    result = ansible.module(MODULE, dict({"region": REGION}, **args))
    assert writes(aws, mark) == [], "the info module made a mutating call"
    return result


def test_every_finding_of_the_seeded_account(ansible, aws, seeded):
    web_sid = "PullAccessLightsailWebabcdef12"
    result = run(ansible, aws, task_definitions=["app-ok"], clusters=["prod"], trusted_accounts=[TRUSTED],
                 declared=[declared("web", web_sid), declared("api", "PullAccessLightsailApi12345678")])
    assert not result.failed, result
    assert result.changed is False
    found = sorted((f["code"], f["target"]) for f in result["findings"])
    assert found == sorted([
        ("PUBLIC_PULL", "public-repo"),
        ("UNTRUSTED_ACCOUNT", "cross-repo"),
        ("DELETED_PRINCIPAL", "app"),
        ("STALE_LIGHTSAIL_GRANT", "stale-repo"),  # the deactivated puller of "old"
        ("STALE_LIGHTSAIL_GRANT", "stale-repo"),  # the puller of a service that is gone
        ("UNUSED_LIGHTSAIL_PULLER", "lightsail:api"),
        ("SERVICE_PRINCIPAL_GRANTED", "trap-repo"),
        ("BROAD_ACTIONS", "push-repo"),
        ("POLICY_NEAR_LIMIT", "big-repo"),
        ("ECS_ROLE_CANNOT_PULL", "ecs:app-bad:1"),
        ("ECS_IMAGE_NOT_ECR_URI", "ecs:app-bad:1"),
        ("UNDECLARED_GRANT", "app"),  # PullAccessLightsailRetired1a2b3c4d
        ("MISSING_GRANT", "lightsail:api"),
    ]), dump(result["findings"])
    by_code = {f["code"]: f for f in result["findings"]}
    assert by_code["PUBLIC_PULL"]["severity"] == "critical"
    assert by_code["UNTRUSTED_ACCOUNT"]["principal"] == f"arn:aws:iam::{OTHER}:role/ci"
    assert by_code["DELETED_PRINCIPAL"]["principal"] == DELETED
    assert by_code["SERVICE_PRINCIPAL_GRANTED"]["principal"] == seeded["web_own"]
    assert by_code["UNDECLARED_GRANT"]["sid"] == "PullAccessLightsailRetired1a2b3c4d"
    assert {f["principal"] for f in result["findings"] if f["code"] == "STALE_LIGHTSAIL_GRANT"} == {seeded["old"], GONE_PULLER}
    assert all(f["remedy"] and f["message"] for f in result["findings"])
    assert result["summary"]["critical"] == 1

    repositories = {r["name"]: r for r in result["repositories"]}
    assert set(repositories) == {"app", "public-repo", "org-repo", "cross-repo", "stale-repo", "trap-repo", "push-repo", "big-repo", "empty-repo"}
    assert [(g["kind"], g["principal"]) for g in repositories["org-repo"]["grants"]] == [("organization", "o-abc123")]
    assert repositories["empty-repo"]["policy"] is None and repositories["empty-repo"]["grants"] == []
    assert repositories["big-repo"]["policy_size_percent"] > 80
    app_grants = {(g["kind"], g["sid"]) for g in repositories["app"]["grants"]}
    assert app_grants == {("lightsail_puller", "PullAccessLightsailShared"), ("lightsail_puller", "PullAccessLightsailRetired1a2b3c4d"),
                          ("unique_id", "OldDeploy")}

    workloads = {w["id"]: w for w in result["workloads"]}
    assert set(workloads) == {"lightsail:web", "lightsail:api", "lightsail:old", "ecs:app-ok:1", "ecs:app-bad:1"}
    assert workloads["lightsail:web"]["puller_arn"] == seeded["web"]
    assert workloads["lightsail:web"]["repositories"] == ["app", "public-repo", "push-repo"]
    assert workloads["lightsail:old"]["puller_active"] is False
    assert workloads["ecs:app-ok:1"]["repositories"] == ["app"]
    assert workloads["ecs:app-bad:1"]["repositories"] == []
    assert workloads["ecs:app-ok:1"]["role_permissions"] == {"pull_managed_policies": [MANAGED], "inline_policies": []}
    assert workloads["ecs:app-bad:1"]["role_permissions"] == {"pull_managed_policies": [], "inline_policies": []}
    # Required by the task definition, then the launch type of the cluster service using it (EC2, the default).
    assert workloads["ecs:app-bad:1"]["launch_types"] == ["FARGATE", "EC2"]
    cells = {(c["repository"], c["workload"]): c["kind"] for c in result["matrix"]["cells"]}
    assert cells[("app", "lightsail:web")] == "lightsail_puller"
    assert cells[("public-repo", "lightsail:web")] == "public"
    assert cells[("app", "ecs:app-ok:1")] == "identity_policy"
    assert ("app", "lightsail:api") not in cells


def test_named_repositories_and_services(ansible, aws, seeded):
    result = run(ansible, aws, repositories=["app", "trap-repo"], service_names=["web"])
    assert not result.failed, result
    assert [r["name"] for r in result["repositories"]] == ["app", "trap-repo"]
    assert [w["id"] for w in result["workloads"]] == ["lightsail:web"]
    # Not every repository was read: an active puller may be granted elsewhere, so "unused" is not reported.
    assert sorted(f["code"] for f in result["findings"]) == ["DELETED_PRINCIPAL", "SERVICE_PRINCIPAL_GRANTED"]
    assert seeded


def test_clean_account_has_no_findings(ansible, aws):
    aws.lightsail_config(create_delay=0.1)
    web = service_with_puller(aws, "web")[0]
    aws.create_roles(ROLE_OK)
    aws.client("iam").attach_role_policy(RoleName="exec-ok", PolicyArn=MANAGED)
    put_policy(aws.client("ecr"), "app", statement("PullAccessLightsailShared", {"AWS": [web]}),
               statement("Org", "*", condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))
    task_definition(aws.client("ecs"), "app-ok", ROLE_OK, [IMAGE])
    result = run(ansible, aws, task_definitions=["app-ok"], declared=[declared("web", "PullAccessLightsailWebabcdef12")])
    assert not result.failed, result
    assert result["findings"] == [], dump(result["findings"])
    assert result["summary"] == {"info": 0, "low": 0, "medium": 0, "high": 0, "critical": 0}
    cells = {(c["repository"], c["workload"]): c["kind"] for c in result["matrix"]["cells"]}
    assert cells == {("app", "lightsail:web"): "lightsail_puller", ("app", "ecs:app-ok:1"): "identity_policy"}


@pytest.mark.parametrize(
    "args, message",
    [
        ({"registry_id": "12345"}, "registry_id '12345' is not a 12-digit account id"),
        ({"trusted_accounts": ["x"], "repositories": ["Bad Name"]}, "'Bad Name' is not a valid ECR repository name"),
        ({"declared": [{"name": "web"}]}, "declared[0] needs type"),
        ({"repositories": ["nope"]}, "repository 'nope'"),
        ({"service_names": ["nope"]}, "'nope' do not exist in region us-east-1"),
        ({"task_definitions": ["nope"]}, "task definition 'nope' does not exist"),
    ],
    ids=["registry-id", "several-problems", "declared", "missing-repository", "missing-service", "missing-task-definition"],
)
def test_bad_input_fails_clearly(ansible, aws, args, message):
    result = run(ansible, aws, **args)
    assert result.failed, result
    assert message in result.msg, result.msg


def test_cross_account_registry(ansible, aws):
    """registry_id reads another account's registry: its repository policy decides whether this
    account's ECS role can pull an image from it."""
    other_ecr = aws.account_client("ecr", OTHER)
    aws.create_roles(ROLE_OK)
    aws.client("iam").attach_role_policy(RoleName="exec-ok", PolicyArn=MANAGED)
    put_policy(other_ecr, "base", statement("AppRole", {"AWS": ROLE_OK}))
    put_policy(other_ecr, "closed")
    ecs = aws.client("ecs")
    task_definition(ecs, "uses-base", ROLE_OK, [f"{OTHER}.dkr.ecr.{REGION}.amazonaws.com/base:1"])
    task_definition(ecs, "uses-closed", ROLE_OK, [f"{OTHER}.dkr.ecr.{REGION}.amazonaws.com/closed:1"])
    args = {"registry_id": OTHER, "lightsail": False, "task_definitions": ["uses-base", "uses-closed"]}
    result = run(ansible, aws, **args)
    assert not result.failed, result
    assert result["account_id"] == OTHER
    assert [r["name"] for r in result["repositories"]] == ["base", "closed"]
    assert [(g["kind"], g["account_id"]) for g in result["repositories"][0]["grants"]] == [("ecs_role", ACCOUNT)]
    workloads = {w["id"]: w["repositories"] for w in result["workloads"]}
    assert workloads == {"ecs:uses-base:1": ["base"], "ecs:uses-closed:1": []}
    found = sorted((f["code"], f["target"]) for f in result["findings"])
    # The registry's own account is trusted; this account is not (unless listed).
    assert found == [("ECS_ROLE_CANNOT_PULL", "ecs:uses-closed:1"), ("UNTRUSTED_ACCOUNT", "base")], dump(result["findings"])
    trusted = run(ansible, aws, trusted_accounts=[ACCOUNT], **args)
    assert [f["code"] for f in trusted["findings"]] == ["ECS_ROLE_CANNOT_PULL"]


def test_module_defaults_group(ansible, aws):
    """The module is in the group/pullaccess.aws.aws action group: module_defaults gives it the
    region and the credentials (none in the environment), and it runs the same in check mode."""
    aws.client("ecr").create_repository(repositoryName="app")
    play = [{"hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/pullaccess.aws.aws": {"region": REGION, "access_key": "testing", "secret_key": "testing"}},
             "tasks": [{"name": "under test", MODULE: {"lightsail": False}}]}]
    no_credentials = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": ""}
    for check in (False, True):
        mark = aws.mark()
        run = ansible.play(play, env=no_credentials, check=check)
        assert run.rc == 0, run.stdout
        result = run.task("under test")
        assert [r["name"] for r in result["repositories"]] == ["app"] and result["region"] == REGION
        assert writes(aws, mark) == []
    del play[0]["module_defaults"]
    assert ansible.play(play, env=no_credentials).rc != 0
