# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The generated operator policy (playbook pullaccess.aws.operator_policy), under the rig's IAM
enforcement: it is enough for a dry run, a grant, a re-run and a revoke of the demo inventory and
of a fleet sharing one repository (the bench's size: test_operator_bench_fleet.py); without any
one of its statements a grant stops before its first write, naming what is missing, and a dry run
warns and goes on; no credential value shows in the generator's output."""

import json
import os
import sys
import time

import yaml

from reliability.support import ACCOUNT, REGION, REPO_ROOT, create_execution_role, failure_text, playbook, start
from reliability.test_operator import CANARIES, CANARY_ACCESS_KEYS, DENIED, assert_not_shown, credential_vars, shown

sys.path.insert(0, os.path.join(REPO_ROOT, "demo"))
from run_demo import OTHER_ACCOUNT, seed_account  # noqa: E402  pylint: disable=wrong-import-position,import-error

OPERATOR = "operator"
OPERATOR_ARN = f"arn:aws:iam::{ACCOUNT}:user/{OPERATOR}"
MANAGED_POLICY_LIMIT = 6144
FLEET_SIZE = 30
#: Statement-removal runs at a time.
PARALLEL = 4
#: Every statement the generator writes for the demo with a created role.
EVERY_SID = ("EcrRepositoryPolicies", f"EcrRepositoryPolicies{OTHER_ACCOUNT}", "LightsailRead", "LightsailPullerRoles", "EcsTaskDefinitions",
             "EcsRoleRead", "EcsRoleInlinePolicy", "EcsManagedPullPolicies", "EcsCreateRole", "EcsPassRoleToInstanceProfile",
             "EcsInstanceProfileRead", "EcsInstanceProfiles", "PermissionCheck")


def demo_inventory(aws):
    seed_account(aws)
    with open(os.path.join(REPO_ROOT, "demo", "inventory.yml"), encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    inventory["all"]["vars"]["ecr_pull_access_verify_delay"] = 0.2
    return inventory


def demo_with_created_role(aws):
    """The demo plus an EC2 container instance role the run creates (with its instance profile):
    every kind of statement the generator writes."""
    inventory = demo_inventory(aws)
    inventory["all"]["children"]["ecs_fargate"]["hosts"]["cluster"] = {
        "ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "cluster-instances", "ecr_pull_access_ecs_launch_type": "ec2",
        "ecr_pull_access_ecs_create_role": True}
    return inventory


def demo_and_fleet_inventory(aws):
    """The demo inventory as it is, and beside it (in a group of its own) a fleet of FLEET_SIZE
    Lightsail services and two ECS roles sharing `base` in the account mode (the bench's shape,
    smaller): one account and one set of runs for both, to keep the suite short."""
    inventory = demo_inventory(aws)
    inventory["all"]["children"]["fleet"] = fleet_inventory(aws)["all"]
    return inventory


def fleet_inventory(aws):
    """FLEET_SIZE Lightsail services and two ECS roles sharing `base` (the bench's shape, smaller)."""
    ecr, lightsail = aws.client("ecr"), aws.client("lightsail")
    for name in ("base", "app0", "app1"):
        ecr.create_repository(repositoryName=name)
    services = [f"svc{index:02d}" for index in range(FLEET_SIZE)]
    for name in services:
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    for name in ("ecs0-execution", "ecs1-execution"):
        create_execution_role(aws, name)
    hosts = {name: {"ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["base", f"app{index % 2}"]}
             for index, name in enumerate(services)}
    hosts["ecs0"] = {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "ecs0-execution", "ecr_pull_access_ecs_permissions": "inline",
                     "ecr_pull_access_repositories": ["base"]}
    hosts["ecs1"] = {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "ecs1-execution"}
    return {"all": {"vars": {"ecr_pull_access_region": REGION, "ecr_pull_access_statement_mode": "account", "ecr_pull_access_verify_delay": 0.2},
                    "hosts": hosts}}


def generate(ansible, aws, inventory, tmp_path, env=None, extravars=None, verbosity=None):
    """Run the generator; returns (run, {file name: document})."""
    out = tmp_path / "policy"
    variables = {"pullaccess_operator_policy_dir": str(out), "pullaccess_operator_policy_principals": [OPERATOR_ARN]}
    variables.update(extravars or {})
    job = start(ansible, playbook("operator_policy"), inventory, env=env, extravars=variables, verbosity=verbosity)
    run, texts = shown(ansible, job)
    documents = {}
    if out.exists():
        documents = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(out.iterdir())}
    return run, texts, documents


def merged(documents, without_sid=None):
    """All statements of the documents in one (the rig's user has one inline policy), less one Sid."""
    statements = [s for document in documents.values() for s in document["Statement"] if s["Sid"] != without_sid]
    return {"Version": "2012-10-17", "Statement": statements}


def statement_actions(documents):
    return {action for document in documents.values() for s in document["Statement"] for action in s["Action"]}


def run_as_operator(ansible, aws, inventory, documents, env=None, verify_state=None):
    """Dry run, grant, re-run and revoke of ``inventory`` as an IAM user with only ``documents``,
    under the rig's IAM enforcement: nothing refused, every call signed by that user, the permission
    check simulating the user (not the rig's `testing` key, which moto calls user/moto) before the
    dry run and the grant, no write in the dry run and the re-run, ``verify_state(phase)`` after the
    grant and the revoke, and every call made one the policy names. Returns the seconds per phase."""
    credentials = aws.create_limited_credentials(merged(documents), name=OPERATOR)
    aws.enforce_iam(True)
    used, seconds = set(), {}
    try:
        for name, book, check in (("dry run", "grant", True), ("grant", "grant", False), ("re-run", "grant", False), ("revoke", "revoke", False)):
            mark = aws.mark()
            began = time.monotonic()
            result = ansible.play(playbook(book), inventory=json.loads(json.dumps(inventory)), check=check, env=dict(credentials, **(env or {})))
            seconds[name] = time.monotonic() - began
            log = aws.requests(since=mark)
            denied = [entry for entry in log if entry.get("error_code") in DENIED]
            assert result.rc == 0 and not denied, f"{name}: {denied[:5]}\n{result.stdout[-4000:]}"
            assert {entry["access_key"] for entry in log} == {credentials["AWS_ACCESS_KEY_ID"]}, f"{name}: not all signed by the operator"
            if name in ("dry run", "grant"):
                assert any(entry["operation"] == "SimulatePrincipalPolicy" for entry in log) and "not checked" not in result.stdout, \
                    f"{name}: the permission check did not simulate the operator"
            if name in ("dry run", "re-run"):
                assert [entry for entry in log if entry["mutating"]] == [], f"{name} wrote"
            if verify_state and name in ("grant", "revoke"):
                verify_state(name)
            used.update(f"{entry['service']}:{entry['operation']}" for entry in log)
    finally:
        aws.enforce_iam(False)
    assert used - statement_actions(documents) - {"sts:GetCallerIdentity"} == set(), sorted(used - statement_actions(documents))
    return seconds


def test_generated_policy_is_enough(ansible, aws, tmp_path):
    """With only the generated policy for the demo inventory and a fleet beside it: dry run, grant,
    re-run (no write) and revoke, nothing refused, the permission check simulating the user before
    the dry run and the grant; every document within IAM's managed-policy limit; every call made
    is one the policy names."""
    inventory = demo_and_fleet_inventory(aws)
    aws.lightsail_config(puller_delay=0.2)
    mark = aws.mark()
    run, dummy, documents = generate(ansible, aws, inventory, tmp_path)
    assert run.rc == 0, run.stdout
    assert aws.requests(since=mark, mutating=True) == [], "the generator changed something"
    assert documents and "operator-policy.json" in documents, documents
    assert f"operator-policy-{OTHER_ACCOUNT}.json" in documents, sorted(documents)
    for name, document in documents.items():
        size = len(json.dumps(document, separators=(",", ":")))
        assert size <= MANAGED_POLICY_LIMIT, f"{name}: {size} characters"
        for statement in document["Statement"]:
            assert statement["Resource"] != ["*"] or statement["Action"] in (["lightsail:GetContainerServices"], ["ecs:DescribeTaskDefinition"]), statement
    run_as_operator(ansible, aws, inventory, documents)
    print(f"\ngenerated operator policy (demo + {FLEET_SIZE} services): {len(documents)} documents, "
          f"{sum(len(d['Statement']) for d in documents.values())} statements; dry run, grant, re-run and revoke with only it")


def test_missing_statement_fails_before_any_write(ansible, aws, tmp_path):
    """For each statement of the generated policy (of the demo with a role the run creates, which
    has every kind): without it a grant stops before its first write (no mutating call in the
    request log), naming an action and a resource of that statement. The account is seeded and
    the policy generated once: a run that writes nothing leaves it as it was for the next case."""
    inventory = demo_with_created_role(aws)
    aws.lightsail_config(puller_delay=0.2)
    run, dummy, documents = generate(ansible, aws, inventory, tmp_path, extravars={"pullaccess_operator_policy_principals": [f"{OPERATOR_ARN}*"]})
    assert run.rc == 0, run.stdout
    statements = [s for document in documents.values() for s in document["Statement"]]
    sids = [s["Sid"] for s in statements]
    assert len(set(sids)) == len(sids) == len(EVERY_SID), sids
    assert set(sids) == set(EVERY_SID), sids
    problems = []
    # The cases run side by side (each as its own user, its requests told apart by access key).
    users = [aws.create_limited_credentials(merged(documents, without_sid=removed["Sid"]), name=f"{OPERATOR}{index}")
             for index, removed in enumerate(statements)]
    mark = aws.mark()
    aws.enforce_iam(True)
    try:
        results = []
        for start_at in range(0, len(statements), PARALLEL):
            jobs = [start(ansible, playbook("grant"), json.loads(json.dumps(inventory)), env=credentials)
                    for credentials in users[start_at:start_at + PARALLEL]]
            results += [ansible.finish(job) for job in jobs]
    finally:
        aws.enforce_iam(False)
    log = aws.requests(since=mark)
    for removed, credentials, result in zip(statements, users, results):
        text = failure_text(result)
        own = [entry for entry in log if entry["access_key"] == credentials["AWS_ACCESS_KEY_ID"]]
        written = [entry["operation"] for entry in own if entry["mutating"]]
        named_action = any(action in text for action in removed["Action"])
        # A pattern (the simulation's user/operator*) is named by what it matches: its text up to the first *.
        named_resource = any(resource.split("*")[0] in text for resource in removed["Resource"])
        if result.rc == 0 or not own or written or not named_action or not named_resource:
            problems.append(f"without {removed['Sid']}: rc {result.rc}, written {written}, action named {named_action}, "
                            f"resource named {named_resource}:\n{text[-2000:]}")
        print(f"without {removed['Sid']}: stopped before any write, naming it ({len(own)} requests)")
    assert not problems, "\n\n".join(problems)


def test_generator_shows_no_credential_value(ansible, aws, tmp_path):
    """The generator at -vvv, with credentials in the environment and in the role's variables, and
    also when it fails: no secret key or session token in output, returned values or runner records."""
    inventory = demo_inventory(aws)
    inventory["all"]["vars"].update(credential_vars({"AWS_ACCESS_KEY_ID": CANARY_ACCESS_KEYS[1], "AWS_SECRET_ACCESS_KEY": CANARIES["var_secret_key"],
                                                     "AWS_SESSION_TOKEN": CANARIES["var_session_token"]}))
    env = {"AWS_ACCESS_KEY_ID": CANARY_ACCESS_KEYS[0], "AWS_SECRET_ACCESS_KEY": CANARIES["env_secret_key"],
           "AWS_SESSION_TOKEN": CANARIES["env_session_token"]}
    run, texts, documents = generate(ansible, aws, inventory, tmp_path, env=env, verbosity=3)
    assert run.rc == 0 and documents, run.stdout
    assert_not_shown(CANARIES, texts, "generator")
    failing = json.loads(json.dumps(inventory))
    failing["all"]["children"]["lightsail_shop"]["hosts"]["shop-missing"] = {}
    run, texts, dummy = generate(ansible, aws, failing, tmp_path / "failing", env=env, verbosity=3)
    assert run.rc != 0, run.stdout
    assert_not_shown(CANARIES, texts, "failing generator")


#: Statements a dry run needs none of (writes only): without one, the dry run warns and goes on.
WRITE_ONLY_SIDS = ("LightsailPullerRoles", "EcsRoleInlinePolicy")
PERMISSION_CHECK_TASK = "Check the caller's permissions before anything is changed"


def test_dry_run_warns_of_a_missing_statement(ansible, aws, tmp_path):
    """For each statement a dry run does not use itself: without it, `--check` of the demo under
    enforcement succeeds, makes no mutating call, and warns (in its output and in the permission
    check's returned warnings) naming an action and a resource of that statement; with the whole
    policy it warns of nothing."""
    inventory = demo_inventory(aws)
    run, dummy, documents = generate(ansible, aws, inventory, tmp_path, extravars={"pullaccess_operator_policy_principals": [f"{OPERATOR_ARN}*"]})
    assert run.rc == 0, run.stdout
    statements = {s["Sid"]: s for document in documents.values() for s in document["Statement"]}
    assert set(WRITE_ONLY_SIDS) <= set(statements), sorted(statements)
    cases = {sid: aws.create_limited_credentials(merged(documents, without_sid=sid), name=f"{OPERATOR}-{index}")
             for index, sid in enumerate(WRITE_ONLY_SIDS)}
    cases[None] = aws.create_limited_credentials(merged(documents), name=OPERATOR)
    mark = aws.mark()
    aws.enforce_iam(True)
    try:
        jobs = {sid: ansible.start(playbook("grant"), inventory=json.loads(json.dumps(inventory)), check=True, env=credentials)
                for sid, credentials in cases.items()}
        results = {sid: ansible.finish(job) for sid, job in jobs.items()}
    finally:
        aws.enforce_iam(False)
    log = aws.requests(since=mark)
    for sid, result in results.items():
        own = [entry for entry in log if entry["access_key"] == cases[sid]["AWS_ACCESS_KEY_ID"]]
        assert result.rc == 0, f"without {sid}: the dry run failed\n{failure_text(result)[-3000:]}"
        assert own and [entry["operation"] for entry in own if entry["mutating"]] == [], f"without {sid}: the dry run wrote"
        assert any(entry["operation"] == "SimulatePrincipalPolicy" for entry in own), f"without {sid}: no permission check"
        warnings = "\n".join(result.task(PERMISSION_CHECK_TASK).get("warnings", []))
        if sid is None:
            assert "not allowed" not in warnings and "not allowed" not in result.stdout, warnings or result.stdout
            continue
        removed = statements[sid]
        for where, text in (("returned warnings", warnings), ("output", result.stdout)):
            assert "[WARNING]" in result.stdout, f"without {sid}: no warning shown"
            assert any(action in text for action in removed["Action"]), f"without {sid}: the {where} name no action of it:\n{text}"
            assert any(resource in text for resource in removed["Resource"]), f"without {sid}: the {where} name no resource of it:\n{text}"
        print(f"dry run without {sid}: warned, naming it; nothing written")
