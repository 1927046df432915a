# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of the audit engine (plugins/module_utils/_audit.py): principal
classification, conditions, actions, findings, drift and the access matrix."""

import json

import pytest

from ansible_collections.pullaccess.aws.plugins.filter import pull_access
from ansible_collections.pullaccess.aws.plugins.module_utils import _audit as audit_engine
from ansible_collections.pullaccess.aws.plugins.module_utils import _names as names

ACCOUNT = "123456789012"
OTHER = "444455556666"
TRUSTED = "777788889999"
REGION = "us-east-1"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
PULLER_WEB = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/web/private-repo-access/{'a' * 52}"
PULLER_WEB_OLD = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/web/private-repo-access/{'b' * 52}"
PULLER_GONE = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/gone/private-repo-access/{'c' * 52}"
PULLER_API = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/api/private-repo-access/{'d' * 52}"
SERVICE_WEB = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/web/{'e' * 52}"
ECS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
ACCOUNT_PATTERN = names.lightsail_puller_arn_pattern("aws", ACCOUNT, REGION)
GOV_PULLER = f"arn:aws-us-gov:iam::{ACCOUNT}:role/amazon/lightsail/us-gov-west-1/containers/x/private-repo-access/id"


def service(name, active=True, arn="", state="READY"):
    return {"containerServiceName": name, "state": state, "principalArn": SERVICE_WEB if name == "web" else "",
            "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": active, "principalArn": arn}}}


SERVICES = [service("web", arn=PULLER_WEB), service("api", arn=PULLER_API), service("idle", active=False)]


def context(**overrides):
    values = dict(account_id=ACCOUNT, region=REGION, trusted_accounts=[TRUSTED],
                  services={s["containerServiceName"]: audit_engine._service_summary(s) for s in SERVICES},  # pylint: disable=protected-access
                  ecs_roles={ECS_ROLE: ["ecs:app:1"]})
    values.update(overrides)
    return audit_engine.Context(**values)


def allow(principal=None, action=None, condition=None, not_principal=None, **extra):
    statement = {"Sid": "S", "Effect": "Allow", "Action": PULL if action is None else action}
    if not_principal is not None:
        statement["NotPrincipal"] = not_principal
    else:
        statement["Principal"] = principal
    if condition is not None:
        statement["Condition"] = condition
    statement.update(extra)
    return statement


# ---------------------------------------------------------------------------------------------
# Principal classification
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "statement, expected",
    [
        (allow("*"), [("public", "*", None)]),
        (allow({"AWS": "*"}), [("public", "*", None)]),
        (allow({"AWS": ["*", ECS_ROLE]}), [("public", "*", None)]),
        (allow(not_principal={"AWS": ECS_ROLE}), [("public", "*", None)]),
        (allow("*", condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}), [("organization", "o-abc123", None)]),
        (allow("*", condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a/r-b/*"}}), [("organization", "o-a/r-b/*", None)]),
        (allow("*", condition={"stringequals": {"AWS:PRINCIPALACCOUNT": OTHER}}), [("account", OTHER, OTHER)]),
        (allow("*", condition={"StringEquals": {"aws:SourceAccount": [ACCOUNT, TRUSTED]}}),
         [("account", ACCOUNT, ACCOUNT), ("account", TRUSTED, TRUSTED)]),
        (allow("*", condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/ci-*"}}),
         [("pattern", f"arn:aws:iam::{OTHER}:role/ci-*", OTHER)]),
        (allow("*", condition={"ArnLike": {"aws:PrincipalArn": names.lightsail_puller_arn_pattern("aws", ACCOUNT, REGION)}}),
         [("lightsail_pattern", names.lightsail_puller_arn_pattern("aws", ACCOUNT, REGION), ACCOUNT)]),
        # Conditions that do not limit who: negated, IfExists, ForAllValues, a bare "*", other keys.
        (allow("*", condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}), [("public", "*", None)]),
        (allow("*", condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}), [("public", "*", None)]),
        (allow("*", condition={"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}), [("public", "*", None)]),
        (allow("*", condition={"StringLike": {"aws:PrincipalAccount": "*"}}), [("public", "*", None)]),
        (allow("*", condition={"Bool": {"aws:SecureTransport": "true"}}), [("public", "*", None)]),
        (allow({"AWS": ACCOUNT}), [("account", ACCOUNT, ACCOUNT)]),
        (allow({"AWS": f"arn:aws-cn:iam::{OTHER}:root"}), [("account", f"arn:aws-cn:iam::{OTHER}:root", OTHER)]),
        (allow({"AWS": f"arn:aws-us-gov:iam::{OTHER}:role/deploy"}), [("role", f"arn:aws-us-gov:iam::{OTHER}:role/deploy", OTHER)]),
        (allow({"AWS": f"arn:aws:iam::{OTHER}:user/alice"}), [("user", f"arn:aws:iam::{OTHER}:user/alice", OTHER)]),
        (allow({"AWS": f"arn:aws:sts::{OTHER}:assumed-role/r/s"}), [("assumed_role", f"arn:aws:sts::{OTHER}:assumed-role/r/s", OTHER)]),
        (allow({"AWS": "AROAEXAMPLEID1234567"}), [("unique_id", "AROAEXAMPLEID1234567", None)]),
        (allow({"AWS": "AIDAEXAMPLEID1234567"}), [("unique_id", "AIDAEXAMPLEID1234567", None)]),
        (allow({"AWS": PULLER_WEB}), [("lightsail_puller", PULLER_WEB, ACCOUNT)]),
        (allow({"AWS": PULLER_WEB.replace("arn:aws:", "arn:aws-cn:").replace("us-east-1", "cn-north-1")}),
         [("lightsail_puller", PULLER_WEB.replace("arn:aws:", "arn:aws-cn:").replace("us-east-1", "cn-north-1"), ACCOUNT)]),
        (allow({"AWS": SERVICE_WEB}), [("lightsail_service_principal", SERVICE_WEB, ACCOUNT)]),
        (allow({"AWS": ECS_ROLE}), [("ecs_role", ECS_ROLE, ACCOUNT)]),
        (allow({"Service": "ecs-tasks.amazonaws.com"}), [("service", "ecs-tasks.amazonaws.com", None)]),
        # Not a grant: Deny, no pull action, NotAction excluding the pull.
        ({"Effect": "Deny", "Principal": "*", "Action": "ecr:*"}, []),
        (allow("*", action=["ecr:PutImage"]), []),
        (allow("*", action=None, NotAction=["ecr:BatchGetImage"]), []),
    ],
    ids=[
        "star", "aws-star", "star-in-list", "not-principal", "org-id", "for-any-value-org-paths", "mixed-case-key-and-operator",
        "source-account-list", "principal-arn-pattern", "lightsail-account-pattern", "negated", "if-exists", "for-all-values",
        "star-value", "other-key", "account-id", "aws-cn-root", "aws-us-gov-role", "user", "assumed-role", "unique-role",
        "unique-user", "lightsail-puller", "lightsail-puller-aws-cn", "lightsail-service-principal", "ecs-role", "service",
        "deny", "no-pull-action", "not-action-excludes-pull",
    ],
)
def test_classify_statement(statement, expected):
    if "NotAction" in statement:
        del statement["Action"]
    grants = audit_engine.classify_statement(statement, 0, context())
    assert [(g["kind"], g["principal"], g["account_id"]) for g in grants] == expected


def test_lightsail_pattern_lists_active_pullers_matching_it():
    pattern = names.lightsail_puller_arn_pattern("aws", ACCOUNT, REGION, "w*")
    grants = audit_engine.classify_statement(allow("*", condition={"ArnLike": {"aws:PrincipalArn": pattern}}), 0, context())
    assert grants[0]["workloads"] == ["lightsail:web"]


@pytest.mark.parametrize(
    "statement, allows_pull, beyond",
    [
        ({"Action": PULL}, True, []),
        ({"Action": "ecr:batchgetimage"}, True, []),
        ({"Action": "ecr:*"}, True, ["ecr:*"]),
        ({"Action": "*"}, True, ["*"]),
        ({"Action": ["ecr:BatchGetImage", "ecr:PutImage", "ecr:Describe*"]}, True, ["ecr:PutImage"]),
        ({"Action": ["ecr:Batch*"]}, True, ["ecr:Batch*"]),  # BatchDeleteImage
        ({"NotAction": ["ecr:PutImage"]}, True, ["NotAction: ecr:PutImage"]),
        ({"NotAction": ["ecr:BatchGetImage"]}, False, ["NotAction: ecr:BatchGetImage"]),
        ({"Action": ["ecr:PutImage"]}, False, ["ecr:PutImage"]),
    ],
    ids=["pull", "lower-case", "ecr-star", "star", "push-action", "batch-wildcard", "not-action", "not-action-pull", "push-only"],
)
def test_statement_actions(statement, allows_pull, beyond):
    assert audit_engine.statement_actions(statement) == (allows_pull, beyond)


# ---------------------------------------------------------------------------------------------
# Findings of a whole audit
# ---------------------------------------------------------------------------------------------

def repo(name, statements):
    return {"name": name, "registry_id": ACCOUNT, "policy_text": json.dumps({"Version": "2012-10-17", "Statement": statements}) if statements else None}


def codes(result):
    return sorted((f["code"], f["target"]) for f in result["findings"])


@pytest.mark.parametrize(
    "statements, expected",
    [
        ([allow({"AWS": PULLER_WEB}, Sid="Web")], []),
        ([allow("*")], [("PUBLIC_PULL", "app")]),
        ([allow(not_principal={"AWS": ECS_ROLE})], [("PUBLIC_PULL", "app")]),
        ([allow("*", condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})], []),
        ([allow("*", condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}})], [("PUBLIC_PULL", "app")]),
        ([allow("*", condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}, "StringEquals": {"aws:PrincipalAccount": TRUSTED}})], []),
        ([allow("*", condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}, "StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})], []),
        ([allow({"AWS": f"arn:aws:iam::{OTHER}:root"})], [("UNTRUSTED_ACCOUNT", "app")]),
        ([allow({"AWS": f"arn:aws:iam::{TRUSTED}:root"})], []),
        ([allow("*", condition={"StringEquals": {"aws:PrincipalAccount": OTHER}})], [("UNTRUSTED_ACCOUNT", "app")]),
        ([allow({"AWS": "AROAEXAMPLEID1234567"})], [("DELETED_PRINCIPAL", "app")]),
        ([allow({"AWS": [PULLER_WEB, PULLER_GONE]})], [("STALE_LIGHTSAIL_GRANT", "app")]),
        ([allow({"AWS": [PULLER_WEB, PULLER_WEB_OLD]})], [("STALE_LIGHTSAIL_GRANT", "app")]),
        ([allow({"AWS": [PULLER_WEB, SERVICE_WEB]})], [("SERVICE_PRINCIPAL_GRANTED", "app")]),
        ([allow({"AWS": PULLER_WEB}, action="ecr:*")], [("BROAD_ACTIONS", "app")]),
        ([allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"}, action="ecr:*")], []),  # not a workload statement
        ([allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"}, action=PULL + ["ecr:PutImage"], Sid="PullAccessEcsShared")], [("BROAD_ACTIONS", "app")]),
    ],
    ids=["clean", "public", "not-principal", "org-limited", "any-account-pattern", "any-account-pattern-account-limited",
         "any-account-pattern-org-limited", "cross-account", "trusted-account", "cross-account-condition", "unique-id",
         "stale-service-gone", "stale-reactivated", "service-principal", "broad-actions", "broad-non-workload", "broad-owned-statement"],
)
def test_repository_findings(statements, expected):
    # Both active pullers are granted elsewhere so that they are not reported unused.
    result = audit_engine.audit(REGION, ACCOUNT, [repo("app", statements), repo("other", [allow({"AWS": [PULLER_API, PULLER_WEB]}, Sid="Both")])],
                                services=SERVICES, trusted_accounts=[TRUSTED])
    assert codes(result) == expected


def test_unused_puller_only_when_every_repository_was_read():
    repositories = [repo("app", [allow({"AWS": PULLER_WEB})])]
    found = audit_engine.audit(REGION, ACCOUNT, repositories, services=SERVICES)
    assert codes(found) == [("UNUSED_LIGHTSAIL_PULLER", "lightsail:api")]
    assert codes(audit_engine.audit(REGION, ACCOUNT, repositories, services=SERVICES, all_repositories=False)) == []


def test_policy_near_limit_says_what_fits():
    principals = [f"arn:aws:iam::{ACCOUNT}:role/r{i:04d}-{'x' * 40}" for i in range(115)]
    result = audit_engine.audit(REGION, ACCOUNT, [repo("big", [allow({"AWS": principals})])])
    near = [f for f in result["findings"] if f["code"] == "POLICY_NEAR_LIMIT"]
    assert len(near) == 1, result["findings"]
    assert result["repositories"][0]["policy_size_percent"] > 80
    fits = near[0]["details"]["more_workloads"]
    assert 0 < fits["workload"] < fits["shared"] < 20
    small = audit_engine.audit(REGION, ACCOUNT, [repo("small", [allow({"AWS": principals[:10]})])])
    assert not small["findings"]


def task(images, role=ECS_ROLE, attached=(), inline=None, revision=1):
    return {"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/app:{revision}", "family": "app", "revision": revision,
            "execution_role_arn": role, "launch_types": ["FARGATE"],
            "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)],
            "permissions": {"attached": list(attached), "inline": inline or {}}}


OWN_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:1"
OTHER_IMAGE = f"{OTHER}.dkr.ecr.{REGION}.amazonaws.com/shared:1"
MANAGED = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
INLINE = {"ecr-pull": {"Version": "2012-10-17", "Statement": [
    {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
    {"Sid": "PullImages", "Effect": "Allow", "Action": list(names.ECS_PULL_ACTIONS),
     "Resource": [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app"]}]}}


@pytest.mark.parametrize(
    "definition, repositories, expected, pulls",
    [
        (task([OWN_IMAGE], attached=[MANAGED]), [], [], ["app"]),
        (task([OWN_IMAGE], inline=INLINE), [], [], ["app"]),
        (task([OWN_IMAGE.replace("/app:", "/other:")], inline=INLINE), [], [("ECS_ROLE_CANNOT_PULL", "ecs:app:1")], []),
        (task([OWN_IMAGE]), [], [("ECS_ROLE_CANNOT_PULL", "ecs:app:1")], []),
        (task([OWN_IMAGE]), [repo("app", [allow({"AWS": ECS_ROLE})])], [], ["app"]),
        (task([OWN_IMAGE], role=None), [], [("ECS_ROLE_CANNOT_PULL", "ecs:app:1")], []),
        (dict(task([OWN_IMAGE], role=None), launch_types=["EC2"]), [], [], []),  # the instance role pulls; not read
        (dict(task([OWN_IMAGE], role=None), launch_types=[]), [], [], []),  # no launch type required: may run on EC2
        (task(["nginx:latest"], attached=[MANAGED]), [], [("ECS_IMAGE_NOT_ECR_URI", "ecs:app:1")], []),
        (task(["public.ecr.aws/nginx/nginx:1"], attached=[MANAGED]), [], [], []),
        # Another account's repository: the role's permission is not enough, its policy must allow the role.
        (task([OTHER_IMAGE], attached=[MANAGED]), [], [], []),
    ],
    ids=["managed", "inline", "inline-other-repository", "no-permission", "repository-policy-grants-role", "no-role", "no-role-ec2",
         "no-role-no-launch-type", "docker-hub",
         "ecr-public", "cross-account-unread"],
)
def test_ecs_findings(definition, repositories, expected, pulls):
    result = audit_engine.audit(REGION, ACCOUNT, repositories, task_definitions=[definition])
    assert codes(result) == expected
    assert result["workloads"][0]["repositories"] == pulls


def test_ecs_cross_account_repository_policy_decides():
    definition = task([OTHER_IMAGE], attached=[MANAGED])
    denied = audit_engine.audit(REGION, OTHER, [dict(repo("shared", [allow({"AWS": f"arn:aws:iam::{OTHER}:root"})]), registry_id=OTHER)],
                                task_definitions=[definition])
    assert codes(denied) == [("ECS_ROLE_CANNOT_PULL", "ecs:app:1")]
    assert "does not allow the role" in denied["findings"][0]["message"]
    allowed = audit_engine.audit(REGION, OTHER, [dict(repo("shared", [allow({"AWS": ECS_ROLE})]), registry_id=OTHER)],
                                 task_definitions=[definition], trusted_accounts=[ACCOUNT])
    assert codes(allowed) == []
    assert allowed["workloads"][0]["repositories"] == ["shared"]


# ---------------------------------------------------------------------------------------------
# Drift against the inventory
# ---------------------------------------------------------------------------------------------

def declared(name, mode="shared", repositories=("app",), state="present"):
    return {"type": "lightsail", "name": name, "sid": pull_access.workload_sid("lightsail", name, REGION), "statement_mode": mode,
            "state": state, "repositories": [{"name": r, "registry_id": None, "region": REGION} for r in repositories]}


def ecs_declared(role_name):
    return {"type": "ecs", "name": role_name.rsplit("/", 1)[-1], "sid": pull_access.workload_sid("ecs", role_name, REGION), "role_name": role_name,
            "task_definition": "", "statement_mode": "shared", "state": "present",
            "repositories": [{"name": "app", "registry_id": None, "region": REGION}]}


@pytest.mark.parametrize(
    "statements, workloads, expected",
    [
        ([allow({"AWS": [PULLER_API, PULLER_WEB]}, Sid="PullAccessLightsailShared")], [declared("web"), declared("api")], []),
        ([allow({"AWS": [PULLER_API, PULLER_WEB]}, Sid="PullAccessLightsailShared")], [declared("web")], [("UNDECLARED_GRANT", "app")]),
        ([allow({"AWS": [PULLER_WEB]}, Sid="PullAccessLightsailShared")], [declared("web"), declared("api")],
         [("MISSING_GRANT", "lightsail:api")]),
        ([allow({"AWS": PULLER_WEB}, Sid=pull_access.workload_sid("lightsail", "web", REGION))], [declared("web", "workload")], []),
        ([allow({"AWS": PULLER_WEB}, Sid=pull_access.workload_sid("lightsail", "web", REGION))], [], [("UNDECLARED_GRANT", "app")]),
        ([allow({"AWS": PULLER_WEB}, Sid="SomeoneElses")], [], []),  # other tools' statements are not drift
        ([allow("*", Sid="PullAccessLightsailAccount", condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT},
                                                                  "ArnLike": {"aws:PrincipalArn": ACCOUNT_PATTERN}})],
         [declared("web", "account"), declared("api", "account")], []),
        ([allow({"AWS": [ECS_ROLE]}, Sid="PullAccessEcsShared")], [ecs_declared(role_name="ecsTaskExecutionRole")], []),
        ([allow({"AWS": [ECS_ROLE]}, Sid="PullAccessEcsShared")], [ecs_declared(role_name=ECS_ROLE)], []),
        ([allow({"AWS": [ECS_ROLE]}, Sid="PullAccessEcsShared")], [ecs_declared(role_name="otherRole")], [("UNDECLARED_GRANT", "app")]),
        ([], [declared("idle")], [("MISSING_GRANT", "lightsail:idle")]),
        ([], [declared("web", repositories=("nope",))], [("MISSING_GRANT", "lightsail:web")]),
    ],
    ids=["in-sync", "undeclared-shared-principal", "missing-shared", "workload-mode", "undeclared-workload-sid", "foreign-ignored",
         "account-mode", "ecs-role-by-name", "ecs-role-by-arn", "ecs-other-role", "inactive-puller", "missing-repository"],
)
def test_drift(statements, workloads, expected):
    result = audit_engine.audit(REGION, ACCOUNT, [repo("app", statements)], services=SERVICES, declared=workloads, all_repositories=False)
    assert codes(result) == expected


# ---------------------------------------------------------------------------------------------
# Matrix, severities, names
# ---------------------------------------------------------------------------------------------

def test_matrix_cells_say_how_each_workload_pulls():
    pattern = names.lightsail_puller_arn_pattern("aws", ACCOUNT, REGION, "a*")
    result = audit_engine.audit(
        REGION, ACCOUNT,
        [repo("app", [allow({"AWS": PULLER_WEB}, Sid="Web")]),
         repo("lib", [allow("*", Sid="Acc", condition={"ArnLike": {"aws:PrincipalArn": pattern}})])],
        services=SERVICES, task_definitions=[task([OWN_IMAGE], attached=[MANAGED])])
    cells = {(c["repository"], c["workload"]): (c["kind"], c["sid"]) for c in result["matrix"]["cells"]}
    assert cells == {
        ("app", "lightsail:web"): ("lightsail_puller", "Web"),
        ("lib", "lightsail:api"): ("lightsail_pattern", "Acc"),
        ("app", "ecs:app:1"): ("identity_policy", None),
    }
    assert result["matrix"]["workloads"] == ["lightsail:api", "lightsail:idle", "lightsail:web", "ecs:app:1"]


@pytest.mark.parametrize(
    "threshold, count",
    [("info", 3), ("low", 3), ("medium", 2), ("high", 1), ("critical", 1)],
)
def test_severity_reached(threshold, count):
    findings = [{"severity": "critical"}, {"severity": "medium"}, {"severity": "low"}]
    assert len(audit_engine.severity_reached(findings, threshold)) == count


def test_severity_reached_refuses_unknown():
    with pytest.raises(ValueError, match="not one of info, low, medium, high, critical"):
        audit_engine.severity_reached([], "severe")


def test_every_finding_has_a_known_severity():
    assert all(entry[0] in audit_engine.SEVERITIES for entry in audit_engine.FINDINGS.values())


def test_statements_match_the_role_filter():
    # The role's filter writes these statements; the audit recognises them by their Sids and pattern.
    assert pull_access.workload_sid("ecs", "x", REGION).startswith(names.OWNED_SID_PREFIX)
    assert pull_access.account_statement(REGION, ACCOUNT, "*")["conditions"]["ArnLike"]["aws:PrincipalArn"] == \
        names.lightsail_puller_arn_pattern("aws", ACCOUNT, REGION)


def test_invalid_policy_is_reported_not_raised():
    result = audit_engine.audit(REGION, ACCOUNT, [{"name": "bad", "registry_id": ACCOUNT, "policy_text": "{not json"}])
    assert "not valid JSON" in result["repositories"][0]["error"]
    assert result["findings"] == []


@pytest.mark.parametrize(
    "arn, expected",
    [
        (PULLER_WEB, ("puller", "web", REGION)),
        (SERVICE_WEB, ("service", "web", REGION)),
        (GOV_PULLER, ("puller", "x", "us-gov-west-1")),
        (ECS_ROLE, None),
        ("AROAEXAMPLEID1234567", None),
    ],
    ids=["puller", "service", "aws-us-gov", "other-role", "unique-id"],
)
def test_parse_lightsail_role_arn(arn, expected):
    parsed = names.parse_lightsail_role_arn(arn)
    assert (parsed and (parsed["kind"], parsed["service_name"], parsed["region"])) == expected


def test_role_of_another_account_is_not_reported_as_unable():
    definition = dict(task([OWN_IMAGE]), permissions=None)
    result = audit_engine.audit(REGION, ACCOUNT, [], task_definitions=[definition])
    assert codes(result) == []
    assert result["workloads"][0]["images"][0]["can_pull"] is None
    assert "not read" in result["workloads"][0]["images"][0]["reason"]


@pytest.mark.parametrize(
    "permissions, expected",
    [
        ({"attached": [MANAGED, "arn:aws:iam::123456789012:policy/other"], "inline": {}}, {"pull_managed_policies": [MANAGED], "inline_policies": []}),
        ({"attached": [], "inline": INLINE}, {"pull_managed_policies": [], "inline_policies": ["ecr-pull"]}),
        (None, None),
    ],
    ids=["managed", "inline", "not-read"],
)
def test_ecs_workload_reports_role_permissions(permissions, expected):
    result = audit_engine.audit(REGION, ACCOUNT, [], task_definitions=[dict(task([OWN_IMAGE]), permissions=permissions)])
    assert result["workloads"][0]["role_permissions"] == expected
