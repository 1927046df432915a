# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rig's request log: what is recorded, in which order, and how it is filtered."""

import io
import json

import pytest
from botocore.exceptions import ClientError

from rig.requestlog import RequestLog, error_code_of, identify, is_mutating
from rig_testlib import NO_RETRY

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.mark.parametrize("operation, expected", [
    ("SetRepositoryPolicy", True), ("CreateRole", True), ("UpdateContainerService", True), ("PutImage", True),
    ("DeleteRepositoryPolicy", True), ("GetAuthorizationToken", False), ("GetCallerIdentity", False),
    ("DescribeRepositories", False), ("ListRoles", False), ("BatchGetImage", False),
    ("BatchCheckLayerAvailability", False), ("SimulatePrincipalPolicy", False), ("GetContainerServices", False), (None, False), ("", False),
])
def test_is_mutating(operation, expected):
    assert is_mutating(operation) is expected


def test_identify_query_request_keeps_the_body_readable():
    body = b"Action=CreateRole&Version=2010-05-08&RoleName=r"
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
               "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"}
    info = identify(environ)
    assert (info["service"], info["region"], info["operation"], info["protocol"]) == ("iam", "us-east-1", "CreateRole", "query")
    assert environ["wsgi.input"].read() == body
    assert identify(environ) is info


def test_identify_json_request():
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_X_AMZ_TARGET": "AmazonEC2ContainerRegistry_V20150921.SetRepositoryPolicy",
               "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/ecr/aws4_request, SignedHeaders=host, Signature=x"}
    info = identify(environ)
    assert (info["service"], info["region"], info["operation"], info["protocol"]) == ("ecr", "eu-west-1", "SetRepositoryPolicy", "json")


def test_error_code_of():
    assert error_code_of(200, [], b"{}") is None
    assert error_code_of(400, [], b'{"__type": "com.amazonaws.ecr#RepositoryNotFoundException"}') == "RepositoryNotFoundException"
    assert error_code_of(404, [], b"<ErrorResponse><Error><Code>NoSuchEntity</Code></Error></ErrorResponse>") == "NoSuchEntity"
    assert error_code_of(404, [("X-Amzn-ErrorType", "ResourceNotFoundException:http://x")], b"{}") == "ResourceNotFoundException"


def test_request_log_file_and_seq(tmp_path):
    log = RequestLog(str(tmp_path / "log.jsonl"))
    log.append(service="ecr", operation="A")
    log.append(service="iam", operation="B")
    assert [e["seq"] for e in log.since(0)] == [1, 2]
    assert [e["operation"] for e in log.since(1)] == ["B"]
    log.clear()
    assert log.since(0) == [] and (tmp_path / "log.jsonl").read_text() == ""
    log.append(service="sts", operation="C")
    assert [e["seq"] for e in log.since(0)] == [3]
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert lines == log.since(0)


