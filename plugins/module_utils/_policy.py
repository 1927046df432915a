# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's one policy engine: parse, normalise, compare, merge, remove, render, size check.

This is a *private* module_utils (leading underscore): it is not a public API and may change in
any release. Every module that reads or writes a resource policy or an IAM policy document uses
it; there is no second copy of this logic in the collection.

Everything here is pure (no AWS calls) so that it can be unit tested table-driven.

Vocabulary:

- *document*: a policy as a Python dict (``{"Version": ..., "Statement": [...]}``).
- *our statement*: the one statement, identified by its ``Sid``, that a module owns. Every other
  statement in the document is *foreign* and is carried through byte-for-byte in content and
  order.
- *canonical form*: a comparable, order-insensitive rendering of a statement used to decide
  whether two statements mean the same thing ("idempotent by meaning, not bytes").
"""

import fnmatch
import json
import re
import urllib.parse

from ansible_collections.pullaccess.aws.plugins.module_utils._names import ECR_TOKEN_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ECS_PULL_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import PARTITION

DEFAULT_VERSION = "2012-10-17"
#: ECR's limit on the length of a repository policy text.
ECR_POLICY_MAX_LENGTH = 10240

_ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
_ROOT_ARN_RE = re.compile(r"^arn:(?P<partition>" + PARTITION + r"):iam::(?P<account>\d{12}):root$")
# IAM roles, users and STS assumed-role sessions; paths allowed for IAM roles and users.
_PRINCIPAL_ARN_RE = re.compile(
    r"^arn:(?P<partition>" + PARTITION + r"):(?:iam::(?P<account>\d{12}):(?:role|user)/[\w+=,.@/-]{1,512}"
    r"|sts::(?P<sts_account>\d{12}):assumed-role/[\w+=,.@/-]{1,128}/[\w+=,.@-]{1,64})$"
)
# What AWS shows in place of a principal ARN whose IAM entity was deleted (and maybe recreated).
_UNIQUE_ID_RE = re.compile(r"^(?:AROA|AIDA|AGPA|ANPA|ANVA|AIPA|ASIA)[A-Z0-9]{12,}$")
# Sids: ECR accepts letters and digits; IAM documents allow the same. Hyphen/underscore are
# rejected by IAM, so we keep to alphanumerics for documents shared by both.
_ACTION_RE = re.compile(r"^(?:\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
_SID_RE = re.compile(r"^[A-Za-z0-9]{1,100}$")


class PolicyError(ValueError):
    """Input or stored policy that cannot be used. The message says what is wrong and what to do."""


# --------------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------------


def parse_policy(text, where="the policy"):
    """Parse policy text into a document, or ``None`` when there is no policy.

    ``where`` names the policy in error messages (e.g. ``"the policy of repository x"``).
    Raises PolicyError on text that is not JSON, is not a policy document, or carries the same
    Sid twice (we could not tell which one is ours).
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, dict):
        document = text
    else:
        try:
            document = json.loads(text)
        except ValueError as e:
            raise PolicyError(
                f"{where} is not valid JSON ({e}); fix or remove it before managing statements in it"
            ) from e
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError(f"{where} is not a policy document (a JSON object with a Statement); fix or remove it")
    statements = statements_of(document)
    if not all(isinstance(statement, dict) for statement in statements):
        raise PolicyError(f"{where} has a Statement entry that is not a JSON object; fix or remove it")
    seen = set()
    for statement in statements:
        sid = statement.get("Sid")
        if sid is None:
            continue
        if sid in seen:
            raise PolicyError(
                f"{where} has more than one statement with Sid {sid!r}; Sids must be unique. "
                "Remove or rename the duplicates, then run again"
            )
        seen.add(sid)
    return document


def statements_of(document):
    """Return the statements of a document as a list (a lone statement object counts as one)."""
    if not document:
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        return [statements]
    return list(statements)


def validate_sid(sid):
    """Raise PolicyError unless ``sid`` is a valid statement id (letters and digits only)."""
    if not isinstance(sid, str) or not _SID_RE.match(sid):
        raise PolicyError(f"sid {sid!r} is not valid: use 1 to 100 letters and digits (A-Z, a-z, 0-9), e.g. AllowPullMyService")


