# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the repository policy engine (_repository_policies, _ecr): requests and their checks,
planning (table-driven: stored policy + requests -> predicted policy, changed), and the write loop
of ``apply_policy`` against a tiny fake ECR client whose policy other writers replace."""

import json

import pytest
from botocore.exceptions import ClientError

from ansible_collections.pullaccess.aws.plugins.module_utils import _ecr
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import ConcurrentWriteError
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import RepositoryMissingError
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import apply_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import check_requests
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import plan_policies
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import policy_result
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import requests_from

ACCOUNT = "123456789012"
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/a"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/b"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
FOREIGN = {"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "ecr:*"}


def params(**overrides):
    """Module parameters as AnsibleModule gives them (every option present)."""
    base = dict(repository="app", registry_id=None, sid="PullA", statements=None, policies=None, state="present", principals=[ROLE_A],
                actions=list(PULL), effect="Allow", conditions=None, purge_principals=True, delete_empty_policy=True, allow_public=False)
    base.update(overrides)
    return base


def entry(sid, **overrides):
    """One entry of ``statements`` as the argument spec fills it in."""
    base = dict(sid=sid, state="present", principals=None, actions=None, effect=None, conditions=None, purge_principals=None)
    base.update(overrides)
    return base


def ours(sid, principals, actions=None):
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": sorted(principals)}, "Action": sorted(actions or PULL)}


def document(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def client_error(code, message="", operation="Operation", status=400):
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class FakeECR:
    """Repositories and their policy texts; ``after_write(fake)`` runs after each write of ours
    (another writer acting before our read-back); ``failures`` (exceptions, or functions making
one) are raised by the next writes instead of writing."""

    def __init__(self, policies, after_write=None, failures=()):
        self.policies = dict(policies)
        self.after_write = after_write
        self.failures = list(failures)
        self.writes = []
        self.reads = 0

    def _repository(self, params, operation):
        name = params["repositoryName"]
        if name not in self.policies:
            raise client_error("RepositoryNotFoundException", f"repository {name} not found", operation)
        return name

    def get_repository_policy(self, **params):
        name = self._repository(params, "GetRepositoryPolicy")
        self.reads += 1
        if self.policies[name] is None:
            raise client_error("RepositoryPolicyNotFoundException", "no policy", "GetRepositoryPolicy")
        return {"registryId": ACCOUNT, "repositoryName": name, "policyText": self.policies[name]}

    def _write(self, name, text):
        if self.failures:
            failure = self.failures.pop(0)
            raise failure() if callable(failure) else failure
        self.writes.append((name, text))
        self.policies[name] = text
        if self.after_write:
            self.after_write(self)

    def set_repository_policy(self, **params):
        name = self._repository(params, "SetRepositoryPolicy")
        self._write(name, params["policyText"])
        return {"registryId": ACCOUNT, "repositoryName": name, "policyText": params["policyText"]}

    def delete_repository_policy(self, **params):
        name = self._repository(params, "DeleteRepositoryPolicy")
        self._write(name, None)
        return {"registryId": ACCOUNT, "repositoryName": name}

    def stored(self, name="app"):
        return None if self.policies[name] is None else json.loads(self.policies[name])


# ---------------------------------------------------------------------------------------------
# Requests and their checks
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({}, [("app", None, [("PullA", [ROLE_A], PULL, True)])]),
        ({"registry_id": ACCOUNT, "state": "absent", "principals": None}, [("app", ACCOUNT, [("PullA", [], PULL, True)])]),
        # Entries of statements take actions, effect and purge_principals from the task when they leave them out.
        ({"sid": None, "principals": None, "purge_principals": False,
          "statements": [entry("One", principals=[ROLE_A]), entry("Two", principals=[ROLE_B], actions=["ecr:*"], purge_principals=True)]},
         [("app", None, [("One", [ROLE_A], PULL, False), ("Two", [ROLE_B], ["ecr:*"], True)])]),
        ({"repository": None, "sid": None, "principals": None, "policies": [
            {"repository": "web", "registry_id": None, "statements": [entry("One", principals=[ROLE_A])]},
            {"repository": "worker", "registry_id": ACCOUNT, "statements": [entry("Two", state="absent")]}]},
         [("web", None, [("One", [ROLE_A], PULL, True)]), ("worker", ACCOUNT, [("Two", [], PULL, True)])]),
    ],
    ids=["single", "single-absent", "statements", "policies"],
)
def test_requests(overrides, expected):
    requests = check_requests(requests_from(params(**overrides)), allow_public=False)
    found = [(r.repository, r.registry_id, [(s["sid"], s["principals"], s["actions"], s["purge_principals"]) for s in r.statements])
             for r in requests]
    assert found == expected


@pytest.mark.parametrize(
    "overrides, messages",
    [
        ({"principals": ["not-an-arn"]}, ["principal 'not-an-arn' is not valid"]),
        ({"principals": ["*"]}, ["allow_public=true"]),
        ({"principals": []}, ["principals must name at least one principal when state=present"]),
        ({"registry_id": "12345"}, ["registry_id '12345' is not a 12-digit AWS account id"]),
        # Every problem is named, not only the first.
        ({"sid": "has-hyphens", "principals": ["x", ROLE_A, "y"], "actions": ["BatchGetImage"], "registry_id": "abc"},
         ["registry_id 'abc'", "sid 'has-hyphens' is not valid", "principal 'x' is not valid", "principal 'y' is not valid", "service:Action"]),
        ({"sid": None, "principals": None, "statements": [entry("Ok", principals=[ROLE_A]), entry("Bad", principals=["x"])]},
         ["statements[1] (sid 'Bad'): principal 'x' is not valid"]),
        ({"sid": None, "principals": None, "statements": []}, ["statements must list at least one statement"]),
        ({"repository": None, "sid": None, "principals": None, "policies": []}, ["policies must list at least one repository"]),
        ({"repository": None, "sid": None, "principals": None, "policies": [
            {"repository": "web", "registry_id": "1", "statements": [entry("Ok", principals=[ROLE_A])]},
            {"repository": "worker", "registry_id": None, "statements": [entry("Ok", principals=[ROLE_A]), entry("Bad-Sid", state="absent")]}]},
         ["policies[0] (repository 'web'): registry_id '1' is not a 12-digit AWS account id",
          "policies[1] (repository 'worker'): statements[1] (sid 'Bad-Sid'): sid 'Bad-Sid' is not valid"]),
    ],
    ids=["bad-principal", "public", "no-principals", "bad-registry", "all-problems", "statements-entry", "no-statements", "no-policies",
         "policies-entries"],
)
def test_bad_requests_name_every_problem(overrides, messages):
    with pytest.raises(InvalidRequestError) as raised:
        check_requests(requests_from(params(**overrides)), allow_public=False)
    text = str(raised.value)
    assert all(message in text for message in messages), text
    positions = [text.index(message) for message in messages]
    assert positions == sorted(positions), text


def test_public_principal_with_allow_public_or_conditions():
    assert check_requests(requests_from(params(principals=["*"])), allow_public=True)[0].statements[0]["principals"] == ["*"]
    conditions = {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    statement = check_requests(requests_from(params(principals=["*"], conditions=conditions)), allow_public=False)[0].statements[0]
    assert statement["conditions"] == conditions


# ---------------------------------------------------------------------------------------------
# Planning: stored policy + requests -> predicted policy and changed, nothing written
# ---------------------------------------------------------------------------------------------

UNIQUE_ID = "AROAABCDEFGHIJKLMNOPQ"


@pytest.mark.parametrize(
    "stored, overrides, policy, changed",
    [
        (None, {}, document(ours("PullA", [ROLE_A])), True),
        (document(FOREIGN), {}, document(FOREIGN, ours("PullA", [ROLE_A])), True),
        # Same meaning (string vs list, action order): unchanged, the stored bytes kept.
        (document({"Sid": "PullA", "Effect": "Allow", "Principal": {"AWS": ROLE_A}, "Action": PULL[::-1]}), {},
         document({"Sid": "PullA", "Effect": "Allow", "Principal": {"AWS": ROLE_A}, "Action": PULL[::-1]}), False),
        (document(FOREIGN, ours("PullA", [ROLE_B])), {}, document(FOREIGN, ours("PullA", [ROLE_A])), True),
        (document(ours("PullA", [ROLE_B])), {"purge_principals": False}, document(ours("PullA", [ROLE_A, ROLE_B])), True),
        (document(ours("PullA", [ROLE_A, ROLE_B])), {"purge_principals": False, "state": "absent", "principals": [ROLE_B]},
         document(ours("PullA", [ROLE_A])), True),
        (document(FOREIGN, ours("PullA", [ROLE_A])), {"state": "absent", "principals": None}, document(FOREIGN), True),
        (document(ours("PullA", [ROLE_A])), {"state": "absent", "principals": None}, None, True),
        (None, {"state": "absent", "principals": None}, None, False),
        (document(ours("PullA", [UNIQUE_ID])), {}, document(ours("PullA", [ROLE_A])), True),
        # Several statements: one change for all of them, in order.
        (document(FOREIGN, ours("FleetB", [ROLE_A, ROLE_B])),
         {"sid": None, "principals": None, "purge_principals": False, "statements": [
             entry("FleetA", principals=[ROLE_A]), entry("FleetB", state="absent", principals=[ROLE_B]), entry("FleetA", principals=[ROLE_B])]},
         document(FOREIGN, ours("FleetB", [ROLE_A]), ours("FleetA", [ROLE_A, ROLE_B])), True),
    ],
    ids=["create", "append-to-foreign", "equivalent", "replace-in-place", "add-principal", "remove-principal", "remove-statement",
         "remove-last-deletes", "absent-no-policy", "unique-id-replaced", "several-statements"],
)
def test_plan(stored, overrides, policy, changed):
    fake = FakeECR({"app": None if stored is None else json.dumps(stored)})
    requests = check_requests(requests_from(params(**overrides)), allow_public=False)
    [(change, error)] = plan_policies(fake, requests, delete_empty_policy=True, region="us-east-1")
    assert error is None
    assert (change.after, change.changed) == (policy, changed)
    assert change.before == stored
    assert fake.writes == []
    assert change.registry_id == (ACCOUNT if stored else None)
    result = policy_result(change, requests[0])
    assert result["policy"] == policy and result["write_attempts"] == 0
    assert any("unique id" in note for note in requests[0].notes) == (UNIQUE_ID in json.dumps(stored))


@pytest.mark.parametrize(
    "stored, overrides, message",
    [
        (document(ours("PullA", [ROLE_A])), {"state": "absent", "principals": None}, "delete_empty_policy=true"),
        ('{"Version": "2012-10-17", "Statement": [', {}, "is not valid JSON"),
        (document(ours("Dup", [ROLE_A]), ours("Dup", [ROLE_B])), {}, "more than one statement with Sid 'Dup'"),
        (None, {"principals": [f"arn:aws:iam::{ACCOUNT}:role/a-rather-long-role-name-for-the-fleet-{i:04d}" for i in range(200)]},
         "10240-character limit"),
    ],
    ids=["empty-policy-kept", "invalid-json", "duplicate-sids", "over-size-limit"],
)
def test_plan_refuses(stored, overrides, message):
    fake = FakeECR({"app": stored if isinstance(stored, str) or stored is None else json.dumps(stored)})
    requests = check_requests(requests_from(params(**overrides)), allow_public=False)
    [(change, error)] = plan_policies(fake, requests, delete_empty_policy=False, region="us-east-1")
    assert change is None and isinstance(error, PolicyError) and message in str(error), error
    assert fake.writes == []


def test_plan_every_repository_despite_one_missing():
    fake = FakeECR({"web": None, "worker": json.dumps(document(FOREIGN))})
    fleet = params(repository=None, sid=None, principals=None, policies=[
        {"repository": name, "registry_id": None, "statements": [entry("PullA", principals=[ROLE_A])]} for name in ("web", "missing", "worker")])
    planned = plan_policies(fake, check_requests(requests_from(fleet), allow_public=False), delete_empty_policy=True, region="us-east-1")
    assert [change.after if change else None for change, dummy in planned] == [
        document(ours("PullA", [ROLE_A])), None, document(FOREIGN, ours("PullA", [ROLE_A]))]
    error = planned[1][1]
    assert isinstance(error, RepositoryMissingError) and "'missing'" in str(error.message) and "us-east-1" in error.message
    assert fake.writes == []


# ---------------------------------------------------------------------------------------------
# apply_policy: the write and read-back loop
# ---------------------------------------------------------------------------------------------

def planned_change(fake, overrides=None):
    requests = check_requests(requests_from(params(**(overrides or {}))), allow_public=False)
    [(change, error)] = plan_policies(fake, requests, delete_empty_policy=True, region="us-east-1")
    assert error is None
    return change


def another_writer(sid, times):
    """After our write: another writer that read before it writes its own statement into the
    policy it read (ours lost), ``times`` times."""
    left = [times]

    def write(fake):
        if left[0]:
            left[0] -= 1
            fake.policies["app"] = json.dumps(document(FOREIGN, ours(sid, [ROLE_B])))
    return write


def test_apply_writes_again_when_replaced_before_the_read_back():
    fake = FakeECR({"app": json.dumps(document(FOREIGN))})
    change = planned_change(fake)
    fake.after_write = another_writer("Other", times=1)
    apply_policy(fake, change, verify_delay=0)
    assert len(fake.writes) == 2 and change.attempts == 2
    # The second write applied our change to what the other writer left: nothing lost.
    assert fake.stored() == document(FOREIGN, ours("Other", [ROLE_B]), ours("PullA", [ROLE_A]))
    assert change.after == fake.stored() and change.registry_id == ACCOUNT


def test_apply_gives_up_when_always_replaced():
    fake = FakeECR({"app": json.dumps(document(FOREIGN))})
    change = planned_change(fake)
    fake.after_write = another_writer("Other", times=1000)
    with pytest.raises(ConcurrentWriteError) as raised:
        apply_policy(fake, change, verify_delay=0, max_writes=4)
    assert len(fake.writes) == 4
    assert "after 4 writes: other writers kept replacing it" in raised.value.message
    assert "'app'" in raised.value.message


@pytest.mark.parametrize(
    "plan_read_age, verify_delay, reads_before_write",
    [
        (0.0, 0.4, 0),  # the plan's read is a tenth of a second old at most: the write goes on from it
        (1.0, 0.4, 1),  # older than a quarter of verify_delay: read again right before the write
        (0.0, 0.0, 1),  # no read-back delay: always a fresh read
    ],
)
def test_apply_reads_again_before_the_write_unless_the_plan_read_is_fresh(plan_read_age, verify_delay, reads_before_write):
    fake = FakeECR({"app": json.dumps(document(FOREIGN))})
    change = planned_change(fake)
    change.read_at -= plan_read_age
    reads_at_plan = fake.reads
    written = []
    fake.after_write = lambda f: written.append(f.reads - reads_at_plan)
    apply_policy(fake, change, verify_delay=verify_delay)
    assert written == [reads_before_write]
    assert fake.reads - reads_at_plan == reads_before_write + 1  # and one read-back
    assert fake.stored() == document(FOREIGN, ours("PullA", [ROLE_A]))


def test_apply_on_a_fresh_plan_read_still_catches_an_overwrite():
    fake = FakeECR({"app": json.dumps(document(FOREIGN))})
    change = planned_change(fake)
    fake.after_write = another_writer("Other", times=1)
    apply_policy(fake, change, verify_delay=0.4)
    assert len(fake.writes) == 2
    assert fake.stored() == document(FOREIGN, ours("Other", [ROLE_B]), ours("PullA", [ROLE_A]))


def test_apply_unchanged_makes_no_call():
    fake = FakeECR({"app": json.dumps(document(ours("PullA", [ROLE_A])))})
    change = planned_change(fake)
    fake.policies = {}  # any call would now fail
    assert apply_policy(fake, change, verify_delay=0) is change and not change.changed


def test_apply_deletes_the_last_statement():
    fake = FakeECR({"app": json.dumps(document(ours("PullA", [ROLE_A])))})
    change = planned_change(fake, {"state": "absent", "principals": None})
    apply_policy(fake, change, verify_delay=0)
    assert fake.writes == [("app", None)] and change.after is None and change.attempts == 1


@pytest.fixture
def no_sleep(monkeypatch):
    def sleeps(timeout, initial=1.0, maximum=10.0):
        yield from range(1, 4)
    monkeypatch.setattr(_ecr, "jittered_sleeps", sleeps)


@pytest.mark.parametrize(
    "failure",
    [client_error("ThrottlingException", "Rate exceeded"), client_error("InvalidParameterException", "Invalid parameter: Principal not found")],
    ids=["throttled", "principal-not-found"],
)
def test_failed_write_is_retried_on_a_fresh_read(no_sleep, failure):
    fake = FakeECR({"app": None})
    change = planned_change(fake)

    def fail_once():
        # Another writer adds its statement while our write fails.
        fake.policies["app"] = json.dumps(document(FOREIGN))
        return failure
    fake.failures = [fail_once]
    apply_policy(fake, change, verify_delay=0)
    assert fake.stored() == document(FOREIGN, ours("PullA", [ROLE_A]))
    assert len(fake.writes) == 1 and change.attempts == 1


def test_principal_not_found_gives_up(no_sleep):
    fake = FakeECR({"app": None}, failures=[client_error("InvalidParameterException", "Principal not found")] * 10)
    change = planned_change(fake)
    with pytest.raises(_ecr.AnsibleECRError) as raised:
        apply_policy(fake, change, verify_delay=0, propagation_timeout=3)
    assert "principal was not found" in raised.value.message and "propagation_timeout" in raised.value.message
    assert fake.writes == []


def test_other_write_errors_are_not_retried(no_sleep):
    fake = FakeECR({"app": None}, failures=[client_error("AccessDeniedException", "no")])
    change = planned_change(fake)
    with pytest.raises(_ecr.AnsibleECRError) as raised:
        apply_policy(fake, change, verify_delay=0)
    assert raised.value.message == "Failed to set the policy of repository app"
    assert fake.failures == [] and fake.writes == []


@pytest.mark.parametrize(
    "meanwhile, stored, writes",
    [
        # Another writer put our statement in while our write failed: nothing left to write.
        (document(FOREIGN, ours("PullA", [ROLE_A])), document(FOREIGN, ours("PullA", [ROLE_A])), []),
        # Another writer removed every other statement: our removal now deletes the policy.
        (document(ours("PullA", [ROLE_A])), None, [("app", None)]),
    ],
    ids=["already-as-wanted", "now-a-delete"],
)
def test_failed_write_whose_fresh_read_needs_no_write(no_sleep, meanwhile, stored, writes):
    """A retried write goes on from the fresh read: it never writes the planned text (or "null")."""
    fake = FakeECR({"app": json.dumps(document(FOREIGN, ours("Other", [ROLE_B]), ours("PullA", [ROLE_A])))})
    if stored is None:
        change = planned_change(fake, {"state": "absent", "principals": None})
    else:
        fake.policies["app"] = json.dumps(document(FOREIGN))
        change = planned_change(fake)

    def fail_once():
        fake.policies["app"] = json.dumps(meanwhile)
        return client_error("ThrottlingException", "Rate exceeded")
    fake.failures = [fail_once]
    apply_policy(fake, change, verify_delay=0)
    assert fake.stored() == stored and fake.writes == writes
