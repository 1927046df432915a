# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests of the pure helpers behind ecs_execution_role_ecr: image references,
repository and role references, partitions and the IAM documents."""

import json
import urllib.parse

import pytest

from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_images
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import trust_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._names import InvalidReferenceError
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ecr_uri_example
from ansible_collections.pullaccess.aws.plugins.module_utils._names import image_repository_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import managed_policy_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_image
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_repository_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_task_definition_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import partition_for_region
from ansible_collections.pullaccess.aws.plugins.module_utils._names import resolve_repository_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._names import role_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import documents_equivalent
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import ecr_pull_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import parse_iam_policy_document
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import resources_cover

ACCOUNT = "123456789012"
OTHER = "210987654321"

# image, then the expected (full_ecr_uri, registry_host, registry_id, region, partition, repository, tag, digest)
DIGEST = "sha256:" + "ab" * 32
IMAGES = [
    (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/repo/name:tag",
     (True, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com", ACCOUNT, "us-east-1", "aws", "repo/name", "tag", None)),
    (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app",
     (True, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com", ACCOUNT, "us-east-1", "aws", "app", "latest", None)),
    (f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/app@{DIGEST}",
     (True, f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com", ACCOUNT, "eu-west-1", "aws", "app", None, DIGEST)),
    (f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.2@{DIGEST}",
     (True, f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com", ACCOUNT, "eu-west-1", "aws", "team/app", "1.2", DIGEST)),
    (f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app:v1",
     (True, f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ACCOUNT, "us-gov-west-1", "aws-us-gov", "app", "v1", None)),
    (f"{ACCOUNT}.dkr.ecr-fips.us-east-2.amazonaws.com/app:v1",
     (True, f"{ACCOUNT}.dkr.ecr-fips.us-east-2.amazonaws.com", ACCOUNT, "us-east-2", "aws", "app", "v1", None)),
    (f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/app:v1",
     (True, f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn", ACCOUNT, "cn-north-1", "aws-cn", "app", "v1", None)),
    (f"{ACCOUNT}.dkr-ecr.eu-central-1.on.aws/app:v1",
     (True, f"{ACCOUNT}.dkr-ecr.eu-central-1.on.aws", ACCOUNT, "eu-central-1", "aws", "app", "v1", None)),
    (f"{ACCOUNT}.dkr.ecr.us-iso-east-1.c2s.ic.gov/app:v1",
     (True, f"{ACCOUNT}.dkr.ecr.us-iso-east-1.c2s.ic.gov", ACCOUNT, "us-iso-east-1", "aws-iso", "app", "v1", None)),
    # Host names are case-insensitive.
    (f"{ACCOUNT}.DKR.ECR.US-EAST-1.AMAZONAWS.COM/app:v1",
     (True, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com", ACCOUNT, "us-east-1", "aws", "app", "v1", None)),
    # Docker Hub: no registry host, so not ECR, whatever the name looks like.
    ("my-repo:latest", (False, "docker.io", None, None, None, "my-repo", "latest", None)),
    ("nginx", (False, "docker.io", None, None, None, "nginx", "latest", None)),
    ("bitnami/redis:7.2", (False, "docker.io", None, None, None, "bitnami/redis", "7.2", None)),
    (f"library/alpine@{DIGEST}", (False, "docker.io", None, None, None, "library/alpine", None, DIGEST)),
    ("docker.io/library/nginx:1.27", (False, "docker.io", None, None, None, "library/nginx", "1.27", None)),
    # Other registries, including ECR Public and look-alikes.
    ("public.ecr.aws/nginx/nginx:latest", (False, "public.ecr.aws", None, None, None, "nginx/nginx", "latest", None)),
    ("ghcr.io/org/app:v1", (False, "ghcr.io", None, None, None, "org/app", "v1", None)),
    ("localhost:5000/app", (False, "localhost:5000", None, None, None, "app", "latest", None)),
    ("registry.example.com:5000/team/app:v2", (False, "registry.example.com:5000", None, None, None, "team/app", "v2", None)),
    (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil.example/app",
     (False, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil.example", None, None, None, "app", "latest", None)),
    ("12345.dkr.ecr.us-east-1.amazonaws.com/app", (False, "12345.dkr.ecr.us-east-1.amazonaws.com", None, None, None, "app", "latest", None)),
    # ECR registry id without a repository is not an image in a repository.
    (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com",
     (False, "docker.io", None, None, None, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com", "latest", None)),
]
FIELDS = ("full_ecr_uri", "registry_host", "registry_id", "region", "partition", "repository", "tag", "digest")


@pytest.mark.parametrize("image, expected", IMAGES, ids=[case[0] for case in IMAGES])
def test_parse_image(image, expected):
    parsed = parse_image(image)
    assert parsed["image"] == image
    assert tuple(parsed[field] for field in FIELDS) == expected


@pytest.mark.parametrize(
    "image, arn",
    [
        (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/repo/name:tag", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/repo/name"),
        (f"{OTHER}.dkr.ecr.cn-northwest-1.amazonaws.com.cn/app", f"arn:aws-cn:ecr:cn-northwest-1:{OTHER}:repository/app"),
        (f"{ACCOUNT}.dkr.ecr-fips.us-gov-east-1.amazonaws.com/app", f"arn:aws-us-gov:ecr:us-gov-east-1:{ACCOUNT}:repository/app"),
        ("nginx", None),
        ("public.ecr.aws/nginx/nginx", None),
    ],
)
def test_image_repository_arn(image, arn):
    assert image_repository_arn(parse_image(image)) == arn


@pytest.mark.parametrize(
    "region, partition",
    [
        ("us-east-1", "aws"),
        ("eu-west-3", "aws"),
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eu-isoe-west-1", "aws-iso-e"),
        ("us-isof-south-1", "aws-iso-f"),
        ("eusc-de-east-1", "aws-eusc"),
        (None, "aws"),
    ],
)
def test_partition_for_region(region, partition):
    assert partition_for_region(region) == partition


def test_ecr_uri_example():
    assert ecr_uri_example(ACCOUNT, "us-east-1", "app", "v1") == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:v1"
    assert ecr_uri_example(ACCOUNT, "cn-north-1", "app") == f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/app:latest"


# ----- repositories ------------------------------------------------------------------------

VALID_REPOSITORIES = [
    ("app", {"name": "app", "arn": None}),
    ("team/app", {"name": "team/app", "arn": None}),
    ("team/*", {"name": "team/*", "arn": None}),
    ("*", {"name": "*", "arn": None}),
    (" app ", {"name": "app", "arn": None}),
    (f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/app", {"name": "team/app", "arn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/app"}),
    (f"arn:aws-cn:ecr:cn-north-1:{OTHER}:repository/app", {"name": "app", "arn": f"arn:aws-cn:ecr:cn-north-1:{OTHER}:repository/app"}),
    (f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/*", {"name": "team/*", "arn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/*"}),
]


@pytest.mark.parametrize("reference, expected", VALID_REPOSITORIES)
def test_parse_repository_reference(reference, expected):
    assert parse_repository_reference(reference) == expected


@pytest.mark.parametrize(
    "reference, message",
    [
        ("arn:aws:ecr:us-east-1:12345:repository/app", "repository ARN 'arn:aws:ecr:us-east-1:12345:repository/app' is malformed"),
        (f"arn:aws:ecr:us-east-1:{ACCOUNT}:app", "is malformed: expected arn:<partition>:ecr:<region>:<12-digit account>:repository/<name>"),
        (f"arn:aws:ecr::{ACCOUNT}:repository/app", "is malformed"),
        (f"arn:aws:s3:us-east-1:{ACCOUNT}:repository/app", "is malformed"),
        (f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/App", "is malformed"),
        (f"arn:azure:ecr:us-east-1:{ACCOUNT}:repository/app", "is malformed"),
        (f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/", "is malformed"),
        ("My-Repo", "is not a valid ECR repository name"),
        ("a", "is not a valid ECR repository name"),
        ("team//app", "is not a valid ECR repository name"),
        ("a.b_c-d/e__f", "is not a valid ECR repository name"),
        ("app/", "is not a valid ECR repository name"),
        (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:v1",
         f"is an image URI, not a repository; give the repository name (app) or its ARN (arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app)"),
        ("", "is empty"),
        (None, "is empty"),
    ],
)
def test_parse_repository_reference_rejects(reference, message):
    with pytest.raises(InvalidReferenceError) as raised:
        parse_repository_reference(reference)
    assert message in str(raised.value)


def test_resolve_repository_arns_names_in_account_and_region_arns_as_given():
    references = [parse_repository_reference(r) for r in ["team/app", f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base", "team/app"]]
    assert resolve_repository_arns(references, "aws", "us-east-1", ACCOUNT) == [
        f"arn:aws:ecr:eu-west-1:{OTHER}:repository/base",
        f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/app",
    ]
    assert resolve_repository_arns([parse_repository_reference("app")], "aws-cn", "cn-north-1", ACCOUNT) == [
        f"arn:aws-cn:ecr:cn-north-1:{ACCOUNT}:repository/app"
    ]
    assert resolve_repository_arns([parse_repository_reference("*")], "aws", "us-east-1", ACCOUNT) == ["*"]


# ----- task definitions and roles ----------------------------------------------------------


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("web", {"family": "web", "revision": None, "region": None}),
        ("web_app-2:12", {"family": "web_app-2", "revision": 12, "region": None}),
        (f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/web:3", {"family": "web", "revision": 3, "region": "eu-west-1"}),
    ],
)
def test_parse_task_definition_reference(reference, expected):
    assert parse_task_definition_reference(reference) == expected


@pytest.mark.parametrize("reference", ["", "web:0", "web:latest", "web app", "arn:aws:ecs:eu-west-1:1:task-definition/web:3", None])
def test_parse_task_definition_reference_rejects(reference):
    with pytest.raises(InvalidReferenceError, match="is not a task definition family"):
        parse_task_definition_reference(reference)


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("ecsTaskExecutionRole", ("ecsTaskExecutionRole", None, None, None, None)),
        (f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
         ("ecsTaskExecutionRole", f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole", "/", ACCOUNT, "aws")),
        (f"arn:aws-us-gov:iam::{ACCOUNT}:role/service-role/team/exec+role@1",
         ("exec+role@1", f"arn:aws-us-gov:iam::{ACCOUNT}:role/service-role/team/exec+role@1", "/service-role/team/", ACCOUNT, "aws-us-gov")),
    ],
)
def test_parse_role_reference(reference, expected):
    parsed = parse_role_reference(reference)
    assert (parsed["name"], parsed["arn"], parsed["path"], parsed["account_id"], parsed["partition"]) == expected


@pytest.mark.parametrize(
    "reference",
    ["", "a" * 65, "role name", "arn:aws:iam::12345:role/x", f"arn:aws:iam::{ACCOUNT}:user/x", f"arn:aws:iam::{ACCOUNT}:role/", None],
)
def test_parse_role_reference_rejects(reference):
    with pytest.raises(InvalidReferenceError):
        parse_role_reference(reference)


@pytest.mark.parametrize(
    "launch_type, partition, arn",
    [
        ("fargate", "aws", "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"),
        ("ec2", "aws", "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"),
        ("external", "aws-cn", "arn:aws-cn:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"),
        ("fargate", "aws-us-gov", "arn:aws-us-gov:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"),
    ],
)
def test_managed_policy_arn(launch_type, partition, arn):
    assert managed_policy_arn(launch_type, partition) == arn


@pytest.mark.parametrize("launch_type, service", [("fargate", "ecs-tasks.amazonaws.com"), ("ec2", "ec2.amazonaws.com"), ("external", "ssm.amazonaws.com")])
def test_trust_policy(launch_type, service):
    assert trust_policy(launch_type)["Statement"] == [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]


def test_role_arn():
    assert role_arn("aws", ACCOUNT, "r", "/") == f"arn:aws:iam::{ACCOUNT}:role/r"
    assert role_arn("aws-cn", ACCOUNT, "r", "/a/b/") == f"arn:aws-cn:iam::{ACCOUNT}:role/a/b/r"


# ----- IAM documents -----------------------------------------------------------------------

PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def test_ecr_pull_policy_defaults_to_every_repository():
    assert ecr_pull_policy() == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
            {"Sid": "PullImages", "Effect": "Allow", "Action": PULL, "Resource": ["*"]},
        ],
    }


def test_ecr_pull_policy_scoped_sorted_and_deduplicated():
    b, a = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/b", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/a"
    assert ecr_pull_policy([b, a, b])["Statement"][1]["Resource"] == [a, b]
    assert ecr_pull_policy([b])["Statement"][0]["Resource"] == ["*"], "the token is never scoped"


REPO = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"
# Documents IAM may hand back for the same meaning as ecr_pull_policy([REPO]).
EQUIVALENT = [
    {"Version": "2012-10-17", "Statement": [
        {"Sid": "PullImages", "Effect": "Allow", "Action": list(reversed(PULL)), "Resource": REPO},
        {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    ]},
    {"Statement": [
        {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": ["ECR:GetAuthorizationToken"], "Resource": ["*"]},
        {"Sid": "PullImages", "Effect": "Allow", "Action": PULL + ["ecr:BatchGetImage"], "Resource": [REPO]},
    ]},
]
DIFFERENT = [
    None,
    {"Version": "2012-10-17", "Statement": [
        {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "PullImages", "Effect": "Allow", "Action": PULL, "Resource": "*"},
    ]},
    {"Version": "2012-10-17", "Statement": [
        {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "PullImages", "Effect": "Allow", "Action": PULL[:2], "Resource": REPO},
    ]},
]


@pytest.mark.parametrize("document", EQUIVALENT)
def test_equivalent_inline_policies(document):
    assert documents_equivalent(document, ecr_pull_policy([REPO]))


@pytest.mark.parametrize("document", DIFFERENT)
def test_different_inline_policies(document):
    assert not documents_equivalent(document, ecr_pull_policy([REPO]))


@pytest.mark.parametrize(
    "encode",
    [
        lambda document: document,
        json.dumps,
        lambda document: json.dumps(document, indent=4),
        lambda document: urllib.parse.quote(json.dumps(document)),
        lambda document: urllib.parse.quote_plus(json.dumps(document)).replace("+", "%20"),
    ],
    ids=["dict", "json", "indented-json", "url-encoded", "url-encoded-plus"],
)
def test_parse_iam_policy_document_handles_every_form(encode):
    document = ecr_pull_policy([REPO])
    assert parse_iam_policy_document(encode(document)) == document


@pytest.mark.parametrize("value", [None, "", "   "])
def test_parse_iam_policy_document_nothing(value):
    assert parse_iam_policy_document(value) is None


def test_parse_iam_policy_document_rejects_garbage():
    with pytest.raises(PolicyError, match="inline policy 'p' is not valid JSON"):
        parse_iam_policy_document("%7Bnot json", "inline policy 'p'")


@pytest.mark.parametrize(
    "resources, arn, covered",
    [
        (["*"], REPO, True),
        ([REPO], REPO, True),
        ([f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/*"], f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/app", True),
        ([f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/*"], REPO, False),
        ([f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/ap?"], REPO, True),
        ([f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/app"], REPO, False),
        ([f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/APP"], REPO, False),
        ([], REPO, False),
    ],
)
def test_resources_cover(resources, arn, covered):
    assert resources_cover(resources, arn) is covered


# ----- a task definition's images ----------------------------------------------------------


def test_describe_images():
    containers = [
        {"name": "web", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:1"},
        {"name": "far", "image": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/web:1"},
        {"name": "shared", "image": f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com/base/img:2"},
        {"name": "shared-again", "image": f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com/base/img@{DIGEST}"},
        {"name": "hub", "image": "my-repo:latest"},
        {"name": "public", "image": "public.ecr.aws/nginx/nginx"},
        {"name": "ghcr", "image": "ghcr.io/org/app"},
    ]
    images, cross_account, notes = describe_images(containers, "us-east-1", ACCOUNT, [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web"])
    assert [(i["container_name"], i["full_ecr_uri"]) for i in images] == [
        ("web", True), ("far", True), ("shared", True), ("shared-again", True), ("hub", False), ("public", False), ("ghcr", False)
    ]
    assert cross_account == [
        {"registry_id": OTHER, "region": "us-east-1", "repository": "base/img", "arn": f"arn:aws:ecr:us-east-1:{OTHER}:repository/base/img"}
    ]
    text = "\n".join(notes)
    assert "container 'far'" in text and "region eu-west-1, not us-east-1" in text
    assert "container 'hub': image 'my-repo:latest' is not a full ECR URI" in text
    assert f"e.g. {ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/my-repo:latest" in text
    assert "container 'public'" in text and "ECR Public" in text
    assert "container 'ghcr'" in text and "registry ghcr.io" in text
    # Not covered by the scope: the other region's and the other account's repositories.
    assert f"repository arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/web of image" in text
    assert f"repository arn:aws:ecr:us-east-1:{OTHER}:repository/base/img of image" in text
    assert "container 'web'" not in text


def test_describe_images_without_scope_or_account():
    images, cross_account, notes = describe_images([{"name": "web", "image": f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com/web"}], "us-east-1", None)
    assert images[0]["tag"] == "latest"
    assert cross_account == [] and notes == []
