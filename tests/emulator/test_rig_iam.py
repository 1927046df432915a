# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""IAM enforcement: limited credentials get what their identity policy allows, and no more."""

import json
import time

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from rig import RigError
from rig.iam import conditions_hold, evaluate, wildcard_match
from rig_testlib import NO_RETRY

REPO_ARN = "arn:aws:ecr:us-east-1:123456789012:repository/{}"
OPERATOR = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ecr:GetRepositoryPolicy", "ecr:DescribeRepositories"], "Resource": "*"},
    {"Effect": "Allow", "Action": "lightsail:GetContainerServices", "Resource": "*"},
]}
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": ["ecr:BatchGetImage"]}]})


def _error(excinfo):
    error = excinfo.value.response["Error"]
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Code"], error["Message"]


def test_limited_credentials_get_what_their_policy_allows(rig, lightsail):
    ecr = rig.client("ecr", config=NO_RETRY)
    ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", policyText=POLICY)
    lightsail.create_container_service(serviceName="web", power="nano", scale=1)
    service_arn = lightsail.get_container_services(serviceName="web")["containerServices"][0]["arn"]
    creds = rig.create_limited_credentials(OPERATOR)
    assert set(creds) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} and creds["AWS_ACCESS_KEY_ID"].startswith("AKIA")
    assert rig.enforce_iam(True)["enforce"] is True
    mark = rig.mark()

    limited_ecr = rig.client("ecr", credentials=creds, config=NO_RETRY)
    limited_lightsail = rig.client("lightsail", credentials=creds, config=NO_RETRY)
    assert limited_ecr.get_repository_policy(repositoryName="app")["policyText"]
    assert [s["containerServiceName"] for s in limited_lightsail.get_container_services()["containerServices"]] == ["web"]
    with pytest.raises(ClientError) as excinfo:
        limited_ecr.delete_repository(repositoryName="app")
    assert _error(excinfo) == (400, "AccessDeniedException", (
        "User: arn:aws:iam::123456789012:user/operator is not authorized to perform: ecr:DeleteRepository on resource: "
        f"{REPO_ARN.format('app')} because no identity-based policy allows the ecr:DeleteRepository action"))
    with pytest.raises(ClientError) as excinfo:
        limited_lightsail.delete_container_service(serviceName="web")
    status, code, message = _error(excinfo)
    assert (status, code) == (400, "AccessDeniedException") and f"lightsail:DeleteContainerService on resource: {service_arn} " in message
    with pytest.raises(ClientError) as excinfo:
        rig.client("iam", credentials=creds, config=NO_RETRY).list_users()
    assert _error(excinfo)[:2] == (403, "AccessDenied")  # query protocol: IAM's own code and status

    # Refused requests are logged and never reached a backend; the default key is exempt.
    got = [(e["service"], e["operation"], e["status"], e["error_code"]) for e in rig.requests(since=mark)]
    assert got == [("ecr", "GetRepositoryPolicy", 200, None), ("lightsail", "GetContainerServices", 200, None),
                   ("ecr", "DeleteRepository", 400, "AccessDeniedException"),
                   ("lightsail", "DeleteContainerService", 400, "AccessDeniedException"), ("iam", "ListUsers", 403, "AccessDenied")]
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["app"]
    assert lightsail.get_container_services(serviceName="web")["containerServices"][0]["state"] != "DELETING"
    assert [u["UserName"] for u in rig.client("iam", config=NO_RETRY).list_users()["Users"]] == ["operator"]

    # Off again: the same credentials may do anything.
    assert rig.enforce_iam(False)["enforce"] is False
    limited_ecr.delete_repository(repositoryName="app")


