# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Lightsail container services and their ECR image puller role (private module_utils).

One small function per Lightsail call, each with amazon.aws's error handler over a jittered
retry, plus ``converge_puller_role`` (one service) and ``converge_puller_roles`` (a fleet of one
region): read, switch the puller roles that are not as wanted (waiting, bounded, while a service is
busy with something else) and wait, bounded, until the roles have settled. Both forms run the same
engine (``_PullerRun``); they differ only in how they read (one service by name, or every service
of the region in one call) and in how they report what could not be finished. botocore has no
Lightsail waiters, so every wait goes through ``_poll.jittered_sleeps``.
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

# What a diff shows for the ARN of a role whose activation has not finished.
ARN_PENDING = "(known after activation)"

# How many names a message lists before it only counts the rest.
_NAMES_LISTED = 20

# 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.
_SERVICE_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DEPLOYMENT_KEYS = (("currentDeployment", "current_deployment"), ("nextDeployment", "next_deployment"))


class AnsibleLightsailError(AnsibleAWSError):
    """A Lightsail call failed."""


class ServiceMissingError(AnsibleLightsailError):
    """The container service does not exist in that region."""


class ServiceUnavailableError(AnsibleLightsailError):
    """The service is being deleted, or stayed busy past the timeout; nothing was requested."""


class PullerBatchError(AnsibleLightsailError):
    """The fleet form could not finish every service. ``outcomes`` holds one PullerOutcome per
    service (those that could not be finished carry their ``error``); ``requested`` tells
    whether this run sent any update. ``exception`` is the botocore error when an unexpected
    API error stopped the run."""

    def __init__(self, message, outcomes, exception=None):
        super().__init__(message=message, exception=exception)
        self.outcomes = outcomes
        self.requested = any(outcome.requested for outcome in outcomes)


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


def describe_service_names(service_names, region):
    """How errors name one or several container services: names and region."""
    if len(service_names) == 1:
        return describe_service_name(service_names[0], region)
    return f"Lightsail container services {quote_names(service_names)} in region {region or 'unknown'}"


