# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The operator's side: the static IAM policy (docs/operator-policy.json, the core, and
docs/operator-policy-addendum.json, scoped to the role path /ecs-pull/) is exactly what the role
uses, grant and revoke work with nothing more (under the rig's IAM enforcement, when it has
one), and no credential value shows up in output, -vvv logs or returned values."""

import collections
import json
import os

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from reliability.support import (
    ACCOUNT,
    ECS_TRUST,
    REGION,
    REPO_ROOT,
    create_execution_role,
    create_repositories,
    create_services,
    our_grants,
    play,
    playbook,
    policy,
    pullers,
    start,
)

POLICY_PATH = os.path.join(REPO_ROOT, "docs", "operator-policy.json")
ADDENDUM_PATH = os.path.join(REPO_ROOT, "docs", "operator-policy-addendum.json")
# The addendum's role path (inline policies, role creation): the fleet's roles that need it live there.
ROLE_PATH = "/ecs-pull/"
# Permissions AWS checks without a request of their own, so the request log cannot show them:
# AddRoleToInstanceProfile also needs iam:PassRole on the role.
IMPLIED_ACTIONS = {"iam:PassRole"}
# Distinctive credential values (the rig checks no signature while IAM enforcement is off).
CANARIES = {
    "env_secret_key": "EnvSecretCanary7f3a9c1e5b2d8f4a6c0e1b3d5f7a9c2e4b6d8f0a",
    "env_session_token": "EnvTokenCanary2b4d6f8a0c1e3f5a7b9c0d2e4f6a8b1c3d5e7f9a0b",
    "var_secret_key": "VarSecretCanary9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d",
    "var_session_token": "VarTokenCanary1a3c5e7f9b2d4f6a8c0e2b4d6f8a0c2e4f6b8d0a",
}
CANARY_ACCESS_KEYS = ("AKIAENVCANARY0000001", "AKIAVARCANARY0000002")
DENIED = ("AccessDenied", "AccessDeniedException")
# The rig's environment carries its exempt `testing` key; blanked, a run has only what it is given.
NO_ENV_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
ECS_TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
REPOSITORIES = ("web", "shared/base", "spare")


def operator_policy():
    """The core and the addendum, as one document (the rig's user has one inline policy)."""
    documents = []
    for path in (POLICY_PATH, ADDENDUM_PATH):
        with open(path, encoding="utf-8") as handle:
            documents.append(json.load(handle))
    return {"Version": "2012-10-17", "Statement": [statement for document in documents for statement in document["Statement"]]}


def policy_actions(document):
    actions = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement, statement
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def whole_fleet(aws):
    """One workload of every kind, so that grant and revoke go through every call the role makes:
    a Lightsail service (exclusive, with a cleanup repository that has no policy), a Fargate task
    definition (managed policy), a Fargate role (inline policy) and an EC2 container instance role
    the run creates (with its instance profile)."""
    create_repositories(aws, ("web", "shared/base", "spare"))
    create_services(aws, ["svc0"], undeclared=False)
    create_execution_role(aws, "api-execution")
    aws.client("iam").create_role(RoleName="worker-execution", Path=ROLE_PATH, AssumeRolePolicyDocument=json.dumps(ECS_TRUST))
    aws.client("ecs").register_task_definition(
        family="api", executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/api-execution",
        containerDefinitions=[{"name": "api", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1", "memory": 128}])
    aws.lightsail_config(puller_delay=0.3)
    return {"all": {
        "vars": {"ecr_pull_access_region": REGION, "ecr_pull_access_statement_mode": "workload", "ecr_pull_access_verify_delay": 0.2},
        "hosts": {
            "svc0": {"ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["web", "shared/base"],
                     "ecr_pull_access_exclusive": True, "ecr_pull_access_cleanup_repositories": ["spare"]},
            "api-task": {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_task_definition": "api"},
            "worker-task": {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "worker-execution",
                            "ecr_pull_access_ecs_permissions": "inline", "ecr_pull_access_repositories": ["web"]},
            "cluster": {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": f"arn:aws:iam::{ACCOUNT}:role{ROLE_PATH}cluster-instances",
                        "ecr_pull_access_ecs_launch_type": "ec2", "ecr_pull_access_ecs_create_role": True},
        },
    }}


def assert_granted(aws):
    iam = aws.client("iam")
    assert pullers(aws)["svc0"][0], pullers(aws)
    assert list(our_grants(aws, "web").values()) == [[pullers(aws)["svc0"][1]]]
    assert policy(aws, "spare") is None
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="api-execution")["AttachedPolicies"]] == [
        "AmazonECSTaskExecutionRolePolicy"]
    assert iam.list_role_policies(RoleName="worker-execution")["PolicyNames"] == ["ecr-pull"]
    assert iam.list_instance_profiles_for_role(RoleName="cluster-instances")["InstanceProfiles"], "no instance profile"


def assert_revoked(aws):
    iam = aws.client("iam")
    assert pullers(aws)["svc0"] == (False, "")
    assert all(not our_grants(aws, repository) for repository in REPOSITORIES)
    for role in ("api-execution", "worker-execution", "cluster-instances"):
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == [], role
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [], role


def artifacts_text(private_dir):
    """What ansible-runner recorded of a run's output (stdout, events, status). Its ``command``
    file is left out: it is the runner's record of its input, the environment included (see
    docs/reliability.md)."""
    chunks = []
    for root, _dirs, files in os.walk(os.path.join(private_dir, "artifacts")):
        for name in files:
            if name == "command":
                continue
            with open(os.path.join(root, name), encoding="utf-8", errors="replace") as handle:
                chunks.append(handle.read())
    return "\n".join(chunks)


def credential_vars(credentials):
    """The role's credential variables for a credentials dict (as the rig returns them)."""
    names = {"AWS_ACCESS_KEY_ID": "ecr_pull_access_aws_access_key", "AWS_SECRET_ACCESS_KEY": "ecr_pull_access_aws_secret_key",
             "AWS_SESSION_TOKEN": "ecr_pull_access_aws_session_token"}
    return {names[key]: value for key, value in credentials.items()}


def with_vars(inventory, variables):
    changed = json.loads(json.dumps(inventory))
    changed["all"]["vars"].update(variables)
    return changed


def shown(ansible, job):
    """Everything a run showed or returned: stdout (at -vvv), the results, runner's artifacts."""
    run = ansible.finish(job)
    return run, {"stdout": run.stdout, "returned values": json.dumps([result.res for result in run.results]),
                 "runner artifacts": artifacts_text(job[2])}


def assert_not_shown(secrets, texts, run_name):
    for secret_name, value in secrets.items():
        for where, text in texts.items():
            assert value not in text, f"{secret_name} appears in the {where} of the {run_name} run"


def test_operator_policy_is_exactly_enough(ansible, aws):
    """Grant and revoke a fleet of every workload kind as an IAM user with only the documented
    policy, under the rig's IAM enforcement: nothing is refused, and the calls made are exactly
    the documented actions. The grant takes the user's key from the environment, the revoke from
    the role's credential variables (with no key in the environment); the rig's log shows every
    request of both signed with the user's key. Both at -vvv, and the secret key is shown nowhere.
    The policy's iam:PolicyARN condition holds: AdministratorAccess can be neither attached nor
    detached with it."""
    inventory = whole_fleet(aws)
    credentials = aws.create_limited_credentials(operator_policy(), name="operator")
    crippled = operator_policy()
    crippled["Statement"][0]["Action"] = [action for action in crippled["Statement"][0]["Action"] if action != "ecr:SetRepositoryPolicy"]
    weak = aws.create_limited_credentials(crippled, name="operator-without-set-policy")
    secret = {"the operator's secret key": credentials["AWS_SECRET_ACCESS_KEY"]}
    used = set()
    aws.enforce_iam(True)
    try:
        for name, book, run_inventory, env, check in (
                ("grant", "grant", inventory, credentials, assert_granted),
                # The rig's own (exempt, unlimited) key must not be there to fall back on.
                ("revoke", "revoke", with_vars(inventory, credential_vars(credentials)), NO_ENV_CREDENTIALS, assert_revoked)):
            mark = aws.mark()
            run, texts = shown(ansible, start(ansible, playbook(book), run_inventory, env=env, verbosity=3))
            log = aws.requests(since=mark)
            denied = [entry for entry in log if entry.get("error_code") in DENIED]
            assert run.rc == 0 and not denied, f"{name}: {denied}\n{run.stdout}"
            assert_signed_with(log, credentials, name)
            used.update(f"{entry['service']}:{entry['operation']}" for entry in log)
            check(aws)
            assert_not_shown(secret, texts, name)

        # Without ecr:SetRepositoryPolicy the grant stops at the permission check, before any write ...
        svc0_only = {"all": {"vars": inventory["all"]["vars"], "hosts": {"svc0": inventory["all"]["hosts"]["svc0"]}}}
        mark = aws.mark()
        stopped = play(ansible, playbook("grant"), svc0_only, env=weak)
        assert stopped.rc != 0 and "ecr:SetRepositoryPolicy on arn:aws:ecr:" in stopped.stdout, stopped.stdout
        assert aws.requests(since=mark, mutating=True) == [], "written before the permission check stopped the run"
        # ... and the enforcement is real: without that check the write itself is refused.
        mark = aws.mark()
        refused = play(ansible, playbook("grant"), with_vars(svc0_only, {"ecr_pull_access_check_permissions": False}), env=weak)
        assert refused.rc != 0 and "SetRepositoryPolicy" in refused.stdout, refused.stdout
        log = aws.requests(since=mark)
        assert_signed_with(log, weak, "refused grant")
        assert {entry["error_code"] for entry in log if entry["operation"] == "SetRepositoryPolicy"} == {"AccessDeniedException"}, log

        # The iam:PolicyARN condition is real: the operator may attach and detach only the two AWS
        # managed pull policies, not AdministratorAccess (or any other).
        assert_only_pull_policies_attachable(aws, credentials)
    finally:
        aws.enforce_iam(False)

    documented = policy_actions(operator_policy())
    print(f"\noperator policy: grant + revoke of every workload kind as a user with only docs/operator-policy.json, under IAM "
          f"enforcement: nothing refused; {len(used)} actions used: {', '.join(sorted(used))}")
    assert used - documented == set(), f"calls the documented policy does not allow: {sorted(used - documented)}"
    assert documented - used - IMPLIED_ACTIONS == set(), f"documented but never used: {sorted(documented - used - IMPLIED_ACTIONS)}"


def assert_signed_with(log, credentials, run_name):
    """Every request of a run was signed with the given access key (the rig logs the key id)."""
    keys = collections.Counter(entry["access_key"] for entry in log)
    assert log and keys == {credentials["AWS_ACCESS_KEY_ID"]: len(log)}, f"{run_name}: requests by signing key: {dict(keys)}"


def assert_only_pull_policies_attachable(aws, credentials):
    iam = aws.client("iam", credentials=credentials, config=Config(retries={"total_max_attempts": 1}))
    for other in (ADMIN_POLICY, "arn:aws:iam::aws:policy/IAMFullAccess"):
        with pytest.raises(ClientError) as refused:
            iam.attach_role_policy(RoleName="api-execution", PolicyArn=other)
        assert refused.value.response["Error"]["Code"] == "AccessDenied", refused.value.response
    assert aws.client("iam").list_attached_role_policies(RoleName="api-execution")["AttachedPolicies"] == []
    aws.client("iam").attach_role_policy(RoleName="api-execution", PolicyArn=ADMIN_POLICY)
    with pytest.raises(ClientError) as refused:
        iam.detach_role_policy(RoleName="api-execution", PolicyArn=ADMIN_POLICY)
    assert refused.value.response["Error"]["Code"] == "AccessDenied", refused.value.response
    iam.attach_role_policy(RoleName="api-execution", PolicyArn=ECS_TASK_EXECUTION_POLICY)
    iam.detach_role_policy(RoleName="api-execution", PolicyArn=ECS_TASK_EXECUTION_POLICY)
    attached = aws.client("iam").list_attached_role_policies(RoleName="api-execution")["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [ADMIN_POLICY], attached


def test_no_credential_value_shown(ansible, aws):
    """Secret keys and session tokens given in the environment and in the role's variables at
    once never appear in -vvv output, returned values or ansible-runner's records of the run."""
    create_repositories(aws, ("web",))
    create_services(aws, ["svc0"], undeclared=False)
    create_execution_role(aws, "worker-execution")
    aws.lightsail_config(puller_delay=0.3)
    inventory = {"all": {
        "vars": dict(credential_vars({"AWS_ACCESS_KEY_ID": CANARY_ACCESS_KEYS[1], "AWS_SECRET_ACCESS_KEY": CANARIES["var_secret_key"],
                                      "AWS_SESSION_TOKEN": CANARIES["var_session_token"]}),
                     ecr_pull_access_region=REGION, ecr_pull_access_verify_delay=0.2, ecr_pull_access_repositories=["web"]),
        "hosts": {"svc0": {"ecr_pull_access_type": "lightsail"},
                  "worker-task": {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "worker-execution",
                                  "ecr_pull_access_ecs_permissions": "inline"}},
    }}
    env = {"AWS_ACCESS_KEY_ID": CANARY_ACCESS_KEYS[0], "AWS_SECRET_ACCESS_KEY": CANARIES["env_secret_key"],
           "AWS_SESSION_TOKEN": CANARIES["env_session_token"]}
    run, texts = shown(ansible, start(ansible, playbook("grant"), inventory, env=env, verbosity=3))
    assert run.rc == 0, run.stdout
    assert our_grants(aws, "web"), "the grant did nothing"
    assert_not_shown(CANARIES, texts, "grant")
    access_keys = sorted(f"{key} in {where}" for where, text in texts.items() for key in CANARY_ACCESS_KEYS if key in text)
    print(f"\ncredentials: no secret key or session token (environment and role variables) in -vvv stdout, returned values "
          f"or runner artifacts; access key ids (not secret) shown in: {', '.join(access_keys) or 'nowhere'}")