def test_resource_scoped_statements_and_explicit_deny(rig):
    ecr = rig.client("ecr", config=NO_RETRY)
    for name in ("app", "app-two", "other"):
        ecr.create_repository(repositoryName=name)
        ecr.set_repository_policy(repositoryName=name, policyText=POLICY)
    creds = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*RepositoryPolicy", "Resource": REPO_ARN.format("app*")},
        {"Effect": "Deny", "Action": "ecr:Delete*", "Resource": REPO_ARN.format("app-two")},
    ]}, name="scoped")
    rig.enforce_iam(True)
    limited = rig.client("ecr", credentials=creds, config=NO_RETRY)
    limited.get_repository_policy(repositoryName="app")
    limited.delete_repository_policy(repositoryName="app")
    limited.get_repository_policy(repositoryName="app-two")
    with pytest.raises(ClientError) as excinfo:
        limited.delete_repository_policy(repositoryName="app-two")
    assert _error(excinfo)[2].endswith("with an explicit deny in an identity-based policy")
    with pytest.raises(ClientError) as excinfo:
        limited.get_repository_policy(repositoryName="other")
    assert REPO_ARN.format("other") in _error(excinfo)[2]
    # The resource follows registryId: the same name in another account is another resource.
    with pytest.raises(ClientError) as excinfo:
        limited.get_repository_policy(repositoryName="app", registryId="222222222222")
    assert "arn:aws:ecr:us-east-1:222222222222:repository/app " in _error(excinfo)[2]
    # An operation without a repository only matches Resource "*".
    with pytest.raises(ClientError):
        limited.describe_repositories()


