# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Emulator of the Amazon Lightsail container-service API (moto and LocalStack have none).

A WSGI app speaking JSON 1.1 (``X-Amz-Target: Lightsail_20161128.<Operation>``) for
CreateContainerService, GetContainerServices, UpdateContainerService,
DeleteContainerService, CreateContainerServiceDeployment and GetContainerServiceDeployments. Requests are validated against botocore's own Lightsail service
model and responses are built in the model's output shapes.

State is kept per (account, region); the region comes from the SigV4 credential scope,
the account from ``account_resolver(access_key)`` if given and not None (the rig server:
keys moto knows in an account other than its default), else the ``account_id`` setting.
States change lazily, computed from timestamps whenever a service is looked at, so there
are no background threads:

* CreateContainerService: PENDING for ``create_delay`` seconds, then READY (RUNNING if a
  deployment was given).
* UpdateContainerService: UPDATING for ``update_delay`` seconds (``puller_delay`` if the
  ECR image puller role is switched), then back to the steady state it had (READY or
  RUNNING; DISABLED if ``isDisabled`` was set). Updating a service in a transitional state
  (PENDING, UPDATING, DEPLOYING, DELETING) is refused with InvalidInputException.
* The ECR image puller role (``privateRegistryAccess.ecrImagePullerRole``) starts
  ``{"isActive": false, "principalArn": ""}``. Switching it flips ``isActive`` in the
  response at once; its ``principalArn`` appears (or is cleared to "") only when the
  UPDATING phase ends. AWS documents that activation takes about 30 seconds; the default
  here is short for tests.
