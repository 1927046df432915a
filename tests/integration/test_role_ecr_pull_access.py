# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ecr_pull_access role and the shipped playbooks, through ansible-runner against the rig."""

import collections
import json
import os
import time

import pytest

from integration.conftest import repository_policy as policy

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCOUNT = "123456789012"
FOREIGN = {"Sid": "CiPush", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/ci"},
           "Action": ["ecr:PutImage", "ecr:UploadLayerPart"]}
GRANT = "pullaccess.aws.grant"
REVOKE = "pullaccess.aws.revoke"
POLICY_TASK = "Write each repository's policy once for all workloads of the play"
# The rig's environment carries its `testing` key; blanked, a run has only the credentials it is given.
NO_ENV_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
ECS_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def playbook(name):
    """A shipped playbook, by path (ansible-runner wants a file; the FQCN form is tested separately)."""
    return os.path.join(REPO_ROOT, "playbooks", name.rsplit(".", 1)[-1] + ".yml")


def fleet_inventory(services=3, extra=None):
    """Lightsail services sharing repositories via group vars, one host adding one, plus an ECS
    Fargate workload."""
    hosts = {f"svc{i}": {} for i in range(services)}
    hosts["svc0"] = {"ecr_pull_access_extra_repositories": ["worker"]}
    inventory = {
        "all": {
            "vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_statement_mode": "workload", "ecr_pull_access_verify_delay": 0.2},
            "children": {
                "lightsail": {
                    "hosts": hosts,
                    "vars": {"ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["web", "shared/base"]},
                },
                "fargate": {
                    "hosts": {"api-task": {
                        "ecr_pull_access_type": "ecs",
                        "ecr_pull_access_ecs_role_name": "api-execution",
                        "ecr_pull_access_ecs_permissions": "inline",
                        "ecr_pull_access_repositories": ["web"],
                    }},
                },
            },
        }
    }
    for host, values in (extra or {}).items():
        inventory["all"]["children"]["lightsail"]["hosts"].setdefault(host, {}).update(values)
    return inventory


@pytest.fixture
def account(aws):
    """Repositories (one with someone else's statement), Lightsail services, an execution role."""
    ecr = aws.client("ecr")
    for name in ("web", "worker", "shared/base"):
        ecr.create_repository(repositoryName=name)
    aws.create_roles(FOREIGN["Principal"]["AWS"])  # ECR refuses principals that do not exist
    ecr.set_repository_policy(repositoryName="web", policyText=json.dumps({"Version": "2008-10-17", "Statement": [FOREIGN]}))
    lightsail = aws.client("lightsail")
    for i in range(3):
        lightsail.create_container_service(serviceName=f"svc{i}", power="nano", scale=1)
    aws.client("iam").create_role(RoleName="api-execution", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    aws.lightsail_config(puller_delay=0.3)
    return aws


def sids(aws, repository):
    document = policy(aws, repository)
    return sorted(s.get("Sid", "") for s in document["Statement"]) if document else []


def puller_arns(aws):
    return {s["containerServiceName"]: s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
            for s in aws.client("lightsail").get_container_services()["containerServices"]}


def policy_writes(aws, mark):
    return aws.requests(since=mark, mutating=True, service="ecr")


def meaning(document):
    """A policy document reduced to what it means, so that a re-serialised copy (statement and
    list order, a string for a one-item list, action case) compares equal."""
    if document is None:
        return None

    def as_set(value, fold=False):
        values = [value] if isinstance(value, str) else list(value)
        return frozenset(item.lower() if fold else item for item in values)

    statements = []
    for statement in document["Statement"]:
        principal = statement.get("Principal")
        principal = principal if isinstance(principal, str) else tuple(sorted((kind, as_set(value)) for kind, value in principal.items()))
        statements.append((statement.get("Sid"), statement["Effect"], principal, as_set(statement["Action"], fold=True),
                           json.dumps(statement.get("Condition"), sort_keys=True)))
    return document.get("Version"), frozenset(statements)


def wait_for_reads(aws, since, started, count, timeout=120.0):
    """Wait until the run ``started`` has made ``count`` GetContainerServices calls since ``since``
    (or has ended); returns how many it made."""
    deadline = time.monotonic() + timeout
    while True:
        found = len(aws.requests(since=since, operation="GetContainerServices"))
        if found >= count or not started[0].is_alive():
            return found
        assert time.monotonic() < deadline, f"only {found} GetContainerServices calls after {timeout:g} s"
        time.sleep(0.1)


def activate_pullers(aws, names):
    """Activate the services' puller roles directly (not through the collection); returns their ARNs."""
    lightsail = aws.client("lightsail")
    deadline = time.monotonic() + 60
    while any(s["state"] != "READY" for s in lightsail.get_container_services()["containerServices"] if s["containerServiceName"] in names):
        assert time.monotonic() < deadline, "services not READY"
        time.sleep(0.1)
    for name in names:
        lightsail.update_container_service(serviceName=name, privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})
    while True:
        arns = {name: arn for name, arn in puller_arns(aws).items() if name in names}
        if all(arns.values()) and all(s["state"] == "READY" for s in lightsail.get_container_services()["containerServices"]):
            return arns
        assert time.monotonic() < deadline, f"puller roles not active: {arns}"
        time.sleep(0.1)


