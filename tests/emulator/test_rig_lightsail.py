# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Lightsail container-service emulator, driven through boto3 over real HTTP."""

import json
import re
import time
import urllib.error
import urllib.request

import botocore.session
import pytest
from botocore.exceptions import ClientError

from rig import RigError
from rig_testlib import NO_RETRY, ResponseRecorder, shape_problems, wait_for

ACCOUNT = "123456789012"
ROLE_ID = r"[0-9a-v]{52}"
SERVICE_ROLE_RE = re.compile(rf"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/us-east-1/containers/web/{ROLE_ID}")
PULLER_ROLE_RE = re.compile(rf"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/us-east-1/containers/web/private-repo-access/{ROLE_ID}")


def _service(client, name="web"):
    return client.get_container_services(serviceName=name)["containerServices"][0]


def _create_ready(client, name="web", **kwargs):
    client.create_container_service(serviceName=name, power="nano", scale=1, **kwargs)
    return wait_for(lambda: (svc := _service(client, name))["state"] in ("READY", "RUNNING") and svc)


def _puller(svc):
    return svc["privateRegistryAccess"]["ecrImagePullerRole"]


def _set_puller(client, active, name="web"):
    return client.update_container_service(serviceName=name, privateRegistryAccess={"ecrImagePullerRole": {"isActive": active}})["containerService"]


