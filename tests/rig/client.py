# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Client side of the test rig: start the server process and talk to it.

Only the standard library and boto3 are used here, so integration tests, the demo and
the benchmarks can import it without moto installed::

    from rig import Rig

    with Rig.start(workdir, puller_delay=0.5) as rig:
        ecr = rig.client("ecr")
        mark = rig.mark()
        ecr.create_repository(repositoryName="app")
        assert [r["operation"] for r in rig.requests(since=mark)] == ["CreateRepository"]
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
# The role account_client() assumes in another account (it need not exist; moto's STS
# accepts any role ARN). The server never IAM-checks its sessions.
CROSS_ACCOUNT_ROLE = "pullaccess-rig-cross-account"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account: the one the testing key acts in

# Variables that could send boto3 elsewhere or make it pick other credentials; env(base=...)
# drops them from the base environment before adding the rig's own.
_FOREIGN_PREFIXES = ("AWS_ENDPOINT_URL", "AWS_CONTAINER_", "AWS_WEB_IDENTITY_")
_FOREIGN_NAMES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
                  "AWS_ROLE_SESSION_NAME", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")

# Control calls go straight to the loopback address, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RigError(RuntimeError):
    """The rig could not be started or a control call failed."""


class Rig:
    """A running rig server (started by :meth:`start` or found by :meth:`attach`)."""

    def __init__(self, info, process=None, stderr_path=None):
        self.info = dict(info)
        self.moto_url = info["moto_url"]
        self.lightsail_url = info["lightsail_url"]
        self.pid = info["pid"]
        self.log_path = info.get("log")
        self._process = process
        self._stderr_path = stderr_path
        self._session = None  # one boto3 session for all clients: service models load once
        self._session_lock = threading.Lock()

    @property
    def process(self):
        """The server's ``subprocess.Popen`` if this object started it and has not stopped it, else None."""
        return self._process

    # ----- life cycle -----------------------------------------------------------------

    @classmethod
    def start(cls, workdir, puller_delay=0.5, python=None, host="127.0.0.1", timeout=60.0, log=True,
              iam_enforcement=False, cross_account=True, ecr_settings=None):
        """Start ``server.py`` in a subprocess and wait (up to ``timeout`` s) until it is ready.

        Files go to ``workdir``: ``rig-ready.json``, ``rig-server.log`` (its stdout and
        stderr) and, if ``log``, ``requests.jsonl``. Raises :class:`RigError` with the
        server's output if it dies or does not get ready in time. ``iam_enforcement``
        starts with IAM enforcement on (see :meth:`enforce_iam`); ``cross_account=False``
        turns off serving ECR requests for another ``registryId`` as that account.
        ``ecr_settings``: ECR policy settings to start with, e.g. ``{"check_principals": False}``
        (see :meth:`ecr_settings`; by default ECR behaves as on AWS).
        """
        workdir = os.path.abspath(os.fspath(workdir))
        os.makedirs(workdir, exist_ok=True)
        ready_file = os.path.join(workdir, "rig-ready.json")
        output_path = os.path.join(workdir, "rig-server.log")
        if os.path.exists(ready_file):
            os.remove(ready_file)
        command = [python or sys.executable, SERVER_SCRIPT, "--ready-file", ready_file, "--host", host,
                   "--puller-delay", str(puller_delay), "--parent-pid", str(os.getpid())]
        if log:
            command += ["--log", os.path.join(workdir, "requests.jsonl")]
        if iam_enforcement:
            command.append("--iam-enforcement")
        if not cross_account:
            command.append("--no-cross-account")
        if ecr_settings:
            command += ["--ecr-settings", json.dumps(ecr_settings)]
        with open(output_path, "wb") as output:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready_file):
            if process.poll() is not None:
                raise RigError(f"rig server exited with status {process.returncode} before it was ready:\n{_tail(output_path)}")
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RigError(f"rig server not ready after {timeout:g} s:\n{_tail(output_path)}")
            time.sleep(0.05)
        with open(ready_file, encoding="utf-8") as stream:
            return cls(json.load(stream), process, output_path)

    @classmethod
    def attach(cls, ready_file):
        """Use a rig server started elsewhere, from its ready file."""
        with open(ready_file, encoding="utf-8") as stream:
            return cls(json.load(stream))

    def stop(self, timeout=10.0):
        """Stop the server process if this object started it (SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # ----- AWS side ---------------------------------------------------------------------

    def env(self, region="us-east-1", base=None):
        """Environment variables that point boto3, the AWS CLI and Ansible at the rig.

        Without ``base`` only the rig's variables are returned (to overlay on an
        environment). With ``base`` (e.g. ``os.environ``) a complete environment is
        returned: ``base`` without variables that could lead elsewhere (profiles, session
        tokens, other endpoint URLs, ...) plus the rig's. AWS_SESSION_TOKEN is never set.
        """
        env = {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_LIGHTSAIL": self.lightsail_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            # Never ask an instance metadata service for credentials or the region.
            "AWS_EC2_METADATA_DISABLED": "true",
            # Keep a developer's ~/.aws files (profiles, endpoints, SSO) out of the way.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # Never send rig traffic through a proxy.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        if base is None:
            return env
        merged = {key: value for key, value in base.items()
                  if not key.startswith(_FOREIGN_PREFIXES) and key not in _FOREIGN_NAMES}
        merged.update(env)
        return merged

    def client(self, service, region="us-east-1", credentials=None, **kwargs):
        """A boto3 client for ``service`` pointed at the rig (Lightsail: the emulator).

        ``credentials``: a dict like the one :meth:`create_limited_credentials` or
        :meth:`account_credentials` return (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        optional ``AWS_SESSION_TOKEN``); default: the rig's ``testing`` key.
        ``kwargs`` go to ``Session.client`` (e.g. ``config=``, or ``aws_access_key_id=``,
        which wins over ``credentials``). Proxies from the environment are not used unless
        ``config`` sets some.
        """
        import boto3
        from botocore.config import Config
        credentials = credentials or {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}
        kwargs.setdefault("region_name", region)
        kwargs.setdefault("aws_access_key_id", credentials["AWS_ACCESS_KEY_ID"])
        kwargs.setdefault("aws_secret_access_key", credentials["AWS_SECRET_ACCESS_KEY"])
        kwargs.setdefault("aws_session_token", credentials.get("AWS_SESSION_TOKEN"))
        kwargs.setdefault("endpoint_url", self.lightsail_url if service == "lightsail" else self.moto_url)
        no_proxy = Config(proxies={})
        kwargs["config"] = no_proxy.merge(kwargs["config"]) if kwargs.get("config") else no_proxy
        # Sessions are not thread-safe, the clients they make are.
        with self._session_lock:
            if self._session is None:
                self._session = boto3.session.Session()
            return self._session.client(service, **kwargs)

    def account_credentials(self, account_id, region="us-east-1"):
        """Credentials acting as ``account_id``: a fresh session of the rig's cross-account role there.

        Returned as ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``
        (overlay them on :meth:`env`). They come from moto's STS AssumeRole (a logged
        request) and are never IAM-checked. A moto reset forgets them: get new ones after
        :meth:`reset`.
        """
        if not (isinstance(account_id, str) and re.fullmatch(r"\d{12}", account_id)):
            raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
        sts = self.client("sts", region=region)
        found = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{CROSS_ACCOUNT_ROLE}", RoleSessionName="pullaccess-rig")["Credentials"]
        return {"AWS_ACCESS_KEY_ID": found["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
                "AWS_SESSION_TOKEN": found["SessionToken"]}

    def account_client(self, service, account_id, region="us-east-1", **kwargs):
        """A boto3 client acting as another account (e.g. to create repositories in ``222222222222``).

        Same as :meth:`client` with :meth:`account_credentials`; Lightsail calls act in that
        account too.
        """
        return self.client(service, region=region, credentials=self.account_credentials(account_id, region=region), **kwargs)

    def create_limited_credentials(self, policy_document, name="operator"):
        """Create IAM user ``name`` in the default account with ``policy_document`` (dict or JSON
        text) as its only (inline) policy, and an access key for it.

        Returns ``{"AWS_ACCESS_KEY_ID": ..., "AWS_SECRET_ACCESS_KEY": ...}`` for :meth:`client`
        (``credentials=``) or to overlay on :meth:`env`. What the policy allows only matters
        while IAM enforcement is on (:meth:`enforce_iam`).
        """
        iam = self.client("iam")
        document = policy_document if isinstance(policy_document, str) else json.dumps(policy_document)
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="pullaccess-rig-limited", PolicyDocument=document)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

    # ----- control ----------------------------------------------------------------------

    def control(self, method, path, payload=None):
        """One control call (``path`` below ``/_rig/``) on the moto port; returns the decoded JSON."""
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(f"{self.moto_url}/_rig/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise RigError(f"{method} /_rig/{path} failed: HTTP {exc.code} {detail}") from None

    def health(self):
        """The server's health document (URLs, pid, log path, last seq)."""
        return self.control("GET", "health")

    def mark(self):
        """The seq of the last logged request so far; pass it to :meth:`requests` as ``since``."""
        return self.health()["last_seq"]

    def requests(self, since=0, service=None, mutating=None, operation=None):
        """Logged requests with seq > ``since``, optionally filtered."""
        query = {"since": since}
        if service is not None:
            query["service"] = service
        if operation is not None:
            query["operation"] = operation
        if mutating is not None:
            query["mutating"] = "true" if mutating else "false"
        return self.control("GET", "requests?" + urllib.parse.urlencode(query))

    def faults(self):
        """The active fault rules with their counters."""
        return self.control("GET", "faults")

    def set_faults(self, rules):
        """Replace the fault rules (see ``faults.py`` for the schema)."""
        return self.control("POST", "faults", list(rules))

    def clear_faults(self):
        """Remove all fault rules."""
        return self.control("DELETE", "faults")

    def reset(self, moto=True, lightsail=True, faults=True, log=True, iam=True, ecr=True):
        """Back to a fresh start: moto state, emulator state, fault rules, the request log,
        the IAM settings (enforcement and cross-account routing as the server started) and the
        ECR policy settings (as the server started)."""
        return self.control("POST", "reset", {"moto": moto, "lightsail": lightsail, "faults": faults, "log": log, "iam": iam, "ecr": ecr})

    def ecr_settings(self, **changes):
        """Read, or change, how ECR treats repository policies (all on by default, as on AWS):
        ``rewrite_policy``, ``validate_policy``, ``check_principals`` (booleans) and
        ``principal_order`` (``"sorted"``, ``"reversed"`` or ``"as_written"``). See README.md."""
        return self.control("POST", "ecr", changes) if changes else self.control("GET", "ecr")

    def create_roles(self, *arns, service="ecs-tasks.amazonaws.com"):
        """Create IAM roles by ARN (``arn:aws:iam::ACCOUNT:role/PATH/NAME``), each in its own
        account, trusting ``service``, so that ECR finds them as principals. Roles that exist
        already are left alone. Returns the ARNs. Other accounts' roles are made through
        :meth:`account_client` (a logged AssumeRole per account)."""
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
        clients = {}
        for arn in arns:
            match = re.fullmatch(r"arn:aws:iam::(\d{12}):role(/(?:.*/)?)([^/]+)", arn)
            if not match:
                raise ValueError(f"not an IAM role ARN of the aws partition: {arn!r}")
            account, path, name = match.groups()
            if account not in clients:
                clients[account] = self.client("iam") if account == DEFAULT_ACCOUNT_ID else self.account_client("iam", account)
            try:
                clients[account].create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
            except clients[account].exceptions.EntityAlreadyExistsException:
                pass
        return list(arns)

    def iam_settings(self, **changes):
        """Read, or change, ``enforce``, ``cross_account`` (booleans) and ``exempt_access_keys`` (list)."""
        return self.control("POST", "iam", changes) if changes else self.control("GET", "iam")

    def enforce_iam(self, enabled=True):
        """Switch IAM enforcement on or off at run time; returns the IAM settings.

        While on, every AWS request (moto and the Lightsail emulator) must be allowed by the
        identity policies of the IAM user or assumed role that signed it; requests signed
        with an exempt key (default: the rig's ``testing`` key) or by a session from
        :meth:`account_credentials` are not checked. See README.md.
        """
        return self.iam_settings(enforce=bool(enabled))

    def lightsail_control(self, action, payload=None, method=None):
        """Raw call to ``/_rig/lightsail/<action>`` (GET without payload, POST with one)."""
        return self.control(method or ("GET" if payload is None else "POST"), f"lightsail/{action}", payload)

    def lightsail_config(self, **settings):
        """Read, or change, the emulator's ``puller_delay``, ``create_delay``, ``update_delay``,
        ``delete_delay`` (seconds) and ``account_id``."""
        return self.lightsail_control("config", settings or None)

    def lightsail_set_state(self, service_name, state, region="us-east-1", duration=None, then=None):
        """Put a container service directly into ``state`` (for ``duration`` s, then ``then``)."""
        payload = {"serviceName": service_name, "state": state, "region": region}
        if duration is not None:
            payload["duration"] = duration
        if then is not None:
            payload["then"] = then
        return self.lightsail_control("state", payload)

    def lightsail_services(self):
        """All emulated container services, every account and region."""
        return self.lightsail_control("services")


def _tail(path, limit=4000):
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        return f"(no output: {exc})"
    return data[-limit:].decode("utf-8", "replace")
