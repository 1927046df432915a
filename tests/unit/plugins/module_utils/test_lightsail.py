# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the Lightsail helpers behind lightsail_ecr_puller: the pure puller-role logic
(table-driven) and the edge cases of converge_puller_roles, in the single form (one service
read by name, as the module's service_name) and the fleet form, that the emulator cannot
produce on demand (a service turning busy between our read and our update, vanishing mid-run,
an API error after some updates), with botocore's Stubber. The engine's planning has its own
tables in test_lightsail_pullers.py."""

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.pullaccess.aws.plugins.module_utils import _lightsail_pullers
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import quote_names
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ARN_PLACEHOLDER
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import AnsibleLightsailError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ServiceMissingError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ServiceUnavailableError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import diff_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_as_wanted
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_steady
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import reported_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import services_label
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import snake_service
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerOutcome
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerRunError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerTimeoutError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import converge_puller_roles
from ansible_collections.pullaccess.aws.plugins.module_utils._names import validate_service_name

REGION = "us-east-1"
NAME = "web"
SERVICE_ARN = "arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/web/serviceroleid"
PULLER_ARN = "arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/web/private-repo-access/pullerid"
GET = {"serviceName": NAME}


def service(state="READY", is_active=False, arn="", **extra):
    doc = {
        "containerServiceName": NAME,
        "arn": "arn:aws:lightsail:us-east-1:111122223333:ContainerService/abc",
        "state": state,
        "power": "nano",
        "scale": 1,
        "isDisabled": False,
        "principalArn": SERVICE_ARN,
        "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": is_active, "principalArn": arn}},
    }
    doc.update(extra)
    return doc


def update_params(is_active, name=NAME):
    return {"serviceName": name, "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": is_active}}}


@pytest.fixture
def stubbed():
    client = boto3.client("lightsail", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def no_sleep(monkeypatch):
    """Replace the poll helper by one that allows ``budget[0]`` polls without sleeping."""
    budget = [20]

    def fake_sleeps(timeout, initial=1.0, maximum=10.0):
        return iter(range(1, budget[0] + 1))

    monkeypatch.setattr(_lightsail_pullers, "jittered_sleeps", fake_sleeps)
    return budget


def single(client, is_active, region=REGION, **kwargs):
    """The single form: one service, read by name; returns its outcome."""
    return converge_puller_roles(client, [NAME], region, is_active, read_by_name=True, **kwargs)[0]


def single_failure(client, is_active, region=REGION, **kwargs):
    """What the single form fails with, as the module reports it: ``(error, outcome)``, the
    service's own error and outcome when the run could not finish it, else the run's error."""
    with pytest.raises(AnsibleLightsailError) as raised:
        single(client, is_active, region=region, **kwargs)
    if isinstance(raised.value, PullerRunError):
        return raised.value.outcomes[0].error, raised.value.outcomes[0]
    return raised.value, None


def add_get(stubber, doc):
    stubber.add_response("get_container_services", {"containerServices": [doc]}, GET)


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, expected",
    [
        (service(), {"is_active": False, "principal_arn": ""}),
        (service(is_active=True, arn=PULLER_ARN), {"is_active": True, "principal_arn": PULLER_ARN}),
        (service(is_active=True, arn=""), {"is_active": True, "principal_arn": ""}),
        # Deactivation in progress: the old ARN is still shown but must not be reported.
        (service(is_active=False, arn=PULLER_ARN), {"is_active": False, "principal_arn": ""}),
        ({"containerServiceName": NAME, "principalArn": SERVICE_ARN}, {"is_active": False, "principal_arn": ""}),
    ],
    ids=["inactive", "active", "activating", "deactivating", "no-private-registry-access"],
)
def test_puller_role_never_reports_the_service_arn(doc, expected):
    assert puller_role(doc) == expected


@pytest.mark.parametrize(
    "doc, is_active, expected",
    [
        (service(is_active=True, arn=PULLER_ARN), True, True),
        (service(state="RUNNING", is_active=True, arn=PULLER_ARN), True, True),
        (service(state="DISABLED", is_active=True, arn=PULLER_ARN), True, True),
        (service(state="UPDATING", is_active=True, arn=PULLER_ARN), True, False),
        (service(state="DEPLOYING", is_active=True, arn=PULLER_ARN), True, False),
        (service(is_active=True, arn=""), True, False),
        (service(), True, False),
        (service(), False, True),
        (service(is_active=False, arn=PULLER_ARN), False, False),
        (service(state="PENDING"), False, False),
    ],
)
def test_puller_steady(doc, is_active, expected):
    assert puller_steady(doc, is_active) is expected


@pytest.mark.parametrize(
    "doc, is_active, expected",
    [
        (service(), False, True),
        (service(), True, False),
        (service(is_active=True, arn=PULLER_ARN), True, True),
        (service(state="UPDATING", is_active=True, arn=""), True, True),  # switched, still settling
        (service(is_active=False, arn=PULLER_ARN), False, True),  # deactivated, old ARN still shown
        ({"containerServiceName": NAME}, False, True),
    ],
)
def test_puller_as_wanted(doc, is_active, expected):
    assert puller_as_wanted(doc, is_active) is expected


INACTIVE = {"is_active": False, "principal_arn": ""}
ACTIVE = {"is_active": True, "principal_arn": PULLER_ARN}
ACTIVE_NO_ARN = {"is_active": True, "principal_arn": ""}


@pytest.mark.parametrize(
    "before, after, changed, is_active, check_mode, expected",
    [
        # Check mode predicts from the wanted state; a new activation's ARN cannot be known.
        (service(), service(), True, True, True, (ACTIVE_NO_ARN, False)),
        (service(is_active=True, arn=PULLER_ARN), service(is_active=True, arn=PULLER_ARN), True, False, True, (INACTIVE, True)),
        (service(is_active=True, arn=PULLER_ARN), service(is_active=True, arn=PULLER_ARN), False, True, True, (ACTIVE, True)),
        # Real runs report what Lightsail says.
        (service(), service(is_active=True, arn=PULLER_ARN), True, True, False, (ACTIVE, True)),
        (service(), service(state="UPDATING", is_active=True), True, True, False, (ACTIVE_NO_ARN, False)),
        (service(is_active=True, arn=PULLER_ARN), service(state="UPDATING", arn=PULLER_ARN), True, False, False, (INACTIVE, True)),
        # Timed out while busy, never switched: reports the role as it is.
        (service(state="DEPLOYING"), service(state="DEPLOYING"), False, True, False, (INACTIVE, True)),
    ],
    ids=["check-activate", "check-deactivate", "check-converged", "activated", "activating", "deactivating", "not-switched"],
)
def test_reported_puller_role(before, after, changed, is_active, check_mode, expected):
    outcome = PullerOutcome(NAME, before, after, changed, steady=puller_steady(after, is_active))
    assert reported_puller_role(outcome, is_active, check_mode) == expected


@pytest.mark.parametrize(
    "role, arn_known, expected",
    [
        (ACTIVE, True, ACTIVE),
        (INACTIVE, True, INACTIVE),
        (ACTIVE_NO_ARN, False, {"is_active": True, "principal_arn": ARN_PLACEHOLDER}),
    ],
)
def test_diff_puller_role(role, arn_known, expected):
    assert diff_puller_role(role, arn_known) == expected


@pytest.mark.parametrize(
    "names, region, expected",
    [
        (["web"], "us-east-1", "Lightsail container service 'web' in region us-east-1"),
        (["a", "b"], "eu-west-1", "Lightsail container services 'a', 'b' in region eu-west-1"),
        (["a", "b"], None, "Lightsail container services 'a', 'b' in region unknown"),
    ],
)
def test_services_label(names, region, expected):
    assert services_label(names, region) == expected


def test_quote_names_counts_past_the_limit():
    assert quote_names(["a", "b"]) == "'a', 'b'"
    assert quote_names([f"s{i}" for i in range(5)], limit=3) == "'s0', 's1', 's2' and 2 more"


@pytest.mark.parametrize("name", ["web", "a", "a1", "my-service-2", "x" * 63])
def test_valid_service_names(name):
    assert validate_service_name(name) is None


@pytest.mark.parametrize("name", ["", "Web", "web_1", "-web", "web-", "x" * 64, "web.app", None])
def test_invalid_service_names(name):
    assert "not a valid Lightsail container service name" in validate_service_name(name)


def test_snake_service_keeps_user_names():
    created = datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone.utc)
    doc = service(
        tags=[{"key": "CostCenter", "value": "Web"}],
        publicDomainNames={"MyCert": ["www.example.com"]},
        currentDeployment={
            "version": 1,
            "state": "ACTIVE",
            "createdAt": created,
            "containers": {"appServer": {"image": "nginx", "environment": {"LOG_LEVEL": "debug"}, "ports": {"80": "HTTP"}}},
            "publicEndpoint": {"containerName": "appServer", "containerPort": 80, "healthCheck": {"healthyThreshold": 2}},
        },
    )
    result = snake_service(doc)
    assert result["container_service_name"] == NAME
    assert result["principal_arn"] == SERVICE_ARN
    assert result["private_registry_access"] == {"ecr_image_puller_role": {"is_active": False, "principal_arn": ""}}
    assert result["tags"] == {"CostCenter": "Web"}
    assert result["public_domain_names"] == {"MyCert": ["www.example.com"]}
    deployment = result["current_deployment"]
    assert deployment["containers"] == {"appServer": {"image": "nginx", "environment": {"LOG_LEVEL": "debug"}, "ports": {"80": "HTTP"}}}
    assert deployment["public_endpoint"] == {"container_name": "appServer", "container_port": 80, "health_check": {"healthy_threshold": 2}}
    assert deployment["created_at"] == created
    assert "tags" not in doc or doc["tags"] == [{"key": "CostCenter", "value": "Web"}], "the input was changed"


# --------------------------------------------------------------------------------------------
# The single form (converge_puller_roles reading one service by name) with botocore's Stubber
# --------------------------------------------------------------------------------------------


def test_converged_is_one_read(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(is_active=True, arn=PULLER_ARN))
    outcome = single(client, True)
    assert not outcome.changed and outcome.steady and puller_role(outcome.after)["principal_arn"] == PULLER_ARN


def test_check_mode_reads_once_and_predicts(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(state="UPDATING"))
    outcome = single(client, True, check_mode=True)
    assert outcome.changed and outcome.after is outcome.before


def test_service_turning_busy_after_the_read_is_waited_for(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_client_error("update_container_service", "InvalidInputException", "busy", 400, expected_params=update_params(True))
    add_get(stubber, service(state="DEPLOYING"))  # read after the refusal: busy
    add_get(stubber, service(state="DEPLOYING"))  # poll
    add_get(stubber, service(state="RUNNING"))  # poll: idle again
    stubber.add_response("update_container_service", {"containerService": service(state="UPDATING", is_active=True)}, update_params(True))
    add_get(stubber, service(state="RUNNING", is_active=True, arn=PULLER_ARN))
    outcome = single(client, True)
    assert outcome.changed and outcome.steady
    assert puller_role(outcome.after) == {"is_active": True, "principal_arn": PULLER_ARN}


def test_invalid_input_on_an_idle_service_is_not_retried(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_client_error("update_container_service", "InvalidInputException", "something else", 400, expected_params=update_params(True))
    add_get(stubber, service())
    error = single_failure(client, True)[0]
    assert not isinstance(error, ServiceUnavailableError)
    assert "something else" in str(error)


def test_switched_by_someone_else_while_busy_is_not_requested(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(state="UPDATING"))
    add_get(stubber, service(state="READY", is_active=True, arn=PULLER_ARN))
    outcome = single(client, True)
    assert outcome.changed is False and outcome.steady is True
    assert puller_role(outcome.after)["principal_arn"] == PULLER_ARN


def test_deleting_service_is_refused(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(state="DELETING"))
    error = single_failure(client, True)[0]
    assert isinstance(error, ServiceUnavailableError) and "being deleted" in str(error)


def test_missing_service_names_service_and_region(stubbed, no_sleep):
    client, stubber = stubbed
    stubber.add_client_error("get_container_services", "NotFoundException", "no such service", 400, expected_params=GET)
    error = single_failure(client, True, region="eu-west-1")[0]
    assert isinstance(error, ServiceMissingError)
    assert "'web' in region eu-west-1" in error.message and "check service_name and region" in error.message


def test_service_deleted_before_the_update(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_client_error("update_container_service", "NotFoundException", "gone", 400, expected_params=update_params(True))
    error = single_failure(client, True)[0]
    assert isinstance(error, ServiceMissingError)


def test_wait_timeout_after_the_request(stubbed, no_sleep):
    client, stubber = stubbed
    no_sleep[0] = 2
    add_get(stubber, service())
    stubber.add_response("update_container_service", {"containerService": service(state="UPDATING", is_active=True)}, update_params(True))
    add_get(stubber, service(state="UPDATING", is_active=True))
    add_get(stubber, service(state="UPDATING", is_active=True))
    error, outcome = single_failure(client, True, wait_timeout=7)
    assert isinstance(error, PullerTimeoutError)
    assert outcome.requested is True
    assert "was requested" in error.message and "UPDATING" in error.message and "wait_timeout=7" in error.message


def test_wait_false_returns_the_update_answer(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_response("update_container_service", {"containerService": service(state="UPDATING", is_active=True)}, update_params(True))
    outcome = single(client, True, wait=False)
    assert outcome.changed and not outcome.steady and outcome.after["state"] == "UPDATING"


# --------------------------------------------------------------------------------------------
# The fleet form (converge_puller_roles reading the region) with botocore's Stubber
# --------------------------------------------------------------------------------------------


def named(name, **kwargs):
    arn = kwargs.pop("arn", "")
    return service(containerServiceName=name, **{"arn": arn.replace("/web/", f"/{name}/"), **kwargs})


def add_list(stubber, *docs):
    """One region-wide GetContainerServices (no serviceName)."""
    stubber.add_response("get_container_services", {"containerServices": list(docs)}, {})


def add_update(stubber, name, is_active=True, answer_state="UPDATING"):
    answer = named(name, state=answer_state, is_active=is_active)
    stubber.add_response("update_container_service", {"containerService": answer}, update_params(is_active, name))


def active(name, state="READY"):
    return named(name, state=state, is_active=True, arn=PULLER_ARN)


def summary(outcomes):
    return [(o.service_name, o.changed, puller_role(o.after)["principal_arn"] != "", o.error is None) for o in outcomes]


def test_fleet_converged_is_one_read_for_all(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, active("b"), active("a"), named("other"))
    outcomes = converge_puller_roles(client, ["a", "b"], REGION, True)
    assert summary(outcomes) == [("a", False, True, True), ("b", False, True, True)]


def test_fleet_check_mode_reads_once_and_is_truthful(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, active("a"), named("b"), named("c", state="DELETING"))
    outcomes = converge_puller_roles(client, ["a", "b", "c"], REGION, True, check_mode=True)
    assert [(o.service_name, o.changed, o.requested) for o in outcomes] == [("a", False, False), ("b", True, False), ("c", True, False)]
    assert all(o.after is o.before for o in outcomes)


def test_fleet_missing_services_are_all_named_before_any_write(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("other"))
    with pytest.raises(ServiceMissingError) as raised:
        converge_puller_roles(client, ["a", "x", "y"], "eu-west-1", True)
    message = raised.value.message
    assert "'x', 'y' in region eu-west-1 were not found" in message and "'a'" not in message, message
    assert "lists 2 container services" in message and "Nothing was changed" in message


def test_fleet_deleting_service_fails_before_any_write(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("b", state="DELETING"), named("c", state="DELETING"))
    with pytest.raises(ServiceUnavailableError) as raised:
        converge_puller_roles(client, ["a", "b", "c"], REGION, True)
    assert "'b', 'c' in region us-east-1 are being deleted" in raised.value.message
    assert "nothing was requested" in raised.value.message


def test_fleet_deleting_service_already_as_wanted_is_no_obstacle(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a", state="DELETING"), named("b"))
    outcomes = converge_puller_roles(client, ["a", "b"], REGION, False)
    assert summary(outcomes) == [("a", False, False, True), ("b", False, False, True)]


def test_fleet_busy_services_are_waited_for_side_by_side(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("b", state="DEPLOYING"), named("c"), named("d", state="PENDING"))
    add_update(stubber, "a")
    add_update(stubber, "c")
    add_list(stubber, named("a", state="UPDATING", is_active=True), named("b", state="DEPLOYING"), active("c"), named("d"))
    add_update(stubber, "d")  # d accepts updates now; b is still busy
    add_list(stubber, active("a"), named("b", state="RUNNING"), active("c"), named("d", state="UPDATING", is_active=True))
    add_update(stubber, "b")
    add_list(stubber, active("a"), active("b", state="RUNNING"), active("c"), active("d"))
    outcomes = converge_puller_roles(client, ["a", "b", "c", "d"], REGION, True)
    assert summary(outcomes) == [(name, True, True, True) for name in "abcd"]


def test_fleet_waits_for_a_switch_in_progress_it_did_not_request(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a", state="UPDATING", is_active=True), named("b"))
    add_update(stubber, "b")
    add_list(stubber, active("a"), active("b"))
    outcomes = converge_puller_roles(client, ["a", "b"], REGION, True)
    assert summary(outcomes) == [("a", False, True, True), ("b", True, True, True)]


def test_fleet_wait_false_returns_after_the_updates(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("b"))
    add_update(stubber, "a")
    add_update(stubber, "b")
    outcomes = converge_puller_roles(client, ["a", "b"], REGION, True, wait=False)
    assert [(o.changed, o.steady, o.after["state"]) for o in outcomes] == [(True, False, "UPDATING")] * 2


def test_fleet_repeated_names_are_handled_once(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("b"))
    add_update(stubber, "b")
    add_update(stubber, "a")
    add_list(stubber, active("a"), active("b"))
    outcomes = converge_puller_roles(client, ["b", "a", "b"], REGION, True)
    assert [o.service_name for o in outcomes] == ["b", "a"]


def test_fleet_refused_update_is_retried_when_the_service_is_idle_again(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("b"))
    stubber.add_client_error("update_container_service", "InvalidInputException", "busy", 400, expected_params=update_params(True, "a"))
    add_update(stubber, "b")
    add_list(stubber, named("a", state="DEPLOYING"), named("b", state="UPDATING", is_active=True))  # one re-read for the refusal
    add_list(stubber, named("a", state="RUNNING"), active("b"))  # poll
    add_update(stubber, "a")
    add_list(stubber, active("a", state="RUNNING"), active("b"))
    outcomes = converge_puller_roles(client, ["a", "b"], REGION, True)
    assert summary(outcomes) == [("a", True, True, True), ("b", True, True, True)]


def test_fleet_timeout_fails_naming_the_unfinished_and_returns_everything(stubbed, no_sleep):
    client, stubber = stubbed
    no_sleep[0] = 1
    add_list(stubber, named("a"), named("b", state="DEPLOYING"), named("c"))
    add_update(stubber, "a")
    add_update(stubber, "c")
    add_list(stubber, active("a"), named("b", state="DEPLOYING"), named("c", state="UPDATING", is_active=True))
    with pytest.raises(PullerRunError) as raised:
        converge_puller_roles(client, ["a", "b", "c"], REGION, True, wait_timeout=9)
    error = raised.value
    assert error.requested is True
    assert summary(error.outcomes) == [("a", True, True, True), ("b", False, False, False), ("c", True, False, False)]
    assert isinstance(error.outcomes[1].error, ServiceUnavailableError) and isinstance(error.outcomes[2].error, PullerTimeoutError)
    message = error.message
    assert message.startswith("2 of 3 listed container services in region us-east-1 are not done: "), message
    assert "'b' in region us-east-1 stayed busy for wait_timeout=9s" in message and "DEPLOYING" in message, message
    assert "activation of the ECR image puller role of Lightsail container service 'c'" in message and "was requested" in message
    assert "The others ('a') are done" in message, message


def test_fleet_service_vanishing_mid_run_does_not_stop_the_others(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("b", state="DEPLOYING"))
    add_update(stubber, "a")
    add_list(stubber, active("a"))
    with pytest.raises(PullerRunError) as raised:
        converge_puller_roles(client, ["a", "b"], REGION, True)
    assert summary(raised.value.outcomes) == [("a", True, True, True), ("b", False, False, False)]
    assert "'b' in region us-east-1 disappeared during the run" in raised.value.message


def test_fleet_api_error_after_updates_keeps_the_partial_results(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"), named("b"))
    add_update(stubber, "a")
    stubber.add_client_error("update_container_service", "AccessDeniedException", "no", 400, expected_params=update_params(True, "b"))
    with pytest.raises(PullerRunError) as raised:
        converge_puller_roles(client, ["a", "b"], REGION, True)
    error = raised.value
    assert error.requested and error.exception is not None
    assert "UpdateContainerService was accepted for 'a'" in error.message and "not switched: 'b'" in error.message, error.message
    assert [(o.service_name, o.requested) for o in error.outcomes] == [("a", True), ("b", False)]


def test_fleet_api_error_before_any_update_is_raised_as_is(stubbed, no_sleep):
    client, stubber = stubbed
    add_list(stubber, named("a"))
    stubber.add_client_error("update_container_service", "AccessDeniedException", "no", 400, expected_params=update_params(True, "a"))
    with pytest.raises(AnsibleLightsailError) as raised:
        converge_puller_roles(client, ["a"], REGION, True)
    assert not isinstance(raised.value, PullerRunError)
