# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine behind lightsail_ecr_puller (private module_utils): bring the ECR image puller
roles of listed container services of one region to a wanted state.

``converge_puller_roles`` reads, plans (``plan_switches``, ``switch_step``: pure), switches the
roles that are not as wanted, waiting side by side, bounded, for services that are busy with
something else, and (with ``wait``) waits until every role is steady. The module's single form
is a one-element list read by name. botocore has no Lightsail waiters, so every wait goes
through ``_poll.jittered_sleeps``. How an outcome is reported is in ``_lightsail``.
"""

import time

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import error_code
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import quote_names
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import DELETING
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import AnsibleLightsailError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ServiceMissingError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import ServiceUnavailableError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import get_container_service
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import is_busy
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import list_container_services
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_as_wanted
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_steady
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import services_label
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import state_text
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import update_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import jittered_sleeps

# Polling between GetContainerServices calls: AWS documents about 30 s for an activation.
POLL_INITIAL = 2.0
POLL_MAXIMUM = 10.0

# Where a listed service's puller role is during a run.
TO_SWITCH = "to switch"  # this run still has to send the update
SWITCHED = "switched"  # as wanted (switched by this run or found so), perhaps not steady yet
DONE = "done"  # steady (recorded only with wait); no longer read

# What ``switch_step`` tells the run to do with a service whose role it still has to switch.
STEP_GIVE_UP = "give up"  # being deleted: it will not accept updates again
STEP_WAIT = "wait"  # busy: Lightsail refuses updates now
STEP_NONE = "none"  # someone else switched it meanwhile: nothing to send
STEP_SEND = "send"


class PullerTimeoutError(AnsibleLightsailError):
    """The puller role is switched (by this run or before it) but was not steady in time."""


class PullerRunError(AnsibleLightsailError):
    """The run could not finish every service. ``outcomes`` holds one PullerOutcome per listed
    service (those not finished carry their ``error``); ``requested`` tells whether the run
    sent any update; ``exception`` is the botocore error when an API error stopped the run."""

    def __init__(self, message, outcomes, exception=None):
        super().__init__(message=message, exception=exception)
        self.outcomes = outcomes
        self.requested = any(outcome.requested for outcome in outcomes)


class PullerOutcome:
    """What a run did with one service: the service before and after, whether its role was (in
    check mode: would be) switched by this run, whether the role is steady, whether this run
    sent the update, and, when the run could not finish the service, the error saying why."""

    def __init__(self, service_name, before, after, changed, steady=False, requested=False, error=None):
        self.service_name = service_name
        self.before = before
        self.after = after
        self.changed = changed
        self.steady = steady
        self.requested = requested
        self.error = error


# --------------------------------------------------------------------------------------------
# Planning (pure)
# --------------------------------------------------------------------------------------------


def plan_switches(found, service_names, is_active):
    """What the first read means, as ``(missing, to_switch, deleting)``: the listed services not
    in ``found`` (``{name: service}``), those whose role is not as wanted (check mode reports
    them as changed), and of those the ones being deleted (they stop a real run before any write)."""
    missing = [name for name in service_names if name not in found]
    to_switch = [name for name in service_names if name in found and not puller_as_wanted(found[name], is_active)]
    deleting = [name for name in to_switch if found[name].get("state") == DELETING]
    return missing, to_switch, deleting


def switch_step(service, is_active):
    """What to do now with a service whose role the run still has to switch, given the service
    as last read: one of STEP_GIVE_UP, STEP_WAIT, STEP_NONE, STEP_SEND."""
    if service.get("state") == DELETING:
        return STEP_GIVE_UP
    if is_busy(service):
        return STEP_WAIT
    if puller_as_wanted(service, is_active):
        return STEP_NONE
    return STEP_SEND


def timeout_error(service_name, region, service, status, requested, is_active, wait_timeout):
    """Why a service was not finished at the deadline: still busy with the update not sent
    (ServiceUnavailableError), or switched but not steady (PullerTimeoutError)."""
    where = services_label([service_name], region)
    if status == TO_SWITCH:
        return ServiceUnavailableError(
            message=(
                f"{where} stayed busy for wait_timeout={wait_timeout}s ({state_text(service)}); Lightsail refuses "
                "updates in that state, so the puller role was not changed and nothing was requested. Run again when "
                "the service is READY, RUNNING or DISABLED, or raise wait_timeout"
            )
        )
    verb = "activation" if is_active else "deactivation"
    if requested:
        return PullerTimeoutError(
            message=(
                f"{verb} of the ECR image puller role of {where} was requested (UpdateContainerService accepted), but "
                f"after wait_timeout={wait_timeout}s {state_text(service)}. The request stands: run again later (it will "
                "not be sent twice) or raise wait_timeout"
            )
        )
    return PullerTimeoutError(
        message=(
            f"the ECR image puller role of {where} is already switched ({verb} in progress, not requested by this "
            f"run), but after wait_timeout={wait_timeout}s {state_text(service)}. Run again later or raise wait_timeout"
        )
    )


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


class _Service:
    """One listed container service during a run: where its role is (``status``), whether this
    run sent the update, and why the run gave up on it (``error``)."""

    def __init__(self, name, before, status):
        self.name = name
        self.before = before
        self.current = before
        self.status = status
        self.requested = False
        self.error = None

    @property
    def watched(self):
        return self.error is None and self.status != DONE


class _PullerRun:
    """Brings the puller roles of listed services of one region to ``is_active``.

    ``read()`` returns ``{name: service}``. The run reads once; in check mode that is all.
    Otherwise it loops: send UpdateContainerService to every service whose role is to switch and
    that accepts updates, stop when nothing is left to send and (with ``wait``) every role is
    steady, else sleep (``jittered_sleeps``, restarted after updates were sent) and read again,
    one read for all. All waiting shares one budget of ``wait_timeout`` seconds, counted from
    before the first read. What cannot be finished for one service is recorded as its ``error``
    and does not stop the others; unexpected API errors propagate."""

    def __init__(self, client, region, is_active, read, wait_timeout, clock):
        self.client = client
        self.region = region
        self.is_active = is_active
        self.read = read
        self.wait_timeout = wait_timeout
        self.clock = clock
        self.deadline = clock() + max(0, wait_timeout)
        self.services = []

    def start(self, service_names, check_mode):
        """The first read; raises, before any write, ServiceMissingError naming every listed
        service that is not there and (not in check mode) ServiceUnavailableError naming every
        service to switch that is being deleted."""
        found = self.read()
        missing, to_switch, deleting = plan_switches(found, service_names, self.is_active)
        if missing:
            were = "was" if len(missing) == 1 else "were"
            raise ServiceMissingError(
                message=(
                    f"{services_label(missing, self.region)} {were} not found (GetContainerServices lists {len(found)} "
                    "container services there); check service_names and region (a container service exists in one "
                    "region only). Nothing was changed"
                )
            )
        self.services = [_Service(name, found[name], TO_SWITCH if name in to_switch else SWITCHED) for name in service_names]
        if deleting and not check_mode:
            if len(deleting) == 1 and len(service_names) == 1:
                what = "is being deleted; the puller role was not changed"
            else:
                what = f"{'is' if len(deleting) == 1 else 'are'} being deleted; no puller role was changed and nothing was requested"
            raise ServiceUnavailableError(message=f"{services_label(deleting, self.region)} {what}")

    def run(self, wait):
        waits = self._sleeps()
        while True:
            if self._send_updates():
                # Progress: poll from the short interval again, as the switch takes its own time.
                waits = self._sleeps()
            if self._finished(wait):
                return
            if next(waits, None) is None:
                for service in self._watched():
                    service.error = timeout_error(
                        service.name, self.region, service.current, service.status, service.requested, self.is_active, self.wait_timeout
                    )
                return
            self._refresh()

    def stop(self, error):
        """An API error stopped the run: it is why every service still watched is not finished."""
        for service in self._watched():
            service.error = error

    def outcomes(self, check_mode):
        """One PullerOutcome per listed service, in the order listed."""
        return [
            PullerOutcome(
                s.name,
                s.before,
                s.current,
                s.status == TO_SWITCH if check_mode else s.requested,
                steady=puller_steady(s.current, self.is_active),
                requested=s.requested,
                error=s.error,
            )
            for s in self.services
        ]

    def _watched(self):
        return [service for service in self.services if service.watched]

    def _sleeps(self):
        return jittered_sleeps(max(0.0, self.deadline - self.clock()), initial=POLL_INITIAL, maximum=POLL_MAXIMUM)

    def _refresh(self):
        """One read; services no longer listed are recorded as gone."""
        found = self.read()
        for service in self._watched():
            if service.name in found:
                service.current = found[service.name]
            else:
                service.error = ServiceMissingError(
                    message=(
                        f"{services_label([service.name], self.region)} disappeared during the run (deleted?); its "
                        f"puller role was {'requested' if service.requested else 'not changed'}"
                    )
                )

    def _send_updates(self):
        """Send the update to every service that is to switch and accepts it; returns whether any was sent."""
        sent = False
        refused = []
        for service in self._watched():
            if service.status != TO_SWITCH:
                continue
            step = switch_step(service.current, self.is_active)
            if step == STEP_GIVE_UP:
                service.error = ServiceUnavailableError(
                    message=f"{services_label([service.name], self.region)} is being deleted; the puller role was not changed"
                )
            elif step == STEP_NONE:
                service.status = SWITCHED
            elif step == STEP_SEND:
                try:
                    service.current = update_puller_role(self.client, service.name, self.region, self.is_active)
                except ServiceMissingError as e:
                    service.error = e
                    continue
                except AnsibleLightsailError as e:
                    if error_code(e.exception) != "InvalidInputException":
                        raise
                    refused.append((service, e))
                    continue
                service.status, service.requested, sent = SWITCHED, True, True
        if refused:
            # Refused, most likely because the service turned busy since we read it: look again
            # (one read for all of them). Refused while accepting updates is a real error.
            self._refresh()
            for service, e in refused:
                if service.error is None and switch_step(service.current, self.is_active) not in (STEP_GIVE_UP, STEP_WAIT):
                    raise e
        return sent

    def _finished(self, wait):
        finished = True
        for service in self._watched():
            if service.status == TO_SWITCH:
                finished = False
            elif wait:
                if puller_steady(service.current, self.is_active):
                    service.status = DONE
                else:
                    finished = False
        return finished


def converge_puller_roles(client, service_names, region, is_active, check_mode=False, wait=True, wait_timeout=300, read_by_name=False, clock=time.monotonic):
    """Bring the ECR image puller roles of ``service_names`` (one region, the client's) to ``is_active``.

    Reads every container service of the region with one GetContainerServices call (with
    ``read_by_name``, each listed service by its name), then switches only the roles that are
    not as wanted, with UpdateContainerService setting only ``privateRegistryAccess``. Returns
    one PullerOutcome per service, in the order given (repeats dropped). Raises, before any
    write, ServiceMissingError or ServiceUnavailableError (a service to switch is being
    deleted); PullerRunError, carrying every service's outcome, when some services could not be
    finished or an API error stopped the run after updates had been sent; other API errors as
    they are."""
    names = list(dict.fromkeys(service_names))
    if not names:
        return []

    def read():
        if read_by_name:
            return {name: get_container_service(client, name, region) for name in names}
        return list_container_services(client)

    run = _PullerRun(client, region, is_active, read, wait_timeout, clock)
    run.start(names, check_mode)
    if not check_mode:
        try:
            run.run(wait)
        except AnsibleLightsailError as e:
            run.stop(e)
            requested = [service.name for service in run.services if service.requested]
            if not requested:
                raise
            unsent = [service.name for service in run.services if service.status == TO_SWITCH]
            message = f"{e.message}. Before that, UpdateContainerService was accepted for {quote_names(requested)} (those requests stand)"
            if unsent:
                message += f"; not switched: {quote_names(unsent)}"
            raise PullerRunError(message, run.outcomes(check_mode), exception=e.exception) from e
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
        raise PullerRunError(message, outcomes)
    return outcomes