def test_grant_check_rerun_revoke(ansible, account):
    aws = account
    inventory = fleet_inventory()

    # Dry run: no mutating call at all; says plainly that puller ARNs are not known yet.
    mark = aws.mark()
    dry = ansible.play(playbook(GRANT), inventory=inventory, check=True, diff=True)
    assert dry.rc == 0, dry.stdout
    assert aws.requests(since=mark, mutating=True) == []
    unknown = dry.task("Say what a dry run cannot show yet")
    assert "only exist after a real run activates them" in unknown.msg, unknown
    assert all(f"{name} (" in unknown.msg for name in ("svc0", "svc1", "svc2")), unknown
    activation = dry.task("Read the Lightsail services' ECR image puller roles (one call per region; nothing is changed)")
    assert activation.changed, activation
    pullers = activation["results"][0]["pullers"]
    assert sorted(p["service_name"] for p in pullers) == ["svc0", "svc1", "svc2"]
    assert not any(p["principal_arn_known"] for p in pullers), pullers

    # Real run: at most one policy write per repository for the whole fleet, and the puller
    # roles of all three services switched with one read of the region (plus polls).
    mark = aws.mark()
    real = ansible.play(playbook(GRANT), inventory=inventory, diff=True)
    assert real.rc == 0, real.stdout
    assert len(aws.requests(since=mark, operation="UpdateContainerService")) == 3
    # Everything is read and checked before the first write; then each repository policy is
    # read once more to write it (the check ran before the activation) and read back once.
    calls = aws.requests(since=mark)
    first_write = next(i for i, r in enumerate(calls) if r["mutating"])
    assert {r["operation"] for r in calls[:first_write]} >= {"GetContainerServices", "GetRole", "GetRepositoryPolicy"}, calls[:first_write]
    assert sum(r["operation"] == "GetRepositoryPolicy" for r in calls[:first_write]) == 3, calls[:first_write]  # web, shared/base, worker
    writes = policy_writes(aws, mark)
    per_repo = {}
    for request in writes:
        per_repo[request["operation"]] = per_repo.get(request["operation"], 0) + 1
    assert per_repo == {"SetRepositoryPolicy": 3}, writes  # web, shared/base, worker

    arns = puller_arns(aws)
    assert all(arns.values()), arns
    web = policy(aws, "web")
    assert web["Version"] == "2008-10-17" and web["Statement"][0] == FOREIGN, "foreign statement changed"
    web_principals = sorted(p for s in web["Statement"][1:] for p in s["Principal"]["AWS"])
    assert web_principals == sorted(arns.values()), web  # the ECS role is same-account: IAM, not the repo policy
    worker = policy(aws, "worker")
    assert [s["Principal"]["AWS"] for s in worker["Statement"]] == [[arns["svc0"]]]
    assert len(policy(aws, "shared/base")["Statement"]) == 3
    inline = aws.client("iam").get_role_policy(RoleName="api-execution", PolicyName="ecr-pull")
    assert "ecr:BatchGetImage" in json.dumps(inline["PolicyDocument"])

    # Re-run: nothing changes, nothing is written.
    mark = aws.mark()
    again = ansible.play(playbook(GRANT), inventory=inventory)
    assert again.rc == 0, again.stdout
    assert again.changed_tasks == [], again.changed_tasks
    assert aws.requests(since=mark, mutating=True) == []

    # Dry run of the revoke shows changes and writes nothing.
    mark = aws.mark()
    dry_revoke = ansible.play(playbook(REVOKE), inventory=inventory, check=True, diff=True)
    assert dry_revoke.rc == 0 and dry_revoke.changed_tasks, dry_revoke.stdout
    assert aws.requests(since=mark, mutating=True) == []

    revoke = ansible.play(playbook(REVOKE), inventory=inventory)
    assert revoke.rc == 0, revoke.stdout
    assert policy(aws, "web") == {"Version": "2008-10-17", "Statement": [FOREIGN]}
    assert policy(aws, "worker") is None and policy(aws, "shared/base") is None
    assert not any(puller_arns(aws).values())
    assert aws.client("iam").list_role_policies(RoleName="api-execution")["PolicyNames"] == []
    # Order: statements removed before the puller roles were deactivated.
    ops = [(r["service"], r["operation"]) for r in aws.requests(since=mark, mutating=True)]
    last_policy = max(i for i, op in enumerate(ops) if op[0] == "ecr")
    first_deactivation = min(i for i, op in enumerate(ops) if op == ("lightsail", "UpdateContainerService"))
    assert last_policy < first_deactivation, ops


