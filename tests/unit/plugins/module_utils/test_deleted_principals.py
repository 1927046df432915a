# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A write drops the deleted principals (IAM unique ids) of the collection's own statements, which
ECR would refuse to take back; foreign statements and a policy that does not change stay as they are."""

import pytest

from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import drop_deleted_principals
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import statement_change

ROLE = "arn:aws:iam::123456789012:role/a"
OTHER = "arn:aws:iam::123456789012:role/b"
GONE = "AROA2EXAMPLEDELETED01"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
PREFIXES = ("PullAccessLightsail", "PullAccessEcs")
DEAD = "PullAccessLightsailGone00000000"


def stmt(sid, principals=(ROLE,)):
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": PULL}


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


FOREIGN_DEAD = stmt("TheirCI", [GONE])


@pytest.mark.parametrize(
    "document, named, expected, notes",
    [
        (doc(stmt(DEAD, [GONE]), FOREIGN_DEAD), [], doc(FOREIGN_DEAD), 1),
        (doc(stmt("PullAccessLightsailShared", [ROLE, GONE])), [], doc(stmt("PullAccessLightsailShared", [ROLE])), 1),
        # A statement a request names is the request's to decide (it drops unique ids itself).
        (doc(stmt(DEAD, [GONE])), [DEAD], doc(stmt(DEAD, [GONE])), 0),
        (doc(stmt("PullAccessLightsailAccount", ["*"])), [], doc(stmt("PullAccessLightsailAccount", ["*"])), 0),
        (None, [], None, 0),
    ],
    ids=["own-dead-statement-goes", "own-statement-narrowed", "named-left-alone", "account-statement", "no-policy"],
)
def test_drop_deleted_principals(document, named, expected, notes):
    result, found = drop_deleted_principals(document, PREFIXES, named)
    assert result == expected and len(found) == notes


@pytest.mark.parametrize(
    "stored, wanted, expected",
    [
        # A grant to the repository: the deleted workload's own statement goes in the same write.
        (doc(stmt(DEAD, [GONE]), FOREIGN_DEAD), {"sid": "PullAccessLightsailNew00000000", "principals": [OTHER]},
         doc(FOREIGN_DEAD, stmt("PullAccessLightsailNew00000000", [OTHER]))),
        # Nothing else changes: nothing is written, so the dead statement stays until the next write.
        (doc(stmt(DEAD, [GONE]), stmt("PullAccessLightsailNew00000000", [OTHER])), {"sid": "PullAccessLightsailNew00000000", "principals": [OTHER]},
         doc(stmt(DEAD, [GONE]), stmt("PullAccessLightsailNew00000000", [OTHER]))),
    ],
    ids=["write-drops-it", "converged-keeps-it"],
)
def test_write_drops_deleted_principals(stored, wanted, expected):
    full = dict({"state": "present", "actions": PULL, "effect": "Allow", "conditions": None, "purge_principals": True}, **wanted)
    notes = set()
    result = statement_change([full], True, notes)(stored)
    assert [s["Sid"] for s in result["Statement"]] == [s["Sid"] for s in expected["Statement"]]
    assert [sorted(s["Principal"]["AWS"]) for s in result["Statement"]] == [sorted(s["Principal"]["AWS"]) for s in expected["Statement"]]
    assert bool(notes) == (result != stored)


def test_dropping_the_last_statement_without_delete_empty_policy_is_refused():
    remove_other = {"sid": "PullAccessLightsailNew00000000", "state": "absent", "principals": [], "actions": PULL, "effect": "Allow",
                    "conditions": None, "purge_principals": True}
    with pytest.raises(PolicyError, match="without statements"):
        statement_change([remove_other], False, set())(doc(stmt(DEAD, [GONE]), stmt("PullAccessLightsailNew00000000", [OTHER])))
