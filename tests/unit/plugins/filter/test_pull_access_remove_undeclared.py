# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of the fleet-wide cleanup in the role's plan (ecr_pull_access_remove_undeclared):
what each repository's policy request carries to remove the role's statements and principals that no
present workload of the play declares."""

import pytest

from ansible_collections.pullaccess.aws.plugins.filter import pull_access

REGION = "us-east-1"
OWN = "111122223333"
OTHER = "444455556666"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
ECS_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
L_SHARED = "PullAccessLightsailShared"
E_SHARED = "PullAccessEcsShared"
ECS_ROLE = f"arn:aws:iam::{OWN}:role/api"


def puller(name):
    return f"arn:aws:iam::{OWN}:role/amazon/lightsail/{REGION}/containers/{name}/private-repo-access/{name}id"


def lightsail(name, principal=None, remove=True, **extra):
    declaration = dict({"type": "lightsail", "name": name, "region": REGION, "repositories": ["app"], "remove_undeclared": remove}, **extra)
    plan = pull_access.pull_access_workload(declaration, name)
    return {"plan": plan, "principal": puller(name) if principal is None else principal}


def ecs(name, principal=ECS_ROLE, remove=True, **extra):
    declaration = dict({"type": "ecs", "region": REGION, "ecs_role_name": name, "repositories": [{"name": "base", "registry_id": OTHER}],
                        "remove_undeclared": remove}, **extra)
    return {"plan": pull_access.pull_access_workload(declaration, name), "principal": principal}


def sid(entry):
    return entry["plan"]["sid"]


def keep_all(lightsail_principals=(), ecs_principals=()):
    """The final shared-statement requests the cleanup adds: narrowed to the declared principals, or absent."""
    found = []
    for shared, principals, actions in ((L_SHARED, lightsail_principals, PULL), (E_SHARED, ecs_principals, ECS_PULL)):
        found.append({"sid": shared, "principals": sorted(principals), "actions": actions, "purge_principals": True} if principals
                     else {"sid": shared, "state": "absent"})
    return found


def cleanup_of(entries, **kwargs):
    """Per repository: the cleanup's last two requests (the shared statements), its prefixes and keep_sids."""
    return {
        change["repository"]: (change["statements"][-2:], change.get("purge_sid_prefixes"), change.get("keep_sids"))
        for change in pull_access._policy_changes(entries, **kwargs)
    }


SHOP = lightsail("shop")
BLOG = lightsail("blog")
OWNED = ["PullAccessLightsail", "PullAccessEcs"]


@pytest.mark.parametrize(
    "entries, expected",
    [
        # shared mode: the shared statement is narrowed to the declared pullers, the ECS one goes
        ([SHOP, BLOG], {"app": (keep_all([puller("shop"), puller("blog")]), OWNED, sorted([sid(SHOP), sid(BLOG)]))}),
        # workload mode: each declared workload keeps its own statement; nobody is in the shared one
        ([lightsail("shop", statement_mode="workload")],
         {"app": (keep_all(), OWNED, [sid(lightsail("shop"))])}),
        # account mode: its statement is kept while a declared workload uses it (no ARN needed)
        ([lightsail("shop", "", statement_mode="account", service_pattern="shop-*")],
         {"app": (keep_all(), OWNED, sorted([sid(SHOP), pull_access.account_sid("shop-*")]))}),
        # a revoked workload declares nothing: its principal is not kept
        ([SHOP, lightsail("blog", state="absent")], {"app": (keep_all([puller("shop")]), OWNED, [sid(SHOP)])}),
        # a dry run before activation: no ARN to keep, but its own Sid is kept
        ([lightsail("shop", "")], {"app": (keep_all(), OWNED, [sid(SHOP)])}),
        # ECS: the role's statement in another account's repository is declared; a same-account repository
        # gets no grant, but is still cleaned (it is a repository the play declares)
        ([ecs("api", repositories=[{"name": "base", "registry_id": OTHER}, "lib"])],
         {"base": (keep_all(ecs_principals=[ECS_ROLE]), OWNED, [sid(ecs("api"))]), "lib": (keep_all(), OWNED, [sid(ecs("api"))])}),
        # every repository the play declares, and the cleanup repositories, are cleaned
        ([lightsail("shop", repositories=["app", "web"], cleanup_repositories=["old"])],
         {"app": (keep_all([puller("shop")]), OWNED, [sid(SHOP)]), "web": (keep_all([puller("shop")]), OWNED, [sid(SHOP)]),
          "old": (keep_all(), OWNED, [])}),
        # two services in different repositories: each is declared only in its own
        ([SHOP, lightsail("blog", repositories=["blog"])],
         {"app": (keep_all([puller("shop")]), OWNED, [sid(SHOP)]), "blog": (keep_all([puller("blog")]), OWNED, [sid(BLOG)])}),
    ],
    ids=["shared", "workload", "account", "revoked-not-kept", "dry-run-before-activation", "ecs", "every-repository",
         "per-repository"],
)
def test_cleanup_requests(entries, expected):
    assert cleanup_of(entries) == expected


def test_cleanup_is_off_by_default():
    entries = [lightsail("shop", remove=False), lightsail("blog", remove=False, state="absent")]
    for change in pull_access._policy_changes(entries):
        assert "purge_sid_prefixes" not in change and "keep_sids" not in change
        assert {"sid": L_SHARED, "state": "absent"} not in change["statements"]


def test_cleanup_with_stand_in_arns_keeps_them():
    # The checks before activation put a stand-in ARN where the real one will be: the cleanup keeps it.
    shop = lightsail("shop", "")
    (change,) = pull_access._policy_changes([shop], stand_in=True)
    assert change["statements"][-2]["principals"] == [pull_access.stand_in_puller_arn(shop["plan"])]


def test_cleanup_comes_after_the_workloads_requests():
    # The module applies requests in order: the narrowing must be the last word on the shared statement.
    (change,) = pull_access._policy_changes([SHOP, BLOG])
    shared = [index for index, statement in enumerate(change["statements"]) if statement["sid"] == L_SHARED]
    assert change["statements"][shared[-1]]["purge_principals"] is True
    assert all(change["statements"][index]["purge_principals"] is False for index in shared[:-1])


def test_policy_batches_carry_the_cleanup():
    batches = pull_access._policy_batches(pull_access._policy_changes([SHOP]))
    assert batches == [{"region": REGION, "policies": [{
        "repository": "app", "registry_id": None, "purge_sid_prefixes": OWNED, "keep_sids": [sid(SHOP)],
        "statements": [{"sid": sid(SHOP), "state": "absent"},
                       {"sid": L_SHARED, "principals": [puller("shop")], "actions": PULL, "purge_principals": False},
                       {"sid": "PullAccessLightsailAccount", "state": "absent"}] + keep_all([puller("shop")])}]}]


@pytest.mark.parametrize("value, expected", [(None, False), (False, False), (True, True), ("yes", True)], ids=["unset", "false", "true", "truthy"])
def test_declaration_carries_the_switch(value, expected):
    declaration = {"type": "lightsail", "name": "shop", "region": REGION, "repositories": ["app"]}
    if value is not None:
        declaration["remove_undeclared"] = value
    assert pull_access.pull_access_workload(declaration, "shop")["remove_undeclared"] is expected