def validate_principal(principal, allow_public=False, has_condition=False):
    """Check one AWS principal given by the user: a 12-digit account id, an IAM role/user ARN,
    an account-root ARN or an STS assumed-role ARN; ``*`` only with ``allow_public`` or a
    Condition. Returns it stripped; raises PolicyError with what to do otherwise."""
    if not isinstance(principal, str):
        raise PolicyError(f"principal {principal!r} is not a string; give IAM ARNs or 12-digit account ids")
    value = principal.strip()
    if value == "*":
        if allow_public or has_condition:
            return value
        raise PolicyError(
            "principal '*' would let anyone pull from the repository; set allow_public=true if that is "
            "really meant, or add conditions that restrict it"
        )
    if _ACCOUNT_ID_RE.match(value) or _ROOT_ARN_RE.match(value) or _PRINCIPAL_ARN_RE.match(value):
        return value
    if _UNIQUE_ID_RE.match(value):
        raise PolicyError(
            f"principal {value!r} is an IAM unique id, not an ARN; give the role or user ARN "
            "(arn:aws:iam::123456789012:role/name)"
        )
    raise PolicyError(
        f"principal {value!r} is not valid: give an IAM role or user ARN (arn:aws:iam::123456789012:role/name), "
        "an account-root ARN (arn:aws:iam::123456789012:root) or a 12-digit account id"
    )


def validate_actions(actions):
    """Check IAM action names (``service:Action``, wildcards allowed); returns them stripped."""
    if not actions:
        raise PolicyError("actions must list at least one action, e.g. ecr:BatchGetImage")
    result = []
    for action in actions:
        value = action.strip() if isinstance(action, str) else action
        if not isinstance(value, str) or not _ACTION_RE.match(value):
            raise PolicyError(f"action {action!r} is not valid: use service:Action, e.g. ecr:BatchGetImage")
        result.append(value)
    return result


def validate_conditions(conditions):
    """Check a Condition block's shape: ``{operator: {key: value or [values]}}``."""
    if conditions is None:
        return None
    if not isinstance(conditions, dict) or not all(isinstance(v, dict) and v for v in conditions.values()):
        raise PolicyError(
            "conditions must be a Condition block: {operator: {key: value}}, e.g. "
            "{StringEquals: {'aws:PrincipalOrgID': 'o-abc123'}}"
        )
    return conditions or None


def is_unique_id(principal):
    """True when ``principal`` looks like an IAM unique id (``AROA…``): AWS shows these in place
    of the ARN of a principal that was deleted."""
    return isinstance(principal, str) and bool(_UNIQUE_ID_RE.match(principal))


# --------------------------------------------------------------------------------------------
# Canonical forms (comparison by meaning)
# --------------------------------------------------------------------------------------------


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def canonical_principal(principal):
    """Comparable form of one AWS principal: an account id and its root ARN in any partition are
    the same principal; everything else compares as written."""
    if not isinstance(principal, str):
        return json.dumps(principal, sort_keys=True)
    value = principal.strip()
    if _ACCOUNT_ID_RE.match(value):
        return "account:" + value
    match = _ROOT_ARN_RE.match(value)
    if match:
        return "account:" + match.group("account")
    return value


def _canonical_principal_block(block):
    if block is None:
        return None
    if block == "*":
        return (("AWS", ("*",)),)
    if not isinstance(block, dict):
        return ("?", json.dumps(block, sort_keys=True))
    result = []
    for kind, value in block.items():
        values = [canonical_principal(item) if kind == "AWS" else str(item) for item in _as_list(value)]
        result.append((kind, tuple(sorted(set(values)))))
    return tuple(sorted(result))


def _canonical_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _canonical_condition(condition):
    if condition is None:
        return None
    if not isinstance(condition, dict):
        return json.dumps(condition, sort_keys=True)
    result = []
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict):
            result.append((operator, json.dumps(clauses, sort_keys=True)))
            continue
        # Condition keys are case-insensitive; values and operators are compared as written.
        items = tuple(
            sorted((key.lower(), tuple(sorted({_canonical_scalar(v) for v in _as_list(values)}))) for key, values in clauses.items())
        )
        result.append((operator, items))
    return tuple(sorted(result))


def canonical_statement(statement):
    """Order-insensitive comparable form of a statement. Actions compare case-insensitively
    (IAM does); string and one-element list are the same; account id ≡ account-root ARN."""
    canonical = {}
    for key, value in statement.items():
        if key in ("Principal", "NotPrincipal"):
            canonical[key] = _canonical_principal_block(value)
        elif key in ("Action", "NotAction"):
            canonical[key] = tuple(sorted({str(item).lower() for item in _as_list(value)}))
        elif key in ("Resource", "NotResource"):
            canonical[key] = tuple(sorted({str(item) for item in _as_list(value)}))
        elif key == "Condition":
            canonical[key] = _canonical_condition(value)
        else:
            canonical[key] = json.dumps(value, sort_keys=True)
    return tuple(sorted(canonical.items()))


def statements_equivalent(first, second):
    """True when two statements mean the same thing (None only equals None)."""
    if first is None or second is None:
        return first is second
    return canonical_statement(first) == canonical_statement(second)


