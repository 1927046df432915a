# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Accounts and IAM for the test rig: cross-account ECR requests and IAM enforcement.

Two WSGI middlewares, run inside the rig's server process next to moto (they read
moto's IAM and STS backends directly):

* :class:`CrossAccountMiddleware` (moto port, on by default): an ECR JSON request whose
  body names a ``registryId`` other than the caller's account is served by moto as that
  account. moto chooses the account of a request from its access key and ignores
  ``registryId`` for that; the middleware adds moto's own ``x-moto-account-id`` request
  header, which moto's ``BaseResponse.get_current_account`` puts before the access key.
  The signature and the logged request stay as they were. The target repository's
  policy is not evaluated: the rig acts as if it let the caller in.
* :class:`IamEnforcementMiddleware` (both ports, off until switched on): checks every
  AWS request against the identity policies of the IAM user or assumed role whose
  access key signed it (moto's IAM backend, moto's signature check) and answers
  AccessDenied in the request's protocol when they do not allow it. ``Condition``
  blocks are evaluated for the condition keys the rig knows (``KNOWN_CONDITION_KEYS``);
  an operator or key it does not know fails closed. Requests signed
  with an exempt key (the rig's default ``testing`` key) or by a session of the rig's
  cross-account role are not checked, so tests can set up and inspect with them.

moto's own switch (``INITIAL_NO_AUTH_ACTION_COUNT``, ``/moto-api/reset-auth``) is not
used; see README.md ("IAM enforcement") for why.
"""

import functools
import json
import re
import threading
import types
import uuid
from xml.sax.saxutils import escape
from urllib.parse import parse_qs, urlsplit

from .faults import error_response
from .requestlog import identify, read_body

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
# Role the rig assumes (through moto's STS) to act as another account; sessions of it are
# never IAM-checked. The role does not need to exist: moto's AssumeRole accepts any ARN.
CROSS_ACCOUNT_ROLE = "pullaccess-rig-cross-account"
ACCOUNT_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"  # moto's "x-moto-account-id" request header
_ACCOUNT_RE = re.compile(r"\d{12}")


class IamSettings:
    """Thread-safe switches shared by the middlewares and the control endpoint."""

    _FIELDS = ("enforce", "cross_account", "exempt_access_keys")

    def __init__(self, enforce=False, cross_account=True, exempt_access_keys=("testing",)):
        self._lock = threading.Lock()
        self.enforce = False
        self.cross_account = True
        self.exempt_access_keys = []
        self.configure(enforce=enforce, cross_account=cross_account, exempt_access_keys=list(exempt_access_keys))
        self._initial = self.to_dict()

    def configure(self, **changes):
        """Change some settings (ValueError, and no change, if one is invalid); returns all."""
        unknown = sorted(set(changes) - set(self._FIELDS))
        if unknown:
            raise ValueError(f"unknown IAM setting(s): {', '.join(unknown)}")
        for name in ("enforce", "cross_account"):
            if name in changes and not isinstance(changes[name], bool):
                raise ValueError(f"{name} must be true or false")
        keys = changes.get("exempt_access_keys")
        if keys is not None and not (isinstance(keys, list) and all(isinstance(key, str) and key for key in keys)):
            raise ValueError("exempt_access_keys must be a list of access key ids")
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, list(value) if name == "exempt_access_keys" else value)
            return self._snapshot()

    def to_dict(self):
        """The current settings."""
        with self._lock:
            return self._snapshot()

    def reset(self):
        """Back to the settings the server started with."""
        self.configure(**self._initial)

    def _snapshot(self):
        return {"enforce": self.enforce, "cross_account": self.cross_account, "exempt_access_keys": list(self.exempt_access_keys)}


def account_of_access_key(access_key):
    """The moto account an access key belongs to (IAM user or STS session), or None if moto does not know it."""
    from moto.iam.models import iam_backends
    for account_id, account in list(iam_backends.items()):
        for partition in list(account.keys()):
            if access_key in account[partition].access_keys:
                return account_id
    return None


def caller_account(access_key):
    """The account moto serves a request signed with ``access_key`` from (default for unknown keys)."""
    return (access_key and account_of_access_key(access_key)) or DEFAULT_ACCOUNT_ID


def lightsail_account_resolver(access_key):
    """For the Lightsail emulator: the account of a key moto knows in an account other than its default, else None."""
    account = account_of_access_key(access_key) if access_key else None
    return account if account not in (None, DEFAULT_ACCOUNT_ID) else None


class CrossAccountMiddleware:
    """Serve ECR requests naming another account's ``registryId`` as that account (see module doc)."""

    def __init__(self, app, settings):
        self.app = app
        self.settings = settings

    def __call__(self, environ, start_response):
        info = identify(environ)
        registry = info.get("registry_id")
        if (self.settings.cross_account and info["service"] == "ecr" and info["protocol"] == "json"
                and isinstance(registry, str) and _ACCOUNT_RE.fullmatch(registry)
                and registry != caller_account(info.get("access_key"))):
            environ[ACCOUNT_HEADER] = registry
        return self.app(environ, start_response)


class _Refused(Exception):
    """A request the enforcement refuses: ``kind`` is denied, unknown_key, bad_signature or unsigned."""

    def __init__(self, kind, message=""):
        super().__init__(message)
        self.kind = kind
        self.message = message
        # For the simulation's own errors (the kinds above have theirs in _REFUSALS).
        self.kind_code = {"invalid": "InvalidInput", "missing": "NoSuchEntity"}.get(kind, kind)


# (status, code) per protocol for each kind of refusal, as AWS answers them.
_REFUSALS = {
    "denied": {"json": (400, "AccessDeniedException"), "query": (403, "AccessDenied"), "rest": (403, "AccessDeniedException")},
    "unknown_key": {"json": (400, "UnrecognizedClientException"), "query": (403, "InvalidClientTokenId"),
                    "rest": (403, "UnrecognizedClientException")},
    "bad_signature": {"json": (400, "InvalidSignatureException"), "query": (403, "SignatureDoesNotMatch"),
                      "rest": (403, "InvalidSignatureException")},
    "unsigned": {"json": (400, "MissingAuthenticationTokenException"), "query": (403, "MissingAuthenticationToken"),
                 "rest": (403, "MissingAuthenticationTokenException")},
}
_INVALID_TOKEN = "The security token included in the request is invalid."
_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")


class IamEnforcementMiddleware:
    """Refuse requests the signer's identity policies do not allow, while enforcement is on."""

    def __init__(self, app, settings, lightsail=None):
        self.app = app
        self.settings = settings
        self.lightsail = lightsail  # the emulator, for container service ARNs

    def __call__(self, environ, start_response):
        settings = self.settings.to_dict()
        if not settings["enforce"]:
            return self.app(environ, start_response)
        info = identify(environ)
        try:
            self.check(environ, info, settings["exempt_access_keys"], self.lightsail)
        except _Refused as refusal:
            status, code = _REFUSALS[refusal.kind][info["protocol"]]
            status_line, headers, body = error_response(info, status, code, refusal.message)
            start_response(status_line, headers)
            return [body]
        return self.app(environ, start_response)

    @staticmethod
    def check(environ, info, exempt_access_keys, lightsail=None):
        """Raise :class:`_Refused` unless the request may go on."""
        if not info["service"] or not info.get("access_key"):
            raise _Refused("unsigned", "Missing Authentication Token")
        if info["access_key"] in exempt_access_keys:
            return
        request = _signed_request(environ, info)
        try:
            request.check_signature()
        except KeyError:  # a signed header (X-Amz-Date, ...) is missing: the signature cannot be checked
            raise _Refused("bad_signature", _BAD_SIGNATURE) from None
        identity = request._access_key
        if getattr(identity, "_owner_role_name", None) == CROSS_ACCOUNT_ROLE:
            return
        action = request._action
        if action == "sts:GetCallerIdentity":
            return  # AWS allows it whatever the policies say
        documents = _policy_documents(identity)
        params = _parameters(environ, info)
        context = request_context(info, params, identity, request.account_id)
        for resource in request_resources(info, params, request.account_id, request.backend, lightsail):
            verdict = evaluate(documents, action, resource, context)
            if verdict == "allow" and request._is_assuming_role_operation(resource) and not request._check_role_trust_relationship(resource):
                verdict = "trust"
            if verdict != "allow":
                why = {"deny": "with an explicit deny in an identity-based policy",
                       "trust": "because the role's trust policy does not allow it"}.get(
                           verdict, f"because no identity-based policy allows the {action} action")
                raise _Refused("denied", f"User: {identity.arn} is not authorized to perform: {action} on resource: {resource} {why}")


@functools.lru_cache(maxsize=None)
def _request_class():
    """moto's IAMRequest, raising the rig's refusals instead of moto's XML errors (built on first use: moto loads late)."""
    from moto.iam.access_control import IAMRequest

    class RigIAMRequest(IAMRequest):
        """Identity lookup, signature check and role trust check are moto's."""

        def _raise_signature_does_not_match(self):
            raise _Refused("bad_signature", _BAD_SIGNATURE)

        def _raise_invalid_access_key(self, reason):
            raise _Refused("unknown_key", _INVALID_TOKEN)

        def _raise_access_denied(self):
            raise _Refused("denied", f"User: {self._access_key.arn} is not authorized to perform: {self._action}")

    return RigIAMRequest


def _signed_request(environ, info):
    """moto's IAMRequest for this WSGI request, built from what moto's server would pass it."""
    from werkzeug.datastructures import EnvironHeaders
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = urlsplit(raw_uri).path if "://" in raw_uri else raw_uri.split("?", 1)[0]
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    return _request_class()(account_id=caller_account(info["access_key"]), method=info["method"], path=path,
                            data=_fields(environ) if info["protocol"] == "query" else {},
                            body=read_body(environ), headers=EnvironHeaders(environ), action=info["operation"] or "")


def _fields(environ):
    """Query string and form fields, as lists of values (the shape moto's ``IAMRequest`` expects)."""
    fields = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        fields.update(parse_qs(read_body(environ).decode("utf-8", "replace")))
    return fields


def _parameters(environ, info):
    """Request parameters: the JSON body's object, or the query/form fields (first values)."""
    if info["protocol"] == "json":
        body = read_body(environ)
        try:
            doc = json.loads(body) if body.strip() else {}
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}
    return {key: values[0] for key, values in _fields(environ).items()}


