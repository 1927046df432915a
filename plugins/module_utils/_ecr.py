# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ECR repository policy calls and the verify-and-retry policy update (private module_utils).

One small function per ECR call, each with amazon.aws's error handler over a jittered retry.
``converge_policy`` is the read / change / write / read-back loop that every module writing a
repository policy goes through: ``SetRepositoryPolicy`` has no revision check, so after a write
we read the policy back, and when another writer replaced it meanwhile we apply our change to
what is there now and write again.
"""

try:
    import botocore  # pylint: disable=unused-import
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.pullaccess.aws.plugins.module_utils._poll import jittered_sleeps
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import settle
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import check_size
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import documents_equivalent
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import parse_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import render_policy

# AWSRetry's default codes do not include ECR's own throttling and server error codes.
ECR_RETRYABLE_CODES = ["ThrottlingException", "ServerException", "LimitExceededException"]
ecr_retry = AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=20, catch_extra_error_codes=ECR_RETRYABLE_CODES)

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


def _error_code(error):
    return (getattr(error, "response", None) or {}).get("Error", {}).get("Code")


def _raise_if_repository_missing(error, repository, registry_id, region):
    if _error_code(error) == "RepositoryNotFoundException":
        raise RepositoryMissingError(
            message=(
                f"{describe_repository_name(repository, registry_id, region)} does not exist; create it first, "
                "or check repository, registry_id and region"
            ),
            exception=error,
        ) from error


@ECRErrorHandler.list_error_handler("get the policy of repository {repository}", default_value=(None, None))
@ecr_retry
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


@ECRErrorHandler.common_error_handler("describe repository {repository}")
@ecr_retry
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


def _set_repository_policy_once(client, repository, registry_id, policy_text, force):
    params = _repository_params(repository, registry_id)
    params["policyText"] = policy_text
    if force:
        params["force"] = True
    return client.set_repository_policy(**params)


_set_repository_policy = ecr_retry(_set_repository_policy_once)


def is_transient(error):
    """Whether a failed call is worth repeating: throttling, a server error or a connection
    that failed or dropped (botocore exceptions other than ClientError)."""
    if isinstance(error, botocore.exceptions.ClientError):
        status = (getattr(error, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return _error_code(error) in ECR_RETRYABLE_CODES + ["Throttling", "ThrottledException", "RequestLimitExceeded"] or status >= 500
    return isinstance(error, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError))


def _is_principal_not_found(error):
    response = getattr(error, "response", None) or {}
    details = response.get("Error", {})
    return details.get("Code") == "InvalidParameterException" and PRINCIPAL_NOT_FOUND in str(details.get("Message", "")).lower()


def set_repository_policy(client, repository, policy_text, registry_id=None, force=False, propagation_timeout=120, region=None,
                          refresh=None):
    """Write a repository policy; returns the registry id ECR answers with.

    ECR rejects a policy naming an IAM principal it cannot see yet ("Principal not found") for a
    while after the principal was created; that rejection is retried until
    ``propagation_timeout`` seconds have passed.

    Without ``refresh``, throttling and server errors are retried by ``ecr_retry`` with the same
    text. With ``refresh``, every retry (also after throttling, a server error or a dropped
    connection) writes the text ``refresh()`` gives, made from a fresh read, so that no retry
    writes a policy read long ago; ``client`` should then not retry by itself either
    (``WRITE_CLIENT_CONFIG``)."""
    waits = jittered_sleeps(propagation_timeout, initial=2.0, maximum=15.0)
    transient = jittered_sleeps(propagation_timeout, initial=1.0, maximum=20.0)
    while True:
        try:
            if refresh is None:
                response = _set_repository_policy(client, repository, registry_id, policy_text, force)
            else:
                response = _set_repository_policy_once(client, repository, registry_id, policy_text, force)
            return response.get("registryId")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            _raise_if_repository_missing(e, repository, registry_id, region)
            if refresh is not None and is_transient(e):
                if not next(transient, 0):
                    raise AnsibleECRError(message=f"Failed to set the policy of repository {repository}", exception=e) from e
                policy_text = refresh()
                continue
            if not _is_principal_not_found(e):
                raise AnsibleECRError(message=f"Failed to set the policy of repository {repository}", exception=e) from e
            if not next(waits, 0):
                raise AnsibleECRError(
                    message=(
                        f"ECR kept rejecting the policy of repository {repository} for {propagation_timeout}s because a "
                        "principal was not found; if the role or user was created just now IAM may need longer (raise "
                        "propagation_timeout), otherwise check that every principal exists"
                    ),
                    exception=e,
                ) from e
            if refresh is not None:
                policy_text = refresh()


@ECRErrorHandler.deletion_error_handler("delete the policy of repository {repository}")
def delete_repository_policy_once(client, repository, registry_id=None):
    """Delete a repository policy, without retrying (``apply_policy`` retries on a fresh read);
    False when there was none."""
    client.delete_repository_policy(**_repository_params(repository, registry_id))
    return True


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

    @property
    def where(self):
        """How messages name the policy."""
        return f"the policy of {describe_repository_name(self.repository, self.registry_id, self.region)}"


def plan_policy(client, repository, apply_change, registry_id=None, region=None):
    """Read a repository policy and work out what ``apply_change`` makes of it, writing nothing.

    ``apply_change(document_or_None) -> document_or_None`` must be pure and idempotent: it gets
    the current policy (parsed) and returns the policy wanted (None: no policy at all). Raises
    PolicyError for a stored policy we cannot use or a result over ECR's size limit, and
    RepositoryMissingError, before anything is written."""
    text, found_registry = get_repository_policy(client, repository, registry_id, region)
    change = PolicyChange(repository, found_registry or registry_id, region, apply_change, None, None)
    change.before = parse_policy(text, change.where)
    change.after = apply_change(change.before)
    change.changed = not documents_equivalent(change.before, change.after)
    if not change.changed:
        change.after = change.before
    elif change.after is not None:
        check_size(render_policy(change.after), f"the new {change.where}")
    return change


def apply_policy(client, change, force=False, propagation_timeout=120, verify_delay=1.0, max_writes=6, write_client=None):
    """Write a planned change, safely under concurrency, and return it with ``after`` as read back.

    SetRepositoryPolicy has no revision check, so two things keep other writers' statements:

    * the change is applied to the policy as read right before each write (not to the one read
      when planning, which another writer may have replaced since);
    * after a write the policy is read back after a jittered ``verify_delay`` (at least three
      quarters of it). A writer that read before our write and writes after it has, by then,
      written (its read-to-write gap is far shorter), so when applying the change to what is
      there would change it again, another writer replaced it meanwhile, and the change is
      applied and written again, up to ``max_writes`` writes.

    Reusing the planning read would save a read per write, but widens the read-to-write gap by
    the time between planning and writing; under load (20 jobs on 2 cores) that let a revoked
    statement come back in the concurrency test, so the policy is always read again.

    All writers of a repository should use the same ``verify_delay`` for this to hold. A write
    that fails for throttling, a server error or a dropped connection is retried on a fresh read
    each time, never with the old text; so that no write waits long after its read, give a
    ``write_client`` that does not retry by itself (``WRITE_CLIENT_CONFIG``)."""
    write_client = write_client or client
    if not change.changed:
        return change
    text, read_registry = get_repository_policy(client, change.repository, change.registry_id, change.region)
    current = parse_policy(text, change.where)

    def refresh():
        text, dummy_registry = get_repository_policy(client, change.repository, change.registry_id, change.region)
        wanted = change.apply_change(parse_policy(text, change.where))
        if wanted is None:
            return render_policy(change.after)
        check_size(render_policy(wanted), f"the new {change.where}")
        return render_policy(wanted)

    transient = jittered_sleeps(propagation_timeout, initial=1.0, maximum=20.0)
    while change.attempts < max_writes:
        wanted = change.apply_change(current)
        if documents_equivalent(current, wanted):
            change.after = current
            change.registry_id = change.registry_id or read_registry
            return change
        if wanted is not None:
            check_size(render_policy(wanted), f"the new {change.where}")
        if wanted is None:
            try:
                delete_repository_policy_once(write_client, change.repository, change.registry_id)
            except AnsibleECRError as e:
                if not is_transient(e.exception) or not next(transient, 0):
                    raise
                # Not deleted, or deleted and answered too late: look again before anything else.
                text, read_registry = get_repository_policy(client, change.repository, change.registry_id, change.region)
                current = parse_policy(text, change.where)
                continue
        else:
            written_registry = set_repository_policy(
                write_client, change.repository, render_policy(wanted), change.registry_id, force, propagation_timeout, change.region,
                refresh,
            )
            change.registry_id = change.registry_id or written_registry
        change.attempts += 1
        settle(verify_delay)
        text, read_registry = get_repository_policy(client, change.repository, change.registry_id, change.region)
        current = parse_policy(text, change.where)
        if documents_equivalent(current, change.apply_change(current)):
            change.after = current
            change.registry_id = change.registry_id or read_registry
            return change
    raise ConcurrentWriteError(
        message=(
            f"gave up on {change.where} after {max_writes} writes: other writers kept replacing it. Run again, or have "
            "fewer writers update the same repository at once (see the role's aggregation)"
        )
    )


def converge_policy(client, repository, apply_change, registry_id=None, region=None, check_mode=False, **write_options):
    """Plan a repository policy change and, unless in check mode, apply it (see ``plan_policy``
    and ``apply_policy``)."""
    change = plan_policy(client, repository, apply_change, registry_id, region)
    if check_mode:
        return change
    return apply_policy(client, change, **write_options)