def documents_equivalent(first, second):
    """True when two documents mean the same: same statements in any order, Version defaulted."""
    if not first or not second:
        return not first and not second
    if first.get("Version", DEFAULT_VERSION) != second.get("Version", DEFAULT_VERSION):
        return False
    other_keys = set(first) | set(second)
    other_keys -= {"Version", "Statement"}
    if any(first.get(key) != second.get(key) for key in other_keys):
        return False
    return sorted(canonical_statement(s) for s in statements_of(first)) == sorted(canonical_statement(s) for s in statements_of(second))


# --------------------------------------------------------------------------------------------
# Finding, building, merging and removing statements
# --------------------------------------------------------------------------------------------


def find_statement(document, sid):
    """Return the statement with ``sid`` in ``document`` or None."""
    for statement in statements_of(document):
        if statement.get("Sid") == sid:
            return statement
    return None


def aws_principals(statement):
    """The ``Principal.AWS`` entries of a statement as a list (``*`` for a bare ``*``)."""
    if not statement:
        return []
    block = statement.get("Principal")
    if block == "*":
        return ["*"]
    if isinstance(block, dict):
        return _as_list(block.get("AWS"))
    return []


def union_principals(existing, added):
    """Existing principals plus the added ones not already there (by meaning), sorted."""
    known = {canonical_principal(p) for p in existing}
    result = list(existing)
    for principal in added:
        key = canonical_principal(principal)
        if key not in known:
            known.add(key)
            result.append(principal)
    return sorted(result)


def subtract_principals(existing, removed):
    """Existing principals minus the removed ones (by meaning), order kept."""
    gone = {canonical_principal(p) for p in removed}
    return [p for p in existing if canonical_principal(p) not in gone]


def build_statement(sid, principals, actions, effect="Allow", conditions=None, resources=None):
    """Render a statement in the collection's stable shape: Sid, Effect, Principal, Action,
    Resource, Condition; principals and actions sorted; lists even when one long."""
    statement = {"Sid": sid, "Effect": effect}
    if principals is not None:
        statement["Principal"] = {"AWS": union_principals([], principals)}
    statement["Action"] = sorted(set(actions))
    if resources is not None:
        statement["Resource"] = sorted(set(_as_list(resources)))
    if conditions:
        statement["Condition"] = conditions
    return statement


def put_statement(document, statement, version=DEFAULT_VERSION):
    """Return a new document with ``statement`` in place of the one with the same Sid (same
    position), or appended when there is none. Foreign statements are carried through as they
    were; a new document gets ``version``."""
    sid = statement["Sid"]
    if not document:
        return {"Version": version, "Statement": [statement]}
    result = dict(document)
    statements = statements_of(document)
    for index, existing in enumerate(statements):
        if existing.get("Sid") == sid:
            statements[index] = statement
            break
    else:
        statements.append(statement)
    result["Statement"] = statements
    return result


def remove_statement(document, sid):
    """Return a new document without the statement ``sid`` (None when nothing would be left is
    for the caller to decide: an empty Statement list is returned as such)."""
    if not document:
        return document
    result = dict(document)
    result["Statement"] = [s for s in statements_of(document) if s.get("Sid") != sid]
    return result


def remove_unnamed_statements(document, prefixes, keep_sids):
    """Return ``(document, removed_sids)``: ``document`` without the statements whose Sid starts with
    one of ``prefixes`` and is not in ``keep_sids`` (what a caller owns by prefix and no longer wants).
    Every other statement is carried through as it was, in order."""
    if not document or not prefixes:
        return document, []
    keep = set(keep_sids or ())
    removed = [s.get("Sid") for s in statements_of(document)
               if isinstance(s.get("Sid"), str) and s["Sid"].startswith(tuple(prefixes)) and s["Sid"] not in keep]
    if not removed:
        return document, []
    result = dict(document)
    result["Statement"] = [s for s in statements_of(document) if s.get("Sid") not in removed]
    return result, removed


def drop_deleted_principals(document, prefixes, named_sids):
    """Return ``(document, notes)``: ``document`` with the IAM unique ids (deleted principals) taken
    out of the statements whose Sid starts with one of ``prefixes`` and is not in ``named_sids``, and
    such a statement left with no principal removed. ECR refuses a policy naming a deleted
    principal, so a write must not carry one back. Every other statement stays as it was."""
    if not document or not prefixes:
        return document, []
    named, notes, kept = set(named_sids or ()), [], []
    for statement in statements_of(document):
        sid = statement.get("Sid")
        principals = aws_principals(statement)
        dead = [p for p in principals if is_unique_id(p)]
        if not dead or not isinstance(sid, str) or not sid.startswith(tuple(prefixes)) or sid in named:
            kept.append(statement)
            continue
        alive = [p for p in principals if not is_unique_id(p)]
        notes.append(f"statement {sid!r} names {', '.join(dead)}: AWS shows an IAM unique id in place of a principal that was deleted; "
                     + ("it is taken out" if alive else "the statement, which names nothing else, is removed"))
        if alive:
            kept.append(dict(statement, Principal=dict(statement["Principal"], AWS=sorted(alive))))
    if not notes:
        return document, []
    return dict(document, Statement=kept), notes


