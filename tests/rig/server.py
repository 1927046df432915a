# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rig's server process: moto and the Lightsail emulator on loopback ports.

Run it as ``python tests/rig/server.py --ready-file PATH [--host 127.0.0.1]
[--moto-port 0] [--lightsail-port 0] [--log PATH] [--puller-delay S] [--parent-pid PID]
[--iam-enforcement] [--no-cross-account] [--ecr-settings JSON]``.

One process serves two threaded werkzeug servers: moto (every service, IAM with its AWS
managed policies loaded) and the Lightsail emulator. Both are wrapped, outermost first, in
the control endpoints, the request log (one log shared by both), fault injection and IAM
enforcement; moto also in cross-account routing and ECR's repository policy handling
(see ``iam.py`` and ``ecr.py``).
When both listen, the ready file is written atomically::

    {"moto_url": "http://127.0.0.1:PORT", "lightsail_url": "http://127.0.0.1:PORT",
     "pid": 1234, "log": "/path/requests.jsonl"}

Control endpoints, answered on both ports before any backend sees the request:

* ``GET /_rig/health``
* ``GET /_rig/requests?since=SEQ[&service=ecr][&operation=X][&mutating=true|false]``
* ``GET /_rig/faults``, ``POST /_rig/faults`` (JSON list of rules; replaces), ``DELETE /_rig/faults``
* ``POST /_rig/reset`` (moto via its ``/moto-api/reset``, the emulator, faults, the log and
  the IAM settings; an optional JSON body like ``{"moto": false}`` skips parts)
* ``GET /_rig/iam``, ``POST /_rig/iam`` (``{"enforce": true}``, ``{"cross_account": false}``,
  ``{"exempt_access_keys": [...]}``)
* ``GET /_rig/ecr``, ``POST /_rig/ecr`` (``{"check_principals": false}``, ... see ``ecr.py``)
* ``/_rig/lightsail/...`` (see ``LightsailEmulator.control``)

SIGTERM or SIGINT stops it cleanly, and so does the end of ``--parent-pid``.
"""

import argparse
import json
import os
import signal
import sys
import threading
from urllib.parse import parse_qs

if __package__ in (None, ""):
    # Run as a script: make the "rig" package importable, and keep this directory off
    # sys.path so module names such as "server" or "client" cannot shadow anything.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from rig.ecr import EcrPolicyMiddleware, EcrSettings, replace_deleted_principal, repository_policy_text
from rig.faults import DropConnectionHandlerMixin, FaultInjector, FaultMiddleware
from rig.iam import CrossAccountMiddleware, IamEnforcementMiddleware, IamSettings, SimulationMiddleware, caller_account, lightsail_account_resolver
from rig.lightsail import LightsailEmulator
from rig.requestlog import RequestLog, RequestLogMiddleware, read_body

CONTROL_PREFIX = "/_rig/"


def _load_moto():
    """Import moto's server parts; the environment must be set before moto is imported."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    # It would put every request in one account, whatever its access key or registryId says.
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from moto.server import DomainDispatcherApplication, create_backend_app
    _speed_up_account_lookup()
    _allow_external_ecs_services()
    return DomainDispatcherApplication(create_backend_app), MotoRequestHandler


def _speed_up_account_lookup():
    """Make moto's access-key-to-account lookup stop creating IAM backends.

    moto finds the account of every request with ``moto.iam.models.get_account_id_from``,
    which looks the key up in every partition (aws, aws-cn, aws-us-gov, ...) of every
    account and so creates all their IAM backends, with the AWS managed policies loaded:
    about 1 s per account after each reset. A key can only be in a backend that exists,
    so :func:`rig.iam.caller_account` gives the same answer without creating any.
    """
    try:
        import moto.iam.models as iam_models
    except ImportError:
        return  # a moto without it: nothing to speed up
    if hasattr(iam_models, "get_account_id_from"):
        iam_models.get_account_id_from = caller_account


def _allow_external_ecs_services():
    """Let moto create ECS services with ``launchType: EXTERNAL`` (ECS Anywhere), as AWS does.

    moto refuses every launch type but EC2 and FARGATE in CreateService. The service is created
    as EC2 and then called EXTERNAL (its deployments too); nothing else differs for the rig.
    """
    try:
        from moto.ecs.models import EC2ContainerServiceBackend
    except ImportError:
        return
    original = EC2ContainerServiceBackend.create_service
    if getattr(original, "rig_external", False):
        return

    def create_service(self, cluster_str, service_name, desired_count, task_definition_str=None, load_balancers=None,  # pylint: disable=too-many-arguments
                       scheduling_strategy=None, tags=None, deployment_controller=None, launch_type=None, *args, **kwargs):
        external = launch_type == "EXTERNAL"
        service = original(self, cluster_str, service_name, desired_count, task_definition_str, load_balancers, scheduling_strategy, tags,
                           deployment_controller, "EC2" if external else launch_type, *args, **kwargs)
        if external:
            service.launch_type = "EXTERNAL"
            for deployment in service.deployments:
                deployment["launchType"] = "EXTERNAL"
        return service

    create_service.rig_external = True
    EC2ContainerServiceBackend.create_service = create_service


