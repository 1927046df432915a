# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Thread-safe JSON-lines log of the AWS requests the test rig handled.

Every AWS request that reaches the rig (moto or the Lightsail emulator) appends one
entry, in the order the responses were produced::

    {"seq": 7, "time": 1760000000.123, "service": "ecr", "region": "us-east-1",
     "operation": "SetRepositoryPolicy", "method": "POST", "path": "/",
     "status": 400, "error_code": "InvalidParameterException",
     "mutating": true, "fault": "error", "access_key": "AKIA..."}

``access_key`` is the access key id that signed the request (SigV4 ``Credential=``), null
when unsigned. ECR requests whose JSON body has a ``registryId`` also carry ``"registry_id": "222222222222"``.

``seq`` starts at 1 and only ever grows, also across :meth:`RequestLog.clear`, so a
mark taken before a reset never matches entries written after it by accident.
"""

import io
import json
import re
import threading
import time
from urllib.parse import parse_qs

# Operations whose name starts with one of these only read state.
READ_PREFIXES = ("Get", "Describe", "List", "BatchGet", "BatchCheck", "Simulate")

# SigV4: "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ecr/aws4_request, ..."
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
_XML_CODE_RE = re.compile(r"<Code>\s*([^<\s]+)\s*</Code>")

# Keys under which the rig's middlewares share what they found out about a request.
ENVIRON_REQUEST = "rig.request"
ENVIRON_FAULT = "rig.fault"


def is_mutating(operation):
    """Tell whether an AWS operation may change state.

    Everything is mutating except operations starting with Get, Describe, List, BatchGet,
    BatchCheck or Simulate (so GetAuthorizationToken, GetCallerIdentity and IAM's policy
    simulations count as reads).
    An unknown operation (None) is not counted as mutating.
    """
    if not operation:
        return False
    return not operation.startswith(READ_PREFIXES)


def read_body(environ):
    """Read the whole request body and put it back as a fresh stream for whoever reads next."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def identify(environ):
    """Work out service, region, operation and protocol of a WSGI request.

    The result is cached in ``environ`` so the log and the fault middleware agree and the
    body is buffered only once. ``protocol`` is ``json`` (X-Amz-Target: ECR, ECS,
    Lightsail), ``query`` (form-encoded ``Action``: IAM, STS) or ``rest`` (anything else).
    ``access_key`` is the SigV4 access key id (None if unsigned); ``registry_id`` the
    ``registryId`` string of a JSON body (ECR), else None.
    """
    cached = environ.get(ENVIRON_REQUEST)
    if cached is not None:
        return cached
    info = {"service": None, "region": None, "operation": None, "protocol": "rest",
            "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO", ""),
            "access_key": None, "registry_id": None}
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        info["access_key"] = match.group(1)
        info["region"] = match.group(3)
        info["service"] = match.group(4).lower()
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        info["protocol"] = "json"
        info["operation"] = target.rsplit(".", 1)[-1]
        info["registry_id"] = _registry_id(read_body(environ))
    else:
        action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            # Query protocol: the operation is a form field. Buffer the body and hand the
            # app a new stream, otherwise the backend would find it already consumed.
            form = parse_qs(read_body(environ).decode("utf-8", "replace"))
            action = form.get("Action") or action
        if action:
            info["protocol"] = "query"
            info["operation"] = action[0]
    environ[ENVIRON_REQUEST] = info
    return info


def _registry_id(body):
    """The top-level ``registryId`` string of a JSON request body, else None."""
    if b'"registryId"' not in body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    value = doc.get("registryId") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def error_code_of(status, headers, body):
    """Extract the AWS error code from an error response (JSON ``__type`` or XML ``<Code>``)."""
    if status < 400:
        return None
    for name, value in headers:
        if name.lower() == "x-amzn-errortype" and value:
            return value.split(":", 1)[0]
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        code = doc.get("__type") or doc.get("code") or doc.get("Code")
        # Coral-style names look like "com.amazonaws.ecr#RepositoryNotFoundException".
        return code.rsplit("#", 1)[-1] if isinstance(code, str) else None
    match = _XML_CODE_RE.search(text)
    return match.group(1) if match else None


class RequestLog:
    """In-memory list of request entries, mirrored to a JSON-lines file if a path is given."""

    def __init__(self, path=None):
        self.path = path
        self._lock = threading.Lock()
        self._entries = []
        self._seq = 0
        if path:
            # Start a fresh file for this run.
            with open(path, "w", encoding="utf-8"):
                pass

    def append(self, **fields):
        """Add one entry (seq and time are filled in) and return it."""
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "time": time.time()}
            entry.update(fields)
            self._entries.append(entry)
            if self.path:
                with open(self.path, "a", encoding="utf-8") as stream:
                    stream.write(json.dumps(entry, sort_keys=True) + "\n")
            return entry

    def since(self, seq=0, service=None, mutating=None, operation=None):
        """Entries with a seq greater than ``seq``, optionally filtered."""
        with self._lock:
            entries = [dict(e) for e in self._entries if e["seq"] > seq]
        if service is not None:
            entries = [e for e in entries if e["service"] == service]
        if mutating is not None:
            entries = [e for e in entries if e["mutating"] == mutating]
        if operation is not None:
            entries = [e for e in entries if e["operation"] == operation]
        return entries

    def last_seq(self):
        """The seq of the newest entry ever written (0 if none)."""
        with self._lock:
            return self._seq

    def clear(self):
        """Forget all entries and truncate the file; seq keeps counting up."""
        with self._lock:
            self._entries = []
            if self.path:
                with open(self.path, "w", encoding="utf-8"):
                    pass


class RequestLogMiddleware:
    """WSGI middleware appending one :class:`RequestLog` entry per request."""

    def __init__(self, app, log):
        self.app = app
        self.log = log

    def __call__(self, environ, start_response):
        info = identify(environ)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = list(headers)
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, capture)
        except ConnectionError:
            # An injected "drop": no HTTP response will be sent at all.
            self._record(info, environ, None, None)
            raise
        status = captured.get("status", 0)
        if status < 400:
            self._record(info, environ, status, None)
            return result
        # Error responses are small: read them to find the error code.
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        self._record(info, environ, status, error_code_of(status, captured.get("headers", []), body))
        return [body]

    def _record(self, info, environ, status, error_code):
        extra = {"registry_id": info["registry_id"]} if info.get("registry_id") is not None else {}
        self.log.append(
            service=info["service"], region=info["region"], operation=info["operation"],
            method=info["method"], path=info["path"], status=status, error_code=error_code,
            mutating=is_mutating(info["operation"]), fault=environ.get(ENVIRON_FAULT), access_key=info.get("access_key"), **extra,
        )
