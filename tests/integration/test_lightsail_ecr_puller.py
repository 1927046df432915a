# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""pullaccess.aws.lightsail_ecr_puller through ansible-runner against the rig's Lightsail emulator.

Emulator delays are kept short (the session rig switches the puller role in 0.5 s); tests that
need a slow activation or a busy service set that up with rig.lightsail_config and
rig.lightsail_set_state.
"""

import json
import re
import time

import pytest

from integration.conftest import dump

MODULE = "pullaccess.aws.lightsail_ecr_puller"
ACCOUNT = "123456789012"
SERVICE = "web"
PENDING_ARN = "(known after activation)"
PULLER_ARN_RE = re.compile(rf"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/us-east-1/containers/{SERVICE}/private-repo-access/[0-9a-v]+")
# The one retry layer for single calls: botocore's standard mode, _aws.MAX_ATTEMPTS attempts.
MAX_ATTEMPTS = 10


def args(**overrides):
    base = {"service_name": SERVICE, "region": "us-east-1"}
    base.update(overrides)
    return base


def emulated(client, name=SERVICE):
    return client.get_container_services(serviceName=name)["containerServices"][0]


def emulated_puller(client, name=SERVICE):
    return emulated(client, name)["privateRegistryAccess"]["ecrImagePullerRole"]


def settle(client, done, timeout=10.0):
    """Poll the emulator (test side only) until ``done(service)``."""
    deadline = time.monotonic() + timeout
    while True:
        service = emulated(client)
        if done(service):
            return service
        assert time.monotonic() < deadline, f"emulator did not settle: {dump(service)}"
        time.sleep(0.1)


@pytest.fixture
def lightsail(aws):
    """A READY container service ``web`` in us-east-1 with the puller role inactive."""
    aws.lightsail_config(create_delay=0.1)
    client = aws.client("lightsail")
    client.create_container_service(serviceName=SERVICE, power="nano", scale=1, tags=[{"key": "Team", "value": "Web"}])
    settle(client, lambda service: service["state"] == "READY")
    return client


def activate_directly(client):
    """Activate the puller role with boto3 (not the module) and wait for its ARN."""
    client.update_container_service(serviceName=SERVICE, privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})
    return settle(client, lambda service: service["state"] == "READY" and service["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"])


def start_module(ansible, module_args):
    """Start one module task in the background (see ``release_after_reads``)."""
    return ansible.start([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "under test", MODULE: module_args}]}])


def release_after_reads(aws, mark, started, name, reads=2, timeout=60.0):
    """End the busy state a test holds ``name`` in, once the module has read ``reads`` times since
    ``mark`` (so it saw the service busy and polled). Holding the state instead of giving it a
    duration keeps the test independent of how long ansible-playbook takes to start."""
    deadline = time.monotonic() + timeout
    while len(aws.requests(since=mark, operation="GetContainerServices")) < reads and started[0].is_alive():
        assert time.monotonic() < deadline, "the module did not poll"
        time.sleep(0.1)
    aws.lightsail_set_state(name, "READY")


def ops(aws, mark, **filters):
    return [r["operation"] for r in aws.requests(since=mark, **filters)]


def assert_polled_for(aws, mark, wait_timeout):
    """The module's reads since ``mark`` span about ``wait_timeout`` seconds, by the rig's log
    (``time``: when each answer was produced), not by the test's clock, which would also count
    ansible-playbook starting. The budget starts before the first read and every sleep ends by
    its deadline, so the last read is sent by then: at most ``wait_timeout`` after the first
    answer, plus that read's own time (allowed: 2 s). It ends only once the deadline has passed:
    at least ``wait_timeout`` minus the first read's own time (allowed: half of it)."""
    reads = aws.requests(since=mark, operation="GetContainerServices")
    span = reads[-1]["time"] - reads[0]["time"]
    assert len(reads) >= 2, f"did not poll: {dump(reads)}"
    assert span <= wait_timeout + 2, f"polled for {span:.2f}s, wait_timeout={wait_timeout} was not honoured: {dump(reads)}"
    assert span >= wait_timeout / 2, f"gave up after {span:.2f}s of polling, before wait_timeout={wait_timeout}: {dump(reads)}"
    return span


