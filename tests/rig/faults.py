# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fault injection for the test rig, as WSGI middleware configured at run time.

A rule is a dict::

    {"service": "ecr",                   # SigV4 service name, or "*" (default)
     "operation": "SetRepositoryPolicy", # operation name, or "*" (default)
     "kind": "throttle",                 # throttle | server_error | error | slow | drop | respond
     "times": 2,                         # fire on the next 2 matching requests, or
     "probability": 0.5, "seed": 7,      # fire on each matching request with this chance
     "delay": 1.5,                       # slow: seconds to wait before passing the request on
     "status": 400, "code": "...", "message": "...",  # error: what to answer
     "body": {...},                      # respond: a canned JSON answer (status default 200)
     "name": "..."}                      # optional label, logged as "fault" (default: kind)

With neither ``times`` nor ``probability`` a rule fires on every matching request.
Rules are tried in order; the first one that matches and fires wins. A fired rule
answers in the wire shape of the request's protocol (JSON 1.1 ``__type`` for X-Amz-Target
services such as ECR, ECS and Lightsail; ``<ErrorResponse>`` XML for query services such
as IAM and STS) and never passes the request to the backend, except ``slow``, which
waits and then does. ``drop`` closes the connection without any HTTP response, so
botocore sees a connection error; this needs :class:`DropConnectionHandlerMixin` in the
server's request handler.
"""

import json
import random
import socket
import threading
import time
import uuid
from xml.sax.saxutils import escape

from .requestlog import ENVIRON_FAULT, identify

KINDS = ("throttle", "server_error", "error", "slow", "drop", "respond")

# The exception each service models for "the server failed"; others get InternalFailure.
SERVER_EXCEPTIONS = {
    "ecr": "ServerException",
    "ecs": "ServerException",
    "lightsail": "ServiceException",
    "iam": "ServiceFailure",
}

# What ECR answers SetRepositoryPolicy when a principal in the policy does not exist (yet),
# e.g. an IAM role created seconds ago that has not propagated. Observed text, see
# https://github.com/hashicorp/terraform-provider-aws/issues/39064
ECR_PRINCIPAL_NOT_FOUND_MESSAGE = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'"


def ecr_principal_not_found(times=1):
    """Rule making ECR reject the next ``times`` SetRepositoryPolicy calls as AWS does for an unknown principal."""
    return {"service": "ecr", "operation": "SetRepositoryPolicy", "kind": "error", "times": times,
            "status": 400, "code": "InvalidParameterException", "message": ECR_PRINCIPAL_NOT_FOUND_MESSAGE,
            "name": "principal-not-found"}


class DropConnection(ConnectionAbortedError):
    """Raised through the WSGI stack to make the server hang up without answering."""


class FaultRule:
    """One validated rule plus its firing state."""

    _FIELDS = ("service", "operation", "kind", "times", "probability", "seed", "delay", "status", "code", "message", "name", "body")

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError(f"a fault rule must be an object, got {spec!r}")
        unknown = sorted(set(spec) - set(self._FIELDS))
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(unknown)}")
        self.kind = spec.get("kind")
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        self.service = _text(spec, "service", "*").lower()
        self.operation = _text(spec, "operation", "*")
        self.name = _text(spec, "name", self.kind)
        self.times = spec.get("times")
        if self.times is not None and (not _is_int(self.times) or self.times < 0):
            raise ValueError("times must be a non-negative integer")
        self.probability = spec.get("probability")
        if self.probability is not None:
            if not _is_number(self.probability) or not 0 <= self.probability <= 1:
                raise ValueError("probability must be a number from 0 to 1")
        self.seed = spec.get("seed")
        self._random = random.Random(self.seed)
        self.delay = spec.get("delay", 1.0)
        if not _is_number(self.delay) or self.delay < 0:
            raise ValueError("delay must be a non-negative number")
        self.status = spec.get("status", 200 if self.kind == "respond" else 400)
        if self.kind == "respond":
            # A canned answer, e.g. a stored state the real service would never accept.
            self.body = spec.get("body")
            if not isinstance(self.body, dict):
                raise ValueError("a fault of kind 'respond' needs a JSON object body")
        elif not _is_int(self.status) or not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        self.code = _text(spec, "code", None)
        self.message = _text(spec, "message", "")
        if self.kind == "error" and not self.code:
            raise ValueError("a fault of kind 'error' needs a code")
        self.fired = 0

    def matches(self, service, operation):
        """Whether the rule applies to this service and operation."""
        return self.service in ("*", (service or "").lower()) and self.operation in ("*", operation)

    def fire(self):
        """Decide whether the rule fires for one matching request (consumes ``times``)."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.probability is not None and self._random.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def to_dict(self):
        """The rule as given, plus how often it fired and how many firings remain."""
        doc = {"service": self.service, "operation": self.operation, "kind": self.kind, "name": self.name, "fired": self.fired}
        if self.times is not None:
            doc["times"] = self.times
            doc["remaining"] = self.times - self.fired
        if self.probability is not None:
            doc["probability"] = self.probability
            doc["seed"] = self.seed
        if self.kind == "slow":
            doc["delay"] = self.delay
        if self.kind == "error":
            doc.update(status=self.status, code=self.code, message=self.message)
        return doc