* DeleteContainerService: DELETING for ``delete_delay`` seconds, then the service is gone. Its
  roles (the service principal and the ECR image puller role) are deleted with it: repository
  policies naming them show an IAM unique id (``AROA`` and 17 characters) instead, as AWS shows a
  deleted principal (through ``principal_deleted``; the rig server: moto's ECR).
* CreateContainerServiceDeployment: the new deployment is the service's ``nextDeployment``
  (ACTIVATING) and the service DEPLOYING for ``deploy_delay`` seconds. Then the deployment is
  ACTIVE and the ``currentDeployment`` (the one before it INACTIVE), or FAILED when one of its
  images cannot be pulled, and the current deployment stays. An image from ECR private
  (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>``) can be pulled only from the
  service's own Region, with the ECR image puller role active, and when the repository's policy
  allows that role ``ecr:BatchGetImage`` (read through ``repository_policy``; the rig server:
  moto's ECR). Other images (Docker Hub, ECR Public, ``:service.label.N``) always can. A
  deployment given to CreateContainerService is ACTIVE at once, unchecked.
  GetContainerServiceDeployments lists them newest first.

Control for tests and demos: the ``configure``/``set_state``/``reset``/``services``
methods, or HTTP under ``/_rig/lightsail/`` (see :meth:`LightsailEmulator.control`).
"""

import base64
import fnmatch
import json
import os
import re
import threading
import time
import uuid

import botocore.session
from botocore.validate import ParamValidator

from .requestlog import identify, read_body

TARGET_PREFIX = "Lightsail_20161128."
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
OPERATIONS = ("CreateContainerService", "GetContainerServices", "UpdateContainerService", "DeleteContainerService",
              "CreateContainerServiceDeployment", "GetContainerServiceDeployments")
TRANSITIONAL_STATES = ("PENDING", "UPDATING", "DEPLOYING", "DELETING")
STEADY_STATES = ("READY", "RUNNING", "DISABLED")
CONTROL_PREFIX = "/_rig/lightsail/"

# AWS rule for container service names: 1-63 lowercase letters, digits and hyphens, not
# starting or ending with a hyphen. (The model's pattern says the same, less strictly anchored.)
_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SETTINGS = ("create_delay", "update_delay", "puller_delay", "delete_delay", "deploy_delay")
_ECR_IMAGE_RE = re.compile(r"(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)(?:[:@].*)?")
PULL_ACTION = "ecr:batchgetimage"


class LightsailError(Exception):
    """An AWS error answered to the client: ``{"__type": code, "message": message}``."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _refuse_while_busy(svc, verb):
    """AWS documents no message for this; it refuses changes while the service is busy.
    InvalidInputException naming the state is our best guess (see README)."""
    if svc.state in TRANSITIONAL_STATES:
        raise LightsailError(
            "InvalidInputException",
            f"The container service {svc.name} is in the {svc.state} state and cannot be {verb} now."
            " Try again when it is READY, RUNNING or DISABLED.")


def _role_id():
    """A random role-name suffix like AWS's: 52 characters of lowercase base32hex."""
    return base64.b32hexencode(os.urandom(32)).decode("ascii").rstrip("=").lower()


def _unique_id():
    """An IAM role's unique id as AWS shows it for a deleted role: ``AROA`` and 17 characters of base32."""
    return "AROA" + base64.b32encode(os.urandom(11)).decode("ascii")[:17]


class _Service:
    """One container service and its pending transition."""

    def __init__(self, account, region, name, power, scale, now):
        self.account = account
        self.region = region
        self.name = name
        self.power = power
        self.scale = scale
        self.created_at = now
        self.arn = f"arn:aws:lightsail:{region}:{account}:ContainerService/{uuid.uuid4()}"
        # The service's own role exists from creation; the puller role is a different one.
        self.principal_arn = f"arn:aws:iam::{account}:role/amazon/lightsail/{region}/containers/{name}/{_role_id()}"
        self.url = f"https://{name}.{uuid.uuid4().hex[:13]}.{region}.cs.amazonlightsail.com/"
        self.tags = []
        self.public_domain_names = {}
        self.is_disabled = False
        self.deployment = None
        self.next_deployment = None
        self.deployments = []  # every deployment, oldest first (the same dicts as deployment / next_deployment)
        self.puller_active = False
        self.puller_arn = ""
        self.state = "PENDING"
        # Transition: until this time the state stays as is, then becomes ``next_state``
        # and ``pending`` (attribute -> value) is applied. ``next_state`` None = delete.
        self.until = None
        self.next_state = None
        self.pending = {}

    def begin(self, state, duration, next_state, now, **pending):
        """Enter ``state`` for ``duration`` seconds, then ``next_state`` with ``pending`` applied."""
        self.state = state
        self.until = now + duration
        self.next_state = next_state
        self.pending = pending

    def steady_state(self):
        """The state the service rests in when nothing is going on."""
        if self.is_disabled:
            return "DISABLED"
        return "RUNNING" if self.deployment else "READY"


class LightsailEmulator:
    """The Lightsail container-service emulator: Python API, WSGI app and control endpoints."""

    def __init__(self, account_id=DEFAULT_ACCOUNT_ID, create_delay=0.2, update_delay=0.2, puller_delay=0.5, delete_delay=0.2, clock=time.time,
                 account_resolver=None, deploy_delay=0.3, repository_policy=None, principal_deleted=None):
        """``account_resolver(access_key)`` may name the account a request acts in; None means ``account_id``.
        ``repository_policy(registry_id, region, repository)`` answers an ECR repository's policy text
        ("" for none) or None when there is no such repository; without it, ECR images are not checked.
        ``principal_deleted(arn, unique_id)`` is told of each role a deleted service takes with it."""
        self.principal_deleted = principal_deleted
        self._lock = threading.RLock()
        self.account_resolver = account_resolver
        self.repository_policy = repository_policy
        self.deploy_delay = deploy_delay
        self._clock = clock
        self._services = {}  # (account, region, name) -> _Service
        self.account_id = account_id
        self.create_delay = create_delay
        self.update_delay = update_delay
        self.puller_delay = puller_delay
        self.delete_delay = delete_delay
        self.model = botocore.session.get_session().get_service_model("lightsail")
        self._validator = ParamValidator()
        self._initial_settings = self.settings()

    def service_arn(self, account, region, name):
        """The ARN of a container service (for IAM resource matching), or None when there is none."""
        with self._lock:
            svc = self._services.get((account or self.account_id, region, name))
            return svc.arn if svc else None

    def account_for(self, access_key):
        """The account a request signed with ``access_key`` acts in (see ``account_resolver``)."""
        return (self.account_resolver(access_key) if self.account_resolver and access_key else None) or self.account_id

    # ----- control ---------------------------------------------------------------

    def settings(self):
        """Current account id and delays."""
        doc = {name: getattr(self, name) for name in _SETTINGS}
        doc["account_id"] = self.account_id
        return doc

    def configure(self, **settings):
        """Change ``account_id`` and/or the delays (seconds); returns the new settings."""
        unknown = sorted(set(settings) - set(_SETTINGS) - {"account_id"})
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        for name, value in settings.items():
            if name == "account_id":
                if not (isinstance(value, str) and re.fullmatch(r"\d{12}", value)):
                    raise ValueError("account_id must be 12 digits")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds")
        with self._lock:
            for name, value in settings.items():
                setattr(self, name, value)
        return self.settings()

    def reset(self):
        """Delete every service in every account and region and restore the initial settings."""
        with self._lock:
            self._services.clear()
            for name, value in self._initial_settings.items():
                setattr(self, name, value)

    def set_state(self, service_name, state, region="us-east-1", account_id=None, duration=None, then=None):
        """Put a service directly into ``state``.

        With ``duration`` the state lasts that many seconds and is followed by ``then``
        (default: the service's steady state). Without it the state stays until changed,
        which lets a test hold a service in e.g. DEPLOYING as long as it likes.

        What a running transition still has to change (the puller role's ARN of an
        activation or deactivation, a deployment) is kept, not dropped: it is applied when
        the service next reaches a steady state (READY, RUNNING or DISABLED), set here or at
        the end of ``duration``. So a test can hold an activation in UPDATING
        (``set_state(name, "UPDATING")``) and later let it finish (``set_state(name, "READY")``).
        """
        states = self.model.shape_for("ContainerServiceState").enum
        if state not in states or (then is not None and then not in states):
            raise ValueError(f"state must be one of {', '.join(states)}")
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0):
            raise ValueError("duration must be a non-negative number of seconds")
        with self._lock:
            now = self._clock()
            svc = self._get(account_id or self.account_id, region, service_name)
            carried = dict(svc.pending)
            if duration is None:
                if state in STEADY_STATES:
                    for attr, value in carried.items():
                        setattr(svc, attr, value)
                    carried = {}
                    self._finish_deployment(svc)
                svc.state, svc.until, svc.pending = state, None, carried
                for attr, value in _steady_attributes(svc, state, now).items():
                    setattr(svc, attr, value)
            else:
                next_state = then or _steady_after(svc, carried)
                svc.begin(state, duration, next_state, now, **dict(carried, **_steady_attributes(svc, next_state, now, carried)))
            return self._describe(svc)

    def services(self):
        """Every service in every account and region, in the API shape plus account and region."""
        with self._lock:
            self._settle_all()
            return [dict(self._describe(svc), account=svc.account, region=svc.region) for svc in self._services.values()]

    # ----- AWS API -----------------------------------------------------------------

    def handle(self, operation, params, region, account_id=None):
        """Run one API call; returns the response dict or raises :class:`LightsailError`."""
        if operation not in self.model.operation_names:
            raise LightsailError("UnknownOperationException", f"Unknown operation: {operation}")
        if operation not in OPERATIONS:
            raise LightsailError("UnknownOperationException", f"Operation {operation} is not supported by the rig's Lightsail emulator")
        self.validate(operation, params)
        account = account_id or self.account_id
        with self._lock:
            self._settle_all()
            method = getattr(self, "_op_" + re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
            return method(account, region, params)

    def validate(self, operation, params):
        """Check a request against the model: botocore's validator plus enums, maxima and names."""
        shape = self.model.operation_model(operation).input_shape
        if not isinstance(params, dict):
            raise LightsailError("InvalidInputException", "The request body must be a JSON object")
        report = self._validator.validate(params, shape)
        problems = report.generate_report().splitlines() if report.has_errors() else []
        problems += _constraint_problems(params, shape, "")
        if problems:
            raise LightsailError("InvalidInputException", "; ".join(problems))
        name = params.get("serviceName")
        if name is not None and not _NAME_RE.fullmatch(name):
            raise LightsailError(
                "InvalidInputException",
                f"The container service name {name!r} is not valid: use 1 to 63 lowercase letters, numbers and hyphens,"
                " starting and ending with a letter or number")

    def _op_create_container_service(self, account, region, params):
        name = params["serviceName"]
        if (account, region, name) in self._services:
            raise LightsailError("InvalidInputException",
                                 f"A container service named {name} already exists in {region}. Container service names must be unique.")
        now = self._clock()
        svc = _Service(account, region, name, params["power"], params["scale"], now)
        svc.tags = list(params.get("tags", []))
        svc.public_domain_names = dict(params.get("publicDomainNames", {}))
        deployment = _deployment_from_request(params["deployment"], now) if "deployment" in params else None
        svc.deployments = [deployment] if deployment else []
        pending = {"deployment": deployment} if deployment else {}
        role = params.get("privateRegistryAccess", {}).get("ecrImagePullerRole", {})
        if role.get("isActive"):
            svc.puller_active = True
            pending["puller_arn"] = self._puller_arn(svc)
        svc.begin("PENDING", self.create_delay, "RUNNING" if deployment else "READY", now, **pending)
        self._services[(account, region, name)] = svc
        return {"containerService": self._describe(svc)}

    def _op_get_container_services(self, account, region, params):
        name = params.get("serviceName")
        if name is not None:
            return {"containerServices": [self._describe(self._get(account, region, name))]}
        found = [svc for key, svc in sorted(self._services.items()) if key[:2] == (account, region)]
        return {"containerServices": [self._describe(svc) for svc in found]}

    def _op_update_container_service(self, account, region, params):
        svc = self._get(account, region, params["serviceName"])
        _refuse_while_busy(svc, "updated")
        for key, attr in (("power", "power"), ("scale", "scale"), ("publicDomainNames", "public_domain_names"), ("isDisabled", "is_disabled")):
            if key in params:
                setattr(svc, attr, params[key])
        pending, delay = {}, self.update_delay
        role = params.get("privateRegistryAccess", {}).get("ecrImagePullerRole", {})
        if "isActive" in role and role["isActive"] != svc.puller_active:
            svc.puller_active = role["isActive"]
            # A new activation creates a new role, so a new ARN; deactivation clears it.
            pending["puller_arn"] = self._puller_arn(svc) if role["isActive"] else ""
            delay = self.puller_delay
        svc.begin("UPDATING", delay, svc.steady_state(), self._clock(), **pending)
        return {"containerService": self._describe(svc)}

    def _op_create_container_service_deployment(self, account, region, params):
        svc = self._get(account, region, params["serviceName"])
        _refuse_while_busy(svc, "deployed to")
        if not params.get("containers"):
            raise LightsailError("InvalidInputException", "A deployment needs at least one container.")
        now = self._clock()
        deployment = _deployment_from_request(params, now)
        deployment.update(state="ACTIVATING", version=len(svc.deployments) + 1)
        svc.deployments.append(deployment)
        svc.next_deployment = deployment
        svc.begin("DEPLOYING", self.deploy_delay, "RUNNING", now)
        return {"containerService": self._describe(svc)}

    def _op_get_container_service_deployments(self, account, region, params):
        svc = self._get(account, region, params["serviceName"])
        return {"deployments": [json.loads(json.dumps(deployment)) for deployment in reversed(svc.deployments)]}

    def _op_delete_container_service(self, account, region, params):
        svc = self._get(account, region, params["serviceName"])
        if self.principal_deleted is not None:
            for arn in (svc.puller_arn, svc.principal_arn):
                if arn:
                    self.principal_deleted(arn, _unique_id())
        # After the policies are rewritten, so that DELETING lasts delete_delay from the answer on.
        svc.begin("DELETING", self.delete_delay, None, self._clock())
        return {}

    # ----- helpers ------------------------------------------------------------------

    def _puller_arn(self, svc):
        return f"arn:aws:iam::{svc.account}:role/amazon/lightsail/{svc.region}/containers/{svc.name}/private-repo-access/{_role_id()}"

    def _get(self, account, region, name):
        self._settle_all()
        svc = self._services.get((account, region, name))
        if svc is None:
            raise LightsailError("NotFoundException", f"The container service {name} does not exist in {region}.")
        return svc

    def _settle_all(self):
        """Finish every transition whose time is up."""
        now = self._clock()
        for key, svc in list(self._services.items()):
            if svc.until is None or now < svc.until:
                continue
            if svc.next_state is None:
                del self._services[key]
                continue
            for attr, value in svc.pending.items():
                setattr(svc, attr, value)
            svc.state, svc.until, svc.pending = svc.next_state, None, {}
            if svc.next_deployment is not None and svc.state in STEADY_STATES:
                self._finish_deployment(svc)
                svc.state = svc.steady_state()

    def _finish_deployment(self, svc):
        """End the service's next deployment: ACTIVE (the current one INACTIVE) or FAILED."""
        deployment, svc.next_deployment = svc.next_deployment, None
        if deployment is None:
            return
        if self._pull_problem(svc, deployment):
            deployment["state"] = "FAILED"
            return
        if svc.deployment is not None and svc.deployment is not deployment:
            svc.deployment["state"] = "INACTIVE"
        deployment["state"] = "ACTIVE"
        svc.deployment = deployment

    def _pull_problem(self, svc, deployment):
        """Why the service cannot pull one of the deployment's images (None when it can)."""
        for name, container in sorted(deployment.get("containers", {}).items()):
            match = _ECR_IMAGE_RE.fullmatch(container.get("image", ""))
            if not match:
                continue  # Docker Hub, ECR Public, an image pushed to the service: no grant needed
            if match["region"] != svc.region:
                return f"container {name}: Lightsail pulls from ECR in its own Region only"
            if not (svc.puller_active and svc.puller_arn):
                return f"container {name}: the ECR image puller role is not active"
            if self.repository_policy is None:
                continue
            policy = self.repository_policy(match["registry"], match["region"], match["repository"])
            if policy is None:
                return f"container {name}: repository {match['repository']} does not exist"
            if not policy_allows_pull(policy, svc.puller_arn, svc.account):
                return f"container {name}: the policy of repository {match['repository']} does not allow the puller role"
        return None

    def _describe(self, svc):
        """The service in the model's ContainerService shape (JSON 1.1 wire form)."""
        doc = {
            "containerServiceName": svc.name,
            "arn": svc.arn,
            "createdAt": svc.created_at,
            "location": {"availabilityZone": "all", "regionName": svc.region},
            "resourceType": "ContainerService",
            "tags": [dict(tag) for tag in svc.tags],
            "power": svc.power,
            "powerId": f"{svc.power}-1",
            "state": svc.state,
            "scale": svc.scale,
            "isDisabled": svc.is_disabled,
            "principalArn": svc.principal_arn,
            "privateDomainName": f"{svc.name}.service.local",
            "publicDomainNames": {key: list(value) for key, value in svc.public_domain_names.items()},
            "url": svc.url,
            "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": svc.puller_active, "principalArn": svc.puller_arn}},
        }
        if svc.deployment:
            doc["currentDeployment"] = json.loads(json.dumps(svc.deployment))
        if svc.next_deployment:
            doc["nextDeployment"] = json.loads(json.dumps(svc.next_deployment))
        return doc

    # ----- WSGI ---------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            try:
                payload = _read_json(environ)
            except ValueError as exc:
                return _respond(start_response, 400, {"error": f"invalid JSON: {exc}"}, "application/json")
            status, doc = self.control(environ["REQUEST_METHOD"], path[len(CONTROL_PREFIX):], payload)
            return _respond(start_response, status, doc, "application/json")
        info = identify(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        try:
            if environ.get("REQUEST_METHOD") != "POST" or not target.startswith(TARGET_PREFIX):
                raise LightsailError("UnknownOperationException", f"Unknown operation: {target or '(no X-Amz-Target)'}")
            if not info["region"]:
                raise LightsailError("MissingAuthenticationTokenException", "Missing Authentication Token")
            try:
                params = _read_json(environ)
            except ValueError as exc:
                raise LightsailError("SerializationException", f"The request body is not valid JSON: {exc}") from exc
            account = self.account_resolver(info["access_key"]) if self.account_resolver and info.get("access_key") else None
            doc = self.handle(target[len(TARGET_PREFIX):], params, info["region"], account_id=account)
            return _respond(start_response, 200, doc)
        except LightsailError as exc:
            return _respond(start_response, exc.status, {"__type": exc.code, "message": exc.message})

    def control(self, method, subpath, payload):
        """HTTP control API; returns ``(status, json_doc)``.

        ``GET config`` / ``POST config {"puller_delay": 1, ...}``; ``POST reset``;
        ``GET services``; ``POST state {"serviceName", "state", "region", "account_id", "duration", "then"}``.
        """
        try:
            if subpath == "config" and method == "GET":
                return 200, self.settings()
            if subpath == "config" and method == "POST":
                return 200, self.configure(**(payload or {}))
            if subpath == "reset" and method == "POST":
                self.reset()
                return 200, {"ok": True}
            if subpath == "services" and method == "GET":
                return 200, self.services()
            if subpath == "state" and method == "POST":
                payload = dict(payload or {})
                return 200, self.set_state(payload.pop("serviceName", None), payload.pop("state", None), **payload)
        except (TypeError, ValueError) as exc:
            return 400, {"error": str(exc)}
        except LightsailError as exc:
            return 404, {"error": exc.message}
        return 404, {"error": f"no control endpoint {method} {CONTROL_PREFIX}{subpath}"}


def _steady_after(svc, pending):
    """The steady state the service rests in once ``pending`` changes are made."""
    if pending.get("is_disabled", svc.is_disabled):
        return "DISABLED"
    return "RUNNING" if pending.get("deployment", svc.deployment) else "READY"


def _steady_attributes(svc, state, now, pending=None):
    """Attribute changes that make a forced ``state`` consistent (DISABLED is disabled, RUNNING has a
    deployment), for the service as it is once ``pending`` changes are made."""
    changes = {}
    if state in STEADY_STATES:
        changes["is_disabled"] = state == "DISABLED"
    if state == "RUNNING" and not (pending or {}).get("deployment", svc.deployment) and not svc.next_deployment:
        changes["deployment"] = _deployment_from_request({}, now)
    return changes


def policy_allows_pull(policy_text, principal_arn, account):
    """Whether a repository policy lets ``principal_arn`` (a role of ``account``) call
    ecr:BatchGetImage: an Allow naming the ARN, or ``*`` limited only by ``aws:PrincipalAccount``
    and ``aws:PrincipalArn`` conditions that match, and no Deny that does. (A ``:root`` principal
    delegates to IAM, and a Lightsail puller role has no IAM permissions of its own.)"""
    try:
        statements = json.loads(policy_text).get("Statement") if policy_text else []
    except ValueError:
        return False
    statements = statements if isinstance(statements, list) else [statements]
    allowed = False
    for statement in statements:
        if isinstance(statement, dict) and _statement_matches(statement, principal_arn, account):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _statement_matches(statement, principal_arn, account):
    actions = [str(action).lower() for action in _as_list(statement.get("Action", []))]
    if not any(fnmatch.fnmatchcase(PULL_ACTION, action) for action in actions):
        return False
    principal = statement.get("Principal")
    principals = ["*"] if principal == "*" else _as_list((principal or {}).get("AWS", [])) if isinstance(principal, dict) else []
    if principal_arn not in principals and "*" not in principals:
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for key, values in conditions.items():
            key = key.lower()
            values = [str(value) for value in _as_list(values)]
            if key == "aws:principalaccount" and operator == "StringEquals":
                ok = account in values
            elif key == "aws:principalarn" and operator in ("ArnLike", "StringLike", "ArnEquals", "StringEquals"):
                ok = any(fnmatch.fnmatchcase(principal_arn, value) for value in values)
            else:
                ok = False  # a condition the rig does not evaluate: it does not match
            if not ok:
                return False
    return True


def _deployment_from_request(request, now):
    """A ContainerServiceDeployment (response shape) from a ContainerServiceDeploymentRequest."""
    deployment = {"containers": request.get("containers", {}), "createdAt": now, "state": "ACTIVE", "version": 1}
    endpoint = request.get("publicEndpoint")
    if endpoint:
        deployment["publicEndpoint"] = {
            "containerName": endpoint["containerName"],
            "containerPort": endpoint["containerPort"],
            "healthCheck": endpoint.get("healthCheck", {"healthyThreshold": 2, "unhealthyThreshold": 2, "timeoutSeconds": 2,
                                                        "intervalSeconds": 5, "path": "/", "successCodes": "200-499"}),
        }
    return deployment


def _constraint_problems(value, shape, path):
    """What botocore's validator leaves out: enums, maxima, integer ranges, bool-as-int."""
    problems = []
    label = path or "input"
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                problems += _constraint_problems(item, shape.members[key], f"{path}.{key}" if path else key)
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            problems += _constraint_problems(item, shape.member, f"{label}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            problems += _constraint_problems(item, shape.value, f"{label}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"Invalid value {value!r} for parameter {label}, valid values: {', '.join(shape.enum)}")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"Invalid length for parameter {label}, maximum: {shape.metadata['max']}")
    elif shape.type_name in ("integer", "long"):
        if isinstance(value, bool):
            problems.append(f"Invalid type for parameter {label}, value: {value}, valid types: <class 'int'>")
        elif isinstance(value, int) and not shape.metadata.get("min", value) <= value <= shape.metadata.get("max", value):
            problems.append(f"Invalid range for parameter {label}, value: {value}, valid range: {shape.metadata.get('min')}-{shape.metadata.get('max')}")
    return problems


def _read_json(environ):
    body = read_body(environ)
    return json.loads(body) if body.strip() else {}


def _respond(start_response, status, doc, content_type="application/x-amz-json-1.1"):
    body = json.dumps(doc).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                          ("x-amzn-RequestId", str(uuid.uuid4()))])
    return [body]
