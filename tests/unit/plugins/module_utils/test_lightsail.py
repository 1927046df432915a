# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tests of the Lightsail helpers behind lightsail_ecr_puller: the pure puller-role logic
(table-driven) and the edge cases of converge_puller_role that the emulator cannot produce on
demand (a service turning busy between our read and our update), with botocore's Stubber."""

import datetime

import pytest

try:
    import boto3
    from botocore.stub import Stubber
except ImportError:  # the pure tests still run; the Stubber ones are skipped
    boto3 = None

from ansible_collections.pullaccess.aws.plugins.module_utils import _lightsail
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import AnsibleLightsailError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import PullerWaitTimeout
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ServiceMissingError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ServiceUnavailableError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import converge_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_settled
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import snake_service
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import validate_service_name

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


def update_params(is_active):
    return {"serviceName": NAME, "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": is_active}}}


needs_boto3 = pytest.mark.skipif(boto3 is None, reason="boto3 and botocore are needed for botocore's Stubber")


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

    monkeypatch.setattr(_lightsail, "jittered_sleeps", fake_sleeps)
    return budget


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
def test_puller_settled(doc, is_active, expected):
    assert puller_settled(doc, is_active) is expected


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
# converge_puller_role with botocore's Stubber
# --------------------------------------------------------------------------------------------


@needs_boto3
def test_converged_is_one_read(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(is_active=True, arn=PULLER_ARN))
    outcome = converge_puller_role(client, NAME, REGION, True)
    assert not outcome.changed and outcome.settled and puller_role(outcome.after)["principal_arn"] == PULLER_ARN


@needs_boto3
def test_check_mode_reads_once_and_predicts(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(state="UPDATING"))
    outcome = converge_puller_role(client, NAME, REGION, True, check_mode=True)
    assert outcome.changed and outcome.after is outcome.before


@needs_boto3
def test_service_turning_busy_after_the_read_is_waited_for(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_client_error("update_container_service", "InvalidInputException", "busy", 400, expected_params=update_params(True))
    add_get(stubber, service(state="DEPLOYING"))  # read after the refusal: busy
    add_get(stubber, service(state="DEPLOYING"))  # poll
    add_get(stubber, service(state="RUNNING"))  # poll: idle again
    stubber.add_response("update_container_service", {"containerService": service(state="UPDATING", is_active=True)}, update_params(True))
    add_get(stubber, service(state="RUNNING", is_active=True, arn=PULLER_ARN))
    outcome = converge_puller_role(client, NAME, REGION, True)
    assert outcome.changed and outcome.settled
    assert puller_role(outcome.after) == {"is_active": True, "principal_arn": PULLER_ARN}


@needs_boto3
def test_invalid_input_on_an_idle_service_is_not_retried(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_client_error("update_container_service", "InvalidInputException", "something else", 400, expected_params=update_params(True))
    add_get(stubber, service())
    with pytest.raises(AnsibleLightsailError) as raised:
        converge_puller_role(client, NAME, REGION, True)
    assert not isinstance(raised.value, ServiceUnavailableError)
    assert "something else" in str(raised.value)


@needs_boto3
def test_switched_by_someone_else_while_busy_is_not_requested(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(state="UPDATING"))
    add_get(stubber, service(state="READY", is_active=True, arn=PULLER_ARN))
    outcome = converge_puller_role(client, NAME, REGION, True)
    assert outcome.changed is False and outcome.settled is True
    assert puller_role(outcome.after)["principal_arn"] == PULLER_ARN


@needs_boto3
def test_deleting_service_is_refused(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service(state="DELETING"))
    with pytest.raises(ServiceUnavailableError, match="being deleted"):
        converge_puller_role(client, NAME, REGION, True)


@needs_boto3
def test_missing_service_names_service_and_region(stubbed, no_sleep):
    client, stubber = stubbed
    stubber.add_client_error("get_container_services", "NotFoundException", "no such service", 400, expected_params=GET)
    with pytest.raises(ServiceMissingError) as raised:
        converge_puller_role(client, NAME, "eu-west-1", True)
    assert "'web' in region eu-west-1" in raised.value.message and "check service_name and region" in raised.value.message


@needs_boto3
def test_service_deleted_before_the_update(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_client_error("update_container_service", "NotFoundException", "gone", 400, expected_params=update_params(True))
    with pytest.raises(ServiceMissingError):
        converge_puller_role(client, NAME, REGION, True)


@needs_boto3
def test_wait_timeout_after_the_request(stubbed, no_sleep):
    client, stubber = stubbed
    no_sleep[0] = 2
    add_get(stubber, service())
    stubber.add_response("update_container_service", {"containerService": service(state="UPDATING", is_active=True)}, update_params(True))
    add_get(stubber, service(state="UPDATING", is_active=True))
    add_get(stubber, service(state="UPDATING", is_active=True))
    with pytest.raises(PullerWaitTimeout) as raised:
        converge_puller_role(client, NAME, REGION, True, wait_timeout=7)
    assert raised.value.requested is True
    assert "was requested" in raised.value.message and "UPDATING" in raised.value.message and "wait_timeout=7" in raised.value.message


@needs_boto3
def test_wait_false_returns_the_update_answer(stubbed, no_sleep):
    client, stubber = stubbed
    add_get(stubber, service())
    stubber.add_response("update_container_service", {"containerService": service(state="UPDATING", is_active=True)}, update_params(True))
    outcome = converge_puller_role(client, NAME, REGION, True, wait=False)
    assert outcome.changed and not outcome.settled and outcome.after["state"] == "UPDATING"