def test_exclusive_revokes_undeclared_repository(ansible, account):
    aws = account
    inventory = fleet_inventory(extra={"svc0": {"ecr_pull_access_exclusive": True}})
    assert ansible.play(playbook(GRANT), inventory=inventory).rc == 0
    svc0_sid = [s["Sid"] for s in policy(aws, "worker")["Statement"]][0]

    # svc0 stops declaring worker; worker is still seen through the cleanup list.
    inventory["all"]["children"]["lightsail"]["hosts"]["svc0"] = {
        "ecr_pull_access_exclusive": True, "ecr_pull_access_cleanup_repositories": ["worker"]}
    run = ansible.play(playbook(GRANT), inventory=inventory)
    assert run.rc == 0, run.stdout
    assert policy(aws, "worker") is None
    assert svc0_sid in sids(aws, "web"), "svc0 still declares web"
    assert len(policy(aws, "web")["Statement"]) == 4  # foreign + 3 services, untouched


@pytest.mark.parametrize(
    "host_vars, message",
    [
        ({"ecr_pull_access_type": "kubernetes"}, "is not one of lightsail, ecs"),
        ({"ecr_pull_access_repositories": ["arn:aws:ecr:eu-west-1:123456789012:repository/web"]},
         "can only pull from ECR repositories in its own Region"),
        ({"ecr_pull_access_repositories": ["arn:aws:ecr:us-east-1:12345:repository/web"]}, "not a valid ECR repository ARN"),
        ({"ecr_pull_access_repositories": ["Bad Name"]}, "is not valid"),
    ],
    ids=["unknown-type", "region-mismatch", "malformed-arn", "malformed-name"],
)
def test_bad_declaration_fails_before_any_write(ansible, account, host_vars, message):
    aws = account
    inventory = fleet_inventory(extra={"svc2": host_vars})
    mark = aws.mark()
    run = ansible.play(playbook(GRANT), inventory=inventory)
    assert run.rc != 0
    assert message in run.stdout, run.stdout
    assert aws.requests(since=mark, mutating=True) == [], "a bad declaration must stop the run before any write"