def _raw_call(rig, operation, params, region="us-east-1"):
    """POST a JSON 1.1 request as is (the emulator reads the SigV4 scope but checks no signature)."""
    request = urllib.request.Request(rig.lightsail_url + "/", data=json.dumps(params).encode(), method="POST", headers={
        "X-Amz-Target": f"Lightsail_20161128.{operation}", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20250101/{region}/lightsail/aws4_request, SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_is_pending_then_ready_with_inactive_puller(lightsail):
    created = lightsail.create_container_service(serviceName="web", power="nano", scale=1)["containerService"]
    assert created["state"] == "PENDING"
    assert created["power"] == "nano" and created["scale"] == 1 and created["resourceType"] == "ContainerService"
    assert _puller(created) == {"isActive": False, "principalArn": ""}
    assert SERVICE_ROLE_RE.fullmatch(created["principalArn"])
    ready = wait_for(lambda: (svc := _service(lightsail))["state"] == "READY" and svc)
    assert _puller(ready) == {"isActive": False, "principalArn": ""}
    assert ready["principalArn"] == created["principalArn"]


def test_activation_goes_through_updating_and_reveals_a_distinct_puller_arn(lightsail):
    ready = _create_ready(lightsail)
    started = time.monotonic()
    updated = _set_puller(lightsail, True)
    assert updated["state"] == "UPDATING"
    assert _puller(updated) == {"isActive": True, "principalArn": ""}
    assert _service(lightsail)["state"] == "UPDATING"
    done = wait_for(lambda: (svc := _service(lightsail))["state"] == "READY" and svc)
    assert time.monotonic() - started >= 0.45  # puller_delay is 0.5 s
    arn = _puller(done)["principalArn"]
    assert PULLER_ROLE_RE.fullmatch(arn)
    assert arn != ready["principalArn"]
    assert done["principalArn"] == ready["principalArn"]


def test_deactivation_clears_the_puller_arn(rig, lightsail):
    rig.lightsail_config(puller_delay=0.1, update_delay=0.05, create_delay=0.05)  # reset restores the defaults
    _create_ready(lightsail)
    _set_puller(lightsail, True)
    wait_for(lambda: _puller(_service(lightsail))["principalArn"])
    updated = _set_puller(lightsail, False)
    assert updated["state"] == "UPDATING"
    assert _puller(updated)["isActive"] is False
    done = wait_for(lambda: (svc := _service(lightsail))["state"] == "READY" and svc)
    assert _puller(done) == {"isActive": False, "principalArn": ""}


def test_reactivation_creates_a_new_role(rig, lightsail):
    rig.lightsail_config(puller_delay=0.1, update_delay=0.05, create_delay=0.05)  # reset restores the defaults
    _create_ready(lightsail)
    arns = []
    for _cycle in range(2):
        _set_puller(lightsail, True)
        arns.append(wait_for(lambda: _puller(_service(lightsail))["principalArn"]))
        _set_puller(lightsail, False)
        wait_for(lambda: _service(lightsail)["state"] == "READY")
    assert arns[0] != arns[1]
    assert all(PULLER_ROLE_RE.fullmatch(arn) for arn in arns)


def test_running_service_returns_to_running(rig, lightsail):
    rig.lightsail_config(puller_delay=0.1, create_delay=0.05)
    _create_ready(lightsail)
    assert rig.lightsail_set_state("web", "RUNNING")["state"] == "RUNNING"
    assert _set_puller(lightsail, True)["state"] == "UPDATING"
    done = wait_for(lambda: (svc := _service(lightsail))["state"] == "RUNNING" and svc)
    assert PULLER_ROLE_RE.fullmatch(_puller(done)["principalArn"])
    assert done["currentDeployment"]["state"] == "ACTIVE"


def test_forced_states_keep_what_a_transition_still_has_to_do(rig, lightsail):
    """set_state holds an activation (or deactivation) without losing it: the puller ARN appears
    (or goes) when the service next reaches a steady state, forced or at the end of a duration."""
    rig.lightsail_config(create_delay=0.05, puller_delay=60)  # the activation would take a minute
    _create_ready(lightsail)
    _set_puller(lightsail, True)
    held = rig.lightsail_set_state("web", "UPDATING")  # held until changed
    assert held["state"] == "UPDATING" and _puller(held) == {"isActive": True, "principalArn": ""}
    with pytest.raises(ClientError) as excinfo:
        _set_puller(lightsail, False)
    assert _error(excinfo)[0] == "InvalidInputException"
    assert rig.lightsail_set_state("web", "DEPLOYING")["state"] == "DEPLOYING"  # still held, still pending
    assert _puller(_service(lightsail)) == {"isActive": True, "principalArn": ""}
    released = rig.lightsail_set_state("web", "READY")
    assert released["state"] == "READY" and PULLER_ROLE_RE.fullmatch(_puller(released)["principalArn"])
    assert _puller(_service(lightsail)) == _puller(released) and _service(lightsail)["state"] == "READY"

    _set_puller(lightsail, False)
    assert _puller(_service(lightsail))["principalArn"] == released["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    rig.lightsail_set_state("web", "UPDATING", duration=0.1)
    done = wait_for(lambda: (svc := _service(lightsail))["state"] == "READY" and svc)
    assert _puller(done) == {"isActive": False, "principalArn": ""}

    # An activation carried into a forced RUNNING ends with its ARN and a deployment.
    _set_puller(lightsail, True)
    running = rig.lightsail_set_state("web", "RUNNING")
    assert PULLER_ROLE_RE.fullmatch(_puller(running)["principalArn"]) and running["currentDeployment"]["state"] == "ACTIVE"


def test_create_with_deployment_and_active_puller(lightsail):
    deployment = {"containers": {"app": {"image": "nginx", "ports": {"80": "HTTP"}}},
                  "publicEndpoint": {"containerName": "app", "containerPort": 80}}
    svc = _create_ready(lightsail, deployment=deployment, privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})
    assert svc["state"] == "RUNNING"
    assert svc["currentDeployment"]["containers"] == deployment["containers"]
    assert svc["currentDeployment"]["publicEndpoint"]["healthCheck"]["path"] == "/"
    assert PULLER_ROLE_RE.fullmatch(_puller(svc)["principalArn"])


def test_other_updates_and_disable(lightsail):
    _create_ready(lightsail)
    updated = lightsail.update_container_service(serviceName="web", power="micro", scale=2, isDisabled=True)["containerService"]
    assert (updated["state"], updated["power"], updated["scale"], updated["isDisabled"]) == ("UPDATING", "micro", 2, True)
    assert wait_for(lambda: _service(lightsail)["state"] == "DISABLED")
    lightsail.update_container_service(serviceName="web", isDisabled=False)
    assert wait_for(lambda: _service(lightsail)["state"] == "READY")


def test_unknown_service_is_not_found(lightsail):
    for call in (lambda: lightsail.get_container_services(serviceName="nope"),
                 lambda: lightsail.update_container_service(serviceName="nope", scale=1),
                 lambda: lightsail.delete_container_service(serviceName="nope")):
        with pytest.raises(ClientError) as excinfo:
            call()
        code, message, status = _error(excinfo)
        assert (code, status) == ("NotFoundException", 400)
        assert "nope" in message


def test_state_is_per_region(rig, lightsail):
    lightsail.create_container_service(serviceName="web", power="nano", scale=1)
    other = rig.client("lightsail", region="eu-west-1", config=NO_RETRY)
    recorder = ResponseRecorder(other)
    with pytest.raises(ClientError) as excinfo:
        other.get_container_services(serviceName="web")
    assert _error(excinfo)[0] == "NotFoundException"
    assert other.get_container_services()["containerServices"] == []
    created = other.create_container_service(serviceName="web", power="micro", scale=1)["containerService"]
    assert created["location"] == {"availabilityZone": "all", "regionName": "eu-west-1"}
    assert "/eu-west-1/containers/web/" in created["principalArn"]
    assert [s["power"] for s in lightsail.get_container_services()["containerServices"]] == ["nano"]
    assert recorder.problems() == []


def test_list_all_services(lightsail):
    for name in ("b-svc", "a-svc"):
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    assert sorted(s["containerServiceName"] for s in lightsail.get_container_services()["containerServices"]) == ["a-svc", "b-svc"]


def test_delete_goes_through_deleting(lightsail):
    _create_ready(lightsail)
    assert lightsail.delete_container_service(serviceName="web")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _service(lightsail)["state"] == "DELETING"
    wait_for(lambda: lightsail.get_container_services()["containerServices"] == [])


@pytest.mark.parametrize("params", [
    {"serviceName": "web", "power": "nano", "scale": 1, "bogus": True},                 # unknown parameter
    {"serviceName": "web", "power": "nano", "scale": "one"},                            # wrong type
    {"serviceName": "web", "power": "nano", "scale": True},                             # bool is not an integer
    {"serviceName": "web", "power": "nano", "scale": 21},                               # out of range
    {"serviceName": "web", "power": "huge", "scale": 1},                                # not in the enum
    {"serviceName": "web", "scale": 1},                                                 # missing required
    {"serviceName": "web", "power": "nano", "scale": 1, "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": "yes"}}},
    {"serviceName": "Web_1", "power": "nano", "scale": 1},                              # invalid name
    {"serviceName": "-web", "power": "nano", "scale": 1},
    {"serviceName": "w" * 64, "power": "nano", "scale": 1},
])
def test_invalid_create_input(rig, lightsail, params):
    status, body = _raw_call(rig, "CreateContainerService", params)
    assert (status, body["__type"]) == (400, "InvalidInputException")
    assert body["message"]
    assert lightsail.get_container_services()["containerServices"] == []


