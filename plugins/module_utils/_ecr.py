# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ECR repository policy calls and the write loop of one repository policy (private module_utils).

One small helper per ECR call, each with amazon.aws's error handler; botocore retries them
(``_aws.CLIENT_CONFIG``). ``plan_policy`` reads a policy and works out a change; ``apply_policy``
writes it and reads it back, writing again when another writer replaced it meanwhile.
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import described
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import error_code
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import is_transient
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import jittered_sleeps
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import settle
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import check_size
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import documents_equivalent
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import parse_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import render_policy

# What ECR answers (InvalidParameterException) for a principal IAM has not propagated yet.
PRINCIPAL_NOT_FOUND = "principal not found"


class AnsibleECRError(AnsibleAWSError):
    """An ECR call failed."""


class RepositoryMissingError(AnsibleECRError):
    """The repository does not exist (in that registry and region)."""


class ConcurrentWriteError(AnsibleECRError):
    """Other writers kept replacing the policy; we gave up after the bounded retries."""


class ECRErrorHandler(AWSErrorHandler):
    """amazon.aws error handler for ECR: a missing repository policy is 'nothing there'."""

    _CUSTOM_EXCEPTION = AnsibleECRError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("RepositoryPolicyNotFoundException")


def _repository_params(repository, registry_id):
    params = {"repositoryName": repository}
    if registry_id:
        params["registryId"] = registry_id
    return params


def describe_repository_name(repository, registry_id, region):
    """How errors name a repository: name, registry and region."""
    registry = f"registry {registry_id}" if registry_id else "the caller's registry"
    return f"repository {repository!r} in {registry} (region {region or 'unknown'})"


def _raise_if_repository_missing(error, repository, registry_id, region):
    if error_code(error) == "RepositoryNotFoundException":
        raise RepositoryMissingError(
            message=(
                f"{describe_repository_name(repository, registry_id, region)} does not exist; create it first, "
                "or check repository, registry_id and region"
            ),
            exception=error,
        ) from error


@described(ECRErrorHandler.list_error_handler, "get the policy of repository {repository}", default_value=(None, None))
def _get_repository_policy(client, repository, registry_id):
    response = client.get_repository_policy(**_repository_params(repository, registry_id))
    return response.get("policyText"), response.get("registryId")


def get_repository_policy(client, repository, registry_id=None, region=None):
    """Return ``(policy_text_or_None, registry_id_or_None)`` of a repository.

    Raises RepositoryMissingError naming registry and region when the repository is missing."""
    try:
        return _get_repository_policy(client, repository, registry_id)
    except AnsibleECRError as e:
        _raise_if_repository_missing(e.exception, repository, registry_id, region)
        raise


@described(ECRErrorHandler.common_error_handler, "describe repository {repository}")
def _describe_repository(client, repository, registry_id):
    response = client.describe_repositories(repositoryNames=[repository], **({"registryId": registry_id} if registry_id else {}))
    return response["repositories"][0]


def describe_repository(client, repository, registry_id=None, region=None):
    """Return the repository description (registryId, repositoryArn, ...)."""
    try:
        return _describe_repository(client, repository, registry_id)
    except AnsibleECRError as e:
        _raise_if_repository_missing(e.exception, repository, registry_id, region)
        raise


@described(ECRErrorHandler.common_error_handler, "set the policy of repository {repository}")
def _set_repository_policy(client, repository, registry_id, policy_text, force):
    params = dict(_repository_params(repository, registry_id), policyText=policy_text)
    if force:
        params["force"] = True
    return client.set_repository_policy(**params)


@described(ECRErrorHandler.deletion_error_handler, "delete the policy of repository {repository}")
def delete_repository_policy(client, repository, registry_id=None):
    """Delete a repository policy once (``apply_policy`` retries); False when there was none."""
    client.delete_repository_policy(**_repository_params(repository, registry_id))
    return True


def _is_principal_not_found(error):
    details = (getattr(error, "response", None) or {}).get("Error", {})
    return details.get("Code") == "InvalidParameterException" and PRINCIPAL_NOT_FOUND in str(details.get("Message", "")).lower()


def set_repository_policy(client, repository, policy_text, refresh, registry_id=None, force=False, propagation_timeout=120, region=None):
    """Write a repository policy; returns the registry id ECR answers with.

    Every retry writes the text ``refresh()`` makes from a fresh read, never the old text: after
    throttling, a server error or a dropped connection, and while ECR rejects a principal IAM has
    not propagated yet ("Principal not found"), for up to ``propagation_timeout`` seconds."""
    waits = jittered_sleeps(propagation_timeout, initial=2.0, maximum=15.0)
    transient = jittered_sleeps(propagation_timeout, initial=1.0, maximum=20.0)
    while True:
        try:
            return _set_repository_policy(client, repository, registry_id, policy_text, force).get("registryId")
        except AnsibleECRError as e:
            _raise_if_repository_missing(e.exception, repository, registry_id, region)
            if is_transient(e.exception):
                if not next(transient, 0):
                    raise
            elif not _is_principal_not_found(e.exception):
                raise
            elif not next(waits, 0):
                raise AnsibleECRError(
                    message=(
                        f"ECR kept rejecting the policy of repository {repository} for {propagation_timeout}s because a "
                        "principal was not found; if the role or user was created just now IAM may need longer (raise "
                        "propagation_timeout), otherwise check that every principal exists"
                    ),
                    exception=e.exception,
                ) from e
            policy_text = refresh()


