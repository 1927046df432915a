# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of the policy engine (plugins/module_utils/_policy.py)."""

import json

import pytest

from ansible_collections.pullaccess.aws.plugins.module_utils import _policy as policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError

ROLE_A = "arn:aws:iam::123456789012:role/a"
ROLE_B = "arn:aws:iam::123456789012:role/b"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def ours(principals, sid="Ours", actions=None, **extra):
    statement = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principals}, "Action": actions or PULL}
    statement.update(extra)
    return statement


FOREIGN = [
    {"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "ecr:*"},
    {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE_B}, "NotAction": ["ecr:BatchGetImage"]},
    {
        "Sid": "WithCondition",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["ecr:BatchGetImage"],
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
    },
]


# ---------------------------------------------------------------------------------------------
# parse_policy
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        (None, None),
        ("", None),
        ("   \n", None),
        ('{"Version": "2008-10-17", "Statement": []}', {"Version": "2008-10-17", "Statement": []}),
        ('{"Statement": {"Sid": "One", "Effect": "Allow"}}', {"Statement": {"Sid": "One", "Effect": "Allow"}}),
    ],
    ids=["none", "empty", "blank", "empty-statement-list", "lone-statement-object"],
)
def test_parse_policy_accepts(text, expected):
    assert policy.parse_policy(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"Version": "2012-10-17", "Statement": [', "not valid JSON"),
        ("[1, 2]", "not a policy document"),
        ('{"Version": "2012-10-17"}', "not a policy document"),
        ('{"Statement": ["text"]}', "not a JSON object"),
        ('{"Statement": [{"Sid": "A"}, {"Sid": "A"}]}', "more than one statement with Sid 'A'"),
        # The seeds' CLI recipe: a second document pasted after the first with a comma.
        ('{"Version": "2008-10-17", "Statement": []}, {"Version": "2008-10-17", "Statement": []}', "not valid JSON"),
    ],
    ids=["truncated", "list", "no-statement", "statement-not-object", "duplicate-sid", "seed-recipe-output"],
)
def test_parse_policy_rejects(text, message):
    with pytest.raises(PolicyError, match=message):
        policy.parse_policy(text, "the policy of repository r")


# ---------------------------------------------------------------------------------------------
# Validation of user input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "principal",
    [
        "123456789012",
        "arn:aws:iam::123456789012:root",
        "arn:aws-cn:iam::123456789012:root",
        "arn:aws-us-gov:iam::123456789012:role/path/to/role-name",
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:iam::123456789012:role/amazon/lightsail/us-east-1/containers/web/private-repo-access/abc",
        "arn:aws:sts::123456789012:assumed-role/deployer/session-1",
        " arn:aws:iam::123456789012:role/padded ",
    ],
)
def test_validate_principal_accepts(principal):
    assert policy.validate_principal(principal) == principal.strip()


@pytest.mark.parametrize(
    "principal, message",
    [
        ("12345678901", "not valid"),
        ("1234567890123", "not valid"),
        ("arn:aws:iam::123456789012:group/admins", "not valid"),
        ("arn:aws:iam::12345678901:role/short-account", "not valid"),
        ("arn:aws:s3:::bucket", "not valid"),
        ("arn:aws:iam:us-east-1:123456789012:role/regional", "not valid"),
        ("role/a", "not valid"),
        ("AROAABCDEFGHIJKLMNOPQ", "unique id"),
        ("*", "anyone"),
        (12, "not a string"),
    ],
)
def test_validate_principal_rejects(principal, message):
    with pytest.raises(PolicyError, match=message):
        policy.validate_principal(principal)


@pytest.mark.parametrize("allow_public, has_condition", [(True, False), (False, True)])
def test_validate_principal_star_when_allowed(allow_public, has_condition):
    assert policy.validate_principal("*", allow_public=allow_public, has_condition=has_condition) == "*"


@pytest.mark.parametrize("sid, ok", [("AllowPull", True), ("A1", True), ("x" * 100, True), ("", False), ("with-hyphen", False),
                                     ("with space", False), ("x" * 101, False), (None, False)])
def test_validate_sid(sid, ok):
    if ok:
        policy.validate_sid(sid)
    else:
        with pytest.raises(PolicyError, match="letters and digits"):
            policy.validate_sid(sid)


