# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Statements in the policies of many ECR repositories (private module_utils), the engine behind
ecr_repo_policy_statement.

A *policy request* is one repository's policy with its statement requests, applied in order with
one write at most (plus re-writes after a concurrent writer, see
``_ecr.apply_policy``). Every request is checked before any AWS call; every repository is read
and planned before any write; then the changed ones are written side by side.
"""

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import run_all
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import apply_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import plan_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._names import OWNED_SID_PREFIXES
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_account_id
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import desired_statement
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import drop_deleted_principals
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import find_statement
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import put_statement
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import remove_statement
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import remove_unnamed_statements
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import statements_of
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import validate_actions
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import validate_conditions
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import validate_principal
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import validate_sid

#: The options of one statement request.
STATEMENT_KEYS = ("sid", "state", "principals", "actions", "effect", "conditions", "purge_principals")
#: What an entry of ``statements`` takes from the task when it leaves it out.
INHERITED_KEYS = ("actions", "effect", "purge_principals")


class PolicyRequest:
    """One repository policy to change. ``entries`` are its statement requests as given, as
    ``[(where, entry)]``; ``check_requests`` sets ``statements``, the checked ones. ``where`` names
    the request in messages (empty for the task's own repository)."""

    def __init__(self, repository, registry_id, entries, where="", purge_sid_prefixes=None, keep_sids=None):
        self.repository = repository
        self.registry_id = registry_id
        self.entries = entries
        self.where = where
        # Statements with these Sid prefixes that ``entries`` do not name (nor keep_sids) are removed.
        self.purge_sid_prefixes = list(purge_sid_prefixes or [])
        self.keep_sids = list(keep_sids or [])
        self.statements = None
        self.notes = set()


def _request(params, repository, registry_id, statements, where, policy=None):
    if statements is None:
        return PolicyRequest(repository, registry_id, [("", {key: params[key] for key in STATEMENT_KEYS})], where)
    entries = []
    for index, entry in enumerate(statements):
        entry = dict(entry, **{key: params[key] for key in INHERITED_KEYS if entry.get(key) is None})
        entries.append((f"statements[{index}] (sid {entry['sid']!r})", entry))
    policy = policy or {}
    return PolicyRequest(repository, registry_id, entries, where, policy.get("purge_sid_prefixes"), policy.get("keep_sids"))


def requests_from(params):
    """The task's policy requests: one for ``repository`` (with ``sid`` or ``statements``), or
    one per entry of ``policies``."""
    if params["policies"] is None:
        return [_request(params, params["repository"], params["registry_id"], params["statements"], "")]
    return [
        _request(params, entry["repository"], entry["registry_id"], entry["statements"], f"policies[{index}] (repository {entry['repository']!r})",
                 entry)
        for index, entry in enumerate(params["policies"])
    ]


def checked_statement(entry, allow_public):
    """``(statement, problems)``: one statement request checked, and what is wrong with it."""
    problems = []

    def check(validate, *args):
        try:
            return validate(*args)
        except PolicyError as e:
            problems.append(str(e))
            return None

    check(validate_sid, entry["sid"])
    conditions = check(validate_conditions, entry["conditions"])
    principals = [check(validate_principal, principal, allow_public, bool(conditions)) for principal in entry["principals"] or []]
    if entry["state"] == "present" and not principals:
        problems.append("principals must name at least one principal when state=present")
    actions = check(validate_actions, entry["actions"])
    statement = dict(entry, principals=principals, actions=actions, conditions=conditions)
    return {key: statement[key] for key in STATEMENT_KEYS}, problems


def _check_request(request, allow_public):
    """Set ``request.statements``; returns what is wrong with the request."""
    problems = []
    if request.registry_id is not None and not is_account_id(request.registry_id):
        problems.append(f"registry_id {request.registry_id!r} is not a 12-digit AWS account id")
    if not request.entries and not request.purge_sid_prefixes:
        problems.append("statements must list at least one statement")
    for prefix in request.purge_sid_prefixes:
        try:
            validate_sid(prefix)
        except PolicyError as e:
            problems.append(f"purge_sid_prefixes: {e}")
    request.statements = []
    for where, entry in request.entries:
        statement, found = checked_statement(entry, allow_public)
        request.statements.append(statement)
        problems.extend(f"{where}: {problem}" if where else problem for problem in found)
    return [f"{request.where}: {problem}" if request.where else problem for problem in problems]


def check_requests(requests, allow_public):
    """Check every request before any AWS call and return them, with their ``statements`` set.
    Raises InvalidRequestError naming every problem."""
    problems = [] if requests else ["policies must list at least one repository"]
    for request in requests:
        problems.extend(_check_request(request, allow_public))
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return requests


def statement_change(statements, delete_empty_policy, notes, purge_sid_prefixes=(), keep_sids=()):
    """The pure ``apply_change(document) -> document`` applying every checked statement request in
    turn, then removing the statements whose Sid starts with one of ``purge_sid_prefixes`` that no
    request names and ``keep_sids`` does not list; what ``desired_statement`` remarks goes into the
    set ``notes``."""

    def apply_one(document, request):
        current = find_statement(document, request["sid"])
        wanted, found_notes = desired_statement(current, **request)
        notes.update(found_notes)
        if wanted is current:
            return document
        if wanted is not None:
            return put_statement(document, wanted)
        return emptied(remove_statement(document, request["sid"]), repr(request["sid"]))

    def emptied(result, what):
        if statements_of(result):
            return result
        if delete_empty_policy:
            return None
        raise PolicyError(
            f"removing statement {what} would leave the repository policy without statements, which "
            "ECR does not accept; nothing was written. Set delete_empty_policy=true to delete the policy instead"
        )

    keep = [request["sid"] for request in statements] + list(keep_sids or ())

    def apply_change(document):
        before = document
        for request in statements:
            document = apply_one(document, request)
        if purge_sid_prefixes and document:
            document, removed = remove_unnamed_statements(document, purge_sid_prefixes, keep)
            if removed:
                document = emptied(document, ", ".join(repr(sid) for sid in removed))
        if document and document != before:
            # The write would carry back the collection's own statements naming deleted roles, which ECR refuses.
            document, found_notes = drop_deleted_principals(document, OWNED_SID_PREFIXES, [request["sid"] for request in statements])
            notes.update(found_notes)
            if found_notes:
                document = emptied(document, "naming only deleted principals")
        return document

    return apply_change


def plan_policies(client, requests, delete_empty_policy, region):
    """Read every repository's policy and work out its change, writing nothing: ``[(PolicyChange, error)]``
    in the order of ``requests``."""

    def plan(request):
        apply_change = statement_change(request.statements, delete_empty_policy, request.notes, request.purge_sid_prefixes, request.keep_sids)
        return plan_policy(client, request.repository, apply_change, request.registry_id, region)

    return run_all(plan, requests)


def apply_policies(client, changes, **write_options):
    """Write the planned changes side by side (``_ecr.apply_policy``): ``[(PolicyChange, error)]``."""
    return run_all(lambda change: apply_policy(client, change, **write_options), changes)


def policy_result(change, request):
    """What the task returns about one repository."""
    return dict(
        repository=change.repository,
        registry_id=change.registry_id,
        changed=change.changed,
        policy=change.after,
        policy_before=change.before,
        statements=[find_statement(change.after, sid) for sid in dict.fromkeys(s["sid"] for s in request.statements)],
        write_attempts=change.attempts,
    )