def _handler_class(base):
    class RigRequestHandler(DropConnectionHandlerMixin, base):
        """Request handler: keep-alive, injected drops hang up, no per-request access log."""

        protocol_version = "HTTP/1.1"

        def log_request(self, code="-", size="-"):
            """The rig keeps its own request log; stay quiet on stderr."""

    return RigRequestHandler


class RigServer:
    """moto + Lightsail emulator behind the control endpoints, request log and faults."""

    def __init__(self, host="127.0.0.1", moto_port=0, lightsail_port=0, log_path=None, puller_delay=0.5,
                 iam_enforcement=False, cross_account=True, ecr_settings=None):
        self.host = host
        self.log = RequestLog(log_path)
        self.faults = FaultInjector()
        self.iam = IamSettings(enforce=iam_enforcement, cross_account=cross_account)
        self.ecr = EcrSettings(**(ecr_settings or {}))
        self.lightsail = LightsailEmulator(puller_delay=puller_delay, account_resolver=lightsail_account_resolver,
                                           repository_policy=repository_policy_text, principal_deleted=replace_deleted_principal)
        self.moto, moto_handler = _load_moto()
        self._ports = (moto_port, lightsail_port)
        self._handler = _handler_class(moto_handler)
        self._servers = []
        self._threads = []

    def wrap(self, backend):
        """The full middleware stack around one backend."""
        if backend is self.moto:
            app = SimulationMiddleware(CrossAccountMiddleware(EcrPolicyMiddleware(backend, self.ecr, self.lightsail), self.iam), self.lightsail)
        else:
            app = backend
        app = IamEnforcementMiddleware(app, self.iam, self.lightsail)
        return _ControlRouter(RequestLogMiddleware(FaultMiddleware(app, self.faults), self.log), backend, self)

    def start(self):
        """Bind both servers (port 0 = any free port) and serve them in daemon threads."""
        from werkzeug.serving import make_server
        for backend, port in zip((self.moto, self.lightsail), self._ports):
            server = make_server(self.host, port, self.wrap(backend), threaded=True, request_handler=self._handler)
            thread = threading.Thread(target=server.serve_forever, name=f"rig-{server.server_port}", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)

    @property
    def moto_url(self):
        """Base URL of the moto server."""
        return f"http://{self.host}:{self._servers[0].server_port}"

    @property
    def lightsail_url(self):
        """Base URL of the Lightsail emulator."""
        return f"http://{self.host}:{self._servers[1].server_port}"

    def info(self):
        """What the ready file and the health endpoint report."""
        return {"moto_url": self.moto_url, "lightsail_url": self.lightsail_url, "pid": os.getpid(), "log": self.log.path}

    def reset(self, moto=True, lightsail=True, faults=True, log=True, iam=True, ecr=True):
        """Back to a fresh start; each part can be skipped (``iam``, ``ecr``: those settings as started)."""
        if iam:
            self.iam.reset()
        if ecr:
            self.ecr.reset()
        if faults:
            self.faults.clear()
        if moto:
            self._reset_moto()
        if lightsail:
            self.lightsail.reset()
        if log:
            self.log.clear()

    def _reset_moto(self):
        """Reset moto through its own ``/moto-api/reset`` (called in-process, no HTTP).

        moto's reset re-creates every backend in place and then drops it anyway. For IAM
        with the AWS managed policies loaded that costs about 0.2 s per partition, over
        1 s per reset. IAM backends are plain data, so they are dropped first; moto creates
        them again on first use. Other backends get moto's full treatment.
        """
        from werkzeug.test import Client
        try:
            from moto.core.base_backend import backend_lock
            from moto.iam.models import iam_backends
        except ImportError:
            pass  # a moto without these names: its plain reset still works, just slower
        else:
            with backend_lock:
                iam_backends.clear()
        response = Client(self.moto).post("/moto-api/reset")
        if response.status_code != 200:
            raise RuntimeError(f"moto reset failed: HTTP {response.status_code} {response.get_data(as_text=True)}")

    def stop(self):
        """Stop serving and wait for the server threads."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


class _ControlRouter:
    """Answers ``/_rig/...`` itself, sends moto's own ``/moto-api/...`` straight to the
    backend (not AWS requests: neither logged nor faulted) and everything else through
    the log and fault middleware."""

    def __init__(self, app, backend, rig):
        self.app = app
        self.backend = backend
        self.rig = rig

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/"):
            return self.backend(environ, start_response)
        if not path.startswith(CONTROL_PREFIX):
            return self.app(environ, start_response)
        method = environ["REQUEST_METHOD"]
        try:
            payload = _read_json(environ)
            status, doc = self.dispatch(method, path[len(CONTROL_PREFIX):], parse_qs(environ.get("QUERY_STRING", "")), payload)
        except ValueError as exc:
            status, doc = 400, {"error": str(exc)}
        body = json.dumps(doc).encode("utf-8")
        start_response(f"{status} {'OK' if status == 200 else 'Error'}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def dispatch(self, method, subpath, query, payload):
        """Route one control call; returns ``(status, json_doc)``; ValueError means HTTP 400."""
        rig = self.rig
        if subpath.startswith("lightsail/"):
            return rig.lightsail.control(method, subpath[len("lightsail/"):], payload)
        if (method, subpath) == ("GET", "health"):
            return 200, dict(rig.info(), ok=True, last_seq=rig.log.last_seq(), iam=rig.iam.to_dict(), ecr=rig.ecr.to_dict())
        if (method, subpath) == ("GET", "requests"):
            return 200, rig.log.since(
                _int(query, "since", 0), service=_one(query, "service"), operation=_one(query, "operation"),
                mutating=None if _one(query, "mutating") is None else _one(query, "mutating").lower() == "true")
        if subpath == "iam" and method in ("GET", "POST"):
            if method == "POST":
                if not isinstance(payload, dict):
                    raise ValueError("the IAM settings must be a JSON object")
                return 200, rig.iam.configure(**payload)
            return 200, rig.iam.to_dict()
        if subpath == "ecr" and method in ("GET", "POST"):
            if method == "POST":
                if not isinstance(payload, dict):
                    raise ValueError("the ECR settings must be a JSON object")
                return 200, rig.ecr.configure(**payload)
            return 200, rig.ecr.to_dict()
        if subpath == "faults":
            if method == "POST":
                rig.faults.set_rules(payload)
            elif method == "DELETE":
                rig.faults.clear()
            if method in ("GET", "POST", "DELETE"):
                return 200, rig.faults.rules()
        if (method, subpath) == ("POST", "reset"):
            parts = payload if isinstance(payload, dict) else {}
            unknown = sorted(set(parts) - {"moto", "lightsail", "faults", "log", "iam", "ecr"})
            if unknown:
                raise ValueError(f"unknown reset part(s): {', '.join(unknown)}")
            rig.reset(**{key: bool(value) for key, value in parts.items()})
            return 200, {"ok": True}
        return 404, {"error": f"no control endpoint {method} {CONTROL_PREFIX}{subpath}"}


def _one(query, key):
    values = query.get(key)
    return values[0] if values else None


def _int(query, key, default):
    value = _one(query, key)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise ValueError(f"{key} must be an integer") from None


def _read_json(environ):
    body = read_body(environ)
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ValueError(f"invalid JSON body: {exc}") from None


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _write_atomically(path, doc):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as stream:
        json.dump(doc, stream)
    os.replace(tmp, path)


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description="moto + Lightsail emulator for the pullaccess.aws tests")
    parser.add_argument("--ready-file", required=True, help="JSON file written once both servers listen")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto port (default: any free port)")
    parser.add_argument("--lightsail-port", type=int, default=0, help="Lightsail emulator port (default: any free port)")
    parser.add_argument("--log", default=None, help="JSON-lines request log file (default: in memory only)")
    parser.add_argument("--puller-delay", type=float, default=0.5, help="seconds the ECR image puller role takes to switch (AWS: ~30)")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--iam-enforcement", action="store_true", help="check requests against IAM identity policies from the start")
    parser.add_argument("--no-cross-account", action="store_true", help="do not serve ECR requests for another registryId as that account")
    parser.add_argument("--ecr-settings", type=json.loads, default=None,
                        help='JSON object changing the ECR policy settings from the start, e.g. \'{"check_principals": false}\'')
    args = parser.parse_args(argv)

    log_path = os.path.abspath(args.log) if args.log else None
    rig = RigServer(args.host, args.moto_port, args.lightsail_port, log_path, args.puller_delay,
                    iam_enforcement=args.iam_enforcement, cross_account=not args.no_cross_account, ecr_settings=args.ecr_settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    rig.start()
    _write_atomically(args.ready_file, rig.info())
    print(f"rig: moto {rig.moto_url}, lightsail {rig.lightsail_url}, pid {os.getpid()}", flush=True)
    try:
        while not stop.wait(0.5):
            if args.parent_pid and not _process_alive(args.parent_pid):
                print("rig: parent process gone, stopping", flush=True)
                break
    finally:
        rig.stop()
        try:
            os.remove(args.ready_file)
        except OSError:
            pass  # someone already removed it; nothing else to clean up
    return 0


if __name__ == "__main__":
    sys.exit(main())
