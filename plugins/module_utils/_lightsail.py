# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Lightsail container services and their ECR image puller role (private module_utils).

One small function per Lightsail call, each with amazon.aws's error handler (botocore retries,
see ``_aws``), the pure helpers that read a container service document, and how a run's
outcome is reported (pullers, diff, notes). The engine that brings puller roles to a wanted
state is ``_lightsail_pullers``.
"""

try:
    import botocore  # pylint: disable=unused-import
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import described
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import error_code
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import quote_names

# States in which Lightsail refuses UpdateContainerService (InvalidInputException) and after
# which the service comes back by itself; DELETING never comes back.
BUSY_STATES = ("PENDING", "UPDATING", "DEPLOYING")
DELETING = "DELETING"

# What a diff shows for the ARN of a role whose activation has not finished.
ARN_PLACEHOLDER = "(known after activation)"

_DEPLOYMENT_KEYS = (("currentDeployment", "current_deployment"), ("nextDeployment", "next_deployment"))


class AnsibleLightsailError(AnsibleAWSError):
    """A Lightsail call failed."""


class ServiceMissingError(AnsibleLightsailError):
    """The container service does not exist in that region."""


class ServiceUnavailableError(AnsibleLightsailError):
    """The service is being deleted, or stayed busy past the timeout; nothing was requested."""


class LightsailErrorHandler(AWSErrorHandler):
    """amazon.aws error handler for Lightsail: NotFoundException means the service is missing."""

    _CUSTOM_EXCEPTION = AnsibleLightsailError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("NotFoundException")


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def services_label(service_names, region):
    """How messages name one or several container services: names and region."""
    if len(service_names) == 1:
        return f"Lightsail container service {service_names[0]!r} in region {region or 'unknown'}"
    return f"Lightsail container services {quote_names(service_names)} in region {region or 'unknown'}"


def _raw_puller_role(service):
    return (service.get("privateRegistryAccess") or {}).get("ecrImagePullerRole") or {}


def puller_role(service):
    """The ECR image puller role of a service as ``{"is_active": bool, "principal_arn": str}``.

    This is ``privateRegistryAccess.ecrImagePullerRole``, never the service's own
    ``principalArn`` (granting that one makes deployments end as Canceled). The ARN is reported
    only while the role is active: right after a deactivation Lightsail may still show the old
    one until the update finishes, and it must not be granted anything."""
    role = _raw_puller_role(service)
    is_active = bool(role.get("isActive"))
    return {"is_active": is_active, "principal_arn": (role.get("principalArn") or "") if is_active else ""}


def puller_as_wanted(service, is_active):
    """Whether the puller role is switched as wanted; it may still be finishing (see ``puller_steady``)."""
    return puller_role(service)["is_active"] == is_active


def is_busy(service):
    """Whether the service is in a state that refuses updates but ends by itself."""
    return service.get("state") in BUSY_STATES


def puller_steady(service, is_active):
    """Whether the puller role is as wanted and done switching: active with a principal ARN (or
    inactive with none) and the service out of PENDING, UPDATING and DEPLOYING."""
    # The raw ARN, not puller_role's: after a deactivation the old ARN must be gone too.
    has_arn = bool(_raw_puller_role(service).get("principalArn"))
    return puller_as_wanted(service, is_active) and has_arn == is_active and not is_busy(service)


def state_text(service):
    """The service's state and its puller role, for messages."""
    role = puller_role(service)
    if role["is_active"]:
        arn = f"has principal ARN {role['principal_arn']}" if role["principal_arn"] else "has no principal ARN yet"
        puller = f"the puller role is active and {arn}"
    else:
        old_arn = " but still shows its old principal ARN" if _raw_puller_role(service).get("principalArn") else ""
        puller = "the puller role is inactive" + old_arn
    detail = service.get("stateDetail") or {}
    extra = f" ({detail.get('code')}: {detail.get('message')})" if detail.get("code") or detail.get("message") else ""
    return f"the service is {service.get('state', 'in an unknown state')}{extra} and {puller}"


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


# --------------------------------------------------------------------------------------------
# What a run reports (pure)
# --------------------------------------------------------------------------------------------


def reported_puller_role(outcome, is_active, check_mode):
    """The puller role after a run (a PullerOutcome; predicted in check mode), as ``(role, arn_known)``:
    ``role`` as ``puller_role`` gives it, ``arn_known`` false when the role is (or would be)
    active but its ARN is not assigned yet, so ``principal_arn`` is empty although it will not
    stay so."""
    if check_mode and outcome.changed:
        return {"is_active": is_active, "principal_arn": ""}, not is_active
    role = puller_role(outcome.after)
    return role, not (role["is_active"] and not role["principal_arn"])


def diff_puller_role(role, arn_known):
    """A role as a diff shows it: an ARN that is not known yet is the ARN_PLACEHOLDER."""
    return role if arn_known else dict(role, principal_arn=ARN_PLACEHOLDER)