def four_way(ansible, aws, module_args):
    """check (changed), real (changed), check again and real again (unchanged). Check runs and
    the converged runs make no mutating call; the real run makes exactly one; a converged real
    run makes exactly one read."""
    mark = aws.mark()
    check = ansible.module(MODULE, module_args, check=True, diff=True)
    assert not check.failed and check.changed, check
    assert ops(aws, mark, mutating=True) == [], "check mode made a mutating call"

    mark = aws.mark()
    real = ansible.module(MODULE, module_args, diff=True)
    assert not real.failed and real.changed, real
    assert ops(aws, mark, mutating=True) == ["UpdateContainerService"]
    assert set(ops(aws, mark, mutating=False)) == {"GetContainerServices"}

    mark = aws.mark()
    again = ansible.module(MODULE, module_args, check=True, diff=True)
    assert not again.failed and not again.changed, again
    assert again["diff"]["before"] == again["diff"]["after"] == real["diff"]["after"], again
    mark2 = aws.mark()
    final = ansible.module(MODULE, module_args)
    assert not final.failed and not final.changed, final
    assert ops(aws, mark, mutating=True) == [], "a converged run wrote"
    assert ops(aws, mark2) == ["GetContainerServices"], "a converged run should make exactly one read"
    for converged in (again, final):
        assert converged["principal_arn"] == real["principal_arn"] and converged["is_active"] == real["is_active"]
    return check, real