@pytest.mark.parametrize(
    "actions, ok",
    [(["ecr:BatchGetImage"], True), (["ecr:*"], True), (["*"], True), (["ecr:Get*"], True), ([], False),
     (["BatchGetImage"], False), (["ecr:Batch Get"], False), ([3], False)],
)
def test_validate_actions(actions, ok):
    if ok:
        assert policy.validate_actions(actions) == actions
    else:
        with pytest.raises(PolicyError, match="action"):
            policy.validate_actions(actions)


@pytest.mark.parametrize(
    "conditions, ok",
    [(None, True), ({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, True), ({"StringEquals": "x"}, False),
     ({"StringEquals": {}}, False), (["StringEquals"], False)],
)
def test_validate_conditions(conditions, ok):
    if ok:
        assert policy.validate_conditions(conditions) == conditions
    else:
        with pytest.raises(PolicyError, match="Condition block"):
            policy.validate_conditions(conditions)


# ---------------------------------------------------------------------------------------------
# Equivalence by meaning
# ---------------------------------------------------------------------------------------------

EQUIVALENT = [
    ("principal-order", ours([ROLE_A, ROLE_B]), ours([ROLE_B, ROLE_A])),
    ("action-order", ours([ROLE_A], actions=PULL), ours([ROLE_A], actions=list(reversed(PULL)))),
    ("string-vs-list-principal", ours(ROLE_A), ours([ROLE_A])),
    ("string-vs-list-action", ours([ROLE_A], actions="ecr:BatchGetImage"), ours([ROLE_A], actions=["ecr:BatchGetImage"])),
    ("action-case", ours([ROLE_A], actions=["ecr:batchgetimage"]), ours([ROLE_A], actions=["ecr:BatchGetImage"])),
    ("duplicate-principal", ours([ROLE_A, ROLE_A]), ours([ROLE_A])),
    ("account-vs-root-arn", ours(["123456789012"]), ours(["arn:aws:iam::123456789012:root"])),
    ("account-vs-root-arn-china", ours(["123456789012"]), ours(["arn:aws-cn:iam::123456789012:root"])),
    ("account-vs-root-arn-govcloud", ours(["arn:aws-us-gov:iam::123456789012:root"]), ours("123456789012")),
    ("key-order", {"Effect": "Allow", "Sid": "Ours", "Action": PULL, "Principal": {"AWS": ROLE_A}}, ours(ROLE_A)),
    ("star-vs-aws-star", {"Sid": "S", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"},
     {"Sid": "S", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:*"}),
    ("condition-value-list", ours(ROLE_A, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}}),
     ours(ROLE_A, Condition={"StringEquals": {"aws:PrincipalOrgID": ["o-1"]}})),
    ("condition-key-case", ours(ROLE_A, Condition={"Bool": {"aws:SecureTransport": True}}),
     ours(ROLE_A, Condition={"Bool": {"AWS:SecureTransport": "true"}})),
]

DIFFERENT = [
    ("other-role", ours([ROLE_A]), ours([ROLE_B])),
    ("more-principals", ours([ROLE_A]), ours([ROLE_A, ROLE_B])),
    ("unique-id-vs-arn", ours(["AROAABCDEFGHIJKLMNOPQ"]), ours([ROLE_A])),
    ("other-account-root", ours(["123456789012"]), ours(["arn:aws:iam::210987654321:root"])),
    ("role-vs-account", ours([ROLE_A]), ours(["123456789012"])),
    ("effect", ours([ROLE_A]), dict(ours([ROLE_A]), Effect="Deny")),
    ("actions", ours([ROLE_A]), ours([ROLE_A], actions=["ecr:BatchGetImage"])),
    ("condition-added", ours([ROLE_A]), ours([ROLE_A], Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}})),
    ("condition-value", ours(ROLE_A, Condition={"StringEquals": {"k": "a"}}), ours(ROLE_A, Condition={"StringEquals": {"k": "b"}})),
    ("principal-vs-notprincipal", {"Sid": "S", "Principal": {"AWS": ROLE_A}}, {"Sid": "S", "NotPrincipal": {"AWS": ROLE_A}}),
    ("sid", ours([ROLE_A], sid="One"), ours([ROLE_A], sid="Two")),
]