def quote_names(names, limit=_NAMES_LISTED):
    """``'a', 'b', 'c'``; past ``limit`` names, the rest is only counted."""
    shown = ", ".join(repr(name) for name in names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def unique_names(names):
    """``names`` without repeats, in first-seen order."""
    return list(dict.fromkeys(names))


def puller_role(service):
    """The ECR image puller role of a service as ``{"is_active": bool, "principal_arn": str}``.

    This is ``privateRegistryAccess.ecrImagePullerRole``, never the service's own
    ``principalArn`` (granting that one makes deployments end as Canceled). The ARN is reported
    only while the role is active: right after a deactivation Lightsail may still show the old
    one until the update finishes, and it must not be granted anything."""
    role = (service.get("privateRegistryAccess") or {}).get("ecrImagePullerRole") or {}
    is_active = bool(role.get("isActive"))
    return {"is_active": is_active, "principal_arn": (role.get("principalArn") or "") if is_active else ""}


def puller_as_wanted(service, is_active):
    """Whether the puller role is switched as wanted (the desired-state check). It may still be
    settling; see ``puller_settled``."""
    return puller_role(service)["is_active"] == is_active


def is_busy(service):
    """Whether the service is in a state that refuses updates but ends by itself."""
    return service.get("state") in BUSY_STATES


def puller_settled(service, is_active):
    """Whether the puller role is as wanted and done switching: active with a principal ARN (or
    inactive with none) and the service out of PENDING, UPDATING and DEPLOYING."""
    # The raw ARN, not puller_role's: after a deactivation the old ARN must be gone too.
    role = (service.get("privateRegistryAccess") or {}).get("ecrImagePullerRole") or {}
    has_arn = bool(role.get("principalArn"))
    return puller_as_wanted(service, is_active) and has_arn == is_active and not is_busy(service)


def reported_puller_role(outcome, is_active, check_mode):
    """The puller role after a run (predicted in check mode), as ``(role, arn_known)``:
    ``role`` as ``puller_role`` gives it, ``arn_known`` false when the role is (or would be)
    active but its ARN is not assigned yet, so ``principal_arn`` is empty although it will not
    stay so."""
    if check_mode and outcome.changed:
        return {"is_active": is_active, "principal_arn": ""}, not is_active
    role = puller_role(outcome.after)
    return role, not (role["is_active"] and not role["principal_arn"])


def diff_puller_role(role, arn_known):
    """A role as a diff shows it: an ARN that is not known yet is the ARN_PENDING placeholder."""
    return role if arn_known else dict(role, principal_arn=ARN_PENDING)


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


@LightsailErrorHandler.common_error_handler("list the container services of the region")
@lightsail_retry
def _get_all_container_services(client):
    # GetContainerServices has no paging: without serviceName it answers every service at once.
    return client.get_container_services().get("containerServices") or []


def list_container_services(client):
    """Every container service of the client's region (boto3 shape), by name, with one
    GetContainerServices call."""
    return {service["containerServiceName"]: service for service in _get_all_container_services(client)}


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


# --------------------------------------------------------------------------------------------
# The whole job
# --------------------------------------------------------------------------------------------


class PullerOutcome:
    """What a run did with one service: the service before and after, whether the role was (or
    in check mode would be) switched by this run, whether it has settled, whether this run sent
    the update, and, when the run could not finish the service, the error saying why."""

    def __init__(self, before, after, changed, settled, service_name=None, requested=None, error=None):
        self.service_name = service_name or (before or {}).get("containerServiceName")
        self.before = before
        self.after = after
        self.changed = changed
        self.settled = settled
        self.requested = changed if requested is None else requested
        self.error = error


class _TrackedService:
    """One container service during a run, and how far the run got with it."""

    def __init__(self, name, before, is_active):
        self.name = name
        self.before = before
        self.current = before
        self.would_change = not puller_as_wanted(before, is_active)
        self.needs_update = self.would_change
        self.requested = False
        self.settled = False  # with wait: settled once, no longer watched
        self.error = None  # why the run could not finish this service

    @property
    def watched(self):
        """Still being worked on: no error recorded and not settled yet."""
        return self.error is None and not self.settled


class _PullerRun:
    """Brings the puller roles of one or more services of a region to ``is_active``.

    ``read()`` returns ``{name: service}``: the single form reads its service by name (and
    raises ServiceMissingError itself), the fleet form reads the whole region in one call. The
    run reads once; in check mode that is all. Otherwise it loops: send UpdateContainerService
    to every service that needs it and accepts updates (not PENDING, UPDATING or DEPLOYING),
    stop when nothing is left to send and (with ``wait``) every role has settled, else sleep
    (``jittered_sleeps``, restarted after updates were sent) and read again. So busy services
    are waited for side by side, and each poll is one read. All waiting shares one budget of
    ``wait_timeout`` seconds, counted from before the first read.

    What cannot be finished for one service (deleted, vanished, still busy or unsettled at the
    deadline) is recorded as that service's ``error`` and does not stop the others; unexpected
    API errors propagate."""

    def __init__(self, client, region, service_names, is_active, read, wait_timeout, clock):
        self.client = client
        self.region = region
        self.service_names = service_names
        self.is_active = is_active
        self.read = read
        self.wait_timeout = wait_timeout
        self.clock = clock
        self.deadline = clock() + max(0, wait_timeout)
        self.tracked = []

    # -- steps ------------------------------------------------------------------------------

    def start(self):
        """The first read; raises ServiceMissingError naming every listed service that is not there."""
        found = self.read()
        missing = [name for name in self.service_names if name not in found]
        if missing:
            were = "was" if len(missing) == 1 else "were"
            raise ServiceMissingError(
                message=(
                    f"{describe_service_names(missing, self.region)} {were} not found (GetContainerServices lists "
                    f"{len(found)} container services there); check service_names and region (a container service "
                    "exists in one region only). Nothing was changed"
                )
            )
        self.tracked = [_TrackedService(name, found[name], self.is_active) for name in self.service_names]

    def converge(self, check_mode, wait):
        self.start()
        if check_mode:
            return
        deleting = [t.name for t in self.tracked if t.needs_update and t.current.get("state") == DELETING]
        if deleting:
            if len(deleting) == 1 and len(self.tracked) == 1:
                what = "is being deleted; the puller role was not changed"
            else:
                what = f"{'is' if len(deleting) == 1 else 'are'} being deleted; no puller role was changed and nothing was requested"
            raise ServiceUnavailableError(message=f"{describe_service_names(deleting, self.region)} {what}")
        waits = self._sleeps()
        while True:
            if self._send_updates():
                # Progress: poll from the short interval again, as the switch takes its own time.
                waits = self._sleeps()
            if self._finished(wait):
                return
            if next(waits, None) is None:
                self._time_out()
                return
            self._refresh()

    def outcomes(self, check_mode):
        """One PullerOutcome per service, in the order listed."""
        return [
            PullerOutcome(
                t.before,
                t.current,
                t.would_change if check_mode else t.requested,
                puller_settled(t.current, self.is_active),
                service_name=t.name,
                requested=t.requested,
                error=t.error,
            )
            for t in self.tracked
        ]

    # -- helpers ----------------------------------------------------------------------------

    def _sleeps(self):
        return jittered_sleeps(max(0.0, self.deadline - self.clock()), initial=POLL_INITIAL, maximum=POLL_MAXIMUM)

    def _refresh(self):
        """One read; services no longer listed are recorded as gone."""
        found = self.read()
        for t in self.tracked:
            if not t.watched:
                continue
            if t.name in found:
                t.current = found[t.name]
            else:
                t.error = ServiceMissingError(
                    message=(
                        f"{describe_service_name(t.name, self.region)} disappeared during the run (deleted?); its "
                        f"puller role was {'requested' if t.requested else 'not changed'}"
                    )
                )

    def _send_updates(self):
        """Send the update to every service that needs it and accepts it; returns whether any was sent."""
        sent = False
        refused = []
        for t in self.tracked:
            if not (t.watched and t.needs_update):
                continue
            if t.current.get("state") == DELETING:
                t.error = ServiceUnavailableError(
                    message=f"{describe_service_name(t.name, self.region)} is being deleted; the puller role was not changed"
                )
                continue
            if is_busy(t.current):
                continue
            if puller_as_wanted(t.current, self.is_active):
                # Someone else switched it while we waited: nothing left for us to request.
                t.needs_update = False
                continue
            try:
                t.current = update_puller_role(self.client, t.name, self.region, self.is_active)
            except ServiceMissingError as e:
                t.error = e
                continue
            except AnsibleLightsailError as e:
                if _error_code(e.exception) != "InvalidInputException":
                    raise
                refused.append((t, e))
                continue
            t.needs_update = False
            t.requested = True
            sent = True
        if refused:
            # Refused, most likely because the service turned busy since we read it: look again
            # (one read for all of them). Refused while accepting updates is a real error.
            self._refresh()
            for t, e in refused:
                if t.error is None and not (is_busy(t.current) or t.current.get("state") == DELETING):
                    raise e
        return sent

    def _finished(self, wait):
        finished = True
        for t in self.tracked:
            if not t.watched:
                continue
            if t.needs_update:
                finished = False
            elif wait:
                if puller_settled(t.current, self.is_active):
                    t.settled = True
                else:
                    finished = False
        return finished

    def _time_out(self):
        """Record, for every service not finished, what the deadline found it doing."""
        for t in self.tracked:
            if not t.watched:
                continue
            where = describe_service_name(t.name, self.region)
            if t.needs_update:
                t.error = ServiceUnavailableError(
                    message=(
                        f"{where} stayed busy for wait_timeout={self.wait_timeout}s ({_state_text(t.current)}); "
                        "Lightsail refuses updates in that state, so the puller role was not changed and nothing was "
                        "requested. Run again when the service is READY, RUNNING or DISABLED, or raise wait_timeout"
                    )
                )
                continue
            verb = "activation" if self.is_active else "deactivation"
            if t.requested:
                what = (
                    f"{verb} of the ECR image puller role of {where} was requested (UpdateContainerService accepted), "
                    f"but after wait_timeout={self.wait_timeout}s {_state_text(t.current)}. The request stands: run "
                    "again later (it will not be sent twice) or raise wait_timeout"
                )
            else:
                what = (
                    f"the ECR image puller role of {where} is already switched ({verb} in progress, not requested by "
                    f"this run), but after wait_timeout={self.wait_timeout}s {_state_text(t.current)}. Run again later "
                    "or raise wait_timeout"
                )
            t.error = PullerWaitTimeout(what, t.current, t.requested)


def converge_puller_role(client, service_name, region, is_active, check_mode=False, wait=True, wait_timeout=300, clock=time.monotonic):
    """Bring the ECR image puller role of a container service to ``is_active``.

    Reads the service once (by name); when the role is already as wanted nothing is written
    (with ``wait``, a switch still in progress is waited for). Otherwise, unless in check mode,
    waits while the service is PENDING, UPDATING or DEPLOYING (Lightsail refuses updates then),
    sends one UpdateContainerService that only sets ``privateRegistryAccess.ecrImagePullerRole``,
    and with ``wait`` polls until the role has settled (see ``puller_settled``). All waiting
    shares one budget of ``wait_timeout`` seconds. Returns a PullerOutcome; raises
    ServiceMissingError, ServiceUnavailableError (nothing requested), PullerWaitTimeout or
    AnsibleLightsailError."""

    def read():
        return {service_name: get_container_service(client, service_name, region)}

    run = _PullerRun(client, region, [service_name], is_active, read, wait_timeout, clock)
    run.converge(check_mode, wait)
    outcome = run.outcomes(check_mode)[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome


def converge_puller_roles(client, service_names, region, is_active, check_mode=False, wait=True, wait_timeout=300, clock=time.monotonic):
    """The fleet form of ``converge_puller_role``: bring the puller roles of all ``service_names``
    (one region, the client's) to ``is_active`` in one run.

    Reads every container service of the region with one GetContainerServices call and raises
    ServiceMissingError naming all listed services that are not there, before any write (and
    ServiceUnavailableError, also before any write, when a service to switch is being deleted).
    Then works as the single form, on all services side by side: updates go to the services
    that need them (busy ones when they accept updates), and every poll is one read of the
    region. Returns one PullerOutcome per service, in the order given (repeats dropped). Raises
    PullerBatchError, carrying every service's outcome, when some services could not be
    finished (timeout, deleted meanwhile) or an API error stopped the run after updates had
    been sent."""
    names = unique_names(service_names)
    run = _PullerRun(client, region, names, is_active, lambda: list_container_services(client), wait_timeout, clock)
    try:
        run.converge(check_mode, wait)
    except AnsibleLightsailError as e:
        requested = [t.name for t in run.tracked if t.requested]
        if not requested:
            raise
        unsent = [t.name for t in run.tracked if t.needs_update and not t.requested]
        message = f"{e.message}. Before that, UpdateContainerService was accepted for {quote_names(requested)} (those requests stand)"
        if unsent:
            message += f"; not switched: {quote_names(unsent)}"
        raise PullerBatchError(message, run.outcomes(check_mode), exception=e.exception) from e
    outcomes = run.outcomes(check_mode)
    unfinished = [outcome for outcome in outcomes if outcome.error is not None]
    if unfinished:
        finished = [outcome.service_name for outcome in outcomes if outcome.error is None]
        message = (
            f"{len(unfinished)} of {len(outcomes)} listed container services in region {region} are not done: "
            + "; ".join(outcome.error.message for outcome in unfinished)
            + (f". The others ({quote_names(finished)}) are done" if finished else ". None is done")
            + "; pullers has every service's result"
        )
        raise PullerBatchError(message, outcomes)
    return outcomes