def _policy_documents(identity):
    """The identity's policy documents (inline, attached, its groups') as parsed JSON."""
    from moto.iam.access_control import IAMPolicy
    from moto.iam.exceptions import IAMException
    try:
        policies = identity.collect_policies()
    except IAMException:
        return []  # an assumed role that does not exist has no policies
    return [IAMPolicy(policy)._policy_json for policy in policies]


def request_resources(info, params, caller, iam_backend=None, lightsail=None):
    """The resource ARNs a request acts on, for Resource matching ("*" when not known).

    ECR: the repository (``registryId`` or the caller's account; one per name of
    ``repositoryNames``). IAM: the role, user, group or policy named (SimulatePrincipalPolicy:
    its ``PolicySourceArn``). STS AssumeRole: the role. Lightsail (with the emulator given): the
    container service a request names by ``serviceName`` (its ARN, as the service authorization
    reference has it for UpdateContainerService); ``GetContainerServices`` has no resource-level
    permissions. Anything else: ``*``.
    """
    region, service = info["region"], info["service"]
    if service == "lightsail" and lightsail is not None and info["operation"] != "GetContainerServices":
        name = params.get("serviceName")
        arn = lightsail.service_arn(lightsail.account_for(info.get("access_key")), region, name) if isinstance(name, str) else None
        return [arn or "*"]
    if service == "ecr":
        registry = params.get("registryId") if isinstance(params.get("registryId"), str) else caller
        names = params.get("repositoryNames") if isinstance(params.get("repositoryNames"), list) else [params.get("repositoryName")]
        arns = [f"arn:aws:ecr:{region}:{registry}:repository/{name}" for name in names if isinstance(name, str)]
        return arns or ["*"]
    if service == "sts" and info["operation"] == "AssumeRole" and params.get("RoleArn"):
        return [params["RoleArn"]]
    if service == "iam":
        return [_iam_resource(params, caller, iam_backend)]
    return ["*"]


