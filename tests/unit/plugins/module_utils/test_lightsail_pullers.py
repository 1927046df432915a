# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of the puller engine's planning: which services a run switches given what
it read, what it does with each service on each round, why a service is not finished at the
deadline, and what the module reports (pullers, diff, notes). Pure functions, plus the engine's
first round on a tiny fake client."""

import pytest

from ansible_collections.pullaccess.aws.plugins.module_utils import _lightsail_pullers
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ARN_PLACEHOLDER
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ServiceUnavailableError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_report
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import unknown_arn_note
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerOutcome
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerRunError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerTimeoutError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import STEP_GIVE_UP
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import STEP_NONE
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import STEP_SEND
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import STEP_WAIT
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import SWITCHED
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import TO_SWITCH
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import converge_puller_roles
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import plan_switches
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import switch_step
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import timeout_error

REGION = "us-east-1"
ARN = "arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/{}/private-repo-access/pullerid"


SERVICE_ARN = "arn:aws:lightsail:us-east-1:123456789012:ContainerService/{}"


def service(name="web", state="READY", is_active=False, arn=False):
    """A container service; ``arn`` true gives its puller role an ARN (as Lightsail does once
    active, and shortly after a deactivation)."""
    role = {"isActive": is_active, "principalArn": ARN.format(name) if arn else ""}
    return {"containerServiceName": name, "arn": SERVICE_ARN.format(name), "state": state, "privateRegistryAccess": {"ecrImagePullerRole": role}}


def found(*docs):
    return {doc["containerServiceName"]: doc for doc in docs}


# --------------------------------------------------------------------------------------------
# What the first read means
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "services, names, is_active, expected",
    [
        ([service("a", is_active=True, arn=True)], ["a"], True, ([], [], [])),
        ([service("a"), service("b", is_active=True, arn=True)], ["a", "b"], True, ([], ["a"], [])),
        ([service("a"), service("b", is_active=True, arn=True)], ["a", "b"], False, ([], ["b"], [])),
        # Switched, still finishing (no ARN yet, busy): nothing to send.
        ([service("a", state="UPDATING", is_active=True)], ["a"], True, ([], [], [])),
        # Deactivated, the old ARN still shown: as wanted.
        ([service("a", arn=True)], ["a"], False, ([], [], [])),
        # Busy services are switched when they accept updates: planned like the others.
        ([service("a", state="DEPLOYING"), service("b", state="PENDING")], ["a", "b"], True, ([], ["a", "b"], [])),
        # Being deleted: an obstacle only when its role would have to be switched.
        ([service("a", state="DELETING"), service("b", state="DELETING", is_active=True, arn=True)], ["a", "b"], True, ([], ["a"], ["a"])),
        ([service("a", state="DELETING")], ["a"], False, ([], [], [])),
        # Missing services are named in the order listed; services not listed are ignored.
        ([service("a"), service("other")], ["x", "a", "y"], True, (["x", "y"], ["a"], [])),
        ([], ["a"], True, (["a"], [], [])),
    ],
    ids=["converged", "activate-one", "deactivate-one", "switching", "deactivated-old-arn", "busy", "deleting",
         "deleting-as-wanted", "missing", "empty-region"],
)
def test_plan_switches(services, names, is_active, expected):
    assert plan_switches(found(*services), names, is_active) == expected


@pytest.mark.parametrize(
    "doc, is_active, expected",
    [
        (service(), True, STEP_SEND),
        (service(state="RUNNING"), True, STEP_SEND),
        (service(state="DISABLED"), True, STEP_SEND),
        (service(is_active=True, arn=True), False, STEP_SEND),
        (service(state="PENDING"), True, STEP_WAIT),
        (service(state="UPDATING"), True, STEP_WAIT),
        (service(state="DEPLOYING"), True, STEP_WAIT),
        # Switched by someone else while busy: waited for until it accepts updates, then nothing to send.
        (service(state="UPDATING", is_active=True), True, STEP_WAIT),
        (service(is_active=True, arn=True), True, STEP_NONE),
        (service(state="RUNNING", is_active=True), True, STEP_NONE),
        (service(state="DELETING"), True, STEP_GIVE_UP),
        (service(state="DELETING", is_active=True, arn=True), True, STEP_GIVE_UP),
    ],
)
def test_switch_step(doc, is_active, expected):
    assert switch_step(doc, is_active) == expected


@pytest.mark.parametrize(
    "status, requested, is_active, error_type, fragments",
    [
        (TO_SWITCH, False, True, ServiceUnavailableError, ["stayed busy for wait_timeout=9s", "nothing was requested", "DEPLOYING"]),
        (SWITCHED, True, True, PullerTimeoutError, ["activation of the ECR image puller role", "was requested", "will not be sent twice"]),
        (SWITCHED, True, False, PullerTimeoutError, ["deactivation of the ECR image puller role", "was requested"]),
        (SWITCHED, False, True, PullerTimeoutError, ["is already switched (activation in progress, not requested by this run)"]),
    ],
    ids=["busy-not-sent", "activation-requested", "deactivation-requested", "switched-by-someone-else"],
)
def test_timeout_error(status, requested, is_active, error_type, fragments):
    error = timeout_error("web", REGION, service(state="DEPLOYING"), status, requested, is_active, 9)
    assert isinstance(error, error_type)
    assert "Lightsail container service 'web' in region us-east-1" in error.message
    for fragment in fragments:
        assert fragment in error.message, error.message


# --------------------------------------------------------------------------------------------
# What a run reports
# --------------------------------------------------------------------------------------------

INACTIVE = {"is_active": False, "principal_arn": ""}
ACTIVE = {"is_active": True, "principal_arn": ARN.format("web")}


def puller(is_active, principal_arn, known, changed, before=""):
    return dict(service_name="web", service_arn=SERVICE_ARN.format("web"), is_active=is_active, principal_arn=principal_arn, principal_arn_known=known,
                principal_arn_before=before, changed=changed)


@pytest.mark.parametrize(
    "before, after, changed, is_active, check_mode, expected_puller, expected_diff",
    [
        (service(), service(), True, True, True, puller(True, "", False, True),
         {"before": INACTIVE, "after": {"is_active": True, "principal_arn": ARN_PLACEHOLDER}}),
        (service(is_active=True, arn=True), service(is_active=True, arn=True), True, False, True, puller(False, "", True, True, ARN.format("web")),
         {"before": ACTIVE, "after": INACTIVE}),
        (service(is_active=True, arn=True), service(is_active=True, arn=True), False, True, True,
         puller(True, ARN.format("web"), True, False, ARN.format("web")),
         {"before": ACTIVE, "after": ACTIVE}),
        (service(), service(is_active=True, arn=True), True, True, False, puller(True, ARN.format("web"), True, True),
         {"before": INACTIVE, "after": ACTIVE}),
        # wait=false: the update's answer has no ARN yet.
        (service(), service(state="UPDATING", is_active=True), True, True, False, puller(True, "", False, True),
         {"before": INACTIVE, "after": {"is_active": True, "principal_arn": ARN_PLACEHOLDER}}),
        # Deactivation still finishing: the old ARN is not reported.
        (service(is_active=True, arn=True), service(state="UPDATING", arn=True), True, False, False, puller(False, "", True, True, ARN.format("web")),
         {"before": ACTIVE, "after": INACTIVE}),
    ],
    ids=["check-activate", "check-deactivate", "check-converged", "activated", "activating", "deactivating"],
)
def test_puller_report(before, after, changed, is_active, check_mode, expected_puller, expected_diff):
    outcome = PullerOutcome("web", before, after, changed)
    assert puller_report(outcome, is_active, check_mode) == (expected_puller, expected_diff)


def entry(name, known, changed):
    return dict(service_name=name, principal_arn_known=known, changed=changed)


@pytest.mark.parametrize(
    "pullers, check_mode, fleet, expected",
    [
        ([entry("web", True, True)], True, False, []),
        ([entry("web", False, True)], True, False, ["Check mode: the ECR image puller role would be activated"]),
        ([entry("web", False, False)], True, False, ["has not assigned its principal ARN yet"]),
        ([entry("web", False, True)], False, False, ["has not assigned its principal ARN yet"]),
        ([entry("a", False, True), entry("b", True, False), entry("c", False, False)], True, True,
         ["roles of 'a' would be activated", ". The ECR image puller roles of 'c' are active but"]),
        ([entry("a", False, True), entry("b", False, True)], False, True, ["roles of 'a', 'b' are active but Lightsail has not assigned"]),
        ([], True, True, []),
    ],
    ids=["known", "check-activate", "check-switching", "wait-false", "fleet-both", "fleet-wait-false", "empty"],
)
def test_unknown_arn_note(pullers, check_mode, fleet, expected):
    note = unknown_arn_note(pullers, check_mode, fleet)
    assert (note == "") is (not expected), note
    for fragment in expected:
        assert fragment in note, note


# --------------------------------------------------------------------------------------------
# The engine's first round, on a fake client
# --------------------------------------------------------------------------------------------


class FakeLightsail:
    """GetContainerServices (by name or the whole region) and UpdateContainerService on a dict
    of services; an update switches the role and leaves the service UPDATING."""

    def __init__(self, *docs):
        self.services = found(*docs)
        self.calls = []

    def get_container_services(self, serviceName=None):
        self.calls.append(("get", serviceName))
        listed = [self.services[serviceName]] if serviceName else list(self.services.values())
        return {"containerServices": [dict(doc) for doc in listed]}

    def update_container_service(self, serviceName, privateRegistryAccess):
        self.calls.append(("update", serviceName))
        role = {"isActive": privateRegistryAccess["ecrImagePullerRole"]["isActive"], "principalArn": ""}
        self.services[serviceName] = dict(self.services[serviceName], state="UPDATING", privateRegistryAccess={"ecrImagePullerRole": role})
        return {"containerService": dict(self.services[serviceName])}


@pytest.fixture
def no_polls(monkeypatch):
    """No sleeping and no poll: the deadline comes right after the first round."""
    monkeypatch.setattr(_lightsail_pullers, "jittered_sleeps", lambda timeout, initial=1.0, maximum=10.0: iter(()))


@pytest.mark.parametrize(
    "docs, is_active, updates, check_changed, unfinished",
    [
        ([service("a"), service("b", is_active=True, arn=True)], True, ["a"], ["a"], {}),
        # While a busy service keeps the run going, the switched ones are watched too (also with
        # wait=false): at the deadline they are reported as not steady in time.
        ([service("a", state="DEPLOYING"), service("b")], True, ["b"], ["a", "b"], {"a": ServiceUnavailableError, "b": PullerTimeoutError}),
        ([service("a", state="UPDATING", is_active=True)], True, [], [], {}),
        ([service("a", is_active=True, arn=True), service("b", arn=True)], False, ["a"], ["a"], {}),
    ],
    ids=["idle", "busy-waits", "switching-elsewhere", "deactivate"],
)
def test_first_round(no_polls, docs, is_active, updates, check_changed, unfinished):
    names = [doc["containerServiceName"] for doc in docs]
    checked = converge_puller_roles(FakeLightsail(*docs), names, REGION, is_active, check_mode=True)
    assert [outcome.service_name for outcome in checked if outcome.changed] == check_changed

    client = FakeLightsail(*docs)
    try:
        outcomes = converge_puller_roles(client, names, REGION, is_active, wait=False)
    except PullerRunError as e:
        outcomes = e.outcomes
    assert [name for call, name in client.calls if call == "update"] == updates
    assert {o.service_name: type(o.error) for o in outcomes if o.error is not None} == unfinished
    assert [o.service_name for o in outcomes if o.changed] == updates
