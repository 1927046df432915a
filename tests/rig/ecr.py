# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ECR repository policies as AWS answers them, for the test rig (moto port).

moto stores a repository policy byte for byte as it was written and checks only its IAM
syntax. Real ECR does more, and clients that compare policy text, or that write a
principal IAM does not know, behave differently against it. :class:`EcrPolicyMiddleware`
sits between the rig's other middlewares and moto and, for ``SetRepositoryPolicy`` on a
repository that exists, does what ECR does (each part has its own switch in
:class:`EcrSettings`):

* ``validate_policy``: a ``policyText`` over 10,240 characters, or a malformed policy
  (not JSON, no Statement, duplicate Sids, a ``Resource`` in a statement, an Effect other
  than Allow/Deny, ...), is refused with ``InvalidParameterException``.
* ``check_principals``: a policy naming an AWS principal that does not exist is refused
  with ``InvalidParameterException`` "... 'Principal not found'". Existence is looked up in
  the server process: moto's IAM backends (roles and users of the principal's account),
  the Lightsail emulator (service principals, active ECR image puller roles); account ids,
  ``:root`` ARNs and ``*`` always exist.
* ``rewrite_policy``: the stored (and returned) text is ECR's re-serialisation: Jackson's
  pretty printer (two-space indent, ``" : "``, arrays on one line), plain 12-digit account
  principals as ``arn:PARTITION:iam::ID:root`` (the partition of the request's region), and
  the entries of every principal list in ``principal_order`` (``sorted``, ``reversed`` or
  ``as_written``; AWS returns them in any order, the rig in a fixed one).

Everything else (other operations, a missing repository, a request that is not JSON) goes
to moto untouched. See README.md ("ECR repository policies").
"""

import io
import json
import re
import threading

from .faults import ECR_PRINCIPAL_NOT_FOUND_MESSAGE, error_response
from .iam import ACCOUNT_HEADER, caller_account
from .requestlog import identify, read_body

POLICY_MAX_LENGTH = 10240  # ECR's limit on policyText (API reference, SetRepositoryPolicy)
INVALID_POLICY_MESSAGE = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
# AWS documents the limit but no error text for it; the wording of this one is ours.
TOO_LONG_MESSAGE = ("Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                    f"'Member must have length less than or equal to {POLICY_MAX_LENGTH}'")
PRINCIPAL_ORDERS = ("sorted", "reversed", "as_written")

_VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_KEYS = ("Version", "Id", "Statement")
_STATEMENT_KEYS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Condition")
_PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
_ACCOUNT_RE = re.compile(r"\d{12}")
_ROOT_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:root")
_IAM_RE = re.compile(r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):(?P<kind>role|user)/.+")
_STS_RE = re.compile(r"arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/[^/]+")
_UNIQUE_ID_RE = re.compile(r"(?P<prefix>AROA|AIDA)[A-Z0-9]{12,}")


class EcrSettings:
    """Thread-safe switches of the middleware, shared with the control endpoint (``/_rig/ecr``)."""

    DEFAULTS = {"rewrite_policy": True, "principal_order": "sorted", "validate_policy": True, "check_principals": True}

    def __init__(self, **initial):
        self._lock = threading.Lock()
        self._values = dict(self.DEFAULTS)
        self.configure(**initial)
        self._initial = self.to_dict()

    def configure(self, **changes):
        """Change some settings (ValueError, and no change, if one is invalid); returns all."""
        unknown = sorted(set(changes) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f"unknown ECR setting(s): {', '.join(unknown)}")
        for name, value in changes.items():
            if name == "principal_order":
                if value not in PRINCIPAL_ORDERS:
                    raise ValueError(f"principal_order must be one of {', '.join(PRINCIPAL_ORDERS)}")
            elif not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
        with self._lock:
            self._values.update(changes)
            return dict(self._values)

    def to_dict(self):
        """The current settings."""
        with self._lock:
            return dict(self._values)

    def reset(self):
        """Back to the settings the server started with."""
        self.configure(**self._initial)


class PolicyRefused(Exception):
    """ECR refuses the policy: answer InvalidParameterException with this message."""


class EcrPolicyMiddleware:
    """``SetRepositoryPolicy`` as ECR handles it (see the module doc); put it right in front of moto.

    ``lightsail``: the rig's Lightsail emulator (its ``services()``), whose service
    principals and active puller roles count as existing IAM roles.
    """

    def __init__(self, app, settings, lightsail=None):
        self.app = app
        self.settings = settings
        self.lightsail = lightsail

    def __call__(self, environ, start_response):
        info = identify(environ)
        if not (info["service"] == "ecr" and info["protocol"] == "json" and info["operation"] == "SetRepositoryPolicy"):
            return self.app(environ, start_response)
        settings = self.settings.to_dict()
        if not (settings["rewrite_policy"] or settings["validate_policy"] or settings["check_principals"]):
            return self.app(environ, start_response)
        params = _json_body(environ)
        text = params.get("policyText") if isinstance(params, dict) else None
        if not isinstance(text, str) or not self._repository_exists(environ, info, params):
            return self.app(environ, start_response)  # moto answers (SerializationException, RepositoryNotFound, ...)
        region = info["region"] or "us-east-1"
        try:
            new_text = process_policy(text, region, settings, PrincipalLookup(self.lightsail).exists)
        except PolicyRefused as refusal:
            status_line, headers, body = error_response(info, 400, "InvalidParameterException", str(refusal))
            start_response(status_line, headers)
            return [body]
        if new_text != text:
            params["policyText"] = new_text
            _replace_body(environ, json.dumps(params).encode("utf-8"))
        return self.app(environ, start_response)

    @staticmethod
    def _repository_exists(environ, info, params):
        """Whether moto has the repository (in the account the request acts in) without creating backends."""
        from moto.ecr.models import ecr_backends
        account = environ.get(ACCOUNT_HEADER) or caller_account(info.get("access_key"))
        registry, name = params.get("registryId"), params.get("repositoryName")
        if (registry is not None and registry != account) or not isinstance(name, str):
            return False
        backend = dict.get(dict.get(ecr_backends, account) or {}, info["region"])
        return backend is not None and name in backend.repositories


class PrincipalLookup:
    """Whether ECR would find an AWS principal (see the module doc), for one request.

    What it looks at is read once, on first need: moto's roles and users of one account and
    partition (moto backends that do not exist are not created), the Lightsail emulator's roles.
    """

    def __init__(self, lightsail=None):
        self.lightsail = lightsail
        self._cache = {}

    def exists(self, principal):
        """True if the principal exists."""
        if principal == "*" or _ACCOUNT_RE.fullmatch(principal) or _ROOT_RE.fullmatch(principal):
            return True
        match = _IAM_RE.fullmatch(principal)
        if match:
            if match["kind"] == "role" and principal in self._lightsail_roles():
                return True
            kind = "roles" if match["kind"] == "role" else "users"
            return principal in {entity.arn for entity in self._iam(match["account"], match["partition"], kind)}
        match = _STS_RE.fullmatch(principal)
        if match:
            names = {arn.rsplit("/", 1)[-1] for arn in self._lightsail_roles() if arn.split(":")[4] == match["account"]}
            names |= {role.name for role in self._iam(match["account"], match["partition"], "roles")}
            return match["role"] in names
        match = _UNIQUE_ID_RE.fullmatch(principal)
        if match:
            # A unique id (AWS shows one in place of a deleted principal) exists if a role or user has it.
            return principal in {entity.id for entity in self._iam(None, None, "roles" if match["prefix"] == "AROA" else "users")}
        return False

    def _lightsail_roles(self):
        """ARNs of the IAM roles the Lightsail emulator has made: service principals, active puller roles."""
        if "lightsail" not in self._cache:
            arns = set()
            for service in self.lightsail.services() if self.lightsail is not None else []:
                arns.add(service["principalArn"])
                puller = service.get("privateRegistryAccess", {}).get("ecrImagePullerRole", {})
                if puller.get("isActive") and puller.get("principalArn"):
                    arns.add(puller["principalArn"])
            self._cache["lightsail"] = arns
        return self._cache["lightsail"]

    def _iam(self, account, partition, kind):
        """moto's roles or users of one account and partition (None, None: of all that exist)."""
        key = (account, partition, kind)
        if key not in self._cache:
            from moto.iam.models import iam_backends
            if account is None:
                backends = [backend for per_account in list(iam_backends.values()) for backend in list(per_account.values())]
            else:
                backend = dict.get(dict.get(iam_backends, account) or {}, partition)
                backends = [backend] if backend is not None else []
            self._cache[key] = [entity for backend in backends for entity in list(getattr(backend, kind).values())]
        return self._cache[key]


def process_policy(text, region, settings, principal_exists):
    """The policy text ECR stores for ``text``; raises :class:`PolicyRefused` when ECR refuses it."""
    if settings["validate_policy"]:
        if len(text) > POLICY_MAX_LENGTH:
            raise PolicyRefused(TOO_LONG_MESSAGE)
        validate_policy(text)
    try:
        document = json.loads(text)
    except ValueError:
        return text  # not checked: moto answers
    if not isinstance(document, dict):
        return text
    if settings["check_principals"]:
        for principal in aws_principals(document):
            if not principal_exists(principal):
                raise PolicyRefused(ECR_PRINCIPAL_NOT_FOUND_MESSAGE)
    if not settings["rewrite_policy"]:
        return text
    return jackson_pretty(normalise_principals(document, partition_of(region), settings["principal_order"]))


def validate_policy(text):
    """Raise :class:`PolicyRefused` unless ``text`` is a well-formed repository policy.

    Refused: not JSON, not an object, keys other than Version/Id/Statement, an unknown
    Version, no Statement (or an empty one), a statement that is not an object or has keys
    other than Sid/Effect/Principal/NotPrincipal/Action/NotAction/Condition (``Resource``
    included: a repository policy applies to its repository), an Effect other than Allow or
    Deny, not exactly one of Principal/NotPrincipal or of Action/NotAction, malformed
    principal, action or condition blocks, a Sid that is not a string, and duplicate Sids.
    """
    try:
        document = json.loads(text)
    except ValueError:
        raise PolicyRefused(INVALID_POLICY_MESSAGE) from None
    _require(isinstance(document, dict) and set(document) <= set(_TOP_KEYS))
    _require(document.get("Version", _VERSIONS[0]) in _VERSIONS)
    _require(document.get("Id") is None or isinstance(document["Id"], str))
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    _require(isinstance(statements, list) and statements)
    sids = set()
    for statement in statements:
        _require(isinstance(statement, dict) and set(statement) <= set(_STATEMENT_KEYS))
        _require(statement.get("Effect") in ("Allow", "Deny"))
        _require(("Principal" in statement) != ("NotPrincipal" in statement))
        _require(("Action" in statement) != ("NotAction" in statement))
        _require(_principal_block_ok(statement.get("Principal", statement.get("NotPrincipal"))))
        _require(_strings(statement.get("Action", statement.get("NotAction"))))
        condition = statement.get("Condition")
        _require(condition is None or (isinstance(condition, dict) and all(isinstance(v, dict) for v in condition.values())))
        sid = statement.get("Sid")
        _require(sid is None or isinstance(sid, str))
        if sid:
            _require(sid not in sids)
            sids.add(sid)


def _require(condition):
    if not condition:
        raise PolicyRefused(INVALID_POLICY_MESSAGE)


def _strings(value):
    """A string, or a non-empty list of strings."""
    return isinstance(value, str) or (isinstance(value, list) and bool(value) and all(isinstance(item, str) for item in value))


def _principal_block_ok(block):
    if block == "*":
        return True
    return isinstance(block, dict) and bool(block) and all(key in _PRINCIPAL_KINDS and _strings(value) for key, value in block.items())


def aws_principals(document):
    """Every ``AWS`` principal (and a bare ``"*"``) of the Principal and NotPrincipal blocks."""
    found = []
    statements = document.get("Statement")
    for statement in [statements] if isinstance(statements, dict) else statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict):
            continue
        for key in ("Principal", "NotPrincipal"):
            block = statement.get(key)
            if block == "*":
                found.append("*")
            elif isinstance(block, dict):
                values = block.get("AWS")
                found += [value for value in (values if isinstance(values, list) else [values]) if isinstance(value, str)]
    return found


