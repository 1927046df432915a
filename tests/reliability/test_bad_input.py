# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad input matrix: every malformed declaration and broken AWS-side state gives a clear error
and writes nothing (asserted from the rig's request log). One test per row; the rows are listed
in docs/reliability.md, which a test below keeps in step with ROWS.

Role rows run the grant playbook over a small fleet: a good Lightsail service ``good`` that
would be activated and granted, plus the host ``bad`` carrying the bad declaration (or pointing
at the broken AWS state). Nothing at all may be written, also not for ``good``.
"""

import json
import os
import re
import time

import pytest

from integration.harness import Ansible
from reliability.support import (
    ACCOUNT,
    REGION,
    REPO_ROOT,
    UNDECLARED_REPOSITORY,
    create_execution_role,
    create_repositories,
    create_services,
    failure_text,
    lightsail_inventory,
    play,
    playbook,
    policy_text,
    pullers,
)

OTHER_ACCOUNT = "210987654321"
ECS_ROLE = "api-execution"
REPOSITORIES = ("web", "shared/base")


def lightsail(**host_vars):
    return dict({"ecr_pull_access_type": "lightsail"}, **host_vars)


def ecs(**host_vars):
    base = {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": ECS_ROLE, "ecr_pull_access_ecs_permissions": "inline"}
    base.update(host_vars)
    return {key: value for key, value in base.items() if value is not None}


# ----- broken AWS-side states (seeded before the run) -------------------------------------------


def seed_missing_service(aws):
    lightsail = aws.client("lightsail")
    lightsail.delete_container_service(serviceName="bad")
    deadline = time.monotonic() + 30
    while any(s["containerServiceName"] == "bad" for s in lightsail.get_container_services()["containerServices"]):
        assert time.monotonic() < deadline, "service bad was not deleted"
        time.sleep(0.1)


def seed_service_in_other_region(aws):
    seed_missing_service(aws)
    aws.client("lightsail", region="us-west-2").create_container_service(serviceName="bad", power="nano", scale=1)


def seed_task_definition_without_execution_role(aws):
    aws.client("ecs").register_task_definition(family="no-role", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])


def seed_invalid_json_policy(aws):
    """ECR (and moto) refuse to store invalid JSON, so the rig answers GetRepositoryPolicy for
    web with it, as a policy stored before validation (or by a broken tool) would read. Returned
    as fault rules for the run only: the rule would answer the test's own reads of the account
    as well, and "nothing changed" could then never fail."""
    return [{"service": "ecr", "operation": "GetRepositoryPolicy", "kind": "respond", "name": "invalid-json-policy",
             "body": {"registryId": ACCOUNT, "repositoryName": "web", "policyText": '{"Version": "2012-10-17", "Statement": ['}}]


def seed_duplicate_sids(aws):
    statement = {"Sid": "Dup", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "ecr:BatchGetImage"}
    aws.ecr_settings(validate_policy=False)  # ECR refuses duplicate Sids: plant what a broken tool left
    aws.client("ecr").set_repository_policy(repositoryName="web", policyText=json.dumps({"Version": "2012-10-17", "Statement": [statement, statement]}))
    aws.ecr_settings(validate_policy=True)


def seed_policy_near_size_limit(aws):
    """A valid foreign policy of about 10,100 characters (compact JSON, as the module counts):
    any statement more goes over 10,240."""
    statements = [{"Sid": f"Team{i:03d}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:role/team-{i:03d}-builder"},
                   "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]} for i in range(80)]
    while len(json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))) > 10100:
        statements.pop()
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))
    aws.create_roles(*(statement["Principal"]["AWS"] for statement in statements))  # ECR refuses principals that do not exist
    aws.client("ecr").set_repository_policy(repositoryName="web", policyText=text)


# ----- the rows --------------------------------------------------------------------------------


class Row:
    """One row: what is wrong (``text``), the error a user must see (``error``), and either the
    host vars of ``bad`` (``host``) or the arguments of an ecr_repo_policy_statement task
    (``module``); ``seed`` puts the AWS side into the broken state first, and may return fault
    rules that the rig applies during the run only (never to the test's reads of the account)."""

    def __init__(self, text, error, host=None, module=None, seed=None):
        self.text = text
        self.error = error
        self.host = host
        self.module = module
        self.seed = seed


ARN_HELP = "is not a valid ECR repository ARN"
ROWS = {
    # Malformed declarations (host vars of the host "bad")
    "D01-repository-arn-short-account": Row(
        "repository ARN whose account id has 5 digits", ARN_HELP,
        host=lightsail(ecr_pull_access_repositories=["arn:aws:ecr:us-east-1:12345:repository/web"])),
    "D02-repository-arn-other-service": Row(
        "an S3 ARN given as a repository", ARN_HELP, host=lightsail(ecr_pull_access_repositories=["arn:aws:s3:::web"])),
    "D03-repository-name-malformed": Row(
        "repository name with a space and capitals", "repository name 'Web App' is not valid",
        host=lightsail(ecr_pull_access_repositories=["Web App"])),
    "D04-image-uri-as-repository": Row(
        "an image URI instead of a repository", "is an image URI; give the repository name",
        host=lightsail(ecr_pull_access_repositories=[f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:latest"])),
    "D05-registry-id-short": Row(
        "registry_id of 5 digits", "registry_id '12345' is not a 12-digit account id",
        host=lightsail(ecr_pull_access_repositories=[{"name": "web", "registry_id": "12345"}])),
    "D06-registry-id-letters": Row(
        "registry_id of 12 letters", "registry_id 'abcdefghijkl' is not a 12-digit account id",
        host=lightsail(ecr_pull_access_repositories=[{"name": "web", "registry_id": "abcdefghijkl"}])),
    "D07-unknown-repository-key": Row(
        "repository mapping with a misspelt key (registy_id)", "has unknown keys ['registy_id']",
        host=lightsail(ecr_pull_access_repositories=[{"name": "web", "registy_id": ACCOUNT}])),
    "D08-unknown-role-variable": Row(
        "host variable with a misspelt name (ecr_pull_access_exclusve)", "ecr_pull_access_exclusve",
        host=lightsail(ecr_pull_access_exclusve=True)),
    "D09-unknown-workload-type": Row(
        "ecr_pull_access_type: kubernetes", "is not one of lightsail, ecs", host=lightsail(ecr_pull_access_type="kubernetes")),
    "D10-unknown-state": Row(
        "ecr_pull_access_state: gone", "ecr_pull_access_state must be one of: present, absent, got: gone",
        host=lightsail(ecr_pull_access_state="gone")),
    "D11-region-mismatch": Row(
        "Lightsail service pulling from a repository ARN in another Region", "can only pull from ECR repositories in its own Region",
        host=lightsail(ecr_pull_access_repositories=[f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/web"])),
    "D12-malformed-region": Row(
        "ecr_pull_access_region: mars-central", "ecr_pull_access_region 'mars-central' is not set to a region code",
        host=lightsail(ecr_pull_access_region="mars-central")),
    "D13-ecs-role-and-task-definition": Row(
        "ECS workload naming both a role and a task definition",
        "exactly one of ecr_pull_access_ecs_role_name and ecr_pull_access_ecs_task_definition",
        host=ecs(ecr_pull_access_ecs_task_definition="web")),
    "D14-ecs-unknown-launch-type": Row(
        "ecr_pull_access_ecs_launch_type: lambda", "ecr_pull_access_ecs_launch_type must be one of: fargate, ec2, external, got: lambda",
        host=ecs(ecr_pull_access_ecs_launch_type="lambda")),
    "D15-ecs-unknown-permissions": Row(
        "ecr_pull_access_ecs_permissions: admin", "ecr_pull_access_ecs_permissions must be one of: managed, inline, got: admin",
        host=ecs(ecr_pull_access_ecs_permissions="admin")),
    "D16-ecs-other-region-without-registry": Row(
        "ECS repository in another Region without registry_id", "is in eu-west-1, not us-east-1: give its registry_id",
        host=ecs(ecr_pull_access_repositories=[{"name": "web", "region": "eu-west-1"}])),
    "D17-ecs-role-name-malformed": Row(
        "ECS role name with a space and '!'", "is not a valid IAM role name", host=ecs(ecr_pull_access_ecs_role_name="api execution!")),
    "D18-ecs-star-principal": Row(
        "ECS role given as '*' (a wildcard principal)", "role '*' is not a valid IAM role name", host=ecs(ecr_pull_access_ecs_role_name="*")),
    "D19-ecs-role-arn-short-account": Row(
        "ECS role ARN whose account id has 4 digits", "is not a valid IAM role ARN", host=ecs(ecr_pull_access_ecs_role_name="arn:aws:iam::1234:role/x")),
    "D20-ecs-task-definition-malformed": Row(
        "ECS task definition 'web:0' (revision 0)", "is not a task definition family",
        host=ecs(ecr_pull_access_ecs_role_name=None, ecr_pull_access_ecs_task_definition="web:0")),
    # Broken AWS-side states
    "A01-missing-repository": Row(
        "repository that does not exist", "'nope' does not exist", host=lightsail(ecr_pull_access_repositories=["web", "nope"])),
    "A02-missing-lightsail-service": Row(
        "Lightsail service that does not exist", "container service 'bad' in region us-east-1 was not found",
        host=lightsail(), seed=seed_missing_service),
    "A03-service-in-other-region": Row(
        "Lightsail service that exists in us-west-2 only, declared in us-east-1",
        "and region (a container service exists in one region only)",
        host=lightsail(), seed=seed_service_in_other_region),
    "A04-missing-ecs-role": Row(
        "ECS role that does not exist", "role 'ghost' does not exist; nothing was changed", host=ecs(ecr_pull_access_ecs_role_name="ghost")),
    "A05-missing-task-definition": Row(
        "ECS task definition that does not exist", "task definition 'ghost:3' does not exist in region us-east-1",
        host=ecs(ecr_pull_access_ecs_role_name=None, ecr_pull_access_ecs_task_definition="ghost:3")),
    "A06-task-definition-without-execution-role": Row(
        "ECS task definition with no execution role", "has no execution role",
        host=ecs(ecr_pull_access_ecs_role_name=None, ecr_pull_access_ecs_task_definition="no-role"),
        seed=seed_task_definition_without_execution_role),
    "A07-ecs-role-of-other-account": Row(
        "ECS role ARN of another account (a role of that name exists in ours)",
        "IAM roles can only be managed with credentials of their own account",
        host=ecs(ecr_pull_access_ecs_role_name=f"arn:aws:iam::{OTHER_ACCOUNT}:role/{ECS_ROLE}")),
    "A08-policy-invalid-json": Row(
        "existing repository policy that is not valid JSON", "is not valid JSON", host=lightsail(), seed=seed_invalid_json_policy),
    "A09-policy-duplicate-sids": Row(
        "existing repository policy with two statements of Sid 'Dup'", "more than one statement with Sid 'Dup'",
        host=lightsail(), seed=seed_duplicate_sids),
    "A10-policy-over-size-limit": Row(
        "existing policy of about 10,100 characters; the new statements push it over", "10240-character limit",
        host=lightsail(), seed=seed_policy_near_size_limit),
    # Module tasks (ecr_repo_policy_statement on its own)
    "M01-star-principal": Row(
        "principals ['*'] without conditions", "allow_public=true", module={"repository": "web", "sid": "Open", "principals": ["*"]}),
    "M02-unknown-module-option": Row(
        "an option the module does not have (purge_principal)", "Unsupported parameters",
        module={"repository": "web", "sid": "Pull", "principals": [ACCOUNT], "purge_principal": False}),
    "M03-module-registry-id-malformed": Row(
        "registry_id '12345'", "12-digit", module={"repository": "web", "sid": "Pull", "registry_id": "12345", "principals": [ACCOUNT]}),
    "M04-module-account-id-malformed": Row(
        "principal '12345' (not a 12-digit account id)", "principal '12345' is not valid",
        module={"repository": "web", "sid": "Pull", "principals": ["12345"]}),
}


# Rows the collection does not meet yet, with the reason (reported; see docs/reliability.md). The
# error text is still checked; the run writing before it fails (or not failing) is reported as
# xfail. A row listed here that meets the requirement fails the test, so that the entry gets removed.
KNOWN_GAPS = {}


def seed_account(aws):
    """The fleet's account: repositories (web with a foreign statement), the services good and
    bad, an ECS execution role and a task definition using it."""
    create_repositories(aws, REPOSITORIES)
    create_services(aws, ["good", "bad"], undeclared=False)
    create_execution_role(aws, ECS_ROLE)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{ECS_ROLE}"
    aws.client("ecs").register_task_definition(family="web", executionRoleArn=role_arn, containerDefinitions=[
        {"name": "web", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1", "memory": 128}])
    aws.lightsail_config(puller_delay=0.3)
    return aws


def state(aws):
    """Everything the rows could write: policies, puller roles, the execution role's policies."""
    iam = aws.client("iam")
    return {
        "policies": {repository: policy_text(aws, repository) for repository in REPOSITORIES + (UNDECLARED_REPOSITORY,)},
        "pullers": pullers(aws),
        "role": (iam.list_role_policies(RoleName=ECS_ROLE)["PolicyNames"], iam.list_attached_role_policies(RoleName=ECS_ROLE)["AttachedPolicies"]),
    }


def fleet(bad_hosts):
    inventory = lightsail_inventory(["good"], REPOSITORIES)
    inventory["all"]["hosts"].update(bad_hosts)
    return inventory


class Together:
    """Rows that need no seeding, tried together first to save runs (a playbook run costs
    seconds): all declaration rows as hosts of one fleet, all module rows as tasks of one play.
    A row is settled there only if its own host (task) failed and the run wrote nothing at all;
    the grant stops at the first task that fails, so the rows still open are tried together
    again. Whatever is not settled that way runs on its own."""

    def __init__(self, rig, ansible, row_ids):
        self.rig = rig
        self.ansible = ansible
        self.settled = {}
        self.runs = 0
        self._hosts([row_id for row_id in row_ids if ROWS[row_id].host is not None and not ROWS[row_id].seed])
        self._module_tasks([row_id for row_id in row_ids if ROWS[row_id].module is not None])

    def _fresh_account(self):
        self.rig.clear_faults()
        self.rig.reset()
        seed_account(self.rig)
        return self.rig.mark()

    def _hosts(self, open_rows):
        while open_rows:
            hosts = {f"bad-{row_id[:3].lower()}": row_id for row_id in open_rows}
            mark = self._fresh_account()
            run = play(self.ansible, playbook("grant"), fleet({host: ROWS[row_id].host for host, row_id in hosts.items()}))
            self.runs += 1
            if self.rig.requests(since=mark, mutating=True):
                return
            failed = {hosts[r.host]: r.msg for r in run.results if r.failed and r.host in hosts}
            # The declaration check fails once for the batch, one line per host ("host NAME: what to fix").
            for r in run.results:
                for line in r.msg.splitlines() if r.failed else []:
                    found = re.match(r"host (\S+): ", line)
                    if found and found.group(1) in hosts:
                        failed[hosts[found.group(1)]] = line
            if not failed:
                return
            self.settled.update(failed)
            open_rows = [row_id for row_id in open_rows if row_id not in failed]

    def _module_tasks(self, rows):
        if not rows:
            return
        mark = self._fresh_account()
        tasks = [{"name": row_id, "pullaccess.aws.ecr_repo_policy_statement": ROWS[row_id].module, "ignore_errors": True} for row_id in rows]
        run = self.ansible.tasks(tasks)
        self.runs += 1
        if not self.rig.requests(since=mark, mutating=True):
            self.settled.update({r.name: r.msg for r in run.results if r.failed and r.name in rows})


@pytest.fixture(scope="module")
def together(rig, tmp_path_factory, request):
    """The rows of this module's selected tests, tried together (see Together)."""
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(REPO_ROOT, "build", "collections")
    selected = [item.callspec.params["row_id"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec") and "row_id" in item.callspec.params]
    found = Together(rig, Ansible(rig, str(tmp_path_factory.mktemp("together")), collections), selected)
    print(f"\nbad input: {len(found.settled)} of {len(selected)} rows settled together in {found.runs} runs; the others run one by one")
    return found


def run_alone(request, row_id):
    """Run one row on its own in a fresh account; returns (error text, writes, state changed)."""
    aws = seed_account(request.getfixturevalue("aws"))
    ansible = request.getfixturevalue("ansible")
    row = ROWS[row_id]
    faults = (row.seed(aws) if row.seed else None) or []
    before = state(aws)
    mark = aws.mark()
    aws.set_faults(faults)
    try:
        if row.module is not None:
            result = ansible.module("pullaccess.aws.ecr_repo_policy_statement", row.module)
            assert result.failed, f"{row_id}: the task did not fail: {result}"
            text = result.msg
        else:
            run = play(ansible, playbook("grant"), fleet({"bad": row.host}))
            text = failure_text(run)
    finally:
        aws.clear_faults()
    if row.module is None and run.rc == 0:
        if row_id in KNOWN_GAPS:
            pytest.xfail(f"known gap: {KNOWN_GAPS[row_id]}")
        pytest.fail(f"{row_id}: the run did not fail:\n{run.stdout}")
    if faults:
        names = {rule.get("name", rule["kind"]) for rule in faults}
        assert any(r["fault"] in names for r in aws.requests(since=mark)), f"{row_id}: the run never met the seeded state"
    writes = [(r["service"], r["operation"]) for r in aws.requests(since=mark, mutating=True)]
    return text, writes, state(aws) != before


@pytest.mark.parametrize("row_id", list(ROWS))
def test_bad_input_row(request, together, row_id):
    row = ROWS[row_id]
    if row_id in together.settled:
        text = together.settled[row_id]
        assert row.error in text, f"{row_id}: expected {row.error!r} in the error:\n{text}"
        assert row_id not in KNOWN_GAPS, f"{row_id} now fails cleanly without writing: remove it from KNOWN_GAPS"
        return
    text, writes, changed = run_alone(request, row_id)
    assert row.error in text, f"{row_id}: expected {row.error!r} in the error:\n{text}"
    if row_id in KNOWN_GAPS:
        assert writes or changed, f"{row_id} now fails cleanly without writing: remove it from KNOWN_GAPS"
        pytest.xfail(f"known gap: wrote {writes} before failing: {KNOWN_GAPS[row_id]}")
    assert writes == [], f"{row_id}: wrote {writes} before failing:\n{text}"
    assert not changed, f"{row_id}: the account changed"


def test_rows_are_documented():
    """docs/reliability.md lists every row with its expected error text, and no other rows."""
    with open(os.path.join(REPO_ROOT, "docs", "reliability.md"), encoding="utf-8") as handle:
        text = handle.read()
    documented = set(re.findall(r"^\| `([ADM]\d\d-[a-z0-9-]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(ROWS), f"missing: {sorted(set(ROWS) - documented)}; not a row: {sorted(documented - set(ROWS))}"
    for row_id, row in ROWS.items():
        line = next(line for line in text.splitlines() if line.startswith(f"| `{row_id}` |"))
        assert row.error.replace("|", "\\|") in line, f"{row_id}: docs/reliability.md does not give the expected text {row.error!r}"