def test_invalid_input_through_botocore(raw_lightsail):
    with pytest.raises(ClientError) as excinfo:
        raw_lightsail.create_container_service(serviceName="web", power="nano", scale="one")
    code, message, status = _error(excinfo)
    assert (code, status) == ("InvalidInputException", 400)
    assert "scale" in message


def test_valid_names(lightsail):
    for name in ("a", "ab", "a-b", "x" * 63, "0-9"):
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)


def test_duplicate_name_is_invalid_input(lightsail):
    lightsail.create_container_service(serviceName="web", power="nano", scale=1)
    with pytest.raises(ClientError) as excinfo:
        lightsail.create_container_service(serviceName="web", power="micro", scale=1)
    code, message, _status = _error(excinfo)
    assert code == "InvalidInputException" and "web" in message


@pytest.mark.parametrize("state", ["PENDING", "UPDATING", "DEPLOYING", "DELETING"])
def test_update_in_transitional_state_is_refused(rig, lightsail, state):
    rig.lightsail_config(create_delay=30, update_delay=30, delete_delay=30)  # no race with the clock
    lightsail.create_container_service(serviceName="web", power="nano", scale=1)
    if state == "UPDATING":
        rig.lightsail_set_state("web", "READY")
        lightsail.update_container_service(serviceName="web", scale=2)
    elif state == "DEPLOYING":
        rig.lightsail_set_state("web", "DEPLOYING")
    elif state == "DELETING":
        rig.lightsail_set_state("web", "READY")
        lightsail.delete_container_service(serviceName="web")
    assert _service(lightsail)["state"] == state
    with pytest.raises(ClientError) as excinfo:
        _set_puller(lightsail, True)
    code, message, status = _error(excinfo)
    assert (code, status) == ("InvalidInputException", 400)
    assert state in message
    assert _puller(_service(lightsail))["isActive"] is False