def _text(spec, key, default):
    value = spec.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class FaultInjector:
    """Thread-safe holder of the active rules."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def set_rules(self, specs):
        """Replace all rules; raises ValueError (and keeps the old rules) if any is invalid."""
        if not isinstance(specs, list):
            raise ValueError("fault rules must be a list")
        rules = [FaultRule(spec) for spec in specs]
        with self._lock:
            self._rules = rules

    def clear(self):
        """Remove all rules."""
        with self._lock:
            self._rules = []

    def rules(self):
        """The active rules with their counters."""
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def pick(self, service, operation):
        """The rule that fires for this request, or None."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(service, operation) and rule.fire():
                    return rule
        return None


def error_response(info, status, code, message):
    """Build ``(status_line, headers, body)`` for an AWS error in the request's protocol."""
    request_id = str(uuid.uuid4())
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
    if info["protocol"] == "query":
        kind = "Sender" if status < 500 else "Receiver"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"__type": code, "message": message})
        content_type = "application/x-amz-json-1.1" if info["protocol"] == "json" else "application/json"
        headers = [("Content-Type", content_type), ("x-amzn-RequestId", request_id)]
        if info["protocol"] == "rest":
            # REST-JSON services (and botocore) read the code from this header.
            headers.append(("x-amzn-ErrorType", code))
    data = body.encode("utf-8")
    headers.append(("Content-Length", str(len(data))))
    return f"{status} {reason}", headers, data


class FaultMiddleware:
    """WSGI middleware that answers matching requests with the configured fault."""

    def __init__(self, app, injector, sleep=time.sleep):
        self.app = app
        self.injector = injector
        self.sleep = sleep

    def __call__(self, environ, start_response):
        info = identify(environ)
        rule = self.injector.pick(info["service"], info["operation"])
        if rule is None:
            return self.app(environ, start_response)
        environ[ENVIRON_FAULT] = rule.name
        if rule.kind == "slow":
            self.sleep(rule.delay)
            return self.app(environ, start_response)
        if rule.kind == "drop":
            raise DropConnection(f"rig: injected drop ({rule.name})")
        if rule.kind == "respond":
            data = json.dumps(rule.body).encode("utf-8")
            start_response(f"{rule.status} OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))])
            return [data]
        if rule.kind == "throttle":
            code = "Throttling" if info["protocol"] == "query" else "ThrottlingException"
            status, message = 400, "Rate exceeded"
        elif rule.kind == "server_error":
            code = SERVER_EXCEPTIONS.get(info["service"], "InternalFailure")
            status, message = 500, "We encountered an internal error. Please try again."
        else:
            code, status, message = rule.code, rule.status, rule.message
        status_line, headers, body = error_response(info, status, code, message)
        start_response(status_line, headers)
        return [body]


class DropConnectionHandlerMixin:
    """Mix into a werkzeug ``WSGIRequestHandler`` so :class:`DropConnection` hangs up.

    werkzeug treats a ``ConnectionError`` escaping the app as "client went away" and sends
    nothing; on a keep-alive connection it would then wait for the next request while the
    client waits for a response. Shutting the socket down makes the client see the
    connection close at once.
    """

    def connection_dropped(self, error, environ=None):
        """Close the connection when the drop was injected."""
        if isinstance(error, DropConnection):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer: nothing left to hang up
        super().connection_dropped(error, environ)
