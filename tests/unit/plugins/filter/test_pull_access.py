# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of the ecr_pull_access role filters (plugins/filter/pull_access.py)."""

import json
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pullaccess.aws.plugins.filter import pull_access

HOST = "web1"
REGION = "us-east-1"
OWN = "111122223333"
OTHER = "444455556666"
THIRD = "777788889999"
LIGHTSAIL_PRINCIPAL = f"arn:aws:iam::{OWN}:role/amazon/lightsail/us-east-1/containers/shop/ecr-image-puller/abc"
ECS_ROLE = f"arn:aws:iam::{OWN}:role/ecsTaskExecutionRole"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
ECS_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def lightsail(**extra):
    declaration = {"type": "lightsail", "name": "shop", "region": REGION, "repositories": ["app"], "statement_mode": "workload"}
    declaration.update(extra)
    return declaration


def ecs(**extra):
    declaration = {"type": "ecs", "region": REGION, "ecs_role_name": "ecsTaskExecutionRole", "repositories": [], "statement_mode": "workload"}
    declaration.update(extra)
    return declaration


def ref(name, registry_id=None, region=REGION, partition=None):
    if partition is None:
        partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return {"name": name, "registry_id": registry_id, "region": region, "partition": partition}


MODE_SIDS = set(pull_access.SHARED_SIDS.values()) | {pull_access.ACCOUNT_SID}


def changes_of(*args, **kwargs):
    """The per-workload statements of ``_policy_changes`` (the shared and account statements, and the
    removals that move a workload between modes, have their own tests below)."""
    found = []
    for change in pull_access._policy_changes(*args, **kwargs):
        statements = [s for s in change["statements"] if s["sid"] not in MODE_SIDS]
        if statements:
            found.append(dict(change, statements=statements))
    return found


def fails(message):
    """pytest.raises for an AnsibleFilterError naming the host and saying ``message`` (a regex)."""
    return pytest.raises(AnsibleFilterError, match=rf"^ecr_pull_access: host {HOST}: .*{message}")


# ---------------------------------------------------------------------------------------------
# workload_sid
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "workload_type, name, region",
    [
        ("lightsail", "shop", REGION),
        ("lightsail", "shop-frontend", "eu-west-1"),
        ("ecs", "ecsTaskExecutionRole", REGION),
        ("lightsail", "a" * 63, REGION),
        ("lightsail", "-".join(["ab"] * 21), REGION),
        ("ecs", "x" * 64, "ap-southeast-2"),
        ("ecs", "web:12", REGION),
    ],
    ids=["short", "dashes", "ecs-role", "63-chars", "63-chars-dashes", "64-chars-ecs", "colon"],
)
def test_workload_sid_shape(workload_type, name, region):
    sid = pull_access.workload_sid(workload_type, name, region)
    assert sid == pull_access.workload_sid(workload_type, name, region)
    assert re.fullmatch(r"[A-Za-z0-9]+", sid)
    assert len(sid) <= 100
    assert sid.startswith("PullAccess" + workload_type.capitalize())


def test_workload_sid_documented_form():
    sid = pull_access.workload_sid("lightsail", "shop-frontend", REGION)
    assert re.fullmatch(r"PullAccessLightsailShopFrontend[0-9a-f]{8}", sid)


@pytest.mark.parametrize(
    "first, second",
    [
        (("lightsail", "shop-api", REGION), ("lightsail", "shopapi", REGION)),
        (("lightsail", "shop-api", REGION), ("lightsail", "shop.api", REGION)),
        (("lightsail", "shop", REGION), ("lightsail", "shop", "eu-west-1")),
        (("lightsail", "shop", REGION), ("ecs", "shop", REGION)),
        (("lightsail", "a" * 62 + "b", REGION), ("lightsail", "a" * 62 + "c", REGION)),
    ],
    ids=["dash-vs-none", "dash-vs-dot", "region", "type", "differ-after-truncation"],
)
def test_workload_sid_unique(first, second):
    assert pull_access.workload_sid(*first) != pull_access.workload_sid(*second)


# ---------------------------------------------------------------------------------------------
# repository_ref
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "entry, expected",
    [
        ("app", ref("app")),
        ("team/app-1.x_y", ref("team/app-1.x_y")),
        (f"arn:aws:ecr:eu-west-1:{OTHER}:repository/team/app", ref("team/app", OTHER, "eu-west-1")),
        (f"arn:aws-cn:ecr:cn-north-1:{OTHER}:repository/app", ref("app", OTHER, "cn-north-1")),
        (f"arn:aws-us-gov:ecr:us-gov-west-1:{OTHER}:repository/app", ref("app", OTHER, "us-gov-west-1")),
        ({"name": "app"}, ref("app")),
        ({"name": "app", "registry_id": OTHER}, ref("app", OTHER)),
        ({"name": "app", "registry_id": int(OTHER)}, ref("app", OTHER)),
        ({"name": "app", "registry_id": OTHER, "region": "eu-central-1"}, ref("app", OTHER, "eu-central-1")),
        ({"name": "app", "region": "eu-central-1"}, ref("app", None, "eu-central-1")),
    ],
    ids=["name", "path-name", "arn", "arn-aws-cn", "arn-aws-us-gov", "dict", "dict-registry", "dict-int-registry",
         "dict-registry-region", "dict-region"],
)
def test_repository_ref_accepts(entry, expected):
    assert pull_access.repository_ref(entry, REGION, HOST) == expected


@pytest.mark.parametrize(
    "entry, message",
    [
        ("", "must be a name, an ARN, or a mapping"),
        ({}, "must be a name, an ARN, or a mapping"),
        ({"registry_id": OTHER}, "must be a name, an ARN, or a mapping"),
        (42, "must be a name, an ARN, or a mapping"),
        ({"name": "app", "account": OTHER}, r"repository 'app' has unknown keys \['account'\]"),
        ("arn:aws:ecr:us-east-1:1234:repository/app", "is not a valid ECR repository ARN"),
        ("arn:aws:ecr:us-east-1:12345678901a:repository/app", "is not a valid ECR repository ARN"),
        (f"arn:aws:s3:::{OTHER}-bucket", "is not a valid ECR repository ARN"),
        (f"arn:aws:ecr:us-east-1:{OTHER}:image/app", "is not a valid ECR repository ARN"),
        (f"arn:aws:ecr:us-east-1:{OTHER}:repository/App", "repository name 'App' is not valid"),
        ("App", "repository name 'App' is not valid"),
        ("my app", "repository name 'my app' is not valid"),
        ("/app", "repository name '/app' is not valid"),
        ("app/", "repository name 'app/' is not valid"),
        ("team//app", "repository name 'team//app' is not valid"),
        ("a" * 257, "is not valid"),
        ({"name": "app", "registry_id": "1234"}, "registry_id '1234' is not a 12-digit account id"),
        ({"name": "app", "registry_id": "abcdefghijkl"}, "registry_id 'abcdefghijkl' is not a 12-digit account id"),
        ({"name": "app", "region": "useast1"}, "region 'useast1' is not a region code"),
        ({"name": "app", "region": "US-EAST-1"}, "region 'US-EAST-1' is not a region code"),
        (f"arn:aws:ecr:nowhere:{OTHER}:repository/app", "region 'nowhere' is not a region code"),
    ],
    ids=["empty-string", "empty-dict", "dict-without-name", "int", "unknown-key", "arn-short-account", "arn-letter-account",
         "arn-not-ecr", "arn-not-repository", "arn-uppercase-name", "uppercase", "space", "leading-slash", "trailing-slash",
         "double-slash", "too-long", "short-registry", "letters-registry", "bad-region", "uppercase-region",
         "arn-bad-region"],
)
def test_repository_ref_rejects(entry, message):
    with fails(message):
        pull_access.repository_ref(entry, REGION, HOST)