def partition_of(region):
    """The partition of a region, as moto names it (``aws``, ``aws-cn``, ``aws-us-gov``, ...)."""
    from moto.utilities.utils import get_partition
    return get_partition(region)


def normalise_principals(document, partition, order="sorted"):
    """A copy of ``document`` with 12-digit ``AWS`` principals as root ARNs and principal lists in ``order``."""
    document = json.loads(json.dumps(document))
    statements = document.get("Statement")
    for statement in [statements] if isinstance(statements, dict) else statements if isinstance(statements, list) else []:
        for key in ("Principal", "NotPrincipal"):
            block = statement.get(key) if isinstance(statement, dict) else None
            if not isinstance(block, dict):
                continue
            for kind, values in block.items():
                if kind == "AWS":
                    values = _as_root(values, partition)
                if isinstance(values, list) and order != "as_written" and all(isinstance(v, str) for v in values):
                    values = sorted(values, reverse=order == "reversed")
                block[kind] = values
    return document


def _as_root(values, partition):
    def convert(value):
        return f"arn:{partition}:iam::{value}:root" if isinstance(value, str) and _ACCOUNT_RE.fullmatch(value) else value
    return [convert(value) for value in values] if isinstance(values, list) else convert(values)


def jackson_pretty(value, level=0):
    """JSON as ECR returns it (Jackson's default pretty printer), e.g.::

        {
          "Version" : "2008-10-17",
          "Statement" : [ {
            "Sid" : "new statement",
            "Principal" : {
              "AWS" : [ "arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root" ]
            },
            "Action" : [ "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer" ]
          } ]
        }

    Objects: one member per line, two spaces per level, ``" : "``; ``{ }`` when empty.
    Arrays: on one line, ``[ a, b ]``, ``[ ]`` when empty (they add no indentation level).
    """
    if isinstance(value, dict):
        if not value:
            return "{ }"
        inner = "  " * (level + 1)
        members = [f"\n{inner}{json.dumps(key, ensure_ascii=False)} : {jackson_pretty(item, level + 1)}" for key, item in value.items()]
        return "{" + ",".join(members) + "\n" + "  " * level + "}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(jackson_pretty(item, level) for item in value) + " ]"
    return json.dumps(value, ensure_ascii=False)