def test_exempt_callers_and_bad_credentials(rig):
    rig.account_client("ecr", "222222222222", config=NO_RETRY).create_repository(repositoryName="base")
    rig.enforce_iam(True)
    # The default key and sessions of the rig's cross-account role are never checked.
    assert rig.client("ecr", config=NO_RETRY).describe_repositories(registryId="222222222222")["repositories"]
    other = rig.account_client("ecr", "222222222222", config=NO_RETRY)
    other.delete_repository(repositoryName="base")
    creds = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    admin = rig.client("ecr", credentials=creds, config=NO_RETRY)
    assert admin.describe_repositories()["repositories"] == []
    # sts:GetCallerIdentity needs no permission; an unknown key and a wrong secret are refused.
    nothing = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
                                             name="nobody")
    assert rig.client("sts", credentials=nothing, config=NO_RETRY).get_caller_identity()["Arn"].endswith(":user/nobody")
    with pytest.raises(ClientError) as excinfo:
        rig.client("ecr", credentials=dict(creds, AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEY000000"), config=NO_RETRY).describe_repositories()
    assert _error(excinfo)[:2] == (400, "UnrecognizedClientException")
    with pytest.raises(ClientError) as excinfo:
        rig.client("ecr", credentials=dict(creds, AWS_SECRET_ACCESS_KEY="wrong"), config=NO_RETRY).describe_repositories()
    assert _error(excinfo)[:2] == (400, "InvalidSignatureException")
    with pytest.raises(ClientError) as excinfo:
        rig.client("iam", credentials=dict(creds, AWS_SECRET_ACCESS_KEY="wrong"), config=NO_RETRY).list_users()
    assert _error(excinfo)[:2] == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError) as excinfo:
        rig.client("ecr", config=NO_RETRY.merge(Config(signature_version=UNSIGNED))).describe_repositories()
    assert _error(excinfo)[:2] == (400, "MissingAuthenticationTokenException")


def test_iam_resources_and_role_trust(rig):
    iam = rig.client("iam", config=NO_RETRY)
    creds = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:CreateRole"], "Resource": "arn:aws:iam::123456789012:role/app-*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
    ]})
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/operator"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="app-trusting", AssumeRolePolicyDocument=json.dumps(trust))
    trust["Statement"][0]["Principal"]["AWS"] = "arn:aws:iam::123456789012:user/someone-else"
    iam.create_role(RoleName="app-strict", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_role(RoleName="other", AssumeRolePolicyDocument=json.dumps(trust))
    rig.enforce_iam(True)
    limited_iam = rig.client("iam", credentials=creds, config=NO_RETRY)
    limited_iam.get_role(RoleName="app-trusting")
    limited_iam.create_role(RoleName="app-new", AssumeRolePolicyDocument=json.dumps(trust))
    with pytest.raises(ClientError) as excinfo:
        limited_iam.get_role(RoleName="other")
    assert "on resource: arn:aws:iam::123456789012:role/other " in _error(excinfo)[2]
    sts = rig.client("sts", credentials=creds, config=NO_RETRY)
    assert sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/app-trusting", RoleSessionName="op")["Credentials"]
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/app-strict", RoleSessionName="op")
    assert _error(excinfo)[2].endswith("because the role's trust policy does not allow it")


def test_lightsail_and_instance_profile_resources(rig, lightsail):
    """Lightsail calls naming a service are checked on its ARN (GetContainerServices on *), instance
    profile calls on the instance profile (by its path once it exists, by name alone before)."""
    for name in ("mine", "theirs"):
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    mine = lightsail.get_container_services(serviceName="mine")["containerServices"][0]["arn"]
    theirs = lightsail.get_container_services(serviceName="theirs")["containerServices"][0]["arn"]
    rig.client("iam").create_instance_profile(InstanceProfileName="pathed", Path="/ecs-pull/")
    creds = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lightsail:UpdateContainerService", "Resource": mine},
        {"Effect": "Allow", "Action": "iam:GetInstanceProfile", "Resource": "arn:aws:iam::123456789012:instance-profile/ecs-pull/*"},
    ]})
    time.sleep(0.3)  # past PENDING
    rig.enforce_iam(True)
    limited = rig.client("lightsail", credentials=creds, config=NO_RETRY)
    limited.update_container_service(serviceName="mine", isDisabled=False)
    with pytest.raises(ClientError) as excinfo:
        limited.update_container_service(serviceName="theirs", isDisabled=False)
    assert f"lightsail:UpdateContainerService on resource: {theirs} " in _error(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        limited.get_container_services()
    assert "lightsail:GetContainerServices on resource: * " in _error(excinfo)[2]
    limited_iam = rig.client("iam", credentials=creds, config=NO_RETRY)
    assert limited_iam.get_instance_profile(InstanceProfileName="pathed")["InstanceProfile"]["Path"] == "/ecs-pull/"
    with pytest.raises(ClientError) as excinfo:
        limited_iam.get_instance_profile(InstanceProfileName="new")
    assert "iam:GetInstanceProfile on resource: arn:aws:iam::123456789012:instance-profile/new " in _error(excinfo)[2]


def test_simulate_principal_policy(rig):
    """SimulatePrincipalPolicy is answered with the rig's evaluator, conditions from the context
    entries; the call itself is IAM-checked on the simulated principal and logged as a read."""
    creds = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": "arn:aws:iam::123456789012:user/operator"},
        {"Effect": "Allow", "Action": "ecr:SetRepositoryPolicy", "Resource": REPO_ARN.format("app")},
        {"Effect": "Deny", "Action": "ecr:SetRepositoryPolicy", "Resource": REPO_ARN.format("locked")},
        {"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": "*",
         "Condition": {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}},
    ]})
    rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]},
                                   name="other")
    rig.enforce_iam(True)
    mark = rig.mark()
    iam = rig.client("iam", credentials=creds, config=NO_RETRY)
    source = "arn:aws:iam::123456789012:user/operator"
    results = iam.simulate_principal_policy(PolicySourceArn=source, ActionNames=["ecr:SetRepositoryPolicy"],
                                            ResourceArns=[REPO_ARN.format(name) for name in ("app", "other", "locked")])["EvaluationResults"]
    assert [(r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        (REPO_ARN.format("app"), "allowed"), (REPO_ARN.format("other"), "implicitDeny"), (REPO_ARN.format("locked"), "explicitDeny")]
    for policy_arn, decision in (("arn:aws:iam::aws:policy/ReadOnlyAccess", "allowed"), ("arn:aws:iam::aws:policy/AdministratorAccess", "implicitDeny")):
        results = iam.simulate_principal_policy(PolicySourceArn=source, ActionNames=["iam:AttachRolePolicy"],
                                                ContextEntries=[{"ContextKeyName": "iam:PolicyARN", "ContextKeyValues": [policy_arn],
                                                                 "ContextKeyType": "string"}])["EvaluationResults"]
        assert [r["EvalDecision"] for r in results] == [decision], policy_arn
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::123456789012:user/other", ActionNames=["ecr:SetRepositoryPolicy"])
    assert _error(excinfo)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as excinfo:
        rig.client("iam", config=NO_RETRY).simulate_principal_policy(PolicySourceArn="arn:aws:iam::123456789012:role/none", ActionNames=["s3:GetObject"])
    assert _error(excinfo)[1] == "NoSuchEntity"
    assert {(e["operation"], e["mutating"]) for e in rig.requests(since=mark)} == {("SimulatePrincipalPolicy", False)}


def test_settings_start_off_and_reset_restores_them(rig):
    assert rig.iam_settings() == {"enforce": False, "cross_account": True, "exempt_access_keys": ["testing"]}
    assert rig.health()["iam"]["enforce"] is False
    rig.iam_settings(enforce=True, exempt_access_keys=["testing", "AKIAOTHER"])
    with pytest.raises(RigError, match="400"):
        rig.iam_settings(enforce="yes")
    with pytest.raises(RigError, match="400"):
        rig.iam_settings(bogus=True)
    assert rig.iam_settings()["exempt_access_keys"] == ["testing", "AKIAOTHER"]
    rig.reset(moto=False, lightsail=False, faults=False, log=False)
    assert rig.iam_settings()["enforce"] is False and rig.iam_settings()["exempt_access_keys"] == ["testing"]


@pytest.mark.parametrize("statements, action, resource, expected", [
    ([{"Effect": "Allow", "Action": "ecr:Get*", "Resource": "*"}], "ecr:GetRepositoryPolicy", "arn:x", "allow"),
    ([{"Effect": "Allow", "Action": "ECR:get*", "Resource": "*"}], "ecr:GetRepositoryPolicy", "*", "allow"),
    ([{"Effect": "Allow", "Action": "ecr:Get*", "Resource": "arn:aws:ecr:*:*:repository/a?p"}], "ecr:GetRepositoryPolicy",
     "arn:aws:ecr:us-east-1:1:repository/app", "allow"),
    ([{"Effect": "Allow", "Action": "ecr:Get*", "Resource": "arn:aws:ecr:*:*:repository/app"}], "ecr:GetAuthorizationToken", "*", "implicit"),
    ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], "iam:ListUsers", "*", "implicit"),
    ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], "ecr:ListImages", "*", "allow"),
    ([{"Effect": "Allow", "Action": "*", "NotResource": "arn:secret"}], "s3:GetObject", "arn:secret", "implicit"),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "ecr:Delete*", "Resource": "*"}],
     "ecr:DeleteRepository", "arn:x", "deny"),
    ({"Effect": "Allow", "Action": "ecr:ListImages", "Resource": ["arn:a", "*"]}, "ecr:ListImages", "arn:b", "allow"),
    ([], "ecr:ListImages", "*", "implicit"),
])
def test_policy_evaluation(statements, action, resource, expected):
    assert evaluate([{"Version": "2012-10-17", "Statement": statements}], action, resource) == expected