def test_mixed_sequence_is_logged_in_order(rig):
    ecr, iam, sts = (rig.client(name, config=NO_RETRY) for name in ("ecr", "iam", "sts"))
    ecs = rig.client("ecs", region="eu-west-1", config=NO_RETRY)
    lightsail = rig.client("lightsail", config=NO_RETRY)
    mark = rig.mark()
    ecr.create_repository(repositoryName="app")
    iam.create_role(RoleName="puller", AssumeRolePolicyDocument=TRUST)
    lightsail.create_container_service(serviceName="web", power="nano", scale=1)
    ecr.get_authorization_token()
    sts.get_caller_identity()
    ecr.set_repository_policy(repositoryName="app", policyText=POLICY)
    rig.lightsail_set_state("web", "READY")  # control calls are not logged
    lightsail.update_container_service(serviceName="web", privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})
    lightsail.get_container_services(serviceName="web")
    iam.get_role(RoleName="puller")
    ecs.list_clusters()
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName="missing")
    with pytest.raises(ClientError):
        iam.get_role(RoleName="missing")

    entries = rig.requests(since=mark)
    got = [(e["service"], e["operation"], e["mutating"], e["status"], e["error_code"]) for e in entries]
    assert got == [
        ("ecr", "CreateRepository", True, 200, None),
        ("iam", "CreateRole", True, 200, None),
        ("lightsail", "CreateContainerService", True, 200, None),
        ("ecr", "GetAuthorizationToken", False, 200, None),
        ("sts", "GetCallerIdentity", False, 200, None),
        ("ecr", "SetRepositoryPolicy", True, 200, None),
        ("lightsail", "UpdateContainerService", True, 200, None),
        ("lightsail", "GetContainerServices", False, 200, None),
        ("iam", "GetRole", False, 200, None),
        ("ecs", "ListClusters", False, 200, None),
        ("ecr", "GetRepositoryPolicy", False, 400, "RepositoryNotFoundException"),
        ("iam", "GetRole", False, 404, "NoSuchEntity"),
    ]
    seqs = [e["seq"] for e in entries]
    assert seqs == list(range(mark + 1, mark + 1 + len(entries)))
    times = [e["time"] for e in entries]
    assert times == sorted(times)
    assert {e["region"] for e in entries} == {"us-east-1", "eu-west-1"}
    assert [e["region"] for e in entries if e["service"] == "ecs"] == ["eu-west-1"]
    assert all(e["fault"] is None for e in entries)

    # Filters, and the JSON-lines file says the same as the endpoint.
    assert [e["operation"] for e in rig.requests(since=mark, service="lightsail", mutating=True)] == ["CreateContainerService", "UpdateContainerService"]
    assert [e["seq"] for e in rig.requests(since=mark, operation="GetRole")] == [entries[8]["seq"], entries[11]["seq"]]
    assert len(rig.requests(since=mark, mutating=False)) == 7
    with open(rig.log_path, encoding="utf-8") as stream:
        assert [json.loads(line) for line in stream] == entries
    assert rig.mark() == entries[-1]["seq"]


def test_reset_clears_the_log_but_seq_goes_on(rig):
    ecr = rig.client("ecr", config=NO_RETRY)
    ecr.describe_repositories()
    last = rig.mark()
    assert last >= 1
    rig.reset()
    assert rig.requests() == []
    assert rig.mark() == last
    ecr.describe_repositories()
    assert [e["seq"] for e in rig.requests()] == [last + 1]


def test_the_signing_access_key_is_logged(rig):
    """Every entry names the access key id that signed the request (null when unsigned), so tests
    can prove which credentials a run used."""
    from botocore import UNSIGNED
    from botocore.config import Config

    limited = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    session = rig.account_credentials("222222222222")
    mark = rig.mark()
    rig.client("ecr", config=NO_RETRY).describe_repositories()
    rig.client("iam", credentials=limited, config=NO_RETRY).get_user()
    rig.client("lightsail", credentials=limited, config=NO_RETRY).get_container_services()
    rig.client("ecr", credentials=session, config=NO_RETRY).describe_repositories()
    with pytest.raises(ClientError):
        rig.client("lightsail", config=NO_RETRY.merge(Config(signature_version=UNSIGNED))).get_container_services()
    got = [(e["service"], e["operation"], e["access_key"]) for e in rig.requests(since=mark)]
    assert got == [("ecr", "DescribeRepositories", "testing"), ("iam", "GetUser", limited["AWS_ACCESS_KEY_ID"]),
                   ("lightsail", "GetContainerServices", limited["AWS_ACCESS_KEY_ID"]),
                   ("ecr", "DescribeRepositories", session["AWS_ACCESS_KEY_ID"]), (None, "GetContainerServices", None)]
    assert limited["AWS_ACCESS_KEY_ID"] != session["AWS_ACCESS_KEY_ID"]
    # The secret never is: only the key id is in the log.
    with open(rig.log_path, encoding="utf-8") as stream:
        text = stream.read()
    assert limited["AWS_SECRET_ACCESS_KEY"] not in text and session["AWS_SECRET_ACCESS_KEY"] not in text