def test_repository_ref_needs_a_region():
    with fails("region None is not a region code"):
        pull_access.repository_ref("app", None, HOST)


# ---------------------------------------------------------------------------------------------
# pull_access_plan: valid declarations
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "declaration, expected",
    [
        (
            lightsail(),
            {"type": "lightsail", "state": "present", "region": REGION, "exclusive": False, "remove_undeclared": False, "name": "shop", "host": HOST,
             "repositories": [ref("app")], "cleanup_repositories": [], "statement_mode": "workload", "service_pattern": "*"},
        ),
        (
            lightsail(state="absent", exclusive=True, repositories=["app", {"name": "base", "registry_id": OTHER}]),
            {"type": "lightsail", "state": "absent", "region": REGION, "exclusive": True, "remove_undeclared": False, "name": "shop", "host": HOST,
             "repositories": [ref("app"), ref("base", OTHER)], "cleanup_repositories": [], "statement_mode": "workload",
             "service_pattern": "*"},
        ),
        (
            lightsail(state="", repositories=None),
            {"type": "lightsail", "state": "present", "region": REGION, "exclusive": False, "remove_undeclared": False, "name": "shop", "host": HOST,
             "repositories": [], "cleanup_repositories": [], "statement_mode": "workload", "service_pattern": "*"},
        ),
    ],
    ids=["lightsail-defaults", "lightsail-absent-exclusive", "empty-state-is-present"],
)
def test_plan_lightsail(declaration, expected):
    plan = pull_access.pull_access_workload(declaration, HOST)
    sid = plan.pop("sid")
    assert plan == expected
    assert sid == pull_access.workload_sid("lightsail", "shop", REGION)


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({}, {"role_name": "ecsTaskExecutionRole", "task_definition": None, "launch_type": "fargate",
              "permissions": "managed", "name": "ecsTaskExecutionRole"}),
        ({"ecs_role_name": ECS_ROLE, "ecs_launch_type": "ec2", "ecs_permissions": "inline"},
         {"role_name": ECS_ROLE, "task_definition": None, "launch_type": "ec2", "permissions": "inline",
          "name": "ecsTaskExecutionRole"}),
        ({"ecs_role_name": "", "ecs_task_definition": "web", "ecs_launch_type": "external"},
         {"role_name": "", "task_definition": "web", "launch_type": "external", "permissions": "managed", "name": "web"}),
    ],
    ids=["role-name", "role-arn-inline-ec2", "task-definition"],
)
def test_plan_ecs(extra, expected):
    plan = pull_access.pull_access_workload(ecs(**extra), HOST)
    assert {key: plan[key] for key in expected} == expected
    assert plan["sid"] == pull_access.workload_sid("ecs", expected["name"], REGION)


@pytest.mark.parametrize(
    "task_definition",
    ["web:3", "web:4", f"arn:aws:ecs:us-east-1:{OWN}:task-definition/web:12"],
    ids=["revision-3", "revision-4", "arn"],
)
def test_plan_ecs_task_definition_sid_ignores_revision(task_definition):
    family = pull_access.pull_access_workload(ecs(ecs_role_name="", ecs_task_definition="web"), HOST)
    revision = pull_access.pull_access_workload(ecs(ecs_role_name="", ecs_task_definition=task_definition), HOST)
    assert revision["sid"] == family["sid"]


@pytest.mark.parametrize(
    "repositories, extra_repositories, expected",
    [
        (["app", "app"], [], [ref("app")]),
        (["app"], ["app", {"name": "app"}, "base"], [ref("app"), ref("base")]),
        (
            [f"arn:aws:ecr:us-east-1:{OTHER}:repository/base"],
            [{"name": "base", "registry_id": OTHER}, {"name": "base", "registry_id": OTHER, "region": REGION}],
            [ref("base", OTHER)],
        ),
        # Same name, other account or other region: other repositories.
        (["base", {"name": "base", "registry_id": OTHER}], [{"name": "base", "registry_id": THIRD}],
         [ref("base"), ref("base", OTHER), ref("base", THIRD)]),
        (None, ["app"], [ref("app")]),
    ],
    ids=["duplicate-name", "extra-duplicates", "arn-and-dict-same", "same-name-other-accounts", "only-extra"],
)
def test_plan_deduplicates_repositories(repositories, extra_repositories, expected):
    plan = pull_access.pull_access_workload(lightsail(repositories=repositories, extra_repositories=extra_repositories), HOST)
    assert plan["repositories"] == expected


def test_plan_parses_cleanup_repositories():
    cleanup = ["old", f"arn:aws:ecr:eu-west-1:{OTHER}:repository/gone", {"name": "xy", "registry_id": THIRD}]
    plan = pull_access.pull_access_workload(lightsail(exclusive=True, cleanup_repositories=cleanup), HOST)
    assert plan["cleanup_repositories"] == [ref("old"), ref("gone", OTHER, "eu-west-1"), ref("xy", THIRD)]


def test_plan_checks_cleanup_repositories():
    with fails("repository name 'Old' is not valid"):
        pull_access.pull_access_workload(lightsail(cleanup_repositories=["Old"]), HOST)