@pytest.mark.parametrize("left, right", [case[1:] for case in EQUIVALENT], ids=[case[0] for case in EQUIVALENT])
def test_statements_equivalent(left, right):
    assert policy.statements_equivalent(left, right)
    assert policy.statements_equivalent(right, left)


@pytest.mark.parametrize("first, second", [case[1:] for case in DIFFERENT], ids=[case[0] for case in DIFFERENT])
def test_statements_different(first, second):
    assert not policy.statements_equivalent(first, second)


@pytest.mark.parametrize(
    "first, second, equal",
    [
        (None, None, True),
        (None, {"Statement": [ours(ROLE_A)]}, False),
        ({"Statement": [ours(ROLE_A)]}, {"Version": "2012-10-17", "Statement": ours(ROLE_A)}, True),
        ({"Version": "2008-10-17", "Statement": [ours(ROLE_A)]}, {"Version": "2012-10-17", "Statement": [ours(ROLE_A)]}, False),
        ({"Statement": [ours(ROLE_A), FOREIGN[0]]}, {"Statement": [FOREIGN[0], ours(ROLE_A)]}, True),
        ({"Id": "x", "Statement": []}, {"Id": "y", "Statement": []}, False),
    ],
    ids=["none-none", "none-some", "default-version-and-lone-statement", "version-differs", "statement-order", "id-differs"],
)
def test_documents_equivalent(first, second, equal):
    assert policy.documents_equivalent(first, second) is equal


# ---------------------------------------------------------------------------------------------
# put / remove keep foreign statements exactly
# ---------------------------------------------------------------------------------------------

def test_put_statement_new_document_gets_default_version():
    assert policy.put_statement(None, ours([ROLE_A])) == {"Version": "2012-10-17", "Statement": [ours([ROLE_A])]}


def test_put_statement_appends_and_keeps_foreign_and_version():
    document = {"Version": "2008-10-17", "Id": "keep-me", "Statement": json.loads(json.dumps(FOREIGN))}
    result = policy.put_statement(document, ours([ROLE_A]))
    assert result["Version"] == "2008-10-17"
    assert result["Id"] == "keep-me"
    assert result["Statement"][:3] == FOREIGN
    assert result["Statement"][3] == ours([ROLE_A])
    assert document["Statement"] == FOREIGN, "input document must not be modified"


def test_put_statement_replaces_in_place():
    document = {"Statement": [FOREIGN[0], ours([ROLE_A]), FOREIGN[2]]}
    result = policy.put_statement(document, ours([ROLE_B]))
    assert result["Statement"] == [FOREIGN[0], ours([ROLE_B]), FOREIGN[2]]


def test_put_statement_lone_statement_object():
    result = policy.put_statement({"Statement": FOREIGN[0]}, ours([ROLE_A]))
    assert result["Statement"] == [FOREIGN[0], ours([ROLE_A])]


def test_remove_statement_keeps_others_in_order():
    document = {"Version": "2008-10-17", "Statement": [FOREIGN[0], ours([ROLE_A]), FOREIGN[1], FOREIGN[2]]}
    result = policy.remove_statement(document, "Ours")
    assert result == {"Version": "2008-10-17", "Statement": FOREIGN}


# ---------------------------------------------------------------------------------------------
# desired_statement: what our statement becomes
# ---------------------------------------------------------------------------------------------

def desired(current, principals, state="present", purge=True, actions=None, conditions=None):
    return policy.desired_statement(
        current, "Ours", principals, actions or PULL, "Allow", conditions, state, purge
    )


