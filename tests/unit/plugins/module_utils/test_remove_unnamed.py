# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of removing the statements a caller owns by Sid prefix and no longer names
(_policy.remove_unnamed_statements, the policies[].purge_sid_prefixes / keep_sids requests)."""

import json

import pytest

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import remove_unnamed_statements
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import check_requests
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import requests_from
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import statement_change

ROLE = "arn:aws:iam::123456789012:role/a"
GONE = "AROA2EXAMPLEDELETED01"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
PREFIXES = ["PullAccessLightsail", "PullAccessEcs"]


def stmt(sid, principals=(ROLE,), **extra):
    statement = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": PULL}
    if sid is not None:
        statement = dict({"Sid": sid}, **statement)
    statement.update(extra)
    return statement


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


FOREIGN = stmt("TheirCI", ["arn:aws:iam::444455556666:root"], Action="ecr:*")
NO_SID = stmt(None, ["arn:aws:iam::444455556666:root"])
LOOKALIKE = stmt("PullAccessAudit")  # the role's general prefix, but not one of its kinds


@pytest.mark.parametrize(
    "document, prefixes, keep, expected, removed",
    [
        (None, PREFIXES, [], None, []),
        (doc(FOREIGN), [], [], doc(FOREIGN), []),
        (doc(FOREIGN, stmt("PullAccessLightsailShop1a2b3c4d")), PREFIXES, [], doc(FOREIGN), ["PullAccessLightsailShop1a2b3c4d"]),
        (doc(stmt("PullAccessLightsailShop1a2b3c4d"), FOREIGN), PREFIXES, ["PullAccessLightsailShop1a2b3c4d"],
         doc(stmt("PullAccessLightsailShop1a2b3c4d"), FOREIGN), []),
        (doc(NO_SID, stmt("PullAccessEcsApi00000000", [GONE]), LOOKALIKE, stmt("PullAccessLightsailAccount", ["*"])), PREFIXES, [],
         doc(NO_SID, LOOKALIKE), ["PullAccessEcsApi00000000", "PullAccessLightsailAccount"]),
        # A lone statement object (not a list) counts as one statement.
        ({"Version": "2012-10-17", "Statement": stmt("PullAccessLightsailGone00000000")}, PREFIXES, [],
         {"Version": "2012-10-17", "Statement": []}, ["PullAccessLightsailGone00000000"]),
        (doc(stmt(7), FOREIGN), PREFIXES, [], doc(stmt(7), FOREIGN), []),
    ],
    ids=["no-policy", "no-prefixes", "removes-unnamed", "keeps-kept", "only-owned-prefixes", "lone-statement", "non-string-sid"],
)
def test_remove_unnamed_statements(document, prefixes, keep, expected, removed):
    before = json.dumps(document)
    result, found = remove_unnamed_statements(document, prefixes, keep)
    assert (result, found) == (expected, removed)
    assert json.dumps(document) == before  # the input is not changed


def test_foreign_statements_keep_their_bytes_and_order():
    document = doc(FOREIGN, stmt("PullAccessLightsailGone00000000", [GONE]), NO_SID, LOOKALIKE)
    result, dummy = remove_unnamed_statements(document, PREFIXES, [])
    assert [json.dumps(s) for s in result["Statement"]] == [json.dumps(FOREIGN), json.dumps(NO_SID), json.dumps(LOOKALIKE)]


def request_params(policies):
    return dict(repository=None, registry_id=None, sid=None, statements=None, policies=policies, state="present", principals=None,
                actions=list(PULL), effect="Allow", conditions=None, purge_principals=True, delete_empty_policy=True, allow_public=False)


def policy_entry(statements, **extra):
    return dict({"repository": "app", "registry_id": None, "statements": statements, "purge_sid_prefixes": None, "keep_sids": None}, **extra)


def entry(sid, **overrides):
    return dict({"sid": sid, "state": "present", "principals": None, "actions": None, "effect": None, "conditions": None,
                 "purge_principals": None}, **overrides)


SHARED = "PullAccessLightsailShared"


@pytest.mark.parametrize(
    "stored, statements, keep, expected",
    [
        # The shared statement narrowed to the declared principal (a deleted role's unique id goes), a
        # deleted workload's own statement removed, a kept one and a foreign one untouched.
        (doc(FOREIGN, stmt(SHARED, [ROLE, GONE]), stmt("PullAccessLightsailGone00000000", [GONE]), stmt("PullAccessLightsailKept00000000")),
         [entry(SHARED, principals=[ROLE])], ["PullAccessLightsailKept00000000"],
         doc(FOREIGN, stmt(SHARED, [ROLE]), stmt("PullAccessLightsailKept00000000"))),
        # Nothing declared: every owned statement goes, and with it the policy when nothing else is left.
        (doc(stmt(SHARED, [GONE]), stmt("PullAccessEcsShared")), [entry(SHARED, state="absent")], [], None),
        # A statement a request names with absent and purge_principals=false is the request's to decide.
        (doc(stmt(SHARED, [ROLE, "arn:aws:iam::123456789012:role/b"])),
         [entry(SHARED, state="absent", principals=["arn:aws:iam::123456789012:role/b"], purge_principals=False)], [],
         doc(stmt(SHARED, [ROLE]))),
    ],
    ids=["narrow-and-remove", "empty-deletes-policy", "named-absent-not-purged"],
)
def test_statement_change_with_purge_sid_prefixes(stored, statements, keep, expected):
    (request,) = check_requests(requests_from(request_params([policy_entry(statements, purge_sid_prefixes=PREFIXES, keep_sids=keep)])), False)
    assert request.purge_sid_prefixes == PREFIXES and request.keep_sids == keep
    notes = set()
    result = statement_change(request.statements, True, notes, request.purge_sid_prefixes, request.keep_sids)(stored)
    if expected is None:
        assert result is None
    else:
        assert [s.get("Sid") for s in result["Statement"]] == [s.get("Sid") for s in expected["Statement"]]
        for got, want in zip(result["Statement"], expected["Statement"]):
            assert sorted(got["Principal"]["AWS"]) == sorted(want["Principal"]["AWS"])
        assert [s for s in result["Statement"] if s == FOREIGN] == [s for s in stored["Statement"] if s == FOREIGN]


def test_purge_that_would_empty_the_policy_without_delete_empty_policy_is_refused():
    (request,) = check_requests(requests_from(request_params([policy_entry([], purge_sid_prefixes=PREFIXES)])), False)
    with pytest.raises(PolicyError, match="'PullAccessLightsailGone00000000' would leave the repository policy without statements"):
        statement_change(request.statements, False, set(), request.purge_sid_prefixes, request.keep_sids)(
            doc(stmt("PullAccessLightsailGone00000000")))


@pytest.mark.parametrize(
    "entry_extra, problem",
    [
        ({"purge_sid_prefixes": ["Pull-Access"]}, "purge_sid_prefixes: sid 'Pull-Access' is not valid"),
        ({}, "statements must list at least one statement"),
    ],
    ids=["bad-prefix", "nothing-to-do"],
)
def test_purge_requests_checked(entry_extra, problem):
    with pytest.raises(InvalidRequestError, match=problem):
        check_requests(requests_from(request_params([policy_entry([], **entry_extra)])), False)