def _iam_resource(params, caller, backend):
    from moto.iam.exceptions import IAMException
    path = params.get("Path") or "/"
    if params.get("InstanceProfileName"):
        # AddRoleToInstanceProfile acts on the instance profile (its RoleName is the role it adds).
        try:
            return backend.get_instance_profile(params["InstanceProfileName"]).arn
        except IAMException:
            return f"arn:aws:iam::{caller}:instance-profile{path}{params['InstanceProfileName']}"
    for key, kind, getter in (("RoleName", "role", "get_role"), ("UserName", "user", "get_user"), ("GroupName", "group", "get_group")):
        name = params.get(key)
        if name:
            try:
                return getattr(backend, getter)(name).arn
            except IAMException:  # not there (yet): the ARN it would have
                return f"arn:aws:iam::{caller}:{kind}{path}{name}"
    if params.get("PolicyArn"):
        return params["PolicyArn"]
    if params.get("PolicySourceArn"):
        return params["PolicySourceArn"]
    if params.get("PolicyName"):
        return f"arn:aws:iam::{caller}:policy{path}{params['PolicyName']}"
    return "*"


def evaluate(documents, action, resource, context=None):
    """Evaluate identity policy documents: "deny" (explicit), "allow", or "implicit" (no statement allows).

    Supports Effect, Action/NotAction (case-insensitive, ``*`` and ``?`` wildcards),
    Resource/NotResource (``*`` and ``?``) and Condition (see :func:`conditions_hold`) with
    the request's condition keys in ``context`` (``{key: value or list of values}``, keys as
    :func:`request_context` gives them). A condition the rig cannot evaluate (an operator or
    key it does not know) fails closed: an Allow statement with it does not apply, a Deny
    statement does. Policy variables, permission boundaries, session policies and SCPs are
    not supported.
    """
    context = {key.lower(): value for key, value in (context or {}).items()}
    allowed = False
    for document in documents:
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        for statement in statements if isinstance(statements, list) else [statements]:
            if not isinstance(statement, dict) or not _statement_matches(statement, action, resource):
                continue
            effect = statement.get("Effect")
            holds = conditions_hold(statement["Condition"], context) if "Condition" in statement else True
            if effect == "Deny" and holds is not False:
                return "deny"
            allowed = allowed or (effect == "Allow" and holds is True)
    return "allow" if allowed else "implicit"