DESIRED = [
    # (id, current, principals, state, purge, expected principals or None, same object kept)
    ("create", None, [ROLE_A], "present", True, [ROLE_A], False),
    ("converged-kept-as-stored", ours([ROLE_B, ROLE_A]), [ROLE_A, ROLE_B], "present", True, None, True),
    ("converged-account-vs-root", ours(["arn:aws:iam::123456789012:root"]), ["123456789012"], "present", True, None, True),
    ("purge-replaces", ours([ROLE_A]), [ROLE_B], "present", True, [ROLE_B], False),
    ("merge-adds", ours([ROLE_A]), [ROLE_B], "present", False, [ROLE_A, ROLE_B], False),
    ("merge-already-there", ours([ROLE_A, ROLE_B]), [ROLE_B], "present", False, None, True),
    ("merge-into-nothing", None, [ROLE_B], "present", False, [ROLE_B], False),
    ("absent-purge-drops", ours([ROLE_A, ROLE_B]), [], "absent", True, "drop", False),
    ("absent-missing", None, [ROLE_A], "absent", True, "drop", False),
    ("absent-merge-removes-one", ours([ROLE_A, ROLE_B]), [ROLE_A], "absent", False, [ROLE_B], False),
    ("absent-merge-last-drops", ours([ROLE_A]), [ROLE_A], "absent", False, "drop", False),
    ("absent-merge-not-there", ours([ROLE_A]), [ROLE_B], "absent", False, None, True),
    ("absent-merge-account-form", ours(["arn:aws:iam::123456789012:root", ROLE_A]), ["123456789012"], "absent", False, [ROLE_A], False),
    ("unique-id-rewritten", ours(["AROAABCDEFGHIJKLMNOPQ"]), [ROLE_A], "present", True, [ROLE_A], False),
    ("unique-id-dropped-on-merge", ours(["AROAABCDEFGHIJKLMNOPQ", ROLE_B]), [ROLE_A], "present", False, [ROLE_A, ROLE_B], False),
]


@pytest.mark.parametrize("current, principals, state, purge, expected, kept", [c[1:] for c in DESIRED], ids=[c[0] for c in DESIRED])
def test_desired_statement(current, principals, state, purge, expected, kept):
    statement, notes = desired(current, principals, state=state, purge=purge)
    if kept:
        assert statement is current
        return
    if expected == "drop":
        assert statement is None
        return
    assert statement["Sid"] == "Ours"
    assert sorted(statement["Principal"]["AWS"]) == sorted(expected)
    if current and any(policy.is_unique_id(p) for p in policy.aws_principals(current)):
        assert notes and "unique id" in notes[0]


def test_desired_statement_changes_actions_and_conditions():
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}
    statement = desired(ours([ROLE_A]), [ROLE_A], actions=["ecr:BatchGetImage"], conditions=condition)[0]
    assert statement["Action"] == ["ecr:BatchGetImage"]
    assert statement["Condition"] == condition


def test_build_statement_shape_is_stable():
    statement = policy.build_statement("S", [ROLE_B, ROLE_A, ROLE_A], ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"])
    assert list(statement) == ["Sid", "Effect", "Principal", "Action"]
    assert statement["Principal"] == {"AWS": [ROLE_A, ROLE_B]}
    assert statement["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


# ---------------------------------------------------------------------------------------------
# Rendering and size
# ---------------------------------------------------------------------------------------------

def test_render_is_compact_and_round_trips():
    document = {"Version": "2012-10-17", "Statement": [ours([ROLE_A])]}
    text = policy.render_policy(document)
    assert " " not in text
    assert json.loads(text) == document


def test_pretty_policy_is_sorted_and_stable():
    first = policy.pretty_policy({"Version": "2012-10-17", "Statement": [ours([ROLE_A])]})
    second = policy.pretty_policy({"Statement": [ours([ROLE_A])], "Version": "2012-10-17"})
    assert first == second
    assert first.endswith("\n")
    assert policy.pretty_policy(None) == ""


@pytest.mark.parametrize("length, fails", [(10240, False), (10241, True)])
def test_check_size(length, fails):
    text = "x" * length
    if fails:
        with pytest.raises(PolicyError, match=r"10241 characters, over the 10240-character limit.*purge_principals=false"):
            policy.check_size(text, "the new policy")
    else:
        policy.check_size(text, "the new policy")


def test_union_and_subtract_principals_by_meaning():
    assert policy.union_principals(["123456789012"], ["arn:aws:iam::123456789012:root", ROLE_A]) == sorted(["123456789012", ROLE_A])
    assert policy.subtract_principals(["arn:aws:iam::123456789012:root", ROLE_A], ["123456789012"]) == [ROLE_A]