def test_concurrent_job_slices(ansible, aws):
    """AWX job slicing: several ansible-runner jobs over slices of one inventory at once, all
    writing the same repositories. Every declared grant must be there afterwards, and nothing
    foreign changed."""
    ecr = aws.client("ecr")
    for name in ("web", "shared/base"):
        ecr.create_repository(repositoryName=name)
    aws.create_roles(FOREIGN["Principal"]["AWS"])  # ECR refuses principals that do not exist
    ecr.set_repository_policy(repositoryName="web", policyText=json.dumps({"Version": "2008-10-17", "Statement": [FOREIGN]}))
    services = [f"slice-svc{i}" for i in range(6)]
    lightsail = aws.client("lightsail")
    for name in services:
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    aws.lightsail_config(puller_delay=0.3)
    inventory = {"all": {
        "vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_statement_mode": "workload", "ecr_pull_access_type": "lightsail",
                 "ecr_pull_access_repositories": ["web", "shared/base"], "ecr_pull_access_verify_delay": 1.0},
        "hosts": {name: {} for name in services},
    }}
    slices = [",".join(services[i::3]) for i in range(3)]
    started = [ansible.start(playbook(GRANT), inventory=json.loads(json.dumps(inventory)), limit=part) for part in slices]
    runs = [ansible.finish(job) for job in started]
    for run in runs:
        assert run.rc == 0, run.stdout

    arns = puller_arns(aws)
    assert all(arns[name] for name in services), arns
    for repository in ("web", "shared/base"):
        document = policy(aws, repository)
        granted = sorted(p for s in document["Statement"] if s.get("Sid", "").startswith("PullAccess") for p in s["Principal"]["AWS"])
        assert granted == sorted(arns[name] for name in services), f"{repository}: {document}"
    assert policy(aws, "web")["Statement"][0] == FOREIGN
    assert len(policy(aws, "web")["Statement"]) == 1 + len(services)


def test_cross_account_repository(ansible, aws):
    """An ECS role and a Lightsail service pulling from a repository in another account: the
    repository's own policy (in that account) gets their statements; revoke takes them out."""
    other = "222222222222"
    other_ecr = aws.account_client("ecr", other)
    other_ecr.create_repository(repositoryName="base")
    aws.create_roles(FOREIGN["Principal"]["AWS"])  # ECR refuses principals that do not exist
    other_ecr.set_repository_policy(repositoryName="base", policyText=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
    aws.client("lightsail").create_container_service(serviceName="svc0", power="nano", scale=1)
    aws.lightsail_config(puller_delay=0.3)
    role = aws.client("iam").create_role(RoleName="api-execution", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]
    inventory = {"all": {"vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_statement_mode": "workload",
                                  "ecr_pull_access_verify_delay": 0.2}, "hosts": {
        "svc0": {"ecr_pull_access_type": "lightsail",
                 "ecr_pull_access_repositories": [f"arn:aws:ecr:us-east-1:{other}:repository/base"]},
        "api-task": {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "api-execution",
                     "ecr_pull_access_ecs_permissions": "inline",
                     "ecr_pull_access_repositories": [{"name": "base", "registry_id": other}]},
    }}}

    def other_policy():
        return json.loads(other_ecr.get_repository_policy(repositoryName="base")["policyText"])

    mark = aws.mark()
    run = ansible.play(playbook(GRANT), inventory=inventory)
    assert run.rc == 0, run.stdout
    writes = aws.requests(since=mark, mutating=True, service="ecr")
    assert [(r["operation"], r.get("registry_id")) for r in writes] == [("SetRepositoryPolicy", other)], writes
    document = other_policy()
    assert document["Statement"][0] == FOREIGN
    by_principal = {s["Principal"]["AWS"][0]: s for s in document["Statement"][1:]}
    assert set(by_principal) == {role["Arn"], puller_arns(aws)["svc0"]}, document
    assert "ecr:BatchCheckLayerAvailability" in by_principal[role["Arn"]]["Action"]
    inline = aws.client("iam").get_role_policy(RoleName="api-execution", PolicyName="ecr-pull")["PolicyDocument"]
    assert f"arn:aws:ecr:us-east-1:{other}:repository/base" in json.dumps(inline)

    mark = aws.mark()
    assert ansible.play(playbook(GRANT), inventory=inventory).rc == 0
    assert aws.requests(since=mark, mutating=True) == []

    assert ansible.play(playbook(REVOKE), inventory=inventory).rc == 0
    assert other_policy() == {"Version": "2012-10-17", "Statement": [FOREIGN]}