def _statement_matches(statement, action, resource):
    if "Action" in statement:
        if not _any_match(statement["Action"], action, ignore_case=True):
            return False
    elif "NotAction" in statement:
        if _any_match(statement["NotAction"], action, ignore_case=True):
            return False
    else:
        return False
    if "Resource" in statement:
        return _any_match(statement["Resource"], resource)
    if "NotResource" in statement:
        return not _any_match(statement["NotResource"], resource)
    return False


# ----- conditions ----------------------------------------------------------------------------

# Condition keys the rig gives values for (lower case; AWS compares key names case-insensitively).
# A request without one of them (iam:PolicyARN on GetRole, aws:username for a role session)
# simply lacks it, as on AWS. iam:PassedToService comes only from a simulation's context entries
# (the rig checks no implicit PassRole). Any other key is unknown to the rig: conditions on it fail closed.
KNOWN_CONDITION_KEYS = ("aws:requestedregion", "aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:username",
                        "iam:policyarn", "iam:passedtoservice")
# Operations that give iam:PolicyARN (the PolicyArn parameter), as AWS documents the key.
_POLICY_ARN_OPERATIONS = ("AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy",
                          "DetachGroupPolicy")


def request_context(info, params, identity, account_id):
    """The condition keys of a request the rig knows (see ``KNOWN_CONDITION_KEYS``) that it has."""
    context = {"aws:PrincipalAccount": account_id}
    if info.get("region"):
        context["aws:RequestedRegion"] = info["region"]
    user = getattr(identity, "_owner_user_name", None)
    role = getattr(identity, "_owner_role_name", None)
    if user:
        context.update({"aws:PrincipalArn": identity.arn, "aws:PrincipalType": "User", "aws:username": user})
    elif role:
        context["aws:PrincipalType"] = "AssumedRole"
        try:
            context["aws:PrincipalArn"] = identity.backend.get_role(role).arn  # the role's ARN, path included
        except Exception:  # pylint: disable=broad-except  # moto lets a session outlive (or precede) its role
            pass
    if info.get("service") == "iam" and info.get("operation") in _POLICY_ARN_OPERATIONS and isinstance(params.get("PolicyArn"), str):
        context["iam:PolicyARN"] = params["PolicyArn"]
    return context


