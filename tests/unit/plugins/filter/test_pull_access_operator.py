# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of the operator policy filters (plugins/filter/pull_access_operator.py)."""

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pullaccess.aws.plugins.filter.pull_access import pull_access_workload
from ansible_collections.pullaccess.aws.plugins.filter import pull_access_operator as operator
from ansible_collections.pullaccess.aws.plugins.module_utils._names import principal_arn_of_caller

OWN = "111122223333"
OTHER = "444455556666"
REGION = "us-east-1"
SERVICE_ARN = f"arn:aws:lightsail:{REGION}:{OWN}:ContainerService/5f0c1b7e-0000-4000-8000-000000000001"
TASK_ROLE = f"arn:aws:iam::{OWN}:role/tasks/billing-execution"
TASK_EXECUTION = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
INSTANCE_ROLE = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"


def workload(host, **declaration):
    declaration.setdefault("region", REGION)
    declaration.setdefault("statement_mode", "shared")
    return pull_access_workload(declaration, host)


def shop(**extra):
    return workload("shop", type="lightsail", name="shop", repositories=["web", "shared/base"], **extra)


def billing(**extra):
    return workload("billing", type="ecs", ecs_task_definition="billing", ecs_permissions="inline",
                    repositories=["worker", {"name": "base-images", "registry_id": OTHER}], **extra)


def cluster(**extra):
    return workload("cluster", type="ecs", ecs_role_name="cluster-instances", ecs_launch_type="ec2", ecs_create_role=True, **extra)


# The role's reads, as the modules return them (registered loop results).
PULLER_READ = {"results": [{"pullers": [{"service_name": "shop", "service_arn": SERVICE_ARN, "principal_arn": ""}]}]}
ECS_READ = {"results": [{"workloads": [{"name": "billing", "role_arn": TASK_ROLE}]}]}


def by_sid(statements):
    return {s["sid"]: s for s in statements}


def repo(name, account=OWN):
    return f"arn:aws:ecr:{REGION}:{account}:repository/{name}"