def test_credentials_from_callers_module_defaults(ansible, aws):
    """A caller's `module_defaults: group/pullaccess.aws.aws` reaches the role's modules: with no
    credentials in the environment, the grant only works because module_defaults gives them."""
    aws.client("ecr").create_repository(repositoryName="web")
    aws.client("lightsail").create_container_service(serviceName="svc0", power="nano", scale=1)
    aws.lightsail_config(puller_delay=0.3)
    play = [{
        "name": "Caller's own playbook",
        "hosts": "all",
        "gather_facts": False,
        "module_defaults": {"group/pullaccess.aws.aws": {"access_key": "testing", "secret_key": "testing"}},
        "tasks": [{"name": "Grant", "ansible.builtin.include_role": {"name": "pullaccess.aws.ecr_pull_access"}}],
    }]
    inventory = {"all": {"vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_statement_mode": "workload",
                                  "ecr_pull_access_verify_delay": 0.2}, "hosts": {
        "svc0": {"ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["web"]}}}}
    no_credentials = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    run = ansible.play(play, inventory=inventory, env=no_credentials)
    assert run.rc == 0, run.stdout
    assert [s["Principal"]["AWS"] for s in policy(aws, "web")["Statement"]] == [[puller_arns(aws)["svc0"]]]

    # The same play without module_defaults has no credentials at all: it must fail.
    del play[0]["module_defaults"]
    failed = ansible.play(play, inventory=inventory, env=no_credentials)
    assert failed.rc != 0
    assert "credentials" in failed.stdout.lower(), failed.stdout


def test_ec2_and_external_ecs_workloads(ansible, aws):
    """ECS on EC2 (container instance role created with its instance profile, AWS managed policy)
    and ECS Anywhere (existing instance role, inline policy, a repository in another account)
    through the role: dry run, grant, re-run, revoke."""
    other = "222222222222"
    aws.client("ecr").create_repository(repositoryName="web")
    other_ecr = aws.account_client("ecr", other)
    other_ecr.create_repository(repositoryName="base")
    iam = aws.client("iam")
    anywhere = iam.create_role(RoleName="anywhere", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]
    inventory = {"all": {"vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_statement_mode": "workload", "ecr_pull_access_verify_delay": 0.2,
                                  "ecr_pull_access_type": "ecs"}, "hosts": {
        "cluster-instances": {"ecr_pull_access_ecs_role_name": "ecs-instances", "ecr_pull_access_ecs_launch_type": "ec2",
                              "ecr_pull_access_ecs_create_role": True, "ecr_pull_access_repositories": ["web"]},
        "edge": {"ecr_pull_access_ecs_role_name": "anywhere", "ecr_pull_access_ecs_launch_type": "external",
                 "ecr_pull_access_ecs_permissions": "inline",
                 "ecr_pull_access_repositories": ["web", {"name": "base", "registry_id": other}]},
    }}}
    ec2_policy = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"

    mark = aws.mark()
    dry = ansible.play(playbook(GRANT), inventory=inventory, check=True, diff=True)
    assert dry.rc == 0, dry.stdout
    assert aws.requests(since=mark, mutating=True) == []
    assert "ecs-instances" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]

    run = ansible.play(playbook(GRANT), inventory=inventory)
    assert run.rc == 0, run.stdout
    role = iam.get_role(RoleName="ecs-instances")["Role"]
    assert "ec2.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="ecs-instances")["AttachedPolicies"]] == [ec2_policy]
    profiles = iam.list_instance_profiles_for_role(RoleName="ecs-instances")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in profiles] == ["ecs-instances"]
    inline = json.dumps(iam.get_role_policy(RoleName="anywhere", PolicyName="ecr-pull")["PolicyDocument"])
    assert f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web" in inline and f"arn:aws:ecr:us-east-1:{other}:repository/base" in inline
    assert iam.list_attached_role_policies(RoleName="anywhere")["AttachedPolicies"] == []
    # Same-account pulls come from IAM; only the other account's repository names the role.
    assert policy(aws, "web") is None
    document = json.loads(other_ecr.get_repository_policy(repositoryName="base")["policyText"])
    assert [s["Principal"]["AWS"] for s in document["Statement"]] == [[anywhere["Arn"]]], document

    mark = aws.mark()
    again = ansible.play(playbook(GRANT), inventory=inventory)
    assert again.rc == 0 and again.changed_tasks == [], again.stdout
    assert aws.requests(since=mark, mutating=True) == []

    assert ansible.play(playbook(REVOKE), inventory=inventory).rc == 0
    assert iam.list_attached_role_policies(RoleName="ecs-instances")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="anywhere")["PolicyNames"] == []
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName="ecs-instances")["InstanceProfiles"]] == ["ecs-instances"]
    other_ecr_policy = other_ecr.get_repository_policy
    with pytest.raises(other_ecr.exceptions.RepositoryPolicyNotFoundException):
        other_ecr_policy(repositoryName="base")


