# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ECR repository policies as AWS answers them: re-serialised, validated, principals looked up."""

import json

import pytest
from botocore.exceptions import ClientError

from rig import Rig, RigError
from rig.ecr import INVALID_POLICY_MESSAGE, POLICY_MAX_LENGTH, TOO_LONG_MESSAGE, jackson_pretty
from rig.faults import ECR_PRINCIPAL_NOT_FOUND_MESSAGE
from rig_testlib import NO_RETRY, wait_for

ACCOUNT = "123456789012"
OTHER = "222222222222"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
ROLE = f"arn:aws:iam::{ACCOUNT}:role/puller"
DEFAULTS = {"rewrite_policy": True, "principal_order": "sorted", "validate_policy": True, "check_principals": True}


def document(*statements, version="2012-10-17"):
    return {"Version": version, "Statement": list(statements)}


def allow(principal, sid="Pull", actions=None, **extra):
    return dict({"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": PULL if actions is None else actions}, **extra)


@pytest.fixture
def ecr(rig):
    client = rig.client("ecr", config=NO_RETRY)
    client.create_repository(repositoryName="app")
    return client


def put(ecr, policy, repository="app", **kwargs):
    """SetRepositoryPolicy with a document (dumped compactly) or a text; returns the text the response carries."""
    text = policy if isinstance(policy, str) else json.dumps(policy, separators=(",", ":"))
    return ecr.set_repository_policy(repositoryName=repository, policyText=text, **kwargs)["policyText"]


def stored(ecr, repository="app"):
    try:
        return ecr.get_repository_policy(repositoryName=repository)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None


def refused(ecr, policy, repository="app"):
    """The (code, message) ECR answers a refused SetRepositoryPolicy with."""
    with pytest.raises(ClientError) as excinfo:
        put(ecr, policy, repository)
    error = excinfo.value.response["Error"]
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Code"], error["Message"]


# ----- re-serialisation ----------------------------------------------------------------------

# The GetRepositoryPolicy example of the AWS SDK and CLI documentation (Jackson's pretty printer).
AWS_EXAMPLE = (
    '{\n  "Version" : "2008-10-17",\n  "Statement" : [ {\n    "Sid" : "new statement",\n    "Effect" : "Allow",\n'
    '    "Principal" : {\n      "AWS" : "arn:aws:iam::012345678901:role/CodeDeployDemo"\n    },\n'
    '    "Action" : [ "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability" ]\n  } ]\n}')


def test_pretty_printer_matches_the_aws_example():
    assert jackson_pretty(json.loads(AWS_EXAMPLE)) == AWS_EXAMPLE
    assert jackson_pretty({"a": {}, "b": [], "c": [{"d": 1.5, "e": None, "f": True}], "g": "ü"}) == (
        '{\n  "a" : { },\n  "b" : [ ],\n  "c" : [ {\n    "d" : 1.5,\n    "e" : null,\n    "f" : true\n  } ],\n  "g" : "ü"\n}')


def test_policy_comes_back_as_ecr_writes_it(rig, ecr):
    rig.create_roles("arn:aws:iam::012345678901:role/CodeDeployDemo")
    written = json.dumps(json.loads(AWS_EXAMPLE), separators=(",", ":"))
    assert put(ecr, written) == AWS_EXAMPLE
    assert stored(ecr) == AWS_EXAMPLE
    assert ecr.delete_repository_policy(repositoryName="app")["policyText"] == AWS_EXAMPLE


