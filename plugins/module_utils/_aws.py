# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How the collection calls AWS (private module_utils): the one retry policy, the client
settings, the error-code helpers and ``run_all``, which runs one step for many items side by side.

The retry policy (docs/reliability.md says what it costs in time):

* every client retries in botocore itself, standard mode, ``MAX_ATTEMPTS`` attempts: throttling,
  5xx answers and failed or dropped connections. The AWS-call helpers carry amazon.aws's error
  handlers but no AWSRetry of their own, so nothing is retried twice over;
* repository policy writes use ``WRITE_CLIENT_CONFIG`` (one attempt): the policy engine retries
  a failed write on a fresh read, never with the text of an old one (``_ecr.apply_policy``);
* waiting for AWS to finish something (a Lightsail activation, IAM propagation into ECR) is
  polling, bounded by the module's timeout options (``_poll.jittered_sleeps``).
"""

import functools
import inspect
from concurrent.futures import ThreadPoolExecutor

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

#: Threads a module runs the same step in, and the size of each client's connection pool.
WORKERS = 16
#: botocore standard mode: at most 10 attempts, sleeping up to min(20, 2 ** (attempt - 1)) s between.
MAX_ATTEMPTS = 10
CLIENT_CONFIG = {"retries": {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, "max_pool_connections": WORKERS}
#: For repository policy writes: one attempt, the caller retries on a fresh read.
WRITE_CLIENT_CONFIG = {"retries": {"mode": "standard", "total_max_attempts": 1}, "max_pool_connections": WORKERS}


def described(error_handler, description, **options):
    """``error_handler`` (an amazon.aws ``*_error_handler`` classmethod) with ``description``'s
    ``{placeholders}`` filled from the call's arguments. amazon.aws fills them itself only from
    11.0; formatting them here keeps error messages naming the resource on older amazon.aws."""

    def decorator(func):
        signature = inspect.signature(func)

        @functools.wraps(func)
        def call(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return error_handler(description.format(**bound.arguments), **options)(func)(*args, **kwargs)

        return call

    return decorator


class InvalidRequestError(ValueError):
    """A request (module arguments) that cannot work; the message says what to change."""


#: What a step may fail with for one item without stopping the others (PolicyError is a ValueError);
#: anything else is a bug.
ITEM_ERRORS = (AnsibleAWSError, ValueError)


def error_code(error):
    """The AWS error code of a botocore ClientError (None for anything else)."""
    return (getattr(error, "response", None) or {}).get("Error", {}).get("Code")


def is_transient(error):
    """Whether a failed call is worth repeating: throttling, a server error, or a connection
    that failed or dropped. (botocore decides the same for every other call; policy writes,
    which botocore does not retry, are decided here.)"""
    if isinstance(error, botocore.exceptions.ClientError):
        status = (getattr(error, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        throttled = ("ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException")
        return error_code(error) in throttled or status >= 500
    return isinstance(error, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError))


def run_all(function, items, errors=ITEM_ERRORS):
    """``[(result, error)]`` of ``function`` on every item, in order, side by side in up to
    ``WORKERS`` threads (in this thread for one item). Only ``errors`` are caught: one item's
    failure does not stop the others."""

    def guarded(item):
        try:
            return function(item), None
        except errors as e:
            return None, e

    items = list(items)
    if len(items) <= 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(guarded, items))


def quote_names(names, limit=20, last=", "):
    """How messages list names: ``'a', 'b', 'c'`` (with ``last=" and "``: ``'a', 'b' and 'c'``);
    past ``limit`` names, the rest is only counted."""
    quoted = [repr(name) for name in names]
    if len(quoted) > limit:
        return f"{', '.join(quoted[:limit])} and {len(quoted) - limit} more"
    if len(quoted) < 2:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])}{last}{quoted[-1]}"


def fail_with(module, error, **extra):
    """End the module with one error: an AWS error with its details (``fail_json_aws``), any
    other with its message; ``extra`` goes into the result."""
    if isinstance(error, AnsibleAWSError):
        if error.exception is not None:
            module.fail_json_aws(error.exception, msg=error.message, **extra)
        module.fail_json(msg=error.message, **extra)
    module.fail_json(msg=str(error), **extra)


def failure_summary(labelled_errors, failed, total, noun, stage):
    """One message for a fleet run's failures: ``"2 of 5 repositories failed their checks: a: ...; b: ..."``
    from ``[(label, error)]``, ``failed`` items of ``total`` ``noun``."""
    return f"{failed} of {total} {noun} {stage}: " + "; ".join(f"{label}: {error}" for label, error in labelled_errors)