STATEMENT_CASES = [
    # (id, workloads, reads, {sid: (actions, resources, condition or None)}, sids absent)
    ("lightsail exact service", [shop()], (PULLER_READ, None), {
        "EcrRepositoryPolicies": (["ecr:DeleteRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"],
                                  [repo("shared/base"), repo("web")], None),
        "LightsailRead": (["lightsail:GetContainerServices"], ["*"], None),
        "LightsailPullerRoles": (["lightsail:UpdateContainerService"], [SERVICE_ARN], None),
    }, ["EcsRoleRead", "EcsCreateRole", "EcsTaskDefinitions"]),
    ("lightsail service not read: its Region's services", [shop()], (None, None), {
        "LightsailPullerRoles": (["lightsail:UpdateContainerService"], [f"arn:aws:lightsail:{REGION}:{OWN}:ContainerService/*"], None),
    }, []),
    ("ecs task definition: role from the read, other account's repository apart, same-account ones not written", [billing()], (None, ECS_READ), {
        f"EcrRepositoryPolicies{OTHER}": (["ecr:DeleteRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"],
                                          [repo("base-images", OTHER)], None),
        "EcsTaskDefinitions": (["ecs:DescribeTaskDefinition"], ["*"], None),
        "EcsRoleRead": (["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"], [TASK_ROLE], None),
        "EcsRoleInlinePolicy": (["iam:DeleteRolePolicy", "iam:PutRolePolicy"], [TASK_ROLE], None),
        "EcsManagedPullPolicies": (["iam:AttachRolePolicy", "iam:DetachRolePolicy"], [TASK_ROLE],
                                   {"ArnEquals": {"iam:PolicyARN": [INSTANCE_ROLE, TASK_EXECUTION]}}),
    }, ["EcrRepositoryPolicies", "EcsCreateRole", "LightsailRead"]),
    ("created ec2 role: create, pass to EC2 only, its instance profile", [cluster()], (None, None), {
        "EcsCreateRole": (["iam:CreateRole"], [f"arn:aws:iam::{OWN}:role/cluster-instances"], None),
        "EcsPassRoleToInstanceProfile": (["iam:PassRole"], [f"arn:aws:iam::{OWN}:role/cluster-instances"],
                                         {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        "EcsInstanceProfileRead": (["iam:GetInstanceProfile"], [f"arn:aws:iam::{OWN}:instance-profile/cluster-instances"], None),
        "EcsInstanceProfiles": (["iam:AddRoleToInstanceProfile", "iam:CreateInstanceProfile"],
                                [f"arn:aws:iam::{OWN}:instance-profile/cluster-instances"], None),
    }, ["EcsRoleInlinePolicy", "EcsTaskDefinitions", "EcrRepositoryPolicies"]),
    ("created role with a path: its profile with the path, and by name alone for the lookup before it exists", [
        workload("c2", type="ecs", ecs_role_name=f"arn:aws:iam::{OWN}:role/ecs-pull/c2", ecs_launch_type="ec2", ecs_create_role=True)
    ], (None, None), {
        "EcsCreateRole": (["iam:CreateRole"], [f"arn:aws:iam::{OWN}:role/ecs-pull/c2"], None),
        "EcsInstanceProfileRead": (["iam:GetInstanceProfile"],
                                   [f"arn:aws:iam::{OWN}:instance-profile/c2", f"arn:aws:iam::{OWN}:instance-profile/ecs-pull/c2"], None),
        "EcsInstanceProfiles": (["iam:AddRoleToInstanceProfile", "iam:CreateInstanceProfile"], [f"arn:aws:iam::{OWN}:instance-profile/ecs-pull/c2"], None),
    }, []),
    ("a role created only when present: a revoke creates nothing", [cluster(state="absent")], (None, None), {
        "EcsRoleRead": (["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"],
                        [f"arn:aws:iam::{OWN}:role/cluster-instances"], None),
    }, ["EcsCreateRole", "EcsPassRoleToInstanceProfile", "EcsInstanceProfiles", "EcsRoleInlinePolicy"]),
    ("exclusive cleanup repositories are written too", [shop(exclusive=True, cleanup_repositories=["old"])], (PULLER_READ, None), {
        "EcrRepositoryPolicies": (["ecr:DeleteRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"],
                                  [repo("old"), repo("shared/base"), repo("web")], None),
    }, []),
    ("China partition", [workload("cn", type="lightsail", name="cn", region="cn-north-1", repositories=["web"])], (None, None), {
        "EcrRepositoryPolicies": (["ecr:DeleteRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"],
                                  [f"arn:aws-cn:ecr:cn-north-1:{OWN}:repository/web"], None),
        "PermissionCheck": (["iam:SimulatePrincipalPolicy"], [f"arn:aws-cn:iam::{OWN}:role/*", f"arn:aws-cn:iam::{OWN}:user/*"], None),
    }, []),
]


@pytest.mark.parametrize("workloads, reads, expected, absent", [c[1:] for c in STATEMENT_CASES], ids=[c[0] for c in STATEMENT_CASES])
def test_operator_statements(workloads, reads, expected, absent):
    statements = by_sid(operator.operator_statements(workloads, OWN, *reads))
    for sid, (actions, resources, condition) in expected.items():
        assert sid in statements, sorted(statements)
        assert statements[sid]["actions"] == actions
        assert statements[sid]["resources"] == resources
        assert statements[sid].get("condition") == condition
    for sid in absent:
        assert sid not in statements, statements[sid]


def test_operator_statements_refuse_a_bad_account():
    with pytest.raises(AnsibleFilterError, match="not a 12-digit account id"):
        operator.operator_statements([shop()], "12345")


def test_workloads_as_json_text():
    """The role hands the workloads over as JSON text: the same policy and checks as from the list."""
    workloads = [shop(), billing(), cluster()]
    assert (operator.pull_access_operator_policy(json.dumps(workloads), OWN, PULLER_READ, ECS_READ)
            == operator.pull_access_operator_policy(workloads, OWN, PULLER_READ, ECS_READ))
    assert (operator.pull_access_permission_checks(json.dumps(workloads), None, PULLER_READ, ECS_READ)
            == operator.pull_access_permission_checks(workloads, None, PULLER_READ, ECS_READ) != [])


def test_policy_documents_by_account_and_size():
    documents = operator.pull_access_operator_policy([shop(), billing(), cluster()], OWN, PULLER_READ, ECS_READ, [f"arn:aws:iam::{OWN}:user/op"])
    assert [d["name"] for d in documents] == ["operator-policy.json", f"operator-policy-{OTHER}.json"]
    assert [d["account"] for d in documents] == [OWN, OTHER]
    for document in documents:
        assert document["characters"] == len(json.dumps(document["document"], separators=(",", ":"))) <= 6144
        assert all(s["Effect"] == "Allow" and s["Action"] and s["Resource"] for s in document["document"]["Statement"])
    sids = [s["Sid"] for d in documents for s in d["document"]["Statement"]]
    assert len(sids) == len(set(sids))


@pytest.mark.parametrize("services, limit", [(200, 6144), (40, 2000), (3, 700)])
def test_policy_documents_split_when_larger(services, limit):
    """Every document within the limit, no statement or resource lost, Sids unique."""
    workloads = [workload(f"s{index}", type="lightsail", name=f"s{index}", repositories=[f"team/repository-number-{index}"]) for index in range(services)]
    documents = operator.pull_access_operator_policy(workloads, OWN, limit=limit)
    assert len(documents) > 1
    assert documents[0]["name"] == "operator-policy.json" and documents[1]["name"] == "operator-policy-2.json"
    assert all(d["characters"] <= limit for d in documents)
    resources = {r for d in documents for s in d["document"]["Statement"] if "ecr:SetRepositoryPolicy" in s["Action"] for r in s["Resource"]}
    assert resources == {repo(f"team/repository-number-{index}") for index in range(services)}
    sids = [s["Sid"] for d in documents for s in d["document"]["Statement"]]
    assert len(sids) == len(set(sids))


def fleet_of(services):
    """A bench-like fleet: ``services`` Lightsail services, each with its own container service ARN."""
    workloads = [workload(f"s{index}", type="lightsail", name=f"s{index}", repositories=["base"]) for index in range(services)]
    pullers = [{"service_name": f"s{index}", "service_arn": SERVICE_ARN[:-12] + f"{index:012d}", "principal_arn": ""} for index in range(services)]
    return workloads, {"results": [{"pullers": pullers}]}


@pytest.mark.parametrize("services", [70, 1000])
def test_split_statements_fill_their_documents(services):
    """Each split statement fills its document as far as it goes: as few documents as the ARNs need,
    each within the limit, every ARN once."""
    workloads, read = fleet_of(services)
    documents = operator.pull_access_operator_policy(workloads, OWN, read)
    assert all(d["characters"] <= 6144 for d in documents)
    arns = [r for d in documents for s in d["document"]["Statement"] if s["Action"] == ["lightsail:UpdateContainerService"] for r in s["Resource"]]
    assert sorted(arns) == sorted(p["service_arn"] for p in read["results"][0]["pullers"])
    per_document = (6144 - 200) // (len(json.dumps(arns[0])) + 1)
    assert len(documents) <= -(-services // per_document) + 1


def test_region_scope_names_every_container_service_of_the_region():
    """For fleets too large for the managed policies one principal can have (IAM: 10 by default):
    one ARN per Region, so a thousand services fit in one document."""
    workloads, read = fleet_of(1000)
    documents = operator.pull_access_operator_policy(workloads, OWN, read, lightsail_scope="region")
    assert len(documents) == 1
    (update,) = [s for s in documents[0]["document"]["Statement"] if s["Action"] == ["lightsail:UpdateContainerService"]]
    assert update["Resource"] == [f"arn:aws:lightsail:{REGION}:{OWN}:ContainerService/*"]
    with pytest.raises(AnsibleFilterError, match="lightsail_scope 'account' is not one of services, region"):
        operator.pull_access_operator_policy(workloads, OWN, read, lightsail_scope="account")


def test_policy_documents_refuse_what_cannot_fit():
    with pytest.raises(AnsibleFilterError, match="does not fit"):
        operator.pull_access_operator_policy([shop()], OWN, limit=100)


def test_permission_checks_follow_the_statements():
    """One check per statement and condition value; the simulation's own statement left out; the
    account from the reads when not given."""
    checks = operator.pull_access_permission_checks([shop(), billing()], None, PULLER_READ, ECS_READ)
    assert {c["sid"] for c in checks} == {s["sid"] for s in operator.operator_statements([shop(), billing()], OWN, PULLER_READ, ECS_READ)} - {
        "PermissionCheck"}
    managed = [c["context"] for c in checks if c["sid"] == "EcsManagedPullPolicies"]
    assert managed == [{"iam:PolicyARN": INSTANCE_ROLE}, {"iam:PolicyARN": TASK_EXECUTION}]
    assert all(c["context"] == {} for c in checks if c["sid"] != "EcsManagedPullPolicies")


def test_permission_checks_without_an_account_check_nothing():
    assert operator.pull_access_permission_checks([shop()], None, None, None) == []


@pytest.mark.parametrize("caller, principal", [
    ("arn:aws:iam::111122223333:user/deploy", "arn:aws:iam::111122223333:user/deploy"),
    ("arn:aws:iam::111122223333:user/ci/deploy", "arn:aws:iam::111122223333:user/ci/deploy"),
    ("arn:aws:sts::111122223333:assumed-role/deployer/session-1", "arn:aws:iam::111122223333:role/deployer"),
    ("arn:aws-cn:sts::111122223333:assumed-role/deployer/s", "arn:aws-cn:iam::111122223333:role/deployer"),
    ("arn:aws:iam::111122223333:root", None),
    ("arn:aws:sts::111122223333:federated-user/bob", None),
    ("not an arn", None),
    (None, None),
])
def test_principal_arn_of_caller(caller, principal):
    assert principal_arn_of_caller(caller) == principal