def test_unknown_and_unsupported_operations(rig, lightsail):
    with pytest.raises(ClientError) as excinfo:
        lightsail.get_instances()
    assert _error(excinfo)[0::2] == ("UnknownOperationException", 400)
    assert _raw_call(rig, "NoSuchOperation", {})[0] == 400
    assert _raw_call(rig, "NoSuchOperation", {})[1]["__type"] == "UnknownOperationException"


def test_control_endpoints(rig, lightsail):
    assert rig.lightsail_config()["puller_delay"] == 0.5
    settings = rig.lightsail_config(puller_delay=0.1, account_id="111122223333")
    assert settings["puller_delay"] == 0.1 and settings["account_id"] == "111122223333"
    created = lightsail.create_container_service(serviceName="web", power="nano", scale=1)["containerService"]
    assert created["principalArn"].startswith("arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/web/")
    assert created["arn"].startswith("arn:aws:lightsail:us-east-1:111122223333:ContainerService/")
    listed = rig.lightsail_services()
    assert [(s["containerServiceName"], s["account"], s["region"]) for s in listed] == [("web", "111122223333", "us-east-1")]
    held = rig.lightsail_set_state("web", "UPDATING", duration=0.2, then="RUNNING")
    assert held["state"] == "UPDATING"
    running = wait_for(lambda: (svc := _service(lightsail))["state"] == "RUNNING" and svc)
    assert running["currentDeployment"]["state"] == "ACTIVE"
    assert rig.lightsail_set_state("web", "DISABLED")["isDisabled"] is True
    with pytest.raises(RigError, match="400"):
        rig.lightsail_set_state("web", "SLEEPING")
    with pytest.raises(RigError, match="404"):
        rig.lightsail_set_state("nope", "READY")
    with pytest.raises(RigError, match="400"):
        rig.lightsail_config(puller_delay=-1)
    rig.lightsail_control("reset", {})
    assert rig.lightsail_services() == []
    assert rig.lightsail_config()["account_id"] == ACCOUNT


def test_shape_checker_catches_mistakes():
    model = botocore.session.get_session().get_service_model("lightsail")
    output = model.operation_model("GetContainerServices").output_shape
    good = {"containerServices": [{"containerServiceName": "web", "state": "READY", "createdAt": 1.5, "scale": 1,
                                   "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": False, "principalArn": ""}}}]}
    assert shape_problems(good, output) == []
    bad = {"containerServices": [{"containerServiceName": "web", "state": "ASLEEP", "createdAt": "yesterday", "scale": True,
                                  "extra": 1, "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": "no"}}}]}
    problems = "\n".join(shape_problems(bad, output))
    for fragment in ("ASLEEP", "createdAt", "scale", "extra", "isActive"):
        assert fragment in problems