def test_dry_run_predicts_the_policies_the_real_run_writes(ansible, account):
    """With the puller roles already active (their ARNs known to a dry run), the policies a dry
    run predicts (its diff and the returned policies) are, by meaning, the ones the real run then
    stores."""
    aws = account
    arns = activate_pullers(aws, ["svc0", "svc1", "svc2"])
    inventory = fleet_inventory()
    before = {repository: policy(aws, repository) for repository in ("web", "worker", "shared/base")}

    mark = aws.mark()
    dry = ansible.play(playbook(GRANT), inventory=inventory, check=True, diff=True)
    assert dry.rc == 0, dry.stdout
    assert aws.requests(since=mark, mutating=True) == []
    assert "only exists after a real run activates it" not in dry.stdout, "the dry run did not know the puller ARNs"
    results = dry.task(POLICY_TASK)["results"]
    diffs = {entry["after_header"]: entry for result in results for entry in result["diff"]}
    returned = {entry["repository"]: entry["policy"] for result in results for entry in result["policies"]}
    assert sorted(diffs) == sorted(returned) == ["shared/base", "web", "worker"], (sorted(diffs), sorted(returned))
    for repository, entry in diffs.items():
        assert meaning(json.loads(entry["before"]) if entry["before"] else None) == meaning(before[repository]), repository

    real = ansible.play(playbook(GRANT), inventory=inventory)
    assert real.rc == 0, real.stdout
    assert not aws.requests(since=mark, operation="UpdateContainerService"), "the puller roles were active already"
    for repository in diffs:
        stored = policy(aws, repository)
        assert meaning(json.loads(diffs[repository]["after"])) == meaning(stored), (repository, diffs[repository]["after"], stored)
        assert meaning(returned[repository]) == meaning(stored), (repository, returned[repository], stored)
    # And what is stored is the grant: the foreign statement plus the three puller roles.
    web = policy(aws, "web")
    assert web["Statement"][0] == FOREIGN
    assert sorted(p for s in web["Statement"][1:] for p in s["Principal"]["AWS"]) == sorted(arns.values())