@pytest.mark.parametrize(
    "repositories, expected",
    [
        (["app", "team/web"], ["app", "team/web"]),
        ([{"name": "app", "registry_id": OWN}], [f"arn:aws:ecr:us-east-1:{OWN}:repository/app"]),
        (
            ["app", f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base", {"name": "lib", "registry_id": OTHER}],
            ["app", f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base", f"arn:aws:ecr:us-east-1:{OTHER}:repository/lib"],
        ),
        ([], []),
    ],
    ids=["names-stay-names", "registry-becomes-arn", "mixed", "none"],
)
def test_plan_ecs_inline_repositories(repositories, expected):
    plan = pull_access.pull_access_workload(ecs(repositories=repositories, ecs_permissions="inline"), HOST)
    assert plan["inline_repositories"] == expected


@pytest.mark.parametrize(
    "region, arn",
    [
        ("cn-north-1", f"arn:aws-cn:ecr:cn-north-1:{OTHER}:repository/base"),
        ("us-gov-west-1", f"arn:aws-us-gov:ecr:us-gov-west-1:{OTHER}:repository/base"),
    ],
    ids=["aws-cn", "aws-us-gov"],
)
def test_plan_ecs_inline_repositories_keep_partition(region, arn):
    plan = pull_access.pull_access_workload(ecs(region=region, repositories=[arn], ecs_permissions="inline"), HOST)
    assert plan["inline_repositories"] == [arn]


def test_plan_lightsail_has_no_inline_repositories():
    assert "inline_repositories" not in pull_access.pull_access_workload(lightsail(), HOST)


def test_plan_ecs_repository_in_other_region_with_registry():
    arn = f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base"
    plan = pull_access.pull_access_workload(ecs(repositories=[arn]), HOST)
    assert plan["repositories"] == [ref("base", OTHER, "eu-west-1")]


def test_plan_lightsail_repository_of_other_account_same_region():
    plan = pull_access.pull_access_workload(lightsail(repositories=[{"name": "base", "registry_id": OTHER}]), HOST)
    assert plan["repositories"] == [ref("base", OTHER)]


# ---------------------------------------------------------------------------------------------
# pull_access_plan: invalid declarations
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "declaration, message",
    [
        (lightsail(type="eks"), "ecr_pull_access_type 'eks' is not one of lightsail, ecs"),
        (lightsail(type=None), "ecr_pull_access_type None is not one of lightsail, ecs"),
        (lightsail(type="Lightsail"), "ecr_pull_access_type 'Lightsail' is not one of"),
        (lightsail(state="gone"), "ecr_pull_access_state 'gone' is not present or absent"),
        (lightsail(region=""), "ecr_pull_access_region '' is not set to a region code"),
        (lightsail(region=None), "ecr_pull_access_region None is not set to a region code"),
        (lightsail(region="virginia"), "ecr_pull_access_region 'virginia' is not set to a region code"),
        (lightsail(name=""), "ecr_pull_access_service_name is empty"),
        (lightsail(name=None), "ecr_pull_access_service_name is empty"),
        (
            lightsail(repositories=[{"name": "app", "region": "eu-west-1"}]),
            "Lightsail service 'shop' is in us-east-1 but repository 'app' is in eu-west-1: .*own Region",
        ),
        (
            lightsail(extra_repositories=[f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base"]),
            "repository 'base' is in eu-west-1: .*own Region",
        ),
        (ecs(ecs_role_name=""), "needs exactly one of ecr_pull_access_ecs_role_name and ecr_pull_access_ecs_task_definition"),
        (ecs(ecs_role_name=None), "needs exactly one of ecr_pull_access_ecs_role_name and ecr_pull_access_ecs_task_definition"),
        (ecs(ecs_task_definition="web"), "needs exactly one of ecr_pull_access_ecs_role_name and ecr_pull_access_ecs_task_definition"),
        (ecs(ecs_launch_type="lambda"), "ecr_pull_access_ecs_launch_type 'lambda' is not one of fargate, ec2, external"),
        (ecs(ecs_launch_type="FARGATE"), "ecr_pull_access_ecs_launch_type 'FARGATE' is not one of"),
        (ecs(ecs_permissions="admin"), "ecr_pull_access_ecs_permissions 'admin' is not managed or inline"),
        (
            ecs(repositories=[{"name": "base", "region": "eu-west-1"}]),
            "repository 'base' is in eu-west-1, not us-east-1: give its registry_id",
        ),
        (ecs(repositories=["Bad Name"]), "repository name 'Bad Name' is not valid"),
        (lightsail(repositories=["/app"]), "repository name '/app' is not valid"),
        (lightsail(extra_repositories=[{"name": "app", "registry_id": "12"}]), "registry_id '12' is not a 12-digit account id"),
        (lightsail(repositories=[{"name": "app", "tag": "latest"}]), r"unknown keys \['tag'\]"),
        (lightsail(repositories=["arn:aws:ecr:us-east-1:1:repository/app"]), "is not a valid ECR repository ARN"),
    ],
    ids=["unknown-type", "no-type", "capitalised-type", "bad-state", "empty-region", "no-region", "bad-region",
         "lightsail-no-name", "lightsail-none-name", "lightsail-other-region", "lightsail-other-region-arn",
         "ecs-neither", "ecs-none", "ecs-both", "ecs-bad-launch-type", "ecs-uppercase-launch-type",
         "ecs-bad-permissions", "ecs-other-region-no-registry", "ecs-bad-repository", "leading-slash",
         "bad-registry", "unknown-key", "malformed-arn"],
)
def test_plan_rejects(declaration, message):
    with fails(message):
        pull_access.pull_access_workload(declaration, HOST)


def test_plan_default_host():
    with pytest.raises(AnsibleFilterError, match=r"^ecr_pull_access: host \?: "):
        pull_access.pull_access_workload(lightsail(type="eks"))


# ---------------------------------------------------------------------------------------------
# pull_access_policy_changes
# ---------------------------------------------------------------------------------------------

def workload(declaration, principal=""):
    return {"plan": pull_access.pull_access_workload(declaration, HOST), "principal": principal}


def sid_of(declaration):
    return pull_access.pull_access_workload(declaration, HOST)["sid"]


def change(name, statements, registry_id=None, region=REGION):
    return {"repository": name, "registry_id": registry_id, "region": region, "statements": statements}


def grant(sid, principal=LIGHTSAIL_PRINCIPAL, actions=None):
    return {"sid": sid, "principals": [principal], "actions": actions or PULL}


def revoke(sid):
    return {"sid": sid, "state": "absent"}


SHOP = lightsail()
SHOP_SID = sid_of(SHOP)
BLOG = lightsail(name="blog")
BLOG_SID = sid_of(BLOG)
BLOG_PRINCIPAL = LIGHTSAIL_PRINCIPAL.replace("shop", "blog")
API = ecs()
API_SID = sid_of(API)


@pytest.mark.parametrize(
    "workloads, expected",
    [
        ([], []),
        (
            [workload(lightsail(repositories=["app", "base"]), LIGHTSAIL_PRINCIPAL)],
            [change("app", [grant(SHOP_SID)]), change("base", [grant(SHOP_SID)])],
        ),
        (
            [workload(lightsail(repositories=["app", {"name": "base", "registry_id": OTHER}]), LIGHTSAIL_PRINCIPAL)],
            [change("app", [grant(SHOP_SID)]), change("base", [grant(SHOP_SID)], OTHER)],
        ),
        # absent removes by sid, whether the principal is known or not
        (
            [workload(lightsail(state="absent", repositories=["app", "base"]))],
            [change("app", [revoke(SHOP_SID)]), change("base", [revoke(SHOP_SID)])],
        ),
        (
            [workload(lightsail(state="absent"), LIGHTSAIL_PRINCIPAL)],
            [change("app", [revoke(SHOP_SID)])],
        ),
        # check mode before the puller role is active: no principal yet, the workload is left out
        ([workload(SHOP, "")], []),
        ([{"plan": pull_access.pull_access_workload(SHOP, HOST)}], []),
        (
            [workload(SHOP, ""), workload(BLOG, BLOG_PRINCIPAL)],
            [change("app", [grant(BLOG_SID, BLOG_PRINCIPAL)])],
        ),
        (
            [workload(lightsail(repositories=[]), LIGHTSAIL_PRINCIPAL)],
            [],
        ),
    ],
    ids=["nothing", "lightsail-present", "lightsail-cross-account", "lightsail-absent-no-principal",
         "lightsail-absent-with-principal", "lightsail-check-mode", "no-principal-key", "check-mode-beside-other",
         "no-repositories"],
)
def test_changes_lightsail(workloads, expected):
    assert changes_of(workloads) == expected


@pytest.mark.parametrize(
    "workloads, expected",
    [
        # same-account repositories are granted by the role's IAM policy: no repository policy change
        ([workload(ecs(repositories=["app", {"name": "lib", "registry_id": OWN}]), ECS_ROLE)], []),
        (
            [workload(ecs(repositories=["app", {"name": "base", "registry_id": OTHER}]), ECS_ROLE)],
            [change("base", [grant(API_SID, ECS_ROLE, ECS_PULL)], OTHER)],
        ),
        (
            [workload(ecs(repositories=[f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base", f"arn:aws:ecr:us-east-1:{OWN}:repository/app"]),
                      ECS_ROLE)],
            [change("base", [grant(API_SID, ECS_ROLE, ECS_PULL)], OTHER, "eu-west-1")],
        ),
        # check mode, role not created yet: left out
        ([workload(ecs(repositories=[{"name": "base", "registry_id": OTHER}]), "")], []),
        # absent: cross-account repositories only
        (
            [workload(ecs(state="absent", repositories=["app", {"name": "base", "registry_id": OTHER}]), ECS_ROLE)],
            [change("base", [revoke(API_SID)], OTHER)],
        ),
        (
            [workload(ecs(state="absent", repositories=["app", {"name": "base", "registry_id": OTHER}]))],
            [change("base", [revoke(API_SID)], OTHER)],
        ),
        ([workload(ecs(state="absent", repositories=[{"name": "lib", "registry_id": OWN}]), ECS_ROLE)], []),
    ],
    ids=["same-account-only", "cross-account", "cross-account-arn-other-region", "check-mode", "absent",
         "absent-no-principal", "absent-same-account"],
)
def test_changes_ecs(workloads, expected):
    assert changes_of(workloads) == expected


def test_changes_ecs_actions_are_the_ecs_ones():
    changes = changes_of([workload(ecs(repositories=[{"name": "base", "registry_id": OTHER}]), ECS_ROLE)])
    assert changes[0]["statements"][0]["actions"] == pull_access.ECS_PULL_ACTIONS
    changes = changes_of([workload(SHOP, LIGHTSAIL_PRINCIPAL)])
    assert changes[0]["statements"][0]["actions"] == pull_access.PULL_ACTIONS


def test_changes_one_entry_per_shared_repository():
    workloads = [
        workload(lightsail(repositories=["app", "base"]), LIGHTSAIL_PRINCIPAL),
        workload(lightsail(name="blog", repositories=["app"]), BLOG_PRINCIPAL),
        workload(lightsail(name="old", state="absent", repositories=["app"])),
    ]
    changes = changes_of(workloads)
    assert changes == [
        change("app", [grant(SHOP_SID), grant(BLOG_SID, BLOG_PRINCIPAL), revoke(sid_of(lightsail(name="old")))]),
        change("base", [grant(SHOP_SID)]),
    ]


def test_changes_shared_cross_account_repository_lightsail_and_ecs():
    base = {"name": "base", "registry_id": OTHER}
    workloads = [workload(lightsail(repositories=[base]), LIGHTSAIL_PRINCIPAL), workload(ecs(repositories=[base]), ECS_ROLE)]
    assert changes_of(workloads) == [
        change("base", [grant(SHOP_SID), grant(API_SID, ECS_ROLE, ECS_PULL)], OTHER),
    ]


def test_changes_keyed_by_registry_region_and_name():
    workloads = [
        workload(lightsail(repositories=["app"]), LIGHTSAIL_PRINCIPAL),
        workload(lightsail(name="shop", region="eu-west-1", repositories=["app"]), LIGHTSAIL_PRINCIPAL),
        workload(lightsail(name="blog", repositories=[{"name": "app", "registry_id": OTHER}]), BLOG_PRINCIPAL),
    ]
    eu_sid = sid_of(lightsail(region="eu-west-1"))
    assert changes_of(workloads) == [
        change("app", [grant(eu_sid)], region="eu-west-1"),
        change("app", [grant(SHOP_SID)]),
        change("app", [grant(BLOG_SID, BLOG_PRINCIPAL)], OTHER),
    ]


def test_changes_sorted_by_repository():
    workloads = [workload(lightsail(repositories=["zeta", "alpha", "team/mid", "beta"]), LIGHTSAIL_PRINCIPAL)]
    names = [entry["repository"] for entry in changes_of(workloads)]
    assert names == ["alpha", "beta", "team/mid", "zeta"]


@pytest.mark.parametrize(
    "workloads, expected",
    [
        # exclusive present: its sid goes from the other repositories of the run, not from its own
        (
            [workload(lightsail(exclusive=True, repositories=["app"]), LIGHTSAIL_PRINCIPAL),
             workload(lightsail(name="blog", repositories=["app", "blog"]), BLOG_PRINCIPAL)],
            [change("app", [grant(SHOP_SID), grant(BLOG_SID, BLOG_PRINCIPAL)]),
             change("blog", [grant(BLOG_SID, BLOG_PRINCIPAL), revoke(SHOP_SID)])],
        ),
        # ... and from cleanup_repositories, but never from a declared one listed there too
        (
            [workload(lightsail(exclusive=True, repositories=["app"], cleanup_repositories=["old", "app", {"name": "xy", "registry_id": OTHER}]),
                      LIGHTSAIL_PRINCIPAL)],
            [change("app", [grant(SHOP_SID)]), change("old", [revoke(SHOP_SID)]), change("xy", [revoke(SHOP_SID)], OTHER)],
        ),
        # a non-exclusive workload does not clean up
        (
            [workload(lightsail(repositories=["app"], cleanup_repositories=["old"]), LIGHTSAIL_PRINCIPAL),
             workload(lightsail(name="blog", repositories=["blog"]), BLOG_PRINCIPAL)],
            [change("app", [grant(SHOP_SID)]), change("blog", [grant(BLOG_SID, BLOG_PRINCIPAL)])],
        ),
        # exclusive absent: removed everywhere the run sees, once per repository
        (
            [workload(lightsail(exclusive=True, state="absent", repositories=["app"], cleanup_repositories=["old"])),
             workload(lightsail(name="blog", repositories=["app", "blog"]), BLOG_PRINCIPAL)],
            [change("app", [revoke(SHOP_SID), grant(BLOG_SID, BLOG_PRINCIPAL)]),
             change("blog", [grant(BLOG_SID, BLOG_PRINCIPAL), revoke(SHOP_SID)]),
             change("old", [revoke(SHOP_SID)])],
        ),
        # exclusive ECS: kept on its cross-account repositories, removed from the others
        (
            [workload(ecs(exclusive=True, repositories=[{"name": "base", "registry_id": OTHER}], cleanup_repositories=[
                {"name": "gone", "registry_id": OTHER}]), ECS_ROLE)],
            [change("base", [grant(API_SID, ECS_ROLE, ECS_PULL)], OTHER), change("gone", [revoke(API_SID)], OTHER)],
        ),
        # two exclusive workloads clean up each other's repositories
        (
            [workload(lightsail(exclusive=True, repositories=["app"]), LIGHTSAIL_PRINCIPAL),
             workload(lightsail(name="blog", exclusive=True, repositories=["blog"]), BLOG_PRINCIPAL)],
            [change("app", [grant(SHOP_SID), revoke(BLOG_SID)]), change("blog", [grant(BLOG_SID, BLOG_PRINCIPAL), revoke(SHOP_SID)])],
        ),
    ],
    ids=["exclusive-other-repositories", "exclusive-cleanup", "not-exclusive", "exclusive-absent", "exclusive-ecs",
         "two-exclusive"],
)
def test_changes_exclusive(workloads, expected):
    assert changes_of(workloads) == expected


@pytest.mark.parametrize(
    "workloads",
    [
        [workload(lightsail(exclusive=True, repositories=["app"]), ""),
         workload(lightsail(name="blog", repositories=["app"]), BLOG_PRINCIPAL)],
        [workload(lightsail(exclusive=True, repositories=["app"], cleanup_repositories=["app"]), "")],
        [workload(ecs(exclusive=True, repositories=[{"name": "base", "registry_id": OTHER}],
                      cleanup_repositories=[{"name": "base", "registry_id": OTHER}]), "")],
    ],
    ids=["lightsail-shared-repository", "lightsail-in-cleanup", "ecs-in-cleanup"],
)
def test_changes_exclusive_without_principal_keeps_declared(workloads):
    for entry in changes_of(workloads):
        own = workloads[0]["plan"]
        declared = {(repo["registry_id"], repo["region"], repo["name"]) for repo in own["repositories"]}
        if (entry["registry_id"], entry["region"], entry["repository"]) in declared:
            assert revoke(own["sid"]) not in entry["statements"]


def test_changes_drop_repositories_without_statements():
    # an ECS workload's same-account repository and a check-mode Lightsail workload give no entry
    workloads = [workload(ecs(repositories=["app"]), ECS_ROLE), workload(lightsail(repositories=["base"]), "")]
    assert not changes_of(workloads)


def test_filters_registered():
    filters = pull_access.FilterModule().filters()
    assert filters["pull_access_plan"] is pull_access.pull_access_plan
    assert filters["pull_access_workload"] is pull_access.pull_access_workload
    assert filters["pull_access_sid"] is pull_access.workload_sid
    assert len(filters) == 3


# ---------------------------------------------------------------------------------------------
# pull_access_puller_batches / pull_access_puller_arn
# ---------------------------------------------------------------------------------------------

def reads(results):
    """Registered loop results as ``[(batch, result)]``: the batch a result answers, and the plain module result."""
    return [(result["item"], {key: value for key, value in result.items() if key != "item"}) for result in results or []]


def plan_of(declaration):
    return pull_access.pull_access_workload(declaration, HOST)


@pytest.mark.parametrize(
    "declarations, state, expected",
    [
        ([], "present", []),
        ([lightsail(name="a"), lightsail(name="b"), lightsail(name="a")], "present",
         [{"region": REGION, "state": "present", "service_names": ["a", "b"]}]),
        ([lightsail(name="a"), lightsail(name="b", state="absent")], "absent", [{"region": REGION, "state": "absent", "service_names": ["b"]}]),
        ([lightsail(name="a", region="eu-west-1", repositories=[]), lightsail(name="b")], "present",
         [{"region": "eu-west-1", "state": "present", "service_names": ["a"]}, {"region": REGION, "state": "present", "service_names": ["b"]}]),
        ([ecs(), lightsail(name="a")], "present", [{"region": REGION, "state": "present", "service_names": ["a"]}]),
        ([lightsail(name="a"), lightsail(name="b", state="absent"), lightsail(name="c", region="eu-west-1", repositories=[])], None,
         [{"region": "eu-west-1", "state": "present", "service_names": ["c"]}, {"region": REGION, "state": "absent", "service_names": ["b"]},
          {"region": REGION, "state": "present", "service_names": ["a"]}]),
    ],
    ids=["none", "dedup-one-region", "absent-only", "per-region", "ecs-left-out", "all-states"],
)
def test_puller_batches(declarations, state, expected):
    assert pull_access._puller_batches([plan_of(d) for d in declarations], state) == expected


@pytest.mark.parametrize(
    "results, expected",
    [
        ([], ""),
        (None, ""),
        ([{"item": {"region": REGION}, "pullers": [{"service_name": "shop", "principal_arn": "arn:x"}]}], "arn:x"),
        ([{"item": {"region": "eu-west-1"}, "pullers": [{"service_name": "shop", "principal_arn": "arn:other"}]}], ""),
        ([{"item": {"region": REGION}, "pullers": [{"service_name": "other", "principal_arn": "arn:x"}]}], ""),
        ([{"item": {"region": REGION}, "pullers": [{"service_name": "shop", "principal_arn": ""}]}], ""),
        ([{"item": {"region": REGION}, "skipped": True}], ""),
    ],
    ids=["no-results", "none", "found", "other-region", "other-service", "not-known-yet", "skipped"],
)
def test_puller_arn(results, expected):
    assert pull_access._principal_of(plan_of(lightsail()), pull_access._principals(reads(results))) == expected


def test_policy_batches_group_by_region():
    changes = [
        {"repository": "a", "registry_id": None, "region": "us-east-1", "statements": [{"sid": "S1", "state": "absent"}]},
        {"repository": "b", "registry_id": "222222222222", "region": "eu-west-1", "statements": [{"sid": "S2", "state": "absent"}]},
        {"repository": "c", "registry_id": None, "region": "us-east-1", "statements": [{"sid": "S3", "state": "absent"}]},
    ]
    assert pull_access._policy_batches(changes) == [
        {"region": "eu-west-1", "policies": [{"repository": "b", "registry_id": "222222222222", "statements": [{"sid": "S2", "state": "absent"}]}]},
        {"region": "us-east-1", "policies": [
            {"repository": "a", "registry_id": None, "statements": [{"sid": "S1", "state": "absent"}]},
            {"repository": "c", "registry_id": None, "statements": [{"sid": "S3", "state": "absent"}]},
        ]},
    ]
    assert not pull_access._policy_batches([])


# ---------------------------------------------------------------------------------------------
# unknown role variables
# ---------------------------------------------------------------------------------------------

KNOWN = ["ecr_pull_access_type", "ecr_pull_access_exclusive", "ecr_pull_access_plan"]


@pytest.mark.parametrize(
    "variables, message",
    [
        (["ecr_pull_access_type", "ecr_pull_access_exclusve"], "unknown variables ecr_pull_access_exclusve: "),
        (["ecr_pull_access_reposiories", "ecr_pull_access_type", "ecr_pull_access_a"],
         "unknown variables ecr_pull_access_a, ecr_pull_access_reposiories: "),
    ],
    ids=["one", "two-sorted"],
)
def test_plan_rejects_unknown_variables(variables, message):
    with fails(re.escape(message) + ".*misspelt"):
        pull_access.pull_access_workload(lightsail(variables=variables, known_variables=KNOWN), HOST)


@pytest.mark.parametrize("variables", [[], KNOWN, ["ecr_pull_access_type"]], ids=["none", "all-known", "some-known"])
def test_plan_accepts_known_variables(variables):
    assert pull_access.pull_access_workload(lightsail(variables=variables, known_variables=KNOWN), HOST)["name"] == "shop"


def test_role_variables_are_its_options_or_its_own():
    """Every ecr_pull_access_* variable the role reads is an option of its argument specification
    (the declaration check takes its known names from there); every variable it sets itself starts
    with two underscores, so the check never takes it for a user's misspelling."""
    import glob
    import os

    import yaml

    role = os.path.join(os.path.dirname(pull_access.__file__), "..", "..", "roles", "ecr_pull_access")
    with open(os.path.join(role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        options = set(yaml.safe_load(handle)["argument_specs"]["main"]["options"])
    text = ""
    for path in sorted(glob.glob(os.path.join(role, "tasks", "*.yml")) + glob.glob(os.path.join(role, "*", "main.yml"))):
        if not path.endswith("argument_specs.yml"):
            with open(path, encoding="utf-8") as handle:
                text += handle.read()
    used = set(re.findall(r"(?<![_a-z])(ecr_pull_access_[a-z_]*[a-z])(?![_a-z*])", text))
    assert used and used <= options, sorted(used - options)
    set_by_role = set(re.findall(r"(?:register: |^\s+)(_*ecr_pull_access_[a-z_]+)(?=:|$)", text, flags=re.MULTILINE)) - options
    assert set_by_role and all(name.startswith("__ecr_pull_access_") for name in set_by_role), sorted(set_by_role)


# ---------------------------------------------------------------------------------------------
# pull_access_ecs_batches / pull_access_pending / pull_access_unknown_principals
# ---------------------------------------------------------------------------------------------

def host_plan(declaration, host):
    return pull_access.pull_access_workload(declaration, host)


def test_ecs_batches():
    plans = [
        host_plan(ecs(), "api"),
        host_plan(ecs(ecs_role_name="", ecs_task_definition="web:3", ecs_create_role=True), "web"),
        host_plan(ecs(ecs_permissions="inline", ecs_policy_name="pull", repositories=["app", {"name": "base", "registry_id": OTHER}],
                      region="eu-west-1"), "eu"),
        host_plan(ecs(state="absent", ecs_role_name="old"), "old"),
        host_plan(lightsail(), "shop"),
    ]
    assert pull_access._ecs_batches(plans) == [
        {"region": "eu-west-1", "workloads": [
            {"name": "eu", "role_name": "ecsTaskExecutionRole", "launch_type": "fargate", "permissions": "inline", "state": "present",
             "repositories": ["app", f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base"], "policy_name": "pull", "create_role": False}]},
        {"region": REGION, "workloads": [
            {"name": "api", "role_name": "ecsTaskExecutionRole", "launch_type": "fargate", "permissions": "managed", "state": "present",
             "create_role": False},
            {"name": "web", "task_definition": "web:3", "launch_type": "fargate", "permissions": "managed", "state": "present",
             "create_role": True},
            {"name": "old", "role_name": "old", "launch_type": "fargate", "permissions": "managed", "state": "absent"}]},
    ]
    assert [w["name"] for b in pull_access._ecs_batches(plans, "absent") for w in b["workloads"]] == ["old"]
    assert pull_access._ecs_batches([host_plan(lightsail(), "shop")]) == []


PULLER_CHECK = [
    {"item": {"region": REGION, "state": "present", "service_names": ["a", "b", "c", "w"]},
     "pullers": [{"service_name": "a", "changed": True, "principal_arn": ""},
                 {"service_name": "b", "changed": False, "principal_arn": LIGHTSAIL_PRINCIPAL},
                 {"service_name": "c", "changed": True, "principal_arn": ""},
                 # active, its ARN not assigned yet: the real run must wait for it
                 {"service_name": "w", "changed": False, "principal_arn": "", "principal_arn_known": False}]},
    {"item": {"region": REGION, "state": "absent", "service_names": ["d"]},
     "pullers": [{"service_name": "d", "changed": False, "principal_arn": ""}]},
    {"item": {"region": "eu-west-1", "state": "absent", "service_names": ["e"]},
     "pullers": [{"service_name": "e", "changed": True, "principal_arn": ""}]},
]
ECS_CHECK = [
    {"item": {"region": REGION, "workloads": [{"name": "api", "state": "present"}, {"name": "old", "state": "absent"},
                                              {"name": "web", "state": "present"}]},
     "workloads": [{"name": "api", "changed": True}, {"name": "old", "changed": True}, {"name": "web", "changed": False}]},
]


@pytest.mark.parametrize(
    "results, state, expected",
    [
        (PULLER_CHECK, "present", [{"region": REGION, "state": "present", "service_names": ["a", "c", "w"]}]),
        (PULLER_CHECK, "absent", [{"region": "eu-west-1", "state": "absent", "service_names": ["e"]}]),
        (PULLER_CHECK, None, [{"region": REGION, "state": "present", "service_names": ["a", "c", "w"]},
                              {"region": "eu-west-1", "state": "absent", "service_names": ["e"]}]),
        (ECS_CHECK, "present", [{"region": REGION, "workloads": [{"name": "api", "state": "present"}]}]),
        (ECS_CHECK, "absent", [{"region": REGION, "workloads": [{"name": "old", "state": "absent"}]}]),
        ([], "present", []),
        (None, "present", []),
        ([{"item": {"region": REGION, "state": "present", "service_names": ["a"]}, "failed": True}], "present", []),
    ],
    ids=["pullers-present", "pullers-absent", "pullers-all", "ecs-present", "ecs-absent", "empty", "none", "no-pullers"],
)
def test_pending(results, state, expected):
    assert pull_access._to_change(reads(results), state) == expected


def puller_results(*pullers, region=REGION):
    return [{"item": {"region": region}, "pullers": list(pullers)}]


def test_changes_from_plans_and_results():
    shop, blog = host_plan(lightsail(), "shop"), host_plan(lightsail(name="blog"), "blog")
    api = host_plan(ecs(repositories=[{"name": "base", "registry_id": OTHER}]), "api")
    check = puller_results({"service_name": "shop", "principal_arn": "", "principal_arn_known": False},
                           {"service_name": "blog", "principal_arn": BLOG_PRINCIPAL, "principal_arn_known": True})
    activated = puller_results({"service_name": "shop", "principal_arn": LIGHTSAIL_PRINCIPAL, "principal_arn_known": True})
    ecs_results = [{"item": {"region": REGION}, "workloads": [{"name": "api", "role_arn": ECS_ROLE}]}]
    before = changes_of([shop, blog, api], pull_access._principals(reads(check), ecs_results))
    assert [(e["repository"], [s["sid"] for s in e["statements"]]) for e in before] == [("app", [blog["sid"]]), ("base", [api["sid"]])]
    after = changes_of([shop, blog, api], pull_access._principals(reads(check + activated), ecs_results))
    app = next(e for e in after if e["repository"] == "app")
    assert {s["sid"]: s["principals"] for s in app["statements"]} == {shop["sid"]: [LIGHTSAIL_PRINCIPAL], blog["sid"]: [BLOG_PRINCIPAL]}


def test_changes_pending_stand_in():
    shop = host_plan(lightsail(name="shop"), "shop")
    unknown = pull_access._principals(reads(puller_results({"service_name": "shop", "principal_arn": ""})))
    changes = changes_of([shop], unknown, stand_in=True)
    (statement,) = changes[0]["statements"]
    arn = statement["principals"][0]
    assert re.match(r"^arn:aws:iam::000000000000:role/amazon/lightsail/us-east-1/containers/shop/private-repo-access/[0-9a-v]{52}$", arn)
    assert not changes_of([shop], pull_access._principals(reads(puller_results({"service_name": "shop", "principal_arn": ""}))))


def test_unknown_principals():
    shop, blog = host_plan(lightsail(), "shop"), host_plan(lightsail(name="blog", repositories=["app", "base"]), "blog")
    gone = host_plan(lightsail(name="gone", state="absent"), "gone")
    found = pull_access._unknown_principals(
        [shop, blog, gone, host_plan(ecs(), "api")],
        pull_access._principals(reads(puller_results({"service_name": "shop", "principal_arn": LIGHTSAIL_PRINCIPAL}))))
    assert found == [{"host": "blog", "name": "blog", "sid": blog["sid"], "repositories": ["app", "base"]}]


# ---------------------------------------------------------------------------------------------
# pull_access_plan: the play's decisions from plain module results, in the order of the reads
# ---------------------------------------------------------------------------------------------

def test_plan_reads_only():
    shop, api = host_plan(lightsail(), "shop"), host_plan(ecs(), "api")
    assert pull_access.pull_access_plan([shop, None, api]) == {
        "puller_reads": [{"region": REGION, "state": "present", "service_names": ["shop"]}],
        "ecs_reads": [{"region": REGION, "workloads": [{"name": "api", "role_name": "ecsTaskExecutionRole", "launch_type": "fargate",
                                                        "permissions": "managed", "state": "present", "create_role": False}]}],
    }


@pytest.mark.parametrize(
    "puller, activated, activate, checks, writes, unknown",
    [
        # Inactive: activate it, check with a stand-in ARN, write with the ARN the activation gave.
        ({"changed": True, "principal_arn": ""}, {"principal_arn": LIGHTSAIL_PRINCIPAL}, ["shop"], "stand-in", LIGHTSAIL_PRINCIPAL, ["shop"]),
        # Active with its ARN: nothing to activate, nothing to check first, write what the read gave.
        ({"changed": False, "principal_arn": BLOG_PRINCIPAL}, None, [], None, BLOG_PRINCIPAL, []),
        # Active without its ARN yet (a stopped run's activation): waited for like an activation.
        ({"changed": False, "principal_arn": "", "principal_arn_known": False}, {"principal_arn": LIGHTSAIL_PRINCIPAL}, ["shop"], "stand-in",
         LIGHTSAIL_PRINCIPAL, ["shop"]),
        # Dry run: the activation is skipped, so nothing is written for it.
        ({"changed": True, "principal_arn": ""}, "skipped", ["shop"], "stand-in", None, ["shop"]),
    ],
    ids=["inactive", "active", "active-without-arn", "dry-run"],
)
def test_plan_lightsail_phases(puller, activated, activate, checks, writes, unknown):
    shop = host_plan(lightsail(), "shop")
    read = {"results": [{"pullers": [dict(puller, service_name="shop")], "item": "ignored"}]}
    if activated == "skipped":
        activations = {"results": [{"skipped": True}]}
    elif activated:
        activations = {"results": [{"pullers": [dict(activated, service_name="shop", principal_arn_known=True)]}]}
    else:
        activations = {"results": [], "skipped": True}
    plan = pull_access.pull_access_plan([shop], read, {"results": []}, activations, None)
    assert [name for batch in plan["activate"] for name in batch["service_names"]] == activate
    assert plan["deactivate"] == [] and plan["ecs_grant"] == [] and plan["ecs_revoke"] == []
    assert [w["host"] for w in plan["unknown_principals"]] == unknown
    checked = [s["principals"][0] for b in plan["policy_checks"] for p in b["policies"] for s in p["statements"] if s["sid"] == shop["sid"]]
    assert checked == ([] if checks is None else [pull_access.stand_in_puller_arn(shop)])
    written = [s["principals"][0] for b in plan["policy_writes"] for p in b["policies"] for s in p["statements"] if s["sid"] == shop["sid"]]
    assert written == ([] if writes is None else [writes])


def test_plan_ecs_and_revoke_phases():
    api = host_plan(ecs(repositories=[{"name": "base", "registry_id": OTHER}]), "api")
    old = host_plan(ecs(state="absent", ecs_role_name="old", repositories=[{"name": "base", "registry_id": OTHER}]), "old")
    gone = host_plan(lightsail(name="gone", state="absent"), "gone")
    puller_read = [{"pullers": [{"service_name": "gone", "changed": True, "principal_arn": ""}]}]
    ecs_read = [{"workloads": [{"name": "api", "changed": True, "role_arn": ECS_ROLE}, {"name": "old", "changed": True}]}]
    plan = pull_access.pull_access_plan([api, old, gone], puller_read, ecs_read)
    assert plan["activate"] == [] and plan["deactivate"] == [{"region": REGION, "state": "absent", "service_names": ["gone"]}]
    assert [w["name"] for b in plan["ecs_grant"] for w in b["workloads"]] == ["api"]
    assert [w["name"] for b in plan["ecs_revoke"] for w in b["workloads"]] == ["old"]
    statements = {(p["repository"], s["sid"]): s for b in plan["policy_writes"] for p in b["policies"] for s in p["statements"]}
    assert statements[("base", api["sid"])]["principals"] == [ECS_ROLE]
    assert statements[("base", old["sid"])] == {"sid": old["sid"], "state": "absent"}
    assert statements[("app", gone["sid"])] == {"sid": gone["sid"], "state": "absent"}
    assert plan["policy_checks"] and plan["unknown_principals"] == []


def policy_of(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def pull_statement(sid, *principals):
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": PULL}


FOREIGN = pull_statement("SomeoneElse", f"arn:aws:iam::{OTHER}:root")


@pytest.mark.parametrize(
    "written, expected",
    [
        # shop's statement added to app: shop changed; blog (declares blog-repo only) did not.
        ({"repository": "app", "changed": True, "policy_before": policy_of(FOREIGN),
          "policy": policy_of(FOREIGN, pull_statement("SHOP", LIGHTSAIL_PRINCIPAL))}, ["shop"]),
        # Only a foreign statement changed: nobody's access did.
        ({"repository": "app", "changed": True, "policy_before": None, "policy": policy_of(FOREIGN)}, []),
        # blog's own statement removed from a repository it does not declare, by its exclusive run.
        ({"repository": "app", "changed": True, "policy_before": policy_of(pull_statement("BLOG", BLOG_PRINCIPAL)), "policy": None}, ["blog"]),
        # Unchanged entries are not looked at.
        ({"repository": "app", "changed": False, "policy_before": None, "policy": policy_of(pull_statement("SHOP", LIGHTSAIL_PRINCIPAL))}, []),
    ],
    ids=["granted", "foreign-only", "exclusive-cleanup", "unchanged"],
)
def test_plan_changed_hosts(written, expected):
    """Whose access a policy write changed: the workloads that declare its repository and the exclusive ones."""
    shop = dict(host_plan(lightsail(), "shop"), sid="SHOP")
    blog = dict(host_plan(lightsail(name="blog", repositories=["blog-repo"], exclusive=True), "blog"), sid="BLOG")
    read = [{"pullers": [{"service_name": "shop", "changed": False, "principal_arn": LIGHTSAIL_PRINCIPAL},
                         {"service_name": "blog", "changed": False, "principal_arn": BLOG_PRINCIPAL}]}]
    plan = pull_access.pull_access_plan([shop, blog], read, [], None, None, [{"policies": [written]}])
    assert plan["changed_hosts"] == expected


def test_plan_changed_hosts_from_switches():
    shop, api = host_plan(lightsail(), "shop"), host_plan(ecs(), "api")
    read = [{"pullers": [{"service_name": "shop", "changed": True, "principal_arn": ""}]}]
    ecs_read = [{"workloads": [{"name": "api", "changed": True, "role_arn": ECS_ROLE}]}]
    assert pull_access.pull_access_plan([shop, api], read, ecs_read, None, None, [])["changed_hosts"] == ["api", "shop"]


def test_plan_from_json_text():
    """The role hands the workloads over as JSON text; the plan is the same as from the list."""
    workloads = [host_plan(lightsail(), "shop"), host_plan(ecs(repositories=[{"name": "base", "registry_id": OTHER}]), "api")]
    read = [{"pullers": [{"service_name": "shop", "changed": True, "principal_arn": ""}]}]
    ecs_read = [{"workloads": [{"name": "api", "changed": True, "role_arn": ECS_ROLE}]}]
    for args in ((), (read, ecs_read), (read, ecs_read, None, None, [])):
        assert pull_access.pull_access_plan(json.dumps(workloads), *args) == pull_access.pull_access_plan(workloads, *args)


A_ARN, B_ARN = LIGHTSAIL_PRINCIPAL, BLOG_PRINCIPAL


@pytest.mark.parametrize(
    "statements, expected",
    [
        # Adds to one shared Sid become one add; removals one removal; the order of first sight stays.
        ([{"sid": "S", "principals": [A_ARN], "purge_principals": False}, {"sid": "S", "state": "absent", "principals": [A_ARN],
                                                                           "purge_principals": False},
          {"sid": "S", "principals": [B_ARN, A_ARN], "purge_principals": False}],
         [{"sid": "S", "principals": [A_ARN, B_ARN], "purge_principals": False},
          {"sid": "S", "state": "absent", "principals": [A_ARN], "purge_principals": False}]),
        # Different actions are different requests.
        ([{"sid": "S", "principals": [A_ARN], "actions": PULL, "purge_principals": False},
          {"sid": "S", "principals": [B_ARN], "actions": ECS_PULL, "purge_principals": False}],
         [{"sid": "S", "principals": [A_ARN], "actions": PULL, "purge_principals": False},
          {"sid": "S", "principals": [B_ARN], "actions": ECS_PULL, "purge_principals": False}]),
        # Whole-statement requests (a workload's own Sid, purge) are never merged; repeats go.
        ([{"sid": "A", "principals": [A_ARN]}, {"sid": "A", "principals": [B_ARN]}, {"sid": "X", "state": "absent"},
          {"sid": "X", "state": "absent"}],
         [{"sid": "A", "principals": [A_ARN]}, {"sid": "A", "principals": [B_ARN]}, {"sid": "X", "state": "absent"}]),
    ],
    ids=["shared-adds-and-removals", "different-actions", "whole-statements"],
)
def test_merged_requests(statements, expected):
    assert pull_access._merged(statements) == expected


def test_shared_fleet_makes_one_request_per_repository():
    fleet = [dict(host_plan(lightsail(name=f"svc{i}", statement_mode="shared"), f"svc{i}"), sid=f"S{i}") for i in range(50)]
    principals = {("lightsail", REGION, f"svc{i}"): LIGHTSAIL_PRINCIPAL.replace("shop", f"svc{i}") for i in range(50)}
    (change,) = pull_access._policy_changes(fleet, principals)
    adds = [s for s in change["statements"] if s["sid"] == "PullAccessLightsailShared" and s.get("state") != "absent"]
    assert len(adds) == 1 and adds[0]["principals"] == [principals[("lightsail", REGION, f"svc{i}")] for i in range(50)]


class Tagged(str):
    """Stands in for Ansible's tagged strings (a str subclass that copies slowly)."""


@pytest.mark.parametrize(
    "value, expected",
    [
        (Tagged("web"), "web"),
        ({Tagged("a"): (Tagged("b"), 1, True, None, 1.5)}, {"a": ["b", 1, True, None, 1.5]}),
        ([{"x": [Tagged("y")]}], [{"x": ["y"]}]),
    ],
    ids=["tagged-str", "mapping-and-tuple", "nested"],
)
def test_plain(value, expected):
    """Plain data: exact built-in types all the way down (no subclass, no tuple)."""
    def types(item):
        if isinstance(item, dict):
            return {type(k).__name__: types(v) for k, v in item.items()}
        if isinstance(item, list):
            return [types(v) for v in item]
        return type(item).__name__

    assert pull_access.plain(value) == expected
    assert types(pull_access.plain(value)) == types(expected)


# ---------------------------------------------------------------------------------------------
# Statement modes: shared (the default), account, workload, and moving between them
# ---------------------------------------------------------------------------------------------

ACCOUNT_PRINCIPALS = {("lightsail", REGION, "shop"): LIGHTSAIL_PRINCIPAL, ("account", REGION): OWN}
MODE_SID = "shop-sid"


def shop_in(mode, state="present", pattern=None):
    declaration = lightsail(statement_mode=mode, state=state)
    if pattern:
        declaration["service_pattern"] = pattern
    return dict(pull_access.pull_access_workload(declaration, HOST), sid=MODE_SID)


SHARED_ADD = {"sid": "PullAccessLightsailShared", "principals": [LIGHTSAIL_PRINCIPAL], "actions": PULL, "purge_principals": False}
SHARED_REMOVE = {"sid": "PullAccessLightsailShared", "state": "absent", "principals": [LIGHTSAIL_PRINCIPAL], "purge_principals": False}
OWN_REMOVE = {"sid": MODE_SID, "state": "absent"}
ACCOUNT_REMOVE = {"sid": "PullAccessLightsailAccount", "state": "absent"}


def account_grant(pattern="*"):
    return {"sid": pull_access.account_sid(pattern), "principals": ["*"], "actions": PULL, "conditions": {
        "StringEquals": {"aws:PrincipalAccount": OWN},
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OWN}:role/amazon/lightsail/{REGION}/containers/{pattern}/private-repo-access/*"}}}


@pytest.mark.parametrize(
    "workloads, principals, expected",
    [
        ([shop_in("shared")], ACCOUNT_PRINCIPALS, [OWN_REMOVE, SHARED_ADD, ACCOUNT_REMOVE]),
        ([shop_in("shared", "absent")], ACCOUNT_PRINCIPALS, [OWN_REMOVE, SHARED_REMOVE]),
        ([shop_in("workload")], ACCOUNT_PRINCIPALS,
         [{"sid": MODE_SID, "principals": [LIGHTSAIL_PRINCIPAL], "actions": PULL}, SHARED_REMOVE, ACCOUNT_REMOVE]),
        ([shop_in("account")], ACCOUNT_PRINCIPALS, [OWN_REMOVE, SHARED_REMOVE, account_grant()]),
        # Before activation: no puller ARN, but the account statement needs none.
        ([shop_in("account")], {("account", REGION): OWN}, [OWN_REMOVE, account_grant()]),
        # A revoke keeps the account statement: other services of the account may still use it.
        ([shop_in("account", "absent")], ACCOUNT_PRINCIPALS, [OWN_REMOVE, SHARED_REMOVE]),
        ([shop_in("account", pattern="shop-*")], ACCOUNT_PRINCIPALS, [OWN_REMOVE, SHARED_REMOVE, account_grant("shop-*")]),
    ],
    ids=["shared", "shared-absent", "workload", "account", "account-before-activation", "account-absent", "account-pattern"],
)
def test_statement_modes(workloads, principals, expected):
    (change,) = pull_access._policy_changes(workloads, principals)
    assert change["statements"] == expected


@pytest.mark.parametrize("mode", ["shared", "workload"])
def test_nothing_for_a_workload_not_active_yet(mode):
    """Its ARN does not exist: nothing to grant, and moving it out of other modes waits for the
    run that knows its ARN (so a dry run of a fresh fleet reads no policy for it)."""
    assert pull_access._policy_changes([shop_in(mode)], {("account", REGION): OWN}) == []


def test_account_statement_stays_while_a_workload_wants_it():
    blog = dict(pull_access.pull_access_workload(lightsail(name="blog", statement_mode="shared"), "blog"), sid="blog-sid")
    principals = {**ACCOUNT_PRINCIPALS, ("lightsail", REGION, "blog"): BLOG_PRINCIPAL}
    (change,) = pull_access._policy_changes([shop_in("account"), blog], principals)
    assert account_grant() in change["statements"] and ACCOUNT_REMOVE not in change["statements"]


def test_ecs_account_mode_is_shared():
    workload = pull_access.pull_access_workload(ecs(statement_mode="account", repositories=[{"name": "base", "registry_id": OTHER}]), "api")
    assert workload["statement_mode"] == "shared"
    (change,) = pull_access._policy_changes([workload], {("ecs", "api"): ECS_ROLE})
    assert {"sid": "PullAccessEcsShared", "principals": [ECS_ROLE], "actions": ECS_PULL, "purge_principals": False} in change["statements"]


def test_account_of_the_lightsail_services_from_the_read():
    puller = {"service_name": "shop", "principal_arn": "", "principal_arn_known": False,
              "service_arn": f"arn:aws:lightsail:{REGION}:{OWN}:ContainerService/abc"}
    read = [({"region": REGION}, {"pullers": [puller]})]
    assert pull_access._principals(read) == {("account", REGION): OWN}


@pytest.mark.parametrize(
    "extra, message",
    [({"statement_mode": "sharing"}, "ecr_pull_access_statement_mode 'sharing' is not one of shared, account, workload"),
     ({"service_pattern": "Shop*"}, "ecr_pull_access_service_pattern 'Shop\\*' is not a container service name pattern")],
    ids=["mode", "pattern"],
)
def test_statement_mode_declaration_errors(extra, message):
    with fails(message):
        pull_access.pull_access_workload(lightsail(**extra), HOST)


def test_shared_is_the_default_mode():
    declaration = lightsail()
    del declaration["statement_mode"]
    assert pull_access.pull_access_workload(declaration, HOST)["statement_mode"] == "shared"


def test_a_deactivation_takes_out_the_arn_it_had():
    """Before (check mode) and after a deactivation the puller has no ARN; the one it had is what a
    shared statement must lose."""
    puller = {"service_name": "shop", "principal_arn": "", "principal_arn_known": True, "principal_arn_before": LIGHTSAIL_PRINCIPAL,
              "changed": True}
    read = [({"region": REGION, "state": "absent"}, {"pullers": [puller]})]
    principals = pull_access._principals(read)
    assert principals == {("lightsail", REGION, "shop"): LIGHTSAIL_PRINCIPAL}
    (change,) = pull_access._policy_changes([shop_in("shared", "absent")], principals)
    assert SHARED_REMOVE in change["statements"]
