# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""pullaccess.aws.ecr_repo_policy_statement through ansible-runner against moto over HTTP."""

import json
import time

import pytest

from integration.conftest import dump
from integration.harness import writes

MODULE = "pullaccess.aws.ecr_repo_policy_statement"
ACCOUNT = "123456789012"
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/puller-a"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/puller-b"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

FOREIGN = [
    {"Sid": "TheirsFirst", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "ecr:*"},
    {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE_B}, "NotAction": ["ecr:BatchGetImage"]},
    {
        "Sid": "OrgOnly",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["ecr:BatchGetImage"],
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
    },
]


def args(**overrides):
    base = {"repository": "app", "sid": "AllowPullA", "principals": [ROLE_A], "verify_delay": 0}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


@pytest.fixture
def ecr(aws):
    client = aws.client("ecr")
    client.create_repository(repositoryName="app")
    aws.create_roles(ROLE_A, ROLE_B)  # ECR refuses principals that do not exist
    return client


def stored_policy(ecr, repository="app"):
    """The raw policy text stored in the repository, or None."""
    try:
        return ecr.get_repository_policy(repositoryName=repository)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None


def set_policy(ecr, document, repository="app"):
    ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps(document))


def wait_for_log(condition, started, what, timeout=60.0):
    """Poll the rig's log (control calls, not logged) until ``condition()`` holds while the run goes on."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert started[0].is_alive() and time.monotonic() < deadline, f"the module never {what}"
        time.sleep(0.02)


def meaning(document):
    """A policy as ECR means it: account ids as root ARNs (ECR stores them so), principals sorted."""
    statements = []
    for statement in document["Statement"]:
        statement = dict(statement)
        principals = (statement.get("Principal") or {}).get("AWS") if isinstance(statement.get("Principal"), dict) else None
        if principals is not None:
            principals = [principals] if isinstance(principals, str) else principals
            statement["Principal"] = {"AWS": sorted(f"arn:aws:iam::{p}:root" if p.isdigit() and len(p) == 12 else p for p in principals)}
        statements.append(statement)
    return dict(document, Statement=statements)


def ops(aws, mark):
    """Every operation the rig served since ``mark`` (any service), in order."""
    return [r["operation"] for r in aws.requests(since=mark)]


def four_way(ansible, aws, module_args, expect_ops):
    """amazon.aws's pattern: check (changed), real (changed), check again and real again
    (unchanged). Check runs and the converged run make no mutating call."""
    mark = aws.mark()
    check = ansible.module(MODULE, module_args, check=True, diff=True)
    assert not check.failed, check
    assert check.changed, check
    assert writes(aws, mark) == [], "check mode made a mutating call"

    mark = aws.mark()
    real = ansible.module(MODULE, module_args, diff=True)
    assert not real.failed, real
    assert real.changed, real
    assert writes(aws, mark) == expect_ops
    assert meaning(real["policy"]) == meaning(check["policy"]), ("check mode predicted a different policy", real["policy"], check["policy"])
    assert real["diff"] == check["diff"]

    mark = aws.mark()
    again = ansible.module(MODULE, module_args, check=True, diff=True)
    assert not again.failed and not again.changed, again
    mark2 = aws.mark()
    final = ansible.module(MODULE, module_args)
    assert not final.failed and not final.changed, final
    assert writes(aws, mark) == [], "a converged run wrote"
    assert len(aws.requests(since=mark2)) == 1, f"a converged run should make one read: {aws.requests(since=mark2)}"
    return check, real


def test_create_policy_four_way(ansible, aws, ecr):
    check, real = four_way(ansible, aws, args(), ["SetRepositoryPolicy"])
    statement = {"Sid": "AllowPullA", "Effect": "Allow", "Principal": {"AWS": [ROLE_A]}, "Action": PULL}
    assert real["policy"] == {"Version": "2012-10-17", "Statement": [statement]}
    assert real["statement"] == statement
    assert real["registry_id"] == ACCOUNT
    assert real["repository"] == "app"
    assert check["diff"]["before"] == ""
    assert json.loads(check["diff"]["after"]) == real["policy"]
    assert check["diff"]["after"] == json.dumps(real["policy"], sort_keys=True, indent=2) + "\n"
    assert json.loads(stored_policy(ecr)) == real["policy"]


def test_foreign_statements_kept_exactly(ansible, aws, ecr):
    set_policy(ecr, {"Version": "2008-10-17", "Statement": FOREIGN})
    check, real = four_way(ansible, aws, args(), ["SetRepositoryPolicy"])
    stored = json.loads(stored_policy(ecr))
    assert stored["Version"] == "2008-10-17", "existing Version must be kept"
    assert stored["Statement"][:3] == FOREIGN, "foreign statements changed"
    assert stored["Statement"][3]["Sid"] == "AllowPullA"
    # The diff shows only our statement arriving.
    before, after = json.loads(check["diff"]["before"]), json.loads(check["diff"]["after"])
    assert after["Statement"][:3] == before["Statement"]

    # Removing ours rewrites the policy with exactly the others.
    mark = aws.mark()
    removed = ansible.module(MODULE, args(state="absent", principals=None), diff=True)
    assert removed.changed and not removed.failed, removed
    assert writes(aws, mark) == ["SetRepositoryPolicy"]
    assert json.loads(stored_policy(ecr)) == {"Version": "2008-10-17", "Statement": FOREIGN}
    assert removed["statement"] is None


def test_replaces_our_statement_in_place(ansible, aws, ecr):
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [FOREIGN[0], {
        "Sid": "AllowPullA", "Effect": "Allow", "Principal": {"AWS": ROLE_B}, "Action": PULL}, FOREIGN[2]]})
    result = ansible.module(MODULE, args())
    assert result.changed, result
    stored = json.loads(stored_policy(ecr))
    assert [s.get("Sid") for s in stored["Statement"]] == ["TheirsFirst", "AllowPullA", "OrgOnly"]
    assert stored["Statement"][1]["Principal"] == {"AWS": [ROLE_A]}
    assert stored["Statement"][0] == FOREIGN[0] and stored["Statement"][2] == FOREIGN[2]


@pytest.mark.parametrize(
    "stored_statement, module_principals",
    [
        ({"Principal": {"AWS": ROLE_A}, "Action": list(reversed(PULL))}, [ROLE_A]),
        ({"Principal": {"AWS": [ROLE_B, ROLE_A]}, "Action": PULL}, [ROLE_A, ROLE_B]),
        ({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": PULL}, [ACCOUNT]),
        ({"Principal": {"AWS": "arn:aws-cn:iam::210987654321:root"}, "Action": PULL}, ["210987654321"]),
        ({"Principal": {"AWS": "arn:aws-us-gov:iam::210987654321:root"}, "Action": ["ecr:batchgetimage", "ecr:GetDownloadUrlForLayer"]},
         ["210987654321"]),
    ],
    ids=["string-vs-list-and-order", "principal-order", "root-arn-vs-account", "china-partition", "govcloud-and-action-case"],
)
def test_equivalent_policy_is_not_rewritten(ansible, aws, ecr, stored_statement, module_principals):
    statement = dict({"Sid": "AllowPullA", "Effect": "Allow"}, **stored_statement)
    set_policy(ecr, {"Version": "2008-10-17", "Statement": [FOREIGN[0], statement]})
    before = stored_policy(ecr)
    mark = aws.mark()
    result = ansible.module(MODULE, args(principals=module_principals), diff=True)
    assert not result.failed and not result.changed, result
    assert writes(aws, mark) == []
    assert stored_policy(ecr) == before
    assert result["diff"]["before"] == result["diff"]["after"]


def test_last_statement_removed_deletes_policy(ansible, aws, ecr):
    assert ansible.module(MODULE, args()).changed
    mark = aws.mark()
    check = ansible.module(MODULE, args(state="absent"), check=True, diff=True)
    assert check.changed and check["policy"] is None and check["diff"]["after"] == "", check
    assert writes(aws, mark) == []
    removed = ansible.module(MODULE, args(state="absent"))
    assert removed.changed and removed["policy"] is None, removed
    assert writes(aws, mark) == ["DeleteRepositoryPolicy"]
    assert stored_policy(ecr) is None
    mark = aws.mark()
    again = ansible.module(MODULE, args(state="absent"))
    assert not again.changed and not again.failed, again
    assert again["registry_id"] == ACCOUNT
    assert writes(aws, mark) == []


def test_delete_empty_policy_false_refuses_and_writes_nothing(ansible, aws, ecr):
    assert ansible.module(MODULE, args()).changed
    before = stored_policy(ecr)
    mark = aws.mark()
    result = ansible.module(MODULE, args(state="absent", delete_empty_policy=False))
    assert result.failed and "without statements" in result.msg and "delete_empty_policy=true" in result.msg, result
    assert writes(aws, mark) == []
    assert stored_policy(ecr) == before


def test_shared_statement_with_purge_principals_false(ansible, aws, ecr):
    shared = {"sid": "FleetPull", "purge_principals": False}
    assert ansible.module(MODULE, args(principals=[ROLE_A], **shared)).changed
    added = ansible.module(MODULE, args(principals=[ROLE_B], **shared))
    assert added.changed and sorted(added["statement"]["Principal"]["AWS"]) == [ROLE_A, ROLE_B], added
    mark = aws.mark()
    assert not ansible.module(MODULE, args(principals=[ROLE_A], **shared)).changed
    assert writes(aws, mark) == []

    one_gone = ansible.module(MODULE, args(principals=[ROLE_A], state="absent", **shared))
    assert one_gone.changed and one_gone["statement"]["Principal"]["AWS"] == [ROLE_B], one_gone
    last_gone = ansible.module(MODULE, args(principals=[ROLE_B], state="absent", **shared))
    assert last_gone.changed and last_gone["statement"] is None and last_gone["policy"] is None, last_gone
    assert stored_policy(ecr) is None


def test_several_statements_in_one_write(ansible, aws, ecr):
    """The fleet form: adds and removes on three Sids make one write. The reads, counted from the
    rig's log: check mode and a converged run read once; the real run reads three times, the
    planning read (everything checked before any write), a fresh read right before the write (the
    change is applied to it, not to the planning read) and the read-back after it (no concurrent
    writer here, so no re-write)."""
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [FOREIGN[0], {
        "Sid": "FleetB", "Effect": "Allow", "Principal": {"AWS": [ROLE_A, ROLE_B]}, "Action": PULL}]})
    fleet = {
        "repository": "app",
        "purge_principals": False,
        "verify_delay": 0,
        "statements": [
            {"sid": "FleetA", "principals": [ROLE_A, ROLE_B]},
            {"sid": "FleetB", "state": "absent", "principals": [ROLE_B]},
            {"sid": "FleetC", "principals": [ACCOUNT], "actions": ["ecr:BatchGetImage"]},
        ],
    }
    mark = aws.mark()
    check = ansible.module(MODULE, fleet, check=True, diff=True)
    assert check.changed, check
    assert ops(aws, mark) == ["GetRepositoryPolicy"], "check mode: one read, no write"
    mark = aws.mark()
    real = ansible.module(MODULE, fleet, diff=True)
    assert real.changed and not real.failed, real
    # planning read, fresh read, the one write for the whole fleet, read-back
    assert ops(aws, mark) == ["GetRepositoryPolicy", "GetRepositoryPolicy", "SetRepositoryPolicy", "GetRepositoryPolicy"], dump(aws.requests(since=mark))
    assert real["write_attempts"] == 1, real
    assert meaning(real["policy"]) == meaning(check["policy"]), (real["policy"], check["policy"])
    stored = json.loads(stored_policy(ecr))
    by_sid = {s.get("Sid"): s for s in stored["Statement"]}
    assert stored["Statement"][0] == FOREIGN[0]
    assert by_sid["FleetA"]["Principal"] == {"AWS": [ROLE_A, ROLE_B]}
    assert by_sid["FleetB"]["Principal"] == {"AWS": [ROLE_A]}
    assert by_sid["FleetC"]["Action"] == ["ecr:BatchGetImage"]
    assert [s["Sid"] for s in real["statements"]] == ["FleetA", "FleetB", "FleetC"]
    mark = aws.mark()
    assert not ansible.module(MODULE, fleet).changed
    assert ops(aws, mark) == ["GetRepositoryPolicy"], "a converged run: one read, no write"


def test_policies_form_checks_all_before_writing(ansible, aws, ecr):
    """The fleet form over several repositories: one task, all read and checked before any write;
    a broken repository stops the whole task with nothing written."""
    ecr.create_repository(repositoryName="worker")
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [FOREIGN[0]]}, repository="worker")
    fleet = {
        "verify_delay": 0,
        "policies": [
            {"repository": "app", "statements": [{"sid": "PullA", "principals": [ROLE_A]}]},
            {"repository": "worker", "statements": [{"sid": "PullB", "principals": [ROLE_B]}]},
        ],
    }
    mark = aws.mark()
    check = ansible.module(MODULE, fleet, check=True, diff=True)
    assert check.changed and not check.failed, check
    assert writes(aws, mark) == []
    assert [d["before_header"] for d in check["diff"]] == ["app", "worker"]
    real = ansible.module(MODULE, fleet, diff=True)
    assert real.changed and not real.failed, real
    assert sorted(writes(aws, mark)) == ["SetRepositoryPolicy", "SetRepositoryPolicy"]
    assert [p["repository"] for p in real["policies"]] == ["app", "worker"]
    assert [p["policy"] for p in real["policies"]] == [p["policy"] for p in check["policies"]]
    assert json.loads(stored_policy(ecr, "worker"))["Statement"][0] == FOREIGN[0]
    mark = aws.mark()
    again = ansible.module(MODULE, fleet)
    assert not again.changed and writes(aws, mark) == [], again

    # One repository missing: nothing is written anywhere.
    broken = {"verify_delay": 0, "policies": [
        {"repository": "app", "statements": [{"sid": "PullC", "principals": [ROLE_B]}]},
        {"repository": "missing", "statements": [{"sid": "PullC", "principals": [ROLE_B]}]},
    ]}
    mark = aws.mark()
    failed = ansible.module(MODULE, broken)
    assert failed.failed and "missing" in failed.msg and "nothing was written" in failed.msg, failed
    assert writes(aws, mark) == []


def test_conditions_and_effect(ansible, aws, ecr):
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    check, real = four_way(
        ansible, aws, args(principals=["*"], conditions=condition, effect="Allow", sid="OrgPull"), ["SetRepositoryPolicy"]
    )
    assert real["statement"]["Condition"] == condition
    assert real["statement"]["Principal"] == {"AWS": ["*"]}


def test_unique_id_principal_rewritten_with_warning(ansible, aws, ecr):
    aws.ecr_settings(check_principals=False)  # plant what ECR shows for a deleted role
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowPullA", "Effect": "Allow", "Principal": {"AWS": "AROAABCDEFGHIJKLMNOPQ"}, "Action": PULL}]})
    aws.ecr_settings(check_principals=True)
    result = ansible.module(MODULE, args())
    assert result.changed, result
    assert any("unique id" in w for w in result.get("warnings", [])), result
    assert json.loads(stored_policy(ecr))["Statement"][0]["Principal"] == {"AWS": [ROLE_A]}


def test_concurrent_writers_lose_nothing(ansible, aws, ecr):
    """Parallel playbook runs on one repository, each adding its own Sid: all must be there.
    Whether one lands inside another's read-to-write gap here depends on timing (the rig answers
    at once), so re-writes are only printed; the next test forces one."""
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [FOREIGN[0]]})
    writers = 6
    aws.create_roles(*(f"arn:aws:iam::{ACCOUNT}:role/w{i}" for i in range(writers)))
    started = [
        ansible.start([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "grant", MODULE: args(sid=f"Writer{i}", principals=[f"arn:aws:iam::{ACCOUNT}:role/w{i}"], verify_delay=1.0)}]}])
        for i in range(writers)
    ]
    runs = [ansible.finish(s) for s in started]
    for run in runs:
        assert run.rc == 0, run.stdout
    stored = json.loads(stored_policy(ecr))
    sids = sorted(s.get("Sid") for s in stored["Statement"])
    assert sids == sorted(["TheirsFirst"] + [f"Writer{i}" for i in range(writers)]), dump(stored)
    assert stored["Statement"][0] == FOREIGN[0]
    attempts = sum(run.task("grant")["write_attempts"] for run in runs)
    print(f"{writers} writers needed {attempts} policy writes")


def test_policy_replaced_before_the_read_back_is_written_again(ansible, aws, ecr):
    """Another writer that read the policy before our write and writes after it replaces our
    statement (SetRepositoryPolicy has no revision check); the read-back sees that, and the module
    writes again on top of what is there: nothing is lost, ours and theirs are both kept.

    The race is forced, not timed: the rig lets the module's first two reads through (the
    planning and the fresh read, see test_several_statements_in_one_write) and then throttles
    every GetRepositoryPolicy, so the read-back after our write is held (botocore retries it)
    until the other writer has written and the test lifts the throttle."""
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [FOREIGN[0]]})
    theirs = {"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": [ROLE_B]}, "Action": PULL}
    stale = json.loads(stored_policy(ecr))  # the other writer's read, before our write
    aws.set_faults([
        {"service": "ecr", "operation": "GetRepositoryPolicy", "kind": "slow", "delay": 0, "times": 2, "name": "passed"},
        {"service": "ecr", "operation": "GetRepositoryPolicy", "kind": "throttle", "name": "held"},
    ])
    mark = aws.mark()
    started = ansible.start([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "under test", MODULE: args()}]}])
    try:
        wait_for_log(lambda: any(r["fault"] == "held" for r in aws.requests(since=mark, service="ecr")), started, "read the policy back")
        # Our write has landed (the read-back comes after it); the other writer writes what it read plus its statement.
        set_policy(ecr, dict(stale, Statement=stale["Statement"] + [theirs]))
    finally:
        aws.clear_faults()  # whatever happened, let the run end before the next test
        result = ansible.finish(started).task("under test")
    assert result.changed and not result.failed, result
    assert result["write_attempts"] == 2, result
    ours = {"Sid": "AllowPullA", "Effect": "Allow", "Principal": {"AWS": [ROLE_A]}, "Action": PULL}
    assert json.loads(stored_policy(ecr)) == {"Version": "2012-10-17", "Statement": [FOREIGN[0], theirs, ours]}
    assert result["policy"] == json.loads(stored_policy(ecr)), result

    calls = [(r["operation"], r["fault"]) for r in aws.requests(since=mark, service="ecr")]
    sets = [i for i, call in enumerate(calls) if call[0] == "SetRepositoryPolicy"]
    assert len(sets) == 3, calls  # ours, theirs, ours again
    read_back = [i for i, call in enumerate(calls) if call == ("GetRepositoryPolicy", None) and i > sets[0]]
    # Their write landed after ours and before our read-back got an answer.
    assert calls[sets[0] + 1][1] == "held" and sets[0] < sets[1] < read_back[0] < sets[2], calls


# ---------------------------------------------------------------------------------------------
# Bad input and broken AWS-side state: a clear error and nothing written
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"principals": ["not-an-arn"]}, "principal 'not-an-arn' is not valid"),
        ({"principals": ["*"]}, "allow_public=true"),
        ({"principals": ["AROAABCDEFGHIJKLMNOPQ"]}, "unique id"),
        ({"sid": "has-hyphens"}, "letters and digits"),
        ({"actions": ["BatchGetImage"]}, "service:Action"),
        ({"registry_id": "12345"}, "12-digit"),
        ({"principals": []}, "at least one principal"),
        ({"sid": None, "principals": None, "statements": [{"sid": "Ok", "principals": [ROLE_A]}, {"sid": "Bad", "principals": ["x"]}]},
         "statements[1] (sid 'Bad'): principal 'x' is not valid"),
    ],
    ids=["bad-principal", "public-star", "unique-id", "bad-sid", "bad-action", "bad-registry", "no-principals", "statements-entry"],
)
def test_bad_input_fails_before_any_call(ansible, aws, ecr, overrides, message):
    mark = aws.mark()
    result = ansible.module(MODULE, args(**overrides))
    assert result.failed and message in result.msg, result
    assert aws.requests(since=mark) == [], "bad input must fail before any AWS call"


def test_missing_repository_named_with_registry_and_region(ansible, aws, ecr):
    mark = aws.mark()
    result = ansible.module(MODULE, args(repository="nope"))
    assert result.failed, result
    assert "'nope'" in result.msg and "does not exist" in result.msg and "us-east-1" in result.msg, result
    assert writes(aws, mark) == []


def test_existing_policy_not_valid_json(ansible, aws, ecr):
    """ECR validates what it stores, so the rig answers with the broken text (as a policy from a
    broken tool would read): clear error, nothing written."""
    aws.set_faults([{"service": "ecr", "operation": "GetRepositoryPolicy", "kind": "respond",
                     "body": {"registryId": ACCOUNT, "repositoryName": "app", "policyText": '{"Version": "2012-10-17", "Statement": ['}}])
    mark = aws.mark()
    result = ansible.module(MODULE, args())
    assert result.failed and "is not valid JSON" in result.msg and "'app'" in result.msg, result
    assert writes(aws, mark) == []


def test_duplicate_sids_in_existing_policy(ansible, aws, ecr):
    statement = {"Sid": "Dup", "Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "ecr:BatchGetImage"}
    aws.ecr_settings(validate_policy=False)  # ECR refuses duplicate Sids: plant what a broken tool left
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [statement, statement]})
    aws.ecr_settings(validate_policy=True)
    mark = aws.mark()
    result = ansible.module(MODULE, args())
    assert result.failed and "more than one statement with Sid 'Dup'" in result.msg, result
    assert writes(aws, mark) == []


def test_policy_over_size_limit(ansible, aws, ecr):
    principals = [f"arn:aws:iam::{ACCOUNT}:role/a-rather-long-role-name-for-the-fleet-{i:04d}" for i in range(200)]
    mark = aws.mark()
    result = ansible.module(MODULE, args(principals=principals))
    assert result.failed, result
    assert "10240-character limit" in result.msg and "purge_principals=false" in result.msg, result
    assert writes(aws, mark) == []
    assert stored_policy(ecr) is None


def test_throttling_and_server_errors_are_retried(ansible, aws, ecr):
    aws.set_faults([
        {"service": "ecr", "operation": "GetRepositoryPolicy", "kind": "server_error", "times": 1},
        {"service": "ecr", "operation": "SetRepositoryPolicy", "kind": "throttle", "times": 2},
    ])
    mark = aws.mark()
    result = ansible.module(MODULE, args())
    assert result.changed and not result.failed, result
    log = aws.requests(since=mark, service="ecr")
    faults = [(r["operation"], r["fault"]) for r in log if r.get("fault")]
    assert ("GetRepositoryPolicy", "server_error") in faults and faults.count(("SetRepositoryPolicy", "throttle")) == 2, log
    assert json.loads(stored_policy(ecr))["Statement"][0]["Sid"] == "AllowPullA"


def test_throttled_write_is_retried_on_a_fresh_read(ansible, aws, ecr):
    """A write that fails (here: throttled) is not repeated with the text of the old read: a
    change another writer makes during the backoff (here: revoking its statement) is kept.

    Deterministic, without guessing how long the backoff lasts: every module write is throttled
    until the rig's log shows, after the other writer's change, a fresh module read followed by a
    throttled write; only then is the throttle lifted, so the write that gets through was made
    from a read that saw the change. With the old text, the revoked statement would come back."""
    set_policy(ecr, {"Version": "2012-10-17", "Statement": [FOREIGN[0]]})
    aws.set_faults([{"service": "ecr", "operation": "SetRepositoryPolicy", "kind": "throttle", "name": "held"}])
    mark = aws.mark()
    started = ansible.start([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "under test", MODULE: args()}]}])

    def log():
        return aws.requests(since=mark, service="ecr")

    revoked = []

    def read_then_held_after_revoke():
        after = [r for r in log() if r["seq"] > revoked[0]]
        held = [i for i, r in enumerate(after) if r["fault"] == "held"]
        reads = [i for i, r in enumerate(after) if r["operation"] == "GetRepositoryPolicy"]
        # Two writes held since the revoke, the second with no read before it: retried with the old text.
        assert len(held) < 2 or (reads and reads[0] < held[1]), f"a failed write was retried without a fresh read: {dump(after)}"
        return bool(reads) and any(i > reads[0] for i in held)

    try:
        wait_for_log(lambda: any(r["fault"] == "held" for r in log()), started, "tried to write")
        # The other writer revokes its statement (DeleteRepositoryPolicy: not throttled) while our write is held.
        ecr.delete_repository_policy(repositoryName="app")
        revoked.append(aws.requests(since=mark, operation="DeleteRepositoryPolicy")[0]["seq"])
        wait_for_log(read_then_held_after_revoke, started, "read again after the other writer's change")
    finally:
        aws.clear_faults()  # whatever happened, let the run end before the next test
        result = ansible.finish(started).task("under test")
    assert result.changed and not result.failed, result
    assert result["write_attempts"] == 1, result
    calls = [(r["seq"], r["operation"], r["fault"]) for r in log()]
    written = [i for i, call in enumerate(calls) if call[1] == "SetRepositoryPolicy" and call[2] is None]
    assert len(written) == 1, calls
    # The write that got through was made from a read after the revoke.
    last_read = max(seq for seq, operation, dummy in calls[:written[0]] if operation == "GetRepositoryPolicy")
    assert last_read > revoked[0], calls
    assert json.loads(stored_policy(ecr)) == {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowPullA", "Effect": "Allow", "Principal": {"AWS": [ROLE_A]}, "Action": PULL}]}, calls


def test_principal_not_found_is_retried_until_propagated(ansible, aws, ecr):
    from rig.faults import ecr_principal_not_found  # pylint: disable=import-outside-toplevel

    aws.set_faults([ecr_principal_not_found(times=2)])
    result = ansible.module(MODULE, args(propagation_timeout=60))
    assert result.changed and not result.failed, result
    assert json.loads(stored_policy(ecr))["Statement"][0]["Sid"] == "AllowPullA"


def test_principal_not_found_gives_up_after_timeout(ansible, aws, ecr):
    from rig.faults import ecr_principal_not_found  # pylint: disable=import-outside-toplevel

    aws.set_faults([ecr_principal_not_found(times=1000)])
    result = ansible.module(MODULE, args(propagation_timeout=3))
    assert result.failed and "principal was not found" in result.msg and "propagation_timeout" in result.msg, result
    assert stored_policy(ecr) is None
