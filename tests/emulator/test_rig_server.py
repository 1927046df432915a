# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rig server process and the client's environment, reset and life cycle."""

import json
import os
import signal
import sys
import urllib.request

import boto3
import pytest

from rig import Rig, RigError
from rig_testlib import NO_RETRY

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


def _get(url):
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=10) as response:
        return json.loads(response.read())


def test_health_on_both_ports(rig):
    for base in (rig.moto_url, rig.lightsail_url):
        health = _get(base + "/_rig/health")
        assert health["ok"] is True
        assert (health["moto_url"], health["lightsail_url"], health["pid"]) == (rig.moto_url, rig.lightsail_url, rig.pid)
    assert rig.moto_url.startswith("http://127.0.0.1:") and rig.lightsail_url.startswith("http://127.0.0.1:")
    assert rig.moto_url != rig.lightsail_url
    assert os.path.isfile(rig.log_path)


def test_unknown_control_endpoint(rig):
    with pytest.raises(RigError, match="404"):
        rig.control("GET", "nothing-here")
    with pytest.raises(RigError, match="400"):
        rig.control("GET", "requests?since=abc")


def test_env_points_boto3_at_the_rig(rig, monkeypatch):
    env = rig.env()
    assert env["AWS_ENDPOINT_URL"] == rig.moto_url and env["AWS_ENDPOINT_URL_LIGHTSAIL"] == rig.lightsail_url
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_SESSION_TOKEN" not in env

    base = {"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "x", "AWS_ENDPOINT_URL_ECR": "https://elsewhere", "AWS_ROLE_ARN": "r"}
    merged = rig.env(region="eu-west-1", base=base)
    assert merged["PATH"] == "/bin" and merged["AWS_REGION"] == "eu-west-1"
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_ECR", "AWS_ROLE_ARN"} & set(merged)

    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    session = boto3.session.Session()  # everything from the environment
    session.client("ecr", config=NO_RETRY).create_repository(repositoryName="app")
    session.client("lightsail", config=NO_RETRY).create_container_service(serviceName="web", power="nano", scale=1)
    assert [(e["service"], e["operation"]) for e in rig.requests()] == [("ecr", "CreateRepository"), ("lightsail", "CreateContainerService")]


def test_reset_clears_everything(rig):
    ecr, iam, lightsail = (rig.client(name, config=NO_RETRY) for name in ("ecr", "iam", "lightsail"))
    ecr.create_repository(repositoryName="app")
    iam.create_role(RoleName="puller", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="puller", PolicyArn=READ_ONLY)
    lightsail.create_container_service(serviceName="web", power="nano", scale=1)
    rig.set_faults([{"service": "sts", "kind": "throttle"}])
    rig.lightsail_config(puller_delay=9)
    rig.reset()
    assert rig.faults() == [] and rig.requests() == []
    assert rig.lightsail_config()["puller_delay"] == 0.5
    assert ecr.describe_repositories()["repositories"] == []
    assert lightsail.get_container_services()["containerServices"] == []
    assert iam.list_roles()["Roles"] == []
    # AWS managed policies are loaded again, unattached.
    assert iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["AttachmentCount"] == 0


def test_partial_reset(rig):
    ecr = rig.client("ecr", config=NO_RETRY)
    ecr.create_repository(repositoryName="app")
    rig.reset(moto=False)
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["app"]
    with pytest.raises(RigError, match="400"):
        rig.control("POST", "reset", {"everything": True})


def test_start_failure_reports_the_servers_output(tmp_path):
    with pytest.raises(RigError) as excinfo:
        Rig.start(tmp_path, host="256.0.0.1", timeout=30)
    header, _newline, output = str(excinfo.value).partition("\n")
    assert header == "rig server exited with status 1 before it was ready:"
    assert output.strip()  # whatever the server said on its way out


def test_second_rig_with_options_stops_on_sigint(tmp_path):
    # (SIGTERM, what Rig.stop sends, is checked when the session's rig stops.)
    with Rig.start(tmp_path, puller_delay=0.1, python=sys.executable, log=False, iam_enforcement=True, cross_account=False) as second:
        assert second.log_path is None
        assert second.lightsail_config()["puller_delay"] == 0.1
        assert second.iam_settings() == {"enforce": True, "cross_account": False, "exempt_access_keys": ["testing"]}
        second.reset()  # back to how it started, enforcement included
        assert second.iam_settings()["enforce"] is True
        assert os.path.exists(tmp_path / "rig-ready.json")
        os.kill(second.pid, signal.SIGINT)
        assert second.process.wait(10) == 0
    assert not os.path.exists(tmp_path / "rig-ready.json")  # removed on a clean stop
    assert "rig: moto http://127.0.0.1:" in (tmp_path / "rig-server.log").read_text()


def test_moto_api_is_neither_logged_nor_faulted(rig):
    rig.set_faults([{"kind": "drop"}])
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(rig.moto_url + "/moto-api/", timeout=10) as response:
        assert response.status == 200
    assert rig.requests() == []


def test_proxy_variables_do_not_divert_rig_traffic(rig, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    rig.client("ecr", config=NO_RETRY).describe_repositories()
    assert [e["operation"] for e in rig.requests()] == ["DescribeRepositories"]