def test_account_principals_become_root_arns_and_lists_are_sorted(rig, ecr):
    rig.create_roles(ROLE)
    policy = document(
        allow(["444455556666", ROLE, "111122223333", "arn:aws:iam::999999999999:root"], sid="Fleet"),
        allow("210987654321", sid="One"),                                      # a string stays a string
        {"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}},
        {"Sid": "Svc", "Effect": "Allow", "Principal": {"Service": ["ecs.amazonaws.com", "codebuild.amazonaws.com"]}, "Action": PULL},
        {"Effect": "Deny", "NotPrincipal": {"AWS": ["333333333333", ROLE]}, "NotAction": "ecr:BatchGetImage"})
    text = put(ecr, policy)
    assert text == stored(ecr)
    got = json.loads(text)
    assert got["Statement"][0]["Principal"] == {"AWS": [
        "arn:aws:iam::111122223333:root", ROLE, "arn:aws:iam::444455556666:root", "arn:aws:iam::999999999999:root"]}
    assert got["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert got["Statement"][2] == policy["Statement"][2]
    assert got["Statement"][3]["Principal"] == {"Service": ["codebuild.amazonaws.com", "ecs.amazonaws.com"]}
    assert got["Statement"][4]["NotPrincipal"] == {"AWS": [ROLE, "arn:aws:iam::333333333333:root"]}
    # Everything else as written: key order, Actions in their order, Version.
    assert [list(s) for s in got["Statement"]] == [list(s) for s in policy["Statement"]]
    assert got["Statement"][0]["Action"] == PULL and got["Version"] == "2012-10-17"
    assert text == jackson_pretty(got)


@pytest.mark.parametrize("region, partition", [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-west-1", "aws")])
def test_root_arn_in_the_partition_of_the_region(rig, region, partition):
    ecr = rig.client("ecr", region=region, config=NO_RETRY)
    ecr.create_repository(repositoryName="app")
    assert json.loads(put(ecr, document(allow("444455556666"))))["Statement"][0]["Principal"] == {
        "AWS": f"arn:{partition}:iam::444455556666:root"}


def test_principal_order_setting(rig, ecr):
    principals = ["222222222222", "111111111111", "333333333333"]
    as_roots = [f"arn:aws:iam::{p}:root" for p in principals]
    for order, expected in (("reversed", sorted(as_roots, reverse=True)), ("as_written", as_roots), ("sorted", sorted(as_roots))):
        assert rig.ecr_settings(principal_order=order)["principal_order"] == order
        assert json.loads(put(ecr, document(allow(principals))))["Statement"][0]["Principal"]["AWS"] == expected


def test_rewrite_off_stores_the_text_as_written(rig, ecr):
    text = json.dumps(document(allow(["222222222222", "111111111111"])))
    assert rig.ecr_settings(rewrite_policy=False)["rewrite_policy"] is False
    assert put(ecr, text) == text and stored(ecr) == text


# ----- validation ------------------------------------------------------------------------------

MALFORMED = {
    "not-json": '{"Version": "2012-10-17", "Statement": [',
    "not-an-object": json.dumps([allow(ACCOUNT)]),
    "no-statement": json.dumps({"Version": "2012-10-17"}),
    "empty-statement": json.dumps(document()),
    "unknown-top-key": json.dumps(dict(document(allow(ACCOUNT)), Extra=1)),
    "unknown-version": json.dumps(document(allow(ACCOUNT), version="2020-01-01")),
    "duplicate-sids": json.dumps(document(allow(ACCOUNT, sid="Dup"), allow("444455556666", sid="Dup"))),
    "resource": json.dumps(document(allow(ACCOUNT, Resource="arn:aws:ecr:us-east-1:123456789012:repository/app"))),
    "not-resource": json.dumps(document(allow(ACCOUNT, NotResource="*"))),
    "effect-lowercase": json.dumps(document(dict(allow(ACCOUNT), Effect="allow"))),
    "effect-invalid": json.dumps(document(dict(allow(ACCOUNT), Effect="Maybe"))),
    "no-effect": json.dumps(document({"Sid": "x", "Principal": {"AWS": ACCOUNT}, "Action": PULL})),
    "no-principal": json.dumps(document({"Sid": "x", "Effect": "Allow", "Action": PULL})),
    "principal-and-not-principal": json.dumps(document(dict(allow(ACCOUNT), NotPrincipal={"AWS": ACCOUNT}))),
    "bad-principal-kind": json.dumps(document(dict(allow(ACCOUNT), Principal={"Role": ACCOUNT}))),
    "empty-principal-list": json.dumps(document(allow([]))),
    "no-action": json.dumps(document({"Sid": "x", "Effect": "Allow", "Principal": {"AWS": ACCOUNT}})),
    "action-not-string": json.dumps(document(allow(ACCOUNT, actions=[1]))),
    "statement-not-object": json.dumps(document("ecr:*")),
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_policy_is_refused_and_nothing_stored(rig, ecr, text):
    mark = rig.mark()
    assert refused(ecr, text) == ("InvalidParameterException", INVALID_POLICY_MESSAGE)
    assert stored(ecr) is None
    [entry] = rig.requests(since=mark, operation="SetRepositoryPolicy")
    assert (entry["status"], entry["error_code"], entry["mutating"], entry["fault"]) == (400, "InvalidParameterException", True, None)


def test_policy_text_over_10240_characters(rig, ecr):
    base = json.dumps(document(allow(ACCOUNT)))
    at_limit = base[:-1] + " " * (POLICY_MAX_LENGTH - len(base)) + "}"
    assert len(at_limit) == POLICY_MAX_LENGTH
    put(ecr, at_limit)
    assert refused(ecr, base[:-1] + " " * (POLICY_MAX_LENGTH + 1 - len(base)) + "}") == ("InvalidParameterException", TOO_LONG_MESSAGE)
    # The re-serialised text may be longer than the limit: ECR counts what was sent.
    principals = [f"{100000000000 + i}" for i in range(330)]
    compact = json.dumps(document(allow(principals)), separators=(",", ":"))
    assert len(compact) <= POLICY_MAX_LENGTH < len(put(ecr, compact))


def test_validation_off_lets_moto_decide(rig, ecr):
    rig.ecr_settings(validate_policy=False)
    put(ecr, MALFORMED["duplicate-sids"])  # moto does not mind duplicate Sids
    assert [s["Sid"] for s in json.loads(stored(ecr))["Statement"]] == ["Dup", "Dup"]
    assert refused(ecr, MALFORMED["not-json"]) == ("InvalidParameterException", INVALID_POLICY_MESSAGE)  # moto's own check


def test_missing_repository_is_moto_s_answer(ecr):
    code, message = refused(ecr, MALFORMED["not-json"], repository="nope")
    assert code == "RepositoryNotFoundException" and "'nope'" in message


# ----- principals ------------------------------------------------------------------------------

def test_principal_not_found_until_the_role_exists(rig, ecr):
    policy = document(allow([ROLE, ACCOUNT]))
    mark = rig.mark()
    assert refused(ecr, policy) == ("InvalidParameterException", ECR_PRINCIPAL_NOT_FOUND_MESSAGE)
    assert stored(ecr) is None
    [entry] = rig.requests(since=mark, operation="SetRepositoryPolicy")
    assert (entry["error_code"], entry["fault"]) == ("InvalidParameterException", None)
    assert rig.create_roles(ROLE) == [ROLE]
    put(ecr, policy)
    assert json.loads(stored(ecr))["Statement"][0]["Principal"]["AWS"] == [ROLE, "arn:aws:iam::123456789012:root"]


def test_principals_that_always_exist(ecr):
    put(ecr, document(allow(["*", "555555555555", "arn:aws:iam::666666666666:root", "arn:aws-cn:iam::777777777777:root"]),
                      {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"},
                      {"Sid": "Svc", "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": PULL}))


def test_roles_with_paths_users_sessions_and_unique_ids(rig, ecr):
    iam = rig.client("iam")
    trust = json.dumps(document({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    role = iam.create_role(RoleName="exec", Path="/ecs/", AssumeRolePolicyDocument=trust)["Role"]
    user = iam.create_user(UserName="ci")["User"]
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/exec/i-0123"
    put(ecr, document(allow([role["Arn"], user["Arn"], session, role["RoleId"]])))
    for missing in (f"arn:aws:iam::{ACCOUNT}:role/exec",              # without its path
                    f"arn:aws:iam::{ACCOUNT}:user/nobody",
                    f"arn:aws:sts::{ACCOUNT}:assumed-role/nobody/i-0123",
                    "AROAABCDEFGHIJKLMNOPQ",                            # a unique id nobody has
                    f"arn:aws:iam::{ACCOUNT}:group/admins",             # not a principal
                    "not-an-arn"):
        assert refused(ecr, document(allow([role["Arn"], missing]))) == ("InvalidParameterException", ECR_PRINCIPAL_NOT_FOUND_MESSAGE), missing
    # NotPrincipal is checked too.
    assert refused(ecr, document({"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": PULL}))[1] == ECR_PRINCIPAL_NOT_FOUND_MESSAGE


def test_principals_of_another_account_are_looked_up_there(rig, ecr):
    other_role = f"arn:aws:iam::{OTHER}:role/ci"
    rig.create_roles(f"arn:aws:iam::{ACCOUNT}:role/ci")  # same name, wrong account
    assert refused(ecr, document(allow(other_role)))[1] == ECR_PRINCIPAL_NOT_FOUND_MESSAGE
    rig.create_roles(other_role)
    put(ecr, document(allow(other_role)))
    # A repository of the other account, written by the default account (cross-account routing):
    # the principal is still looked up in its own account.
    rig.account_client("ecr", OTHER).create_repository(repositoryName="base")
    put(ecr, document(allow(other_role)), repository="base", registryId=OTHER)
    with pytest.raises(ClientError) as excinfo:
        ecr.set_repository_policy(repositoryName="base", registryId=OTHER, policyText=json.dumps(document(allow(ROLE))))
    assert excinfo.value.response["Error"]["Message"] == ECR_PRINCIPAL_NOT_FOUND_MESSAGE


def test_lightsail_principals(rig, ecr, lightsail):
    service = lightsail.create_container_service(serviceName="web", power="nano", scale=1)["containerService"]
    # The service's own principal exists from creation (granting it is a mistake, but ECR takes it).
    put(ecr, document(allow(service["principalArn"])))
    wait_for(lambda: lightsail.get_container_services(serviceName="web")["containerServices"][0]["state"] == "READY")
    lightsail.update_container_service(serviceName="web", privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})

    def puller():
        return lightsail.get_container_services(serviceName="web")["containerServices"][0]["privateRegistryAccess"]["ecrImagePullerRole"]
    arn = wait_for(lambda: puller()["principalArn"])
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{arn.rsplit('/', 1)[-1]}/session"
    put(ecr, document(allow([arn, session])))
    wait_for(lambda: lightsail.get_container_services(serviceName="web")["containerServices"][0]["state"] == "READY")
    rig.lightsail_config(puller_delay=60)  # deactivating: hold the service in UPDATING while we look
    lightsail.update_container_service(serviceName="web", privateRegistryAccess={"ecrImagePullerRole": {"isActive": False}})
    assert puller() == {"isActive": False, "principalArn": arn}  # still shown while UPDATING, but no longer active
    assert refused(ecr, document(allow(arn)))[1] == ECR_PRINCIPAL_NOT_FOUND_MESSAGE
    # Another account's Lightsail roles are not ours: same path, other account.
    assert refused(ecr, document(allow(arn.replace(ACCOUNT, OTHER))))[1] == ECR_PRINCIPAL_NOT_FOUND_MESSAGE


def test_principal_check_off(rig, ecr):
    rig.ecr_settings(check_principals=False)
    put(ecr, document(allow([ROLE, "AROAABCDEFGHIJKLMNOPQ"])))
    assert json.loads(stored(ecr))["Statement"][0]["Principal"]["AWS"] == ["AROAABCDEFGHIJKLMNOPQ", ROLE]


def test_validation_comes_before_the_principal_check(ecr):
    assert refused(ecr, json.dumps(document(allow(ROLE, sid="Dup"), allow(ROLE, sid="Dup"))))[1] == INVALID_POLICY_MESSAGE


# ----- settings ---------------------------------------------------------------------------------

def test_settings_endpoint_and_reset(rig):
    assert rig.ecr_settings() == DEFAULTS
    assert rig.health()["ecr"] == DEFAULTS
    changed = rig.ecr_settings(rewrite_policy=False, principal_order="reversed", validate_policy=False, check_principals=False)
    assert changed == {"rewrite_policy": False, "principal_order": "reversed", "validate_policy": False, "check_principals": False}
    for bad in ({"rewrite_policy": "yes"}, {"principal_order": "random"}, {"nope": True}):
        with pytest.raises(RigError, match="400"):
            rig.ecr_settings(**bad)
    assert rig.ecr_settings() == changed, "an invalid change must change nothing"
    rig.reset(ecr=False)
    assert rig.ecr_settings() == changed
    rig.reset()
    assert rig.ecr_settings() == DEFAULTS


def test_start_option(tmp_path):
    with Rig.start(tmp_path, ecr_settings={"check_principals": False, "principal_order": "as_written"}) as other:
        expected = dict(DEFAULTS, check_principals=False, principal_order="as_written")
        assert other.ecr_settings() == expected
        ecr = other.client("ecr", config=NO_RETRY)
        ecr.create_repository(repositoryName="app")
        assert json.loads(put(ecr, document(allow([ROLE, "111111111111"]))))["Statement"][0]["Principal"]["AWS"] == [
            ROLE, "arn:aws:iam::111111111111:root"]
        other.reset()
        assert other.ecr_settings() == expected, "a reset goes back to the settings the server started with"
    with pytest.raises(RigError, match="unknown ECR setting"):
        Rig.start(tmp_path / "bad", ecr_settings={"nope": True})