def test_activation_four_way_returns_the_puller_arn(ansible, aws, lightsail):
    check, real = four_way(ansible, aws, args())

    # Check mode: truthful about what it cannot know.
    assert check["is_active"] is True
    assert check["principal_arn"] == "" and check["principal_arn_known"] is False, check
    assert "cannot be known before activation" in check["msg"], check
    assert check["diff"] == {"before": {"is_active": False, "principal_arn": ""},
                             "after": {"is_active": True, "principal_arn": PENDING_ARN}}

    # The real run waited for the puller role's ARN and returns it, not the service's own.
    service = emulated(lightsail)
    puller_arn = service["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    assert PULLER_ARN_RE.fullmatch(puller_arn), dump(service)
    assert real["principal_arn"] == puller_arn
    assert real["principal_arn"] != service["principalArn"], "returned the service's own principalArn"
    assert real["principal_arn_known"] is True and real["is_active"] is True and "msg" not in real.res, real
    assert real["diff"] == {"before": {"is_active": False, "principal_arn": ""},
                            "after": {"is_active": True, "principal_arn": puller_arn}}

    # The service comes back snake_cased, like amazon.aws modules return boto3 data.
    returned = real["service"]
    assert returned["container_service_name"] == SERVICE and returned["state"] == "READY", dump(returned)
    assert returned["private_registry_access"] == {"ecr_image_puller_role": {"is_active": True, "principal_arn": puller_arn}}
    assert returned["principal_arn"] == service["principalArn"]
    assert returned["tags"] == {"Team": "Web"}
    assert returned["power"] == "nano" and returned["scale"] == 1


def test_deactivation_four_way_clears_the_arn(ansible, aws, lightsail):
    old_arn = activate_directly(lightsail)["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    check, real = four_way(ansible, aws, args(state="absent"))
    assert check["diff"] == {"before": {"is_active": True, "principal_arn": old_arn}, "after": {"is_active": False, "principal_arn": ""}}
    assert check["principal_arn"] == "" and check["principal_arn_known"] is True and "msg" not in check.res, check
    assert real["diff"] == check["diff"]
    assert real["principal_arn"] == "" and real["is_active"] is False, real
    assert real["service"]["private_registry_access"]["ecr_image_puller_role"] == {"is_active": False, "principal_arn": ""}
    assert emulated_puller(lightsail) == {"isActive": False, "principalArn": ""}


def test_wait_timeout_says_activation_was_requested(ansible, aws, lightsail):
    aws.lightsail_config(puller_delay=30)
    mark = aws.mark()
    result = ansible.module(MODULE, args(wait_timeout=3))
    assert result.failed, result
    assert_polled_for(aws, mark, 3)
    assert "activation" in result.msg and "was requested" in result.msg, result.msg
    assert "UPDATING" in result.msg and "no principal ARN yet" in result.msg and "wait_timeout=3" in result.msg, result.msg
    assert result.changed and result["service"]["state"] == "UPDATING", result
    assert ops(aws, mark, mutating=True) == ["UpdateContainerService"]

    # The request stands: the next run does not send it again.
    mark = aws.mark()
    again = ansible.module(MODULE, args(wait=False))
    assert not again.failed and not again.changed, again
    assert again["is_active"] is True and again["principal_arn"] == "" and again["principal_arn_known"] is False, again
    assert "not assigned its principal ARN yet" in again["msg"]
    assert ops(aws, mark) == ["GetContainerServices"]


def test_wait_false_returns_right_after_the_update(ansible, aws, lightsail):
    aws.lightsail_config(puller_delay=2)
    mark = aws.mark()
    result = ansible.module(MODULE, args(wait=False), diff=True)
    assert not result.failed and result.changed, result
    assert ops(aws, mark) == ["GetContainerServices", "UpdateContainerService"], "wait=false polled"
    assert result["is_active"] is True and result["principal_arn"] == "" and result["principal_arn_known"] is False, result
    assert result["service"]["state"] == "UPDATING"
    assert result["diff"]["after"] == {"is_active": True, "principal_arn": PENDING_ARN}

    # A later run with wait=true writes nothing and waits for the ARN.
    mark = aws.mark()
    waited = ansible.module(MODULE, args())
    assert not waited.failed and not waited.changed, waited
    assert waited["principal_arn"] == emulated_puller(lightsail)["principalArn"] != ""
    assert ops(aws, mark, mutating=True) == []


@pytest.mark.parametrize("busy_state", ["UPDATING", "DEPLOYING"])
def test_busy_service_is_waited_for(ansible, aws, lightsail, busy_state):
    aws.lightsail_set_state(SERVICE, busy_state)  # held until the module has polled
    mark = aws.mark()
    started = start_module(ansible, args())
    release_after_reads(aws, mark, started, SERVICE)
    result = ansible.finish(started).task("under test")
    assert not result.failed and result.changed, result
    assert result["principal_arn"] == emulated_puller(lightsail)["principalArn"] != ""
    updates = aws.requests(since=mark, operation="UpdateContainerService")
    assert [(r["status"], r.get("error_code")) for r in updates] == [(200, None)], "sent an update while busy: " + dump(updates)
    reads = aws.requests(since=mark, operation="GetContainerServices")
    assert len(reads) >= 3 and reads[1]["seq"] < updates[0]["seq"], "did not poll before updating: " + dump(reads)


def test_busy_past_wait_timeout_fails_without_requesting(ansible, aws, lightsail):
    old_arn = activate_directly(lightsail)["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    aws.lightsail_set_state(SERVICE, "DEPLOYING")  # held until changed
    mark = aws.mark()
    result = ansible.module(MODULE, args(state="absent", wait_timeout=2))
    assert result.failed and not result.changed, result
    assert_polled_for(aws, mark, 2)
    assert "stayed busy" in result.msg and "DEPLOYING" in result.msg and "nothing was requested" in result.msg, result.msg
    assert f"'{SERVICE}'" in result.msg and "us-east-1" in result.msg, result.msg
    assert ops(aws, mark, mutating=True) == []
    assert emulated_puller(lightsail) == {"isActive": True, "principalArn": old_arn}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"], ids=["missing-service", "wrong-region"])
def test_missing_service_names_service_and_region(ansible, aws, lightsail, region):
    name = "nope" if region == "us-east-1" else SERVICE
    mark = aws.mark()
    result = ansible.module(MODULE, args(service_name=name, region=region))
    assert result.failed, result
    assert f"'{name}'" in result.msg and f"region {region}" in result.msg, result.msg
    assert "check service_name and region" in result.msg, result.msg
    requests = aws.requests(since=mark)
    assert [(r["operation"], r["region"], r.get("error_code")) for r in requests] == [
        ("GetContainerServices", region, "NotFoundException")], dump(requests)


def test_throttling_is_retried(ansible, aws, lightsail):
    aws.set_faults([
        {"service": "lightsail", "operation": "GetContainerServices", "kind": "throttle", "times": 2},
        {"service": "lightsail", "operation": "UpdateContainerService", "kind": "throttle", "times": 2},
    ])
    mark = aws.mark()
    result = ansible.module(MODULE, args())
    assert not result.failed and result.changed, result
    assert result["principal_arn"] == emulated_puller(lightsail)["principalArn"] != ""
    assert [rule["fired"] for rule in aws.faults()] == [2, 2]
    updates = aws.requests(since=mark, operation="UpdateContainerService")
    assert [r.get("error_code") for r in updates] == ["ThrottlingException", "ThrottlingException", None], dump(updates)


def test_throttling_gives_up_after_botocores_attempts(ansible, aws, lightsail):
    """A call throttled every time is tried exactly MAX_ATTEMPTS times, then the module fails
    saying so: no second retry layer multiplies the attempts (docs/reliability.md, Retries)."""
    aws.set_faults([{"service": "lightsail", "operation": "GetContainerServices", "kind": "throttle", "times": MAX_ATTEMPTS}])
    mark = aws.mark()
    result = ansible.module(MODULE, args())
    assert result.failed and "ThrottlingException" in json.dumps(result.res), result
    reads = aws.requests(since=mark, operation="GetContainerServices")
    assert [r.get("error_code") for r in reads] == ["ThrottlingException"] * MAX_ATTEMPTS, dump(reads)
    assert aws.requests(since=mark, mutating=True) == []


def test_invalid_arguments_fail_before_any_call(ansible, aws, lightsail):
    mark = aws.mark()
    bad_name = ansible.module(MODULE, args(service_name="Web_1"))
    assert bad_name.failed and "not a valid Lightsail container service name" in bad_name.msg, bad_name
    bad_timeout = ansible.module(MODULE, args(wait_timeout=-1))
    assert bad_timeout.failed and "wait_timeout" in bad_timeout.msg, bad_timeout
    assert aws.requests(since=mark) == []


# --------------------------------------------------------------------------------------------
# The fleet form: service_names
# --------------------------------------------------------------------------------------------

FLEET = ["shop-a", "shop-b", "shop-c", "shop-d", "shop-e"]
BYSTANDER = "not-listed"


def fleet_args(names=None, **overrides):
    base = {"service_names": list(FLEET if names is None else names), "region": "us-east-1"}
    base.update(overrides)
    return base


def settle_all(client, names, done, timeout=10.0):
    """Poll the emulator (test side only, one region-wide read per try) until ``done`` holds for every named service."""
    deadline = time.monotonic() + timeout
    while True:
        services = {s["containerServiceName"]: s for s in client.get_container_services()["containerServices"]}
        if all(done(services[name]) for name in names):
            return services
        assert time.monotonic() < deadline, f"emulator did not settle: {dump(services)}"
        time.sleep(0.1)


def steady(service):
    role = service["privateRegistryAccess"]["ecrImagePullerRole"]
    return service["state"] in ("READY", "RUNNING") and bool(role["principalArn"]) == role["isActive"]


@pytest.fixture
def fleet(aws):
    """Five READY services of FLEET plus one that is not listed, all with the puller role inactive."""
    aws.lightsail_config(create_delay=0.1)
    client = aws.client("lightsail")
    for name in FLEET + [BYSTANDER]:
        client.create_container_service(serviceName=name, power="nano", scale=1)
    settle_all(client, FLEET + [BYSTANDER], lambda service: service["state"] == "READY")
    return client


def activate_all_directly(client, names):
    """Activate puller roles with boto3 (not the module); returns the services once all have ARNs."""
    for name in names:
        client.update_container_service(serviceName=name, privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})
    return settle_all(client, names, steady)


def pullers_by_name(result):
    return {puller["service_name"]: puller for puller in result["pullers"]}


def fleet_four_way(ansible, aws, module_args, updates):
    """The four runs of the fleet form: check mode and converged runs make exactly one read and
    no write; the real run reads once, sends ``updates`` updates in one round, then polls with
    one region-wide read per poll."""
    mark = aws.mark()
    check = ansible.module(MODULE, module_args, check=True, diff=True)
    assert not check.failed and check.changed, check
    assert ops(aws, mark) == ["GetContainerServices"], "check mode: one read, no write"

    mark = aws.mark()
    real = ansible.module(MODULE, module_args, diff=True)
    assert not real.failed and real.changed, real
    sequence = ops(aws, mark)
    polls = len(sequence) - 1 - updates
    assert sequence == ["GetContainerServices"] + ["UpdateContainerService"] * updates + ["GetContainerServices"] * polls, sequence
    # Each poll reads the whole region at once: a few polls, not one per service.
    assert 1 <= polls <= 4, sequence

    for run_check in (True, False):
        mark = aws.mark()
        again = ansible.module(MODULE, module_args, check=run_check, diff=True)
        assert not again.failed and not again.changed, again
        # The same roles, unchanged; only what they were before this run differs.
        assert again["pullers"] == [dict(p, changed=False, principal_arn_before=p["principal_arn"]) for p in real["pullers"]], again
        assert again["diff"] == {"before": {}, "after": {}}, again
        assert ops(aws, mark) == ["GetContainerServices"], "a converged run should make exactly one read"
    return check, real, polls


def test_fleet_activation_four_way(ansible, aws, fleet):
    already = FLEET[1:3]
    before = activate_all_directly(fleet, already)
    old_arns = {name: before[name]["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"] for name in already}
    switched = [name for name in FLEET if name not in already]

    # Listed in an order of our own, with a repeat: results follow it, once per service.
    listed = [FLEET[4], FLEET[0], FLEET[2], FLEET[1], FLEET[3], FLEET[0]]
    check, real, polls = fleet_four_way(ansible, aws, fleet_args(listed), updates=3)
    order = [FLEET[4], FLEET[0], FLEET[2], FLEET[1], FLEET[3]]

    # Check mode: truthful per service, ARNs of pending activations unknown.
    assert [p["service_name"] for p in check["pullers"]] == order
    for name, puller in pullers_by_name(check).items():
        assert puller.pop("service_arn").startswith("arn:aws:lightsail:us-east-1:123456789012:ContainerService/"), puller
        if name in already:
            assert puller == {"service_name": name, "is_active": True, "principal_arn": old_arns[name],
                              "principal_arn_known": True, "principal_arn_before": old_arns[name], "changed": False}, puller
        else:
            assert puller == {"service_name": name, "is_active": True, "principal_arn": "",
                              "principal_arn_known": False, "principal_arn_before": "", "changed": True}, puller
    assert "would be activated" in check["msg"] and all(f"'{name}'" in check["msg"] for name in switched), check["msg"]
    assert check["diff"] == {
        "before": {name: {"is_active": False, "principal_arn": ""} for name in switched},
        "after": {name: {"is_active": True, "principal_arn": PENDING_ARN} for name in switched},
    }
    for single_key in ("principal_arn", "service", "is_active"):
        assert single_key not in check.res, f"the fleet form returned {single_key}"

    # Real run: every ARN is the emulator's puller ARN, never the service's own principal.
    services = {s["containerServiceName"]: s for s in fleet.get_container_services()["containerServices"]}
    assert [p["service_name"] for p in real["pullers"]] == order
    for name, puller in pullers_by_name(real).items():
        service = services[name]
        puller_arn = service["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
        assert re.fullmatch(rf"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/us-east-1/containers/{name}/private-repo-access/[0-9a-v]+", puller_arn)
        assert puller["principal_arn"] == puller_arn != service["principalArn"], dump(service)
        assert puller["is_active"] is True and puller["principal_arn_known"] is True
        assert puller["changed"] is (name in switched)
        if name in already:
            assert puller_arn == old_arns[name]
    assert "msg" not in real.res, real
    assert real["diff"]["before"] == check["diff"]["before"]
    assert real["diff"]["after"] == {name: {"is_active": True, "principal_arn": pullers_by_name(real)[name]["principal_arn"]} for name in switched}
    assert services[BYSTANDER]["privateRegistryAccess"]["ecrImagePullerRole"] == {"isActive": False, "principalArn": ""}, "touched a service not listed"
    print(f"fleet activation: 3 updates, 1 + {polls} GetContainerServices")


def test_fleet_deactivation_four_way(ansible, aws, fleet):
    active = FLEET[:3]
    before = activate_all_directly(fleet, active)
    old_arns = {name: before[name]["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"] for name in active}
    check, real, polls = fleet_four_way(ansible, aws, fleet_args(FLEET[:4], state="absent"), updates=3)
    expected_diff = {
        "before": {name: {"is_active": True, "principal_arn": old_arns[name]} for name in active},
        "after": {name: {"is_active": False, "principal_arn": ""} for name in active},
    }
    assert check["diff"] == real["diff"] == expected_diff, real
    for result in (check, real):
        assert [p["service_name"] for p in result["pullers"]] == FLEET[:4]
        assert all(p["is_active"] is False and p["principal_arn"] == "" and p["principal_arn_known"] is True for p in result["pullers"]), result
        assert [p["changed"] for p in result["pullers"]] == [True, True, True, False]
        assert "msg" not in result.res, result
    for name in FLEET:
        assert emulated_puller(fleet, name) == {"isActive": False, "principalArn": ""}
    print(f"fleet deactivation: 3 updates, 1 + {polls} GetContainerServices")


def test_fleet_missing_services_fail_before_any_write(ansible, aws, fleet):
    mark = aws.mark()
    result = ansible.module(MODULE, fleet_args(FLEET[:2] + ["ghost-1"] + FLEET[2:] + ["ghost-2"]))
    assert result.failed and not result.changed, result
    assert "'ghost-1', 'ghost-2' in region us-east-1 were not found" in result.msg, result.msg
    assert "check service_names and region" in result.msg and "Nothing was changed" in result.msg, result.msg
    assert "'shop-a'" not in result.msg, result.msg
    assert ops(aws, mark) == ["GetContainerServices"], "read more than once, or wrote"
    assert all(emulated_puller(fleet, name)["isActive"] is False for name in FLEET)


def test_fleet_busy_service_is_waited_for_beside_the_others(ansible, aws, fleet):
    names = FLEET[:3]
    aws.lightsail_set_state(names[1], "DEPLOYING")  # held until the module has polled
    mark = aws.mark()
    started = start_module(ansible, fleet_args(names))
    release_after_reads(aws, mark, started, names[1])
    result = ansible.finish(started).task("under test")
    assert not result.failed and result.changed, result
    for name, puller in pullers_by_name(result).items():
        assert puller["principal_arn"] == emulated_puller(fleet, name)["principalArn"] != "" and puller["changed"], result
    log = aws.requests(since=mark)
    sequence = [r["operation"] for r in log]
    # The idle services are updated at once; the busy one when it accepts updates; never refused.
    assert sequence[:3] == ["GetContainerServices", "UpdateContainerService", "UpdateContainerService"], sequence
    assert sequence[3:5] == ["GetContainerServices", "GetContainerServices"], sequence
    assert sequence.count("UpdateContainerService") == 3, sequence
    assert all(r["status"] == 200 for r in log), dump(log)


def test_fleet_timeout_names_the_pending_service_and_returns_the_others(ansible, aws, fleet):
    names = FLEET[:3]
    aws.lightsail_set_state(names[2], "DEPLOYING")  # held until changed
    mark = aws.mark()
    result = ansible.module(MODULE, fleet_args(names, wait_timeout=3))
    assert result.failed and result.changed, result
    assert_polled_for(aws, mark, 3)
    assert result.msg.startswith("1 of 3 listed container services in region us-east-1 are not done"), result.msg
    assert f"'{names[2]}' in region us-east-1 stayed busy" in result.msg and "DEPLOYING" in result.msg, result.msg
    assert "nothing was requested" in result.msg, result.msg
    assert f"The others ('{names[0]}', '{names[1]}') are done" in result.msg, result.msg
    pullers = pullers_by_name(result)
    for name in names[:2]:
        assert pullers[name]["principal_arn"] == emulated_puller(fleet, name)["principalArn"] != "", pullers
        assert pullers[name]["changed"] is True
    assert pullers[names[2]] == {"service_name": names[2], "service_arn": pullers[names[2]]["service_arn"], "is_active": False,
                                 "principal_arn": "", "principal_arn_known": True, "principal_arn_before": "", "changed": False}
    assert pullers[names[2]]["service_arn"].startswith("arn:aws:lightsail:us-east-1:123456789012:ContainerService/")
    assert ops(aws, mark, mutating=True) == ["UpdateContainerService"] * 2


def test_fleet_invalid_arguments_fail_before_any_call(ansible, aws, fleet):
    cases = {
        "bad names": fleet_args(["ok-name", "Bad_1", "-bad"]),
        "both forms": fleet_args(service_name=SERVICE),
        "neither form": {"region": "us-east-1"},
        "empty list": fleet_args([]),
    }
    mark = aws.mark()
    # One play for all cases: each ansible-playbook start costs about a second.
    run = ansible.tasks([{"name": name, MODULE: case, "ignore_errors": True} for name, case in cases.items()])
    bad_names = run.task("bad names")
    assert bad_names.failed and "'Bad_1'" in bad_names.msg and "'-bad'" in bad_names.msg, bad_names
    assert "'ok-name'" not in bad_names.msg, bad_names
    assert run.task("both forms").failed and "mutually exclusive" in run.task("both forms").msg
    assert run.task("neither form").failed and "one of the following is required" in run.task("neither form").msg
    empty = run.task("empty list")
    assert not empty.failed and not empty.changed and empty["pullers"] == [], empty
    assert aws.requests(since=mark) == []