def test_credentials_from_role_variables(ansible, aws):
    """The role's own credential variables reach every module: with no key in the environment,
    and IAM enforcement on (so the secret key must sign correctly too), the grant works and the
    rig's log shows every request signed with the variables' key. ecr_pull_access_aws_endpoint_url
    is checked with an ECS revoke (IAM and ECR) whose environment points at a dead endpoint; one
    URL cannot serve both moto and the Lightsail emulator, which listen on different ports."""
    other = "222222222222"
    aws.client("ecr").create_repository(repositoryName="web")
    aws.account_client("ecr", other).create_repository(repositoryName="base")
    aws.client("lightsail").create_container_service(serviceName="svc0", power="nano", scale=1)
    aws.client("iam").create_role(RoleName="api-execution", AssumeRolePolicyDocument=json.dumps(ECS_TRUST))
    aws.lightsail_config(puller_delay=0.3)
    creds = aws.create_limited_credentials({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                                           name="role-variables")
    key = creds["AWS_ACCESS_KEY_ID"]
    variables = {"ecr_pull_access_aws_access_key": key, "ecr_pull_access_aws_secret_key": creds["AWS_SECRET_ACCESS_KEY"],
                 "ecr_pull_access_region": "us-east-1", "ecr_pull_access_verify_delay": 0.2}
    api_task = {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "api-execution", "ecr_pull_access_ecs_permissions": "inline",
                "ecr_pull_access_repositories": ["web", {"name": "base", "registry_id": other}]}
    inventory = {"all": {"vars": variables, "hosts": {
        "svc0": {"ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["web"]}, "api-task": api_task}}}

    aws.enforce_iam(True)
    try:
        mark = aws.mark()
        run = ansible.play(playbook(GRANT), inventory=inventory, env=NO_ENV_CREDENTIALS)
        log = aws.requests(since=mark)
        assert run.rc == 0, run.stdout
        signers = collections.Counter(entry["access_key"] for entry in log)
        assert signers == {key: len(log)}, f"requests by signing key: {dict(signers)}"
        assert {entry["service"] for entry in log} == {"lightsail", "ecr", "iam", "sts"}, log
        assert [s["Principal"]["AWS"] for s in policy(aws, "web")["Statement"]] == [[puller_arns(aws)["svc0"]]]
        assert aws.client("iam").list_role_policies(RoleName="api-execution")["PolicyNames"] == ["ecr-pull"]

        ecs_only = {"all": {"vars": dict(variables, ecr_pull_access_aws_endpoint_url=aws.moto_url), "hosts": {"api-task": api_task}}}
        mark = aws.mark()
        revoke = ansible.play(playbook(REVOKE), inventory=ecs_only, env=dict(NO_ENV_CREDENTIALS, AWS_ENDPOINT_URL="http://127.0.0.1:9"))
        log = aws.requests(since=mark)
        assert revoke.rc == 0, revoke.stdout
        assert collections.Counter(entry["access_key"] for entry in log) == {key: len(log)}, log
        assert {(entry["service"], entry["operation"]) for entry in log if entry["mutating"]} == {
            ("iam", "DeleteRolePolicy"), ("ecr", "DeleteRepositoryPolicy")}, log
    finally:
        aws.enforce_iam(False)
    assert aws.client("iam").list_role_policies(RoleName="api-execution")["PolicyNames"] == []


def test_grant_waits_for_a_service_still_pending(ansible, aws):
    """A container service still being created (PENDING, held by the rig until the run has polled
    it) is waited for: no update is sent while it is PENDING, and the grant completes once it is
    READY."""
    aws.client("ecr").create_repository(repositoryName="web")
    aws.client("lightsail").create_container_service(serviceName="svc0", power="nano", scale=1)
    aws.lightsail_set_state("svc0", "PENDING")  # held until released below
    aws.lightsail_config(puller_delay=0.3)
    inventory = {"all": {"vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_verify_delay": 0.2}, "hosts": {
        "svc0": {"ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["web"]}}}}
    mark = aws.mark()
    started = ansible.start(playbook(GRANT), inventory=inventory)
    # Its check-mode read, the activation task's first read and one poll.
    reads = wait_for_reads(aws, mark, started, 3)
    assert reads >= 3 and started[0].is_alive(), f"the run did not wait for the PENDING service ({reads} reads):\n" + ansible.finish(started).stdout
    assert aws.requests(since=mark, mutating=True) == [], "the run changed something while the service was PENDING"
    aws.lightsail_set_state("svc0", "READY")
    run = ansible.finish(started)
    assert run.rc == 0, run.stdout
    updates = [(r["status"], r["error_code"]) for r in aws.requests(since=mark, operation="UpdateContainerService")]
    assert updates == [(200, None)], updates
    assert [s["Principal"]["AWS"] for s in policy(aws, "web")["Statement"]] == [[puller_arns(aws)["svc0"]]]