def render_policy(document):
    """The policy text we write: compact JSON, keys in the order we built them (no whitespace:
    ECR counts every character against its limit)."""
    return json.dumps(document, separators=(",", ":"))


def pretty_policy(document):
    """Stable, readable JSON for diffs and output: sorted keys, two-space indent, trailing newline."""
    if document is None:
        return ""
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def check_size(text, where, limit=ECR_POLICY_MAX_LENGTH):
    """Raise PolicyError when ``text`` is longer than ``limit`` characters."""
    if len(text) > limit:
        raise PolicyError(
            f"{where} would be {len(text)} characters, over the {limit}-character limit; nothing was written. "
            "Share one statement among many principals (purge_principals=false with one sid for the fleet), "
            "or remove statements that are no longer needed"
        )


def desired_statement(current, sid, principals, actions, effect, conditions, state, purge_principals):
    """Work out our statement after the run from the current one (or None).

    Returns ``(statement_or_None, notes)``: ``None`` means our statement must not be in the
    policy. ``notes`` lists human-readable remarks (e.g. unique ids found) for warnings.
    """
    notes = []
    existing_principals = aws_principals(current)
    stale = [p for p in existing_principals if is_unique_id(p)]
    if stale:
        notes.append(
            f"statement {sid!r} names {', '.join(stale)}: AWS shows an IAM unique id in place of a principal "
            "that was deleted; it no longer matches any role or user and is replaced"
        )
    if state == "absent":
        if current is None:
            return None, notes
        if purge_principals:
            return None, notes
        remaining = subtract_principals([p for p in existing_principals if not is_unique_id(p)], principals)
        if not remaining:
            return None, notes
        if remaining == [p for p in existing_principals if not is_unique_id(p)] and not stale:
            return current, notes
        updated = dict(current)
        updated["Principal"] = {"AWS": sorted(remaining)}
        return updated, notes
    if purge_principals:
        wanted = list(principals)
    else:
        wanted = union_principals([p for p in existing_principals if not is_unique_id(p)], principals)
    statement = build_statement(sid, wanted, actions, effect, conditions)
    if current is not None and statements_equivalent(current, statement):
        # Same meaning: keep the stored bytes so a converged run writes nothing.
        return current, notes
    return statement, notes


# --------------------------------------------------------------------------------------------
# IAM documents (ecs_execution_role_ecr)
# --------------------------------------------------------------------------------------------

def parse_iam_policy_document(value, where="the policy"):
    """Parse a policy document as IAM hands it back: a dict (boto3 decodes IAM's documents), JSON
    text, or URL-encoded JSON text (the raw API answer). Returns None for no document; raises
    PolicyError like ``parse_policy``."""
    if isinstance(value, str):
        text = value.strip()
        if text and not text.startswith("{"):
            text = urllib.parse.unquote(text)
        value = text
    return parse_policy(value, where)


def ecr_pull_policy(repository_arns=None):
    """The least-privilege identity policy for pulling from ECR: ``ecr:GetAuthorizationToken`` on
    ``*`` and the three image reads on ``repository_arns`` (every repository when none given).

    The shape is stable (two statements, sorted lists) so that the rendered text only changes
    when the meaning does."""
    resources = sorted(set(repository_arns)) if repository_arns else ["*"]
    return {
        "Version": DEFAULT_VERSION,
        "Statement": [
            build_statement("GetAuthorizationToken", None, [ECR_TOKEN_ACTION], resources="*"),
            build_statement("PullImages", None, ECS_PULL_ACTIONS, resources=resources),
        ],
    }


def service_trust_policy(service_principal):
    """A role trust policy letting one AWS service principal (``ecs-tasks.amazonaws.com``, ...)
    assume the role."""
    return {
        "Version": DEFAULT_VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service_principal}, "Action": "sts:AssumeRole"}],
    }


def resources_cover(resources, arn):
    """True when one of the IAM ``resources`` (``*`` and ``?`` wildcards, matched the way IAM
    does: case-sensitively, ``*`` also across ``/``) covers ``arn``."""
    return any(fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]")) for pattern in _as_list(resources))
