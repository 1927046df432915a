# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Lightsail container services and their ECR image puller role (private module_utils).

One small function per Lightsail call, each with amazon.aws's error handler over a jittered
retry, plus ``converge_puller_role``: read the service, switch the puller role when it is not as
wanted (waiting, bounded, while the service is busy with something else) and wait, bounded, until
the role has settled. botocore has no Lightsail waiters, so every wait goes through
``_poll.jittered_sleeps``.
"""

import re
import time

try:
    import botocore  # pylint: disable=unused-import
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.pullaccess.aws.plugins.module_utils._poll import jittered_sleeps

# Lightsail's model declares no throttling error; it throttles with the generic JSON-protocol
# ThrottlingException, which AWSRetry does not retry by default. ServiceException is its
# "the service failed" error.
LIGHTSAIL_RETRYABLE_CODES = ["ThrottlingException", "ServiceException"]
lightsail_retry = AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=20, catch_extra_error_codes=LIGHTSAIL_RETRYABLE_CODES)

# States in which Lightsail refuses UpdateContainerService (InvalidInputException) and after
# which the service comes back by itself; DELETING never comes back.
BUSY_STATES = ("PENDING", "UPDATING", "DEPLOYING")
DELETING = "DELETING"

# Polling between GetContainerServices calls: AWS documents about 30 s for an activation.
POLL_INITIAL = 2.0
POLL_MAXIMUM = 10.0

# 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.
_SERVICE_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DEPLOYMENT_KEYS = (("currentDeployment", "current_deployment"), ("nextDeployment", "next_deployment"))


class AnsibleLightsailError(AnsibleAWSError):
    """A Lightsail call failed."""


class ServiceMissingError(AnsibleLightsailError):
    """The container service does not exist in that region."""


class ServiceUnavailableError(AnsibleLightsailError):
    """The service is being deleted, or stayed busy past the timeout; nothing was requested."""


class PullerWaitTimeout(AnsibleLightsailError):
    """The puller role did not settle in time. ``requested`` tells whether this run sent the
    update; ``service`` is the last service description seen."""

    def __init__(self, message, service, requested):
        super().__init__(message=message)
        self.service = service
        self.requested = requested


class LightsailErrorHandler(AWSErrorHandler):
    """amazon.aws error handler for Lightsail: NotFoundException means the service is missing."""

    _CUSTOM_EXCEPTION = AnsibleLightsailError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("NotFoundException")


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def validate_service_name(name):
    """Return ``None`` when ``name`` is a valid container service name, else what is wrong."""
    if not _SERVICE_NAME_RE.match(name or ""):
        return (
            f"service_name {name!r} is not a valid Lightsail container service name: use 1 to 63 lowercase letters, "
            "digits and hyphens, starting and ending with a letter or digit"
        )
    return None


def describe_service_name(service_name, region):
    """How errors name a container service: name and region."""
    return f"Lightsail container service {service_name!r} in region {region or 'unknown'}"


def puller_role(service):
    """The ECR image puller role of a service as ``{"is_active": bool, "principal_arn": str}``.

    This is ``privateRegistryAccess.ecrImagePullerRole``, never the service's own
    ``principalArn`` (granting that one makes deployments end as Canceled). The ARN is reported
    only while the role is active: right after a deactivation Lightsail may still show the old
    one until the update finishes, and it must not be granted anything."""
    role = (service.get("privateRegistryAccess") or {}).get("ecrImagePullerRole") or {}
    is_active = bool(role.get("isActive"))
    return {"is_active": is_active, "principal_arn": (role.get("principalArn") or "") if is_active else ""}


def is_busy(service):
    """Whether the service is in a state that refuses updates but ends by itself."""
    return service.get("state") in BUSY_STATES


def puller_settled(service, is_active):
    """Whether the puller role is as wanted and done switching: active with a principal ARN (or
    inactive with none) and the service out of PENDING, UPDATING and DEPLOYING."""
    role = (service.get("privateRegistryAccess") or {}).get("ecrImagePullerRole") or {}
    has_arn = bool(role.get("principalArn"))
    return bool(role.get("isActive")) == is_active and has_arn == is_active and not is_busy(service)


def snake_service(service):
    """A container service as amazon.aws modules return boto3 data: snake_case keys, tags as a
    dict, and user-chosen names (certificate names, container names, environment variables)
    left as they are."""
    if not service:
        return {}
    service = dict(service)
    tags = service.pop("tags", None)
    deployments = {snake: service.pop(key) for key, snake in _DEPLOYMENT_KEYS if key in service}
    result = camel_dict_to_snake_dict(service, ignore_list=["publicDomainNames"])
    result["tags"] = boto3_tag_list_to_ansible_dict(tags or [])
    for key, deployment in deployments.items():
        # camel_dict_to_snake_dict does not pass ignore_list down, so each deployment is
        # converted on its own to keep the container names in ``containers`` as they are.
        result[key] = camel_dict_to_snake_dict(deployment, ignore_list=["containers"]) if deployment else deployment
    return result


def _state_text(service):
    role = puller_role(service)
    raw = (service.get("privateRegistryAccess") or {}).get("ecrImagePullerRole") or {}
    if role["is_active"]:
        arn = f"has principal ARN {role['principal_arn']}" if role["principal_arn"] else "has no principal ARN yet"
        puller = f"the puller role is active and {arn}"
    else:
        puller = "the puller role is inactive" + (" but still shows its old principal ARN" if raw.get("principalArn") else "")
    detail = service.get("stateDetail") or {}
    extra = f" ({detail.get('code')}: {detail.get('message')})" if detail.get("code") or detail.get("message") else ""
    return f"the service is {service.get('state', 'in an unknown state')}{extra} and {puller}"


# --------------------------------------------------------------------------------------------
# AWS calls
# --------------------------------------------------------------------------------------------


@LightsailErrorHandler.list_error_handler("get container service {service_name}")
@lightsail_retry
def _get_container_service(client, service_name):
    response = client.get_container_services(serviceName=service_name)
    for service in response.get("containerServices") or []:
        if service.get("containerServiceName") == service_name:
            return service
    return None


def _missing(service_name, region, error=None):
    return ServiceMissingError(
        message=(
            f"{describe_service_name(service_name, region)} was not found (NotFoundException); "
            "check service_name and region (a container service exists in one region only)"
        ),
        exception=error,
    )


def get_container_service(client, service_name, region):
    """Return the container service (boto3 shape); raises ServiceMissingError naming the
    service and region when there is no such service there."""
    service = _get_container_service(client, service_name)
    if service is None:
        raise _missing(service_name, region)
    return service


@LightsailErrorHandler.common_error_handler("update the ECR image puller role of container service {service_name}")
@lightsail_retry
def _update_puller_role(client, service_name, is_active):
    response = client.update_container_service(
        serviceName=service_name, privateRegistryAccess={"ecrImagePullerRole": {"isActive": is_active}}
    )
    return response["containerService"]


def _error_code(error):
    return (getattr(error, "response", None) or {}).get("Error", {}).get("Code")


def update_puller_role(client, service_name, region, is_active):
    """Switch the puller role with UpdateContainerService, changing nothing else; returns the
    service as the update answers it. Raises ServiceMissingError when the service is gone."""
    try:
        return _update_puller_role(client, service_name, is_active)
    except AnsibleLightsailError as e:
        if _error_code(e.exception) == "NotFoundException":
            raise _missing(service_name, region, e.exception) from e
        raise


def wait_for_service(client, service_name, region, done, timeout, service=None):
    """Poll GetContainerServices (bounded, jittered) until ``done(service)``.

    Starts from ``service`` when given (no read), else reads once first. Returns
    ``(service, True)`` when ``done`` held, ``(last service seen, False)`` when ``timeout``
    seconds ran out."""
    if service is None:
        service = get_container_service(client, service_name, region)
    waits = jittered_sleeps(timeout, initial=POLL_INITIAL, maximum=POLL_MAXIMUM)
    while not done(service):
        if next(waits, None) is None:
            return service, False
        service = get_container_service(client, service_name, region)
    return service, True


# --------------------------------------------------------------------------------------------
# The whole job
# --------------------------------------------------------------------------------------------


class PullerOutcome:
    """What ``converge_puller_role`` did: the service before and after, whether the role was
    (or in check mode would be) switched, and whether it has settled."""

    def __init__(self, before, after, changed, settled):
        self.before = before
        self.after = after
        self.changed = changed
        self.settled = settled


def _remaining(deadline, clock):
    return max(0.0, deadline - clock())


def _wait_until_idle(client, service_name, region, service, deadline, wait_timeout, clock):
    """Wait (bounded) until the service accepts updates; raises ServiceUnavailableError."""
    where = describe_service_name(service_name, region)
    if service.get("state") == DELETING:
        raise ServiceUnavailableError(message=f"{where} is being deleted; the puller role was not changed")
    service, idle = wait_for_service(
        client, service_name, region, lambda found: not is_busy(found), _remaining(deadline, clock), service=service
    )
    if service.get("state") == DELETING:
        raise ServiceUnavailableError(message=f"{where} is being deleted; the puller role was not changed")
    if not idle:
        raise ServiceUnavailableError(
            message=(
                f"{where} stayed busy for wait_timeout={wait_timeout}s ({_state_text(service)}); Lightsail refuses "
                "updates in that state, so the puller role was not changed and nothing was requested. Run again "
                "when the service is READY, RUNNING or DISABLED, or raise wait_timeout"
            )
        )
    return service


def converge_puller_role(client, service_name, region, is_active, check_mode=False, wait=True, wait_timeout=300, clock=time.monotonic):
    """Bring the ECR image puller role of a container service to ``is_active``.

    Reads the service once; when the role is already as wanted nothing is written (with
    ``wait``, a switch still in progress is waited for). Otherwise, unless in check mode, waits
    while the service is PENDING, UPDATING or DEPLOYING (Lightsail refuses updates then), sends
    one UpdateContainerService that only sets ``privateRegistryAccess.ecrImagePullerRole``, and
    with ``wait`` polls until the role has settled (see ``puller_settled``). All waiting shares
    one budget of ``wait_timeout`` seconds. Returns a PullerOutcome; raises
    ServiceMissingError, ServiceUnavailableError (nothing requested), PullerWaitTimeout or
    AnsibleLightsailError."""
    deadline = clock() + max(0, wait_timeout)
    where = describe_service_name(service_name, region)
    before = get_container_service(client, service_name, region)
    service = before
    changed = puller_role(before)["is_active"] != is_active
    if changed and check_mode:
        return PullerOutcome(before, before, True, False)

    if changed:
        while True:
            if is_busy(service) or service.get("state") == DELETING:
                service = _wait_until_idle(client, service_name, region, service, deadline, wait_timeout, clock)
                if puller_role(service)["is_active"] == is_active:
                    # Someone else switched it while we waited: nothing left for us to request.
                    changed = False
                    break
            try:
                service = update_puller_role(client, service_name, region, is_active)
                break
            except ServiceMissingError:
                raise
            except AnsibleLightsailError as e:
                if _error_code(e.exception) != "InvalidInputException":
                    raise
                # Refused, most likely because the service turned busy since we read it.
                service = get_container_service(client, service_name, region)
                if not (is_busy(service) or service.get("state") == DELETING):
                    raise

    if check_mode or not wait or puller_settled(service, is_active):
        return PullerOutcome(before, service, changed, puller_settled(service, is_active))

    service, settled = wait_for_service(
        client, service_name, region, lambda found: puller_settled(found, is_active), _remaining(deadline, clock), service=service
    )
    if not settled:
        verb = "activation" if is_active else "deactivation"
        if changed:
            what = (
                f"{verb} of the ECR image puller role of {where} was requested (UpdateContainerService accepted), "
                f"but after wait_timeout={wait_timeout}s {_state_text(service)}. The request stands: run again later "
                "(it will not be sent twice) or raise wait_timeout"
            )
        else:
            what = (
                f"the ECR image puller role of {where} is already switched ({verb} in progress, not requested by this "
                f"run), but after wait_timeout={wait_timeout}s {_state_text(service)}. Run again later or raise wait_timeout"
            )
        raise PullerWaitTimeout(what, service, changed)
    return PullerOutcome(before, service, changed, True)