class _ReadAgain(Exception):
    """The fresh read before a retried write calls for no write (already as wanted, or a delete):
    ``apply_policy`` goes on from that read."""

    def __init__(self, current):
        super().__init__()
        self.current = current


class PolicyChange:
    """A repository policy change: before/after documents, whether they differ, and what it takes
    to apply it (``plan_policy`` makes one, ``apply_policy`` writes it)."""

    def __init__(self, repository, registry_id, region, apply_change, before, after):
        self.repository = repository
        self.registry_id = registry_id
        self.region = region
        self.apply_change = apply_change
        self.before = before
        self.after = after
        self.changed = not documents_equivalent(before, after)
        self.attempts = 0
        self.read_at = None

    @property
    def where(self):
        """How messages name the policy."""
        return f"the policy of {describe_repository_name(self.repository, self.registry_id, self.region)}"

    def read(self, client):
        """The policy as it is now (parsed); remembers the registry id ECR answers with."""
        text, registry_id = get_repository_policy(client, self.repository, self.registry_id, self.region)
        self.read_at = time.monotonic()
        self.registry_id = self.registry_id or registry_id
        return parse_policy(text, self.where)

    def wanted(self, current):
        """The change applied to ``current``; raises PolicyError when that is over ECR's size limit."""
        wanted = self.apply_change(current)
        if wanted is not None and not documents_equivalent(current, wanted):
            check_size(render_policy(wanted), f"the new policy of {describe_repository_name(self.repository, self.registry_id, self.region)}")
        return wanted


def plan_policy(client, repository, apply_change, registry_id=None, region=None):
    """Read a repository policy and work out what ``apply_change`` makes of it, writing nothing.

    ``apply_change(document_or_None) -> document_or_None`` must be pure and idempotent (None: no
    policy at all). Raises PolicyError (a stored policy we cannot use, a result over ECR's size
    limit) or RepositoryMissingError."""
    change = PolicyChange(repository, registry_id, region, apply_change, None, None)
    change.before = change.read(client)
    change.after = change.wanted(change.before)
    change.changed = not documents_equivalent(change.before, change.after)
    if not change.changed:
        change.after = change.before
    return change


def apply_policy(client, change, force=False, propagation_timeout=120, verify_delay=1.0, max_writes=6, write_client=None):
    """Write a planned change and return it with ``after`` as read back.

    SetRepositoryPolicy has no revision check: the change is applied to a fresh read before each
    write and read back ``verify_delay`` (jittered) after it; when another writer replaced the
    policy meanwhile, it is written again, up to ``max_writes`` writes. ``write_client`` must not
    retry by itself (``_aws.WRITE_CLIENT_CONFIG``): failed writes are retried here, on a fresh read."""
    if not change.changed:
        return change
    write_client = write_client or client

    def refresh():
        fresh = change.read(client)
        wanted = change.wanted(fresh)
        if wanted is None or documents_equivalent(fresh, wanted):
            raise _ReadAgain(fresh)
        return render_policy(wanted)

    transient = jittered_sleeps(propagation_timeout, initial=1.0, maximum=20.0)
    # The read-back, at least three quarters of verify_delay after the write, catches a writer whose
    # read-to-write gap is shorter than that; a plan read younger than a quarter of it is as fresh as a new one.
    if change.read_at is not None and time.monotonic() - change.read_at < verify_delay / 4:
        current = change.before
    else:
        current = change.read(client)
    while change.attempts < max_writes:
        wanted = change.wanted(current)
        if documents_equivalent(current, wanted):
            change.after = current
            return change
        if wanted is None:
            try:
                delete_repository_policy(write_client, change.repository, change.registry_id)
            except AnsibleECRError as e:
                if not is_transient(e.exception) or not next(transient, 0):
                    raise
                # Maybe deleted after all: look again before anything else.
                current = change.read(client)
                continue
        else:
            try:
                written_registry = set_repository_policy(
                    write_client, change.repository, render_policy(wanted), refresh, change.registry_id, force, propagation_timeout, change.region
                )
            except _ReadAgain as e:
                current = e.current
                continue
            change.registry_id = change.registry_id or written_registry
        change.attempts += 1
        settle(verify_delay)
        current = change.read(client)
        if documents_equivalent(current, change.apply_change(current)):
            change.after = current
            return change
    raise ConcurrentWriteError(
        message=(
            f"gave up on {change.where} after {max_writes} writes: other writers kept replacing it. Run again, or have "
            "fewer writers update the same repository at once (see the role's aggregation)"
        )
    )


@ECRErrorHandler.common_error_handler("list the repositories of the registry")
def _list_repositories(client, registry_id):
    paginator = client.get_paginator("describe_repositories")
    return paginator.paginate(**({"registryId": registry_id} if registry_id else {})).build_full_result()["repositories"]


def list_repositories(client, registry_id=None):
    """Every repository of a registry (the caller's when ``registry_id`` is None) in the client's
    region, boto3 shape, read page by page."""
    return _list_repositories(client, registry_id)