def _glob(pattern, value, ignore_case=False):
    if "*" not in pattern and "?" not in pattern:
        # Most patterns are exact ARNs: a generated policy for a big fleet names thousands.
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _glob_regex(pattern, ignore_case).fullmatch(value) is not None


@functools.lru_cache(maxsize=65536)
def _glob_regex(pattern, ignore_case):
    """The compiled regex of a ``*``/``?`` pattern (re's own cache holds only 512: too few for a big policy)."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(regex, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def _arn_like(pattern, value):
    """ArnLike/ArnEquals: each of the six colon-separated parts matched on its own (``*``, ``?``)."""
    wanted, given = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == 6 and len(given) == 6 and all(_glob(w, g) for w, g in zip(wanted, given))


# Operator -> (match of one request value against one policy value, negated).
_OPERATORS = {
    "StringEquals": (lambda value, wanted: value == wanted, False),
    "StringNotEquals": (lambda value, wanted: value == wanted, True),
    "StringEqualsIgnoreCase": (lambda value, wanted: value.lower() == wanted.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda value, wanted: value.lower() == wanted.lower(), True),
    "StringLike": (lambda value, wanted: _glob(wanted, value), False),
    "StringNotLike": (lambda value, wanted: _glob(wanted, value), True),
    "ArnEquals": (lambda value, wanted: _arn_like(wanted, value), False),
    "ArnLike": (lambda value, wanted: _arn_like(wanted, value), False),
    "ArnNotEquals": (lambda value, wanted: _arn_like(wanted, value), True),
    "ArnNotLike": (lambda value, wanted: _arn_like(wanted, value), True),
    "Bool": (lambda value, wanted: value.lower() == wanted.lower(), False),
}


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None if isinstance(value, (dict, list)) or value is None else str(value)


def conditions_hold(condition, context):
    """Whether a statement's Condition block holds for a request: True, False, or None when the rig
    cannot tell (an operator or key it does not know, a malformed block). Every operator and every
    key in it must hold (AND: one that fails makes it False even beside one the rig cannot tell);
    a key's policy values are alternatives (OR).

    Operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase,
    StringLike, StringNotLike, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Bool (each also with
    ``IfExists``, and with the ``ForAnyValue:`` and ``ForAllValues:`` set prefixes) and Null. As
    on AWS: a key the request lacks fails a positive operator and passes a negated one; IfExists
    passes; ForAllValues passes, ForAnyValue fails; Null tests presence.
    """
    if not isinstance(condition, dict):
        return None
    context = {key.lower(): value for key, value in context.items()}
    verdicts = []
    for operator, block in condition.items():
        if not isinstance(operator, str) or not isinstance(block, dict) or not block:
            verdicts.append(None)
            continue
        verdicts += [_condition_holds(operator, key, wanted, context) for key, wanted in block.items()]
    # AND with "cannot tell": one that fails decides; else one the rig cannot tell leaves it open.
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _condition_holds(operator, key, wanted, context):
    if not isinstance(key, str) or key.lower() not in KNOWN_CONDITION_KEYS:
        return None
    wanted = [wanted] if not isinstance(wanted, list) else wanted
    wanted = [_text(item) for item in wanted]
    if not wanted or None in wanted:
        return None
    present = key.lower() in context
    if operator == "Null":
        if any(item.lower() not in ("true", "false") for item in wanted):
            return None
        return any((item.lower() == "true") != present for item in wanted)
    quantifier, dummy, base = operator.rpartition(":")
    if quantifier not in ("", "ForAnyValue", "ForAllValues"):
        return None
    if_exists = base.endswith("IfExists")
    base = base[:-len("IfExists")] if if_exists else base
    if base not in _OPERATORS:
        return None
    match, negated = _OPERATORS[base]
    if not present:
        if if_exists or quantifier == "ForAllValues":
            return True
        return False if quantifier == "ForAnyValue" else negated
    values = context[key.lower()]
    values = [_text(item) for item in (values if isinstance(values, list) else [values])]

    def one(value):
        hit = value is not None and any(match(value, item) for item in wanted)
        return not hit if negated else hit

    return all(one(value) for value in values) if quantifier == "ForAllValues" else any(one(value) for value in values)


def _any_match(patterns, value, ignore_case=False):
    patterns = patterns if isinstance(patterns, list) else [patterns]
    for pattern in patterns:
        if not isinstance(pattern, str):
            continue
        if wildcard_match(pattern, value, ignore_case):
            return True
    return False


def wildcard_match(pattern, value, ignore_case=False):
    """IAM wildcard match: ``*`` any run of characters, ``?`` one character, nothing else special.

    A request resource of ``*`` (not known) is matched only by a pattern of ``*``.
    """
    if value == "*" and pattern != "*":
        return False
    return _glob(pattern, value, ignore_case)


# ----- SimulatePrincipalPolicy ---------------------------------------------------------------

_IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


class SimulationMiddleware:
    """Answer IAM ``SimulatePrincipalPolicy`` (moto has none) with the rig's own evaluator: the
    identity policies of the user or role ``PolicySourceArn`` names, evaluated for each action
    and resource with the request's ``ContextEntries``, as the rig's IAM enforcement would
    decide. Whether the caller may simulate is the enforcement's business (it runs first)."""

    def __init__(self, app, lightsail=None):
        self.app = app
        self.lightsail = lightsail

    def __call__(self, environ, start_response):
        info = identify(environ)
        if info["service"] != "iam" or info["operation"] != "SimulatePrincipalPolicy":
            return self.app(environ, start_response)
        fields = _fields(environ)
        try:
            results = simulate(fields, caller_account(info.get("access_key")))
        except _Refused as refusal:
            status_line, headers, body = error_response(info, 400 if refusal.kind == "invalid" else 404, refusal.kind_code, refusal.message)
            start_response(status_line, headers)
            return [body]
        members = "".join(
            f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalResourceName>{escape(resource)}</EvalResourceName>"
            f"<EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/></member>"
            for action, resource, decision in results)
        body = (f'<SimulatePrincipalPolicyResponse xmlns="{_IAM_NS}"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>'
                f"<EvaluationResults>{members}</EvaluationResults></SimulatePrincipalPolicyResult>"
                f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>").encode()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]


def _members(fields, prefix):
    """The values of a query list parameter (``prefix.member.N``), in order."""
    found = []
    index = 1
    while f"{prefix}.member.{index}" in fields:
        found.append(fields[f"{prefix}.member.{index}"][0])
        index += 1
    return found


def simulate(fields, caller):
    """``[(action, resource, decision)]`` for a SimulatePrincipalPolicy request's query fields
    (decision ``allowed``, ``explicitDeny`` or ``implicitDeny``)."""
    from moto.iam.access_control import AssumedRoleAccessKey, IAMUserAccessKey
    from moto.iam.exceptions import IAMException
    from moto.iam.models import iam_backends
    source = (fields.get("PolicySourceArn") or [""])[0]
    match = re.fullmatch(r"arn:[\w-]+:iam::(\d{12}):(user|role)/(?:.*/)?([^/]+)", source)
    if not match:
        raise _Refused("invalid", f"Invalid ARN: {source}")
    account, kind, name = match.groups()
    actions, resources = _members(fields, "ActionNames"), _members(fields, "ResourceArns") or ["*"]
    if kind == "role" and name == CROSS_ACCOUNT_ROLE:
        # The rig's own cross-account sessions are never IAM-checked: they may do anything.
        return [(action, resource, "allowed") for action in actions for resource in resources]
    backend = iam_backends[account]["aws"]
    owner = types.SimpleNamespace(backend=backend, _owner_user_name=name, _owner_role_name=name)
    try:
        collect = IAMUserAccessKey.collect_policies if kind == "user" else AssumedRoleAccessKey.collect_policies
        from moto.iam.access_control import IAMPolicy
        documents = [IAMPolicy(policy)._policy_json for policy in collect(owner)]
    except IAMException:
        raise _Refused("missing", f"The {kind} with name {name} cannot be found.") from None
    context = {"aws:PrincipalAccount": account, "aws:PrincipalArn": source}
    index = 1
    while f"ContextEntries.member.{index}.ContextKeyName" in fields:
        values = _members(fields, f"ContextEntries.member.{index}.ContextKeyValues")
        context[fields[f"ContextEntries.member.{index}.ContextKeyName"][0]] = values if len(values) != 1 else values[0]
        index += 1
    decisions = {"allow": "allowed", "deny": "explicitDeny", "implicit": "implicitDeny"}
    return [(action, resource, decisions[evaluate(documents, action, resource, context)]) for action in actions for resource in resources]