def puller_report(outcome, is_active, check_mode):
    """How a run reports one service, as ``(puller, diff)``: the entry of ``pullers`` and the
    role before and after the run as a diff shows it."""
    role, arn_known = reported_puller_role(outcome, is_active, check_mode)
    puller = dict(
        service_name=outcome.service_name,
        service_arn=(outcome.after or outcome.before or {}).get("arn"),
        is_active=role["is_active"],
        principal_arn=role["principal_arn"],
        principal_arn_known=arn_known,
        principal_arn_before=puller_role(outcome.before)["principal_arn"],
        changed=outcome.changed,
    )
    return puller, dict(before=puller_role(outcome.before), after=diff_puller_role(role, arn_known))


def unknown_arn_note(pullers, check_mode, fleet):
    """Why some ``principal_arn`` are empty although their role is (or would be) active; ``""``
    when none is. ``fleet`` names the services concerned."""
    unknown = [puller for puller in pullers if not puller["principal_arn_known"]]
    would_activate = [p["service_name"] for p in unknown if check_mode and p["changed"]]
    unassigned = [p["service_name"] for p in unknown if not (check_mode and p["changed"])]
    notes = []
    if would_activate and fleet:
        notes.append(
            f"Check mode: the ECR image puller roles of {quote_names(would_activate)} would be activated; their principal "
            "ARNs cannot be known before activation, so their principal_arn is empty"
        )
    elif would_activate:
        notes.append(
            "Check mode: the ECR image puller role would be activated; its principal ARN cannot be known before "
            "activation, so principal_arn is empty"
        )
    if unassigned and fleet:
        notes.append(
            f"The ECR image puller roles of {quote_names(unassigned)} are active but Lightsail has not assigned their "
            "principal ARNs yet (activation takes about 30 seconds), so their principal_arn is empty; check mode and "
            "wait=false do not wait for them"
        )
    elif unassigned:
        notes.append(
            "The ECR image puller role is active but Lightsail has not assigned its principal ARN yet (activation takes "
            "about 30 seconds), so principal_arn is empty; check mode and wait=false do not wait for it"
        )
    return ". ".join(notes)


# --------------------------------------------------------------------------------------------
# AWS calls
# --------------------------------------------------------------------------------------------


def _missing(service_name, region, error=None):
    return ServiceMissingError(
        message=(
            f"{services_label([service_name], region)} was not found (NotFoundException); "
            "check service_name and region (a container service exists in one region only)"
        ),
        exception=error,
    )


@described(LightsailErrorHandler.list_error_handler, "get container service {service_name}")
def _get_container_service(client, service_name):
    response = client.get_container_services(serviceName=service_name)
    for service in response.get("containerServices") or []:
        if service.get("containerServiceName") == service_name:
            return service
    return None


def get_container_service(client, service_name, region):
    """The container service (boto3 shape), read by name; raises ServiceMissingError naming the
    service and region when there is no such service there."""
    service = _get_container_service(client, service_name)
    if service is None:
        raise _missing(service_name, region)
    return service


@LightsailErrorHandler.common_error_handler("list the container services of the region")
def _get_all_container_services(client):
    # GetContainerServices has no paging: without serviceName it answers every service at once.
    return client.get_container_services().get("containerServices") or []


def list_container_services(client):
    """Every container service of the client's region (boto3 shape), by name, with one
    GetContainerServices call."""
    return {service["containerServiceName"]: service for service in _get_all_container_services(client)}


@described(LightsailErrorHandler.common_error_handler, "update the ECR image puller role of container service {service_name}")
def _update_puller_role(client, service_name, is_active):
    response = client.update_container_service(serviceName=service_name, privateRegistryAccess={"ecrImagePullerRole": {"isActive": is_active}})
    return response["containerService"]


def update_puller_role(client, service_name, region, is_active):
    """Switch the puller role with UpdateContainerService, changing nothing else; returns the
    service as the update answers it. Raises ServiceMissingError when the service is gone."""
    try:
        return _update_puller_role(client, service_name, is_active)
    except AnsibleLightsailError as e:
        if error_code(e.exception) == "NotFoundException":
            raise _missing(service_name, region, e.exception) from e
        raise


@described(LightsailErrorHandler.list_error_handler, "get the deployments of container service {service_name}")
def _get_deployments(client, service_name):
    return client.get_container_service_deployments(serviceName=service_name).get("deployments") or []


def get_container_service_deployments(client, service_name, region):
    """The deployments of a container service (boto3 shape), newest first, with one
    GetContainerServiceDeployments call. Raises ServiceMissingError when the service is gone."""
    deployments = _get_deployments(client, service_name)
    if deployments is None:
        raise _missing(service_name, region)
    return deployments