def _json_body(environ):
    body = read_body(environ)
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None


def _replace_body(environ, body):
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def repository_policy_text(registry_id, region, repository):
    """The policy text of one of moto's ECR repositories ("" for none; None when there is no such
    repository), read in process without creating backends: how the Lightsail emulator decides
    whether a deployment's image can be pulled."""
    from moto.ecr.models import ecr_backends
    backend = dict.get(dict.get(ecr_backends, registry_id) or {}, region)
    if backend is None or repository not in backend.repositories:
        return None
    return backend.repositories[repository].policy or ""


def replace_deleted_principal(arn, unique_id):
    """Show ``unique_id`` in place of the deleted role ``arn`` in every stored repository policy (every
    account and Region moto has), as AWS does once a principal named in a resource policy is deleted:
    only ``AWS`` entries of Principal and NotPrincipal blocks change (conditions keep the ARN). The
    text stays in the form it was stored in (ECR's re-serialisation, or compact)."""
    from moto.ecr.models import ecr_backends
    for per_account in list(dict.values(ecr_backends)):
        for backend in list(dict.values(per_account)):
            for repository in list(backend.repositories.values()):
                text = repository.policy
                if not text or arn not in text:
                    continue
                try:
                    document = json.loads(text)
                except ValueError:
                    continue
                if _replace_principal(document, arn, unique_id):
                    repository.policy = jackson_pretty(document) if '" : ' in text else json.dumps(document, separators=(",", ":"))


def _replace_principal(document, arn, unique_id):
    changed = False
    statements = document.get("Statement") if isinstance(document, dict) else None
    for statement in [statements] if isinstance(statements, dict) else statements if isinstance(statements, list) else []:
        for key in ("Principal", "NotPrincipal"):
            block = statement.get(key) if isinstance(statement, dict) else None
            if not isinstance(block, dict) or "AWS" not in block:
                continue
            values = block["AWS"]
            if values == arn:
                block["AWS"], changed = unique_id, True
            elif isinstance(values, list) and arn in values:
                block["AWS"], changed = [unique_id if value == arn else value for value in values], True
    return changed