ECS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
EC2_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
# docs/operator-policy.json's condition on iam:AttachRolePolicy and iam:DetachRolePolicy.
MANAGED_PULL_POLICIES = {"ArnLike": {"iam:PolicyARN": ["arn:aws*:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
                                                       "arn:aws*:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"]}}
USER = {"aws:RequestedRegion": "us-east-1", "aws:username": "operator", "aws:PrincipalArn": "arn:aws:iam::123456789012:user/operator",
        "aws:PrincipalAccount": "123456789012", "aws:PrincipalType": "User"}


def attaching(policy_arn):
    return dict(USER, **{"iam:PolicyARN": policy_arn})


@pytest.mark.parametrize("condition, context, expected", [
    # The operator policy's condition: only the two AWS managed pull policies, in any partition.
    (MANAGED_PULL_POLICIES, attaching(ECS_POLICY), True),
    (MANAGED_PULL_POLICIES, attaching(EC2_POLICY), True),
    (MANAGED_PULL_POLICIES, attaching("arn:aws-cn:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"), True),
    (MANAGED_PULL_POLICIES, attaching(ADMIN_POLICY), False),
    (MANAGED_PULL_POLICIES, attaching("arn:aws:iam::123456789012:policy/service-role/AmazonECSTaskExecutionRolePolicy"), False),
    (MANAGED_PULL_POLICIES, USER, False),  # a request without iam:PolicyARN (GetRole, ...)
    # ARN operators match each of the six parts on its own; the String ones the whole text.
    ({"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/*"}}, attaching(ECS_POLICY), True),
    ({"ArnLike": {"iam:PolicyARN": "arn:aws:iam::*:policy/AdministratorAccess"}}, attaching(ADMIN_POLICY), True),
    ({"ArnLike": {"iam:PolicyARN": "arn:*AdministratorAccess"}}, attaching(ADMIN_POLICY), False),
    ({"StringLike": {"iam:PolicyARN": "arn:*AdministratorAccess"}}, attaching(ADMIN_POLICY), True),
    ({"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/Admin?strator*"}}, attaching(ADMIN_POLICY), True),
    ({"ArnLike": {"iam:PolicyARN": "not-an-arn"}}, attaching("not-an-arn"), False),
    ({"ArnNotLike": {"iam:PolicyARN": ADMIN_POLICY}}, attaching(ECS_POLICY), True),
    ({"ArnNotEquals": {"iam:PolicyARN": [ECS_POLICY, ADMIN_POLICY]}}, attaching(ADMIN_POLICY), False),
    # Key names compare case-insensitively, values as the operator says; policy values are alternatives.
    ({"StringEquals": {"IAM:policyarn": ECS_POLICY}}, attaching(ECS_POLICY), True),
    ({"StringEquals": {"aws:username": "Operator"}}, USER, False),
    ({"StringEqualsIgnoreCase": {"aws:username": "Operator"}}, USER, True),
    ({"StringNotEqualsIgnoreCase": {"aws:username": "OPERATOR"}}, USER, False),
    ({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}, USER, True),
    ({"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}, USER, False),
    ({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, USER, True),
    ({"StringLike": {"aws:RequestedRegion": "us-*"}}, USER, True),
    ({"StringNotLike": {"aws:RequestedRegion": "us-*"}}, USER, False),
    ({"StringEquals": {"aws:PrincipalType": "User"}}, USER, True),
    # A key the request lacks: positive operators fail, negated ones pass, IfExists passes,
    # ForAllValues passes, ForAnyValue fails, Null tells.
    ({"StringEquals": {"iam:PolicyARN": ECS_POLICY}}, USER, False),
    ({"StringNotEquals": {"iam:PolicyARN": ECS_POLICY}}, USER, True),
    ({"ArnNotLike": {"iam:PolicyARN": ECS_POLICY}}, USER, True),
    ({"ArnLikeIfExists": {"iam:PolicyARN": ECS_POLICY}}, USER, True),
    ({"ArnLikeIfExists": {"iam:PolicyARN": ECS_POLICY}}, attaching(ADMIN_POLICY), False),
    ({"ForAllValues:StringEquals": {"iam:PolicyARN": ECS_POLICY}}, USER, True),
    ({"ForAnyValue:StringEquals": {"iam:PolicyARN": ECS_POLICY}}, USER, False),
    ({"ForAnyValue:StringNotEquals": {"iam:PolicyARN": ECS_POLICY}}, USER, False),
    ({"Null": {"iam:PolicyARN": "true"}}, USER, True),
    ({"Null": {"iam:PolicyARN": "false"}}, USER, False),
    ({"Null": {"iam:PolicyARN": False}}, attaching(ECS_POLICY), True),
    # Several values in the request: ForAnyValue needs one to match, ForAllValues all.
    ({"ForAnyValue:StringEquals": {"iam:PolicyARN": ECS_POLICY}}, attaching([ECS_POLICY, ADMIN_POLICY]), True),
    ({"ForAllValues:StringEquals": {"iam:PolicyARN": ECS_POLICY}}, attaching([ECS_POLICY, ADMIN_POLICY]), False),
    ({"ForAllValues:ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/*"}}, attaching([ECS_POLICY, ADMIN_POLICY]), True),
    ({"ForAnyValue:ArnNotLike": {"iam:PolicyARN": ECS_POLICY}}, attaching([ECS_POLICY, ADMIN_POLICY]), True),
    ({"ForAllValues:StringNotEquals": {"iam:PolicyARN": ECS_POLICY}}, attaching([ECS_POLICY, ADMIN_POLICY]), False),
    # Every operator and key must hold.
    ({"StringEquals": {"aws:username": "operator", "aws:RequestedRegion": "eu-west-1"}}, USER, False),
    ({"StringEquals": {"aws:username": "operator"}, "StringLike": {"aws:RequestedRegion": "us-*"}}, USER, True),
    # What the rig cannot evaluate: None (the caller fails closed). A known failing part still decides.
    ({"Bool": {"aws:SecureTransport": "true"}}, USER, None),
    ({"StringEquals": {"ecr:ResourceTag/team": "web"}}, USER, None),
    ({"NumericLessThan": {"aws:username": "3"}}, USER, None),
    ({"ForSomeValues:StringEquals": {"aws:username": "operator"}}, USER, None),
    ({"StringEquals": {"aws:username": {"nested": "x"}}}, USER, None),
    ({"StringEquals": {"aws:username": []}}, USER, None),
    ({"Null": {"aws:username": "maybe"}}, USER, None),
    ({"StringEquals": {"aws:username": "operator"}, "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, USER, None),
    ({"StringEquals": {"aws:username": "someone"}, "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, USER, False),
    ({"StringEquals": "operator"}, USER, None),
    (["StringEquals"], USER, None),
])
def test_condition_evaluation(condition, context, expected):
    assert conditions_hold(condition, context) is expected


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@pytest.mark.parametrize("statements, action, context, expected", [
    ([dict(ALLOW_ALL, Condition=MANAGED_PULL_POLICIES)], "iam:AttachRolePolicy", attaching(ECS_POLICY), "allow"),
    ([dict(ALLOW_ALL, Condition=MANAGED_PULL_POLICIES)], "iam:AttachRolePolicy", attaching(ADMIN_POLICY), "implicit"),
    ([dict(ALLOW_ALL, Condition=MANAGED_PULL_POLICIES)], "iam:GetRole", USER, "implicit"),
    # Fail closed: an Allow the rig cannot evaluate does not apply, such a Deny does.
    ([dict(ALLOW_ALL, Condition={"Bool": {"aws:SecureTransport": "true"}})], "ecr:ListImages", USER, "implicit"),
    ([ALLOW_ALL, dict(ALLOW_ALL, Effect="Deny", Condition={"Bool": {"aws:SecureTransport": "false"}})], "ecr:ListImages", USER, "deny"),
    ([ALLOW_ALL, dict(ALLOW_ALL, Effect="Deny", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})], "ecr:ListImages",
     USER, "allow"),
    ([ALLOW_ALL, dict(ALLOW_ALL, Effect="Deny", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})], "ecr:ListImages",
     USER, "deny"),
    ([ALLOW_ALL, dict(ALLOW_ALL, Effect="Deny", Condition={"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}})], "ecr:ListImages",
     USER, "allow"),
    # No context at all: the keys are missing, as for a request that lacks them.
    ([dict(ALLOW_ALL, Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})], "ecr:ListImages", None, "implicit"),
])
def test_policy_evaluation_with_conditions(statements, action, context, expected):
    assert evaluate([{"Version": "2012-10-17", "Statement": statements}], action, "arn:aws:iam::123456789012:role/x", context) == expected


def test_conditions_are_enforced_over_http(rig):
    """The operator policy's iam:PolicyARN condition, end to end: the two AWS managed pull
    policies may be attached and detached, AdministratorAccess may not."""
    iam = rig.client("iam", config=NO_RETRY)
    iam.create_role(RoleName="api-execution", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName="api-execution", PolicyArn=ADMIN_POLICY)
    creds = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"], "Resource": "arn:aws:iam::*:role/*",
         "Condition": MANAGED_PULL_POLICIES},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}},
    ]})
    rig.enforce_iam(True)
    limited = rig.client("iam", credentials=creds, config=NO_RETRY)
    limited.attach_role_policy(RoleName="api-execution", PolicyArn=ECS_POLICY)
    limited.detach_role_policy(RoleName="api-execution", PolicyArn=ECS_POLICY)
    with pytest.raises(ClientError) as excinfo:
        limited.detach_role_policy(RoleName="api-execution", PolicyArn=ADMIN_POLICY)
    assert _error(excinfo)[:2] == (403, "AccessDenied")
    iam.detach_role_policy(RoleName="api-execution", PolicyArn=ADMIN_POLICY)
    with pytest.raises(ClientError) as excinfo:
        limited.attach_role_policy(RoleName="api-execution", PolicyArn=ADMIN_POLICY)
    status, code, message = _error(excinfo)
    assert (status, code) == (403, "AccessDenied") and "iam:AttachRolePolicy on resource: arn:aws:iam::123456789012:role/api-execution" in message
    with pytest.raises(ClientError) as excinfo:
        rig.client("iam", region="eu-west-1", credentials=creds, config=NO_RETRY).attach_role_policy(RoleName="api-execution", PolicyArn=ECS_POLICY)
    assert _error(excinfo)[2].endswith("with an explicit deny in an identity-based policy")
    assert iam.list_attached_role_policies(RoleName="api-execution")["AttachedPolicies"] == []


def test_wildcards_are_only_star_and_question_mark():
    assert wildcard_match("arn:aws:ecr:*:*:repository/app.v1", "arn:aws:ecr:us-east-1:1:repository/app.v1")
    assert not wildcard_match("arn:aws:ecr:*:*:repository/app.v1", "arn:aws:ecr:us-east-1:1:repository/appXv1")
    assert not wildcard_match("arn:aws:ecr:*:*:repository/[ab]", "arn:aws:ecr:us-east-1:1:repository/a")
    assert not wildcard_match("arn:*", "*")
