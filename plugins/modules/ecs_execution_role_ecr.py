#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_execution_role_ecr
short_description: Make sure the IAM role that pulls an Amazon ECS task's images can pull from Amazon ECR
version_added: 0.1.0
description:
  - Gives the role that pulls container images for Amazon ECS the permissions to pull from Amazon ECR private
    repositories, either by attaching the AWS managed policy for its launch type or with a least-privilege inline
    policy.
  - The role that pulls differs per launch type. On Fargate it is the task execution role named in the task
    definition; on EC2 it is the container instance role (used through an instance profile); on external (ECS
    Anywhere) instances it is the instance role assumed through AWS Systems Manager.
  - The role is given by O(role_name), or found as the C(executionRoleArn) of O(task_definition). With a task
    definition, its container images are checked too, because ECS pulls from ECR only images named by their full
    registry URI (C(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)).
  - Only what this module manages is ever changed. Other attached managed policies, other inline policies and the
    trust policy of an existing role are never touched (unlike C(amazon.aws.iam_role), which purges policies by
    default and needs the trust policy restated).
  - Comparison is by meaning, not bytes, so a converged run makes no write call.
  - With O(workloads), one task manages the roles of many workloads (a fleet). Every workload is resolved, read and
    checked before anything is written, and nothing is written when any of them fails its checks.
author:
  - pullaccess.aws maintainers (@pullaccess)
options:
  role_name:
    description:
      - Name or ARN of the role that pulls the images.
      - An ARN must name a role of the account whose credentials are used (IAM is managed per account).
      - Exactly one of O(role_name), O(task_definition) and O(workloads) is required.
    type: str
  task_definition:
    description:
      - A task definition whose execution role (C(executionRoleArn)) is the role to manage, as C(family) (its latest
        ACTIVE revision), C(family:revision) or a task definition ARN.
      - The module fails, changing nothing, when the task definition does not exist or names no execution role.
      - The images of its containers are reported in RV(images); images that are not full ECR URIs and ECR images in
        another region give warnings, and repositories of other accounts are listed in RV(cross_account_repositories).
      - Only with O(launch_type=fargate), since a task definition names the task execution role; for O(launch_type=ec2)
        and O(launch_type=external) the container instance role pulls, so give it with O(role_name).
    type: str
  workloads:
    description:
      - The fleet form - many workloads in one task, each with its own role (O(workloads[].role_name)) or task
        definition (O(workloads[].task_definition)) and its own options, checked like the single form's.
      - All workloads are resolved, read and checked first (task definitions described, roles found, their
        policies and instance profiles read), and the task fails naming every workload that fails, writing
        nothing, when any does - a missing role or task definition, a task definition without an execution role, a
        role ARN of another account, an instance profile that holds another role, or arguments that do not work
        together. Then the roles are changed side by side.
      - Workloads whose roles are the same role share its reads and writes; workloads asking the same of it are
        fine. Two workloads that want different things of the same policy (the same inline policy with different
        repositories or states, or the same managed policy attachment with different states), or would create the
        role with different trust policies, fail the task before anything is written.
      - The task's O(launch_type), O(permissions), O(create_role) and O(state) do not apply to the entries (each
        entry has its own, with the same defaults); the task fails when one of them is set to another value than
        its default. O(repositories) and O(policy_name) cannot be used with O(workloads).
      - Repository names resolve in the task's region (O(region)), or the region of a task definition given by ARN.
      - This is the form the C(pullaccess.aws.ecr_pull_access) role uses, one task per region for a whole play.
      - Results are returned per workload in RV(workloads), in the order given.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - A label for the workload, used in messages, warnings, RV(workloads) and the diff (for example the
            inventory host). Defaults to O(workloads[].role_name) or O(workloads[].task_definition).
        type: str
      role_name:
        description:
          - As O(role_name). Exactly one of O(workloads[].role_name) and O(workloads[].task_definition) is required.
        type: str
      task_definition:
        description:
          - As O(task_definition).
        type: str
      launch_type:
        description:
          - As O(launch_type).
        type: str
        choices: [fargate, ec2, external]
        default: fargate
      permissions:
        description:
          - As O(permissions).
        type: str
        choices: [managed, inline]
        default: managed
      repositories:
        description:
          - As O(repositories).
        type: list
        elements: str
      policy_name:
        description:
          - As O(policy_name).
        type: str
      create_role:
        description:
          - As O(create_role).
        type: bool
        default: false
      state:
        description:
          - As O(state).
        type: str
        choices: [present, absent]
        default: present
  launch_type:
    description:
      - Which role O(role_name) is, and so which managed policy and trust policy apply.
      - V(fargate) for a task execution role (trusts C(ecs-tasks.amazonaws.com); managed policy
        C(AmazonECSTaskExecutionRolePolicy)).
      - V(ec2) for an EC2 container instance role (trusts C(ec2.amazonaws.com); managed policy
        C(AmazonEC2ContainerServiceforEC2Role)).
      - V(external) for an ECS Anywhere instance role (trusts C(ssm.amazonaws.com); managed policy
        C(AmazonEC2ContainerServiceforEC2Role)).
    type: str
    choices: [fargate, ec2, external]
    default: fargate
  permissions:
    description:
      - V(managed) attaches the AWS managed policy of the launch type (C(arn:<partition>:iam::aws:policy/service-role/...),
        the partition taken from the role ARN or the region). It allows pulling from every repository, and more
        (for a task execution role, writing to CloudWatch Logs as well).
      - V(inline) puts a least-privilege inline policy named O(policy_name) on the role, allowing
        C(ecr:GetAuthorizationToken) on C(*) and C(ecr:BatchGetImage), C(ecr:GetDownloadUrlForLayer) and
        C(ecr:BatchCheckLayerAvailability) on O(repositories). This module owns that whole inline policy.
    type: str
    choices: [managed, inline]
    default: managed
  repositories:
    description:
      - With O(permissions=inline), the repositories the role may pull from, as names or ARNs.
      - Names resolve in the role's account and the task's region (C(arn:<partition>:ecr:<region>:<account>:repository/<name>));
        give repositories of other regions or accounts as ARNs. C(*) wildcards are allowed, as in IAM.
      - When not set, every repository (C(*)).
      - Not allowed with O(permissions=managed), whose policies allow every repository.
    type: list
    elements: str
  policy_name:
    description:
      - Name of the inline policy this module owns when O(permissions=inline). When not set, V(ecr-pull).
      - Not allowed with O(permissions=managed).
    type: str
  create_role:
    description:
      - Create the role when it does not exist, with the trust policy of O(launch_type). A role given by ARN is
        created with the ARN's path.
      - For O(launch_type=ec2), the role is also put in an instance profile of the same name (created when missing)
        unless an instance profile already holds it.
      - The trust policy of an existing role is never changed. Ignored with O(state=absent).
    type: bool
    default: false
  state:
    description:
      - V(present) makes sure the role can pull.
      - V(absent) removes only what this module manages, the managed policy attachment of O(launch_type) or the inline
        policy O(policy_name); never the role, its instance profiles or other policies. A missing role is not an error.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The AWS managed policies grant more than pulling images; use O(permissions=inline) for least privilege. A
    Fargate task that sends logs with the C(awslogs) driver then needs C(logs:CreateLogStream) and C(logs:PutLogEvents)
    from another policy.
  - Repositories in another account (RV(cross_account_repositories)) must also allow the role in their own repository
    policies, which this module does not change; see M(pullaccess.aws.ecr_repo_policy_statement).
  - IAM is eventually consistent; after a role is created the module waits until IAM returns it.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - pullaccess.aws.attributes
"""

EXAMPLES = r"""
- name: Let the execution role of a Fargate task definition pull from ECR (AWS managed policy)
  pullaccess.aws.ecs_execution_role_ecr:
    task_definition: web:12
    region: us-east-1
  register: pull

- name: Show the images that are not full ECR URIs and the repositories of other accounts
  ansible.builtin.debug:
    msg:
      - "{{ pull.images | rejectattr('full_ecr_uri') | map(attribute='image') }}"
      - "{{ pull.cross_account_repositories | map(attribute='arn') }}"

- name: Least privilege, only the repositories the service uses
  pullaccess.aws.ecs_execution_role_ecr:
    role_name: web-task-execution
    permissions: inline
    repositories:
      - web/frontend
      - arn:aws:ecr:us-east-1:444455556666:repository/shared/base-images

- name: Create an EC2 container instance role with its instance profile
  pullaccess.aws.ecs_execution_role_ecr:
    role_name: ecs-cluster-instances
    launch_type: ec2
    create_role: true

- name: ECS Anywhere instance role
  pullaccess.aws.ecs_execution_role_ecr:
    role_name: arn:aws:iam::111122223333:role/ecsAnywhereRole
    launch_type: external

- name: A fleet in one task (all workloads are checked before anything is written)
  pullaccess.aws.ecs_execution_role_ecr:
    region: us-east-1
    workloads:
      - name: web
        task_definition: web
      - name: worker
        role_name: worker-task-execution
        permissions: inline
        repositories: [worker/app]
      - name: cluster
        role_name: ecs-cluster-instances
        launch_type: ec2
        create_role: true
      - name: retired
        role_name: old-task-execution
        state: absent
  register: fleet

- name: Show the role of each workload
  ansible.builtin.debug:
    msg: "{{ fleet.workloads | items2dict(key_name='name', value_name='role_arn') }}"

- name: Remove the inline policy again (the role and its other policies stay)
  pullaccess.aws.ecs_execution_role_ecr:
    role_name: web-task-execution
    permissions: inline
    state: absent
"""

RETURN = r"""
role_name:
  description: Name of the role.
  returned: unless O(workloads) is given
  type: str
  sample: ecsTaskExecutionRole
role_arn:
  description:
    - ARN of the role (in check mode, of the role that would be created).
    - V(null) when the role does not exist and O(state=absent).
  returned: unless O(workloads) is given
  type: str
  sample: arn:aws:iam::111122223333:role/ecsTaskExecutionRole
launch_type:
  description: The launch type whose role this is.
  returned: unless O(workloads) is given
  type: str
  sample: fargate
attached_policy_arns:
  description: ARNs of all managed policies attached to the role after the run (predicted in check mode), sorted.
  returned: unless O(workloads) is given
  type: list
  elements: str
  sample: ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
inline_policy:
  description:
    - With O(permissions=inline), the inline policy this module owns after the run (predicted in check mode).
    - V(null) with O(permissions=managed), or when the policy is not there.
  returned: unless O(workloads) is given
  type: dict
  contains:
    policy_name:
      description: Name of the inline policy.
      type: str
      sample: ecr-pull
    policy_document:
      description: The policy document.
      type: dict
      sample: {"Version": "2012-10-17", "Statement": [
               {"Sid": "GetAuthorizationToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
               {"Sid": "PullImages", "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": ["arn:aws:ecr:us-east-1:111122223333:repository/web/frontend"]}]}
instance_profile_arns:
  description: With O(launch_type=ec2), ARNs of the instance profiles that hold the role (predicted in check mode).
  returned: when O(launch_type=ec2) and the role exists (or would be created)
  type: list
  elements: str
  sample: ["arn:aws:iam::111122223333:instance-profile/ecs-cluster-instances"]
task_definition_arn:
  description: ARN of the task definition the role was taken from.
  returned: when O(task_definition) was given
  type: str
  sample: arn:aws:ecs:us-east-1:111122223333:task-definition/web:12
images:
  description: The container images of the task definition, one entry per container.
  returned: when O(task_definition) was given
  type: list
  elements: dict
  contains:
    container_name:
      description: Name of the container.
      type: str
      sample: web
    image:
      description: The image as the task definition names it.
      type: str
      sample: 111122223333.dkr.ecr.us-east-1.amazonaws.com/web/frontend:1.4
    full_ecr_uri:
      description: Whether the image is named by a full ECR private registry URI, the only way ECS pulls it from ECR.
      type: bool
      sample: true
    registry_host:
      description: The registry host (V(docker.io) when the image names none).
      type: str
      sample: 111122223333.dkr.ecr.us-east-1.amazonaws.com
    registry_id:
      description: Account id of the ECR registry; V(null) for other registries.
      type: str
      sample: "111122223333"
    region:
      description: Region of the ECR registry; V(null) for other registries.
      type: str
      sample: us-east-1
    partition:
      description: Partition of the ECR registry; V(null) for other registries.
      type: str
      sample: aws
    repository:
      description: The repository (path) within the registry.
      type: str
      sample: web/frontend
    tag:
      description: The tag; V(latest) when neither tag nor digest is given, V(null) for an image given only by digest.
      type: str
      sample: "1.4"
    digest:
      description: The digest (C(sha256:...)) when the image is given by digest.
      type: str
      sample: sha256:3f1c...
cross_account_repositories:
  description:
    - ECR repositories of the task definition's images held by another account than the role's. Their own repository
      policies must allow the role to pull (see M(pullaccess.aws.ecr_repo_policy_statement)).
  returned: when O(task_definition) was given
  type: list
  elements: dict
  contains:
    registry_id:
      description: Account id of the registry holding the repository.
      type: str
      sample: "444455556666"
    region:
      description: Region of the repository.
      type: str
      sample: us-east-1
    repository:
      description: Name of the repository.
      type: str
      sample: shared/base-images
    arn:
      description: ARN of the repository.
      type: str
      sample: arn:aws:ecr:us-east-1:444455556666:repository/shared/base-images
workloads:
  description:
    - With O(workloads), one entry per workload, in the order given, with the keys the single form returns
      (RV(role_name), RV(role_arn), RV(launch_type), RV(attached_policy_arns), RV(inline_policy) and, as there,
      RV(instance_profile_arns), RV(task_definition_arn), RV(images) and RV(cross_account_repositories)), plus its
      C(name) and whether it C(changed).
    - Workloads of the same role report the same role state after the run (all of its writes, whichever workload
      asked for them).
    - Warnings about a workload's images start with its name.
    - When writing to some roles failed (after every check passed), their workloads' entries have only C(name),
      C(changed), C(failed=true) and C(msg); the others are complete.
  returned: when O(workloads) is given
  type: list
  elements: dict
  sample: [{"name": "web", "changed": true, "role_name": "web-task-execution", "launch_type": "fargate",
            "role_arn": "arn:aws:iam::111122223333:role/web-task-execution",
            "attached_policy_arns": ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"],
            "inline_policy": null, "task_definition_arn": "arn:aws:ecs:us-east-1:111122223333:task-definition/web:12",
            "images": [], "cross_account_repositories": []}]
  contains:
    name:
      description: The workload's O(workloads[].name) (by default its role or task definition as given).
      type: str
      sample: web
    changed:
      description: Whether the run changed (or in check mode would change) something for this workload.
      type: bool
      sample: true
    role_name:
      description: As RV(role_name).
      type: str
      sample: web-task-execution
    role_arn:
      description: As RV(role_arn).
      type: str
      sample: arn:aws:iam::111122223333:role/web-task-execution
    launch_type:
      description: As RV(launch_type).
      type: str
      sample: fargate
    attached_policy_arns:
      description: As RV(attached_policy_arns).
      type: list
      elements: str
      sample: ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    inline_policy:
      description: As RV(inline_policy).
      type: dict
    instance_profile_arns:
      description: As RV(instance_profile_arns), when the workload's launch type is V(ec2) and the role exists.
      type: list
      elements: str
    task_definition_arn:
      description: As RV(task_definition_arn), when the workload names a task definition.
      type: str
    images:
      description: As RV(images), when the workload names a task definition.
      type: list
      elements: dict
    cross_account_repositories:
      description: As RV(cross_account_repositories), when the workload names a task definition.
      type: list
      elements: dict
diff:
  description:
    - With C(--diff), what this module manages before and after the run (predicted in check mode).
    - With O(workloads), a list of such diffs, one per workload in the order given, each with C(before_header) and
      C(after_header) naming the workload.
  returned: when diff mode is on
  type: raw
  contains:
    before:
      description:
        - C(role_arn) (V(null) for a role created by the run), C(attached_policy_arns), C(inline_policy) (the document
          of the inline policy this module owns, or V(null)) and, with O(launch_type=ec2), C(instance_profile_arns),
          before the run.
      type: dict
    after:
      description: The same after the run.
      type: dict
"""

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import InvalidReferenceError
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_images
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_task_definition
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import ecs_retry
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import parse_repository_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import parse_task_definition_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import partition_for_region
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import resolve_repository_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import InvalidRoleError
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import RoleMismatchError
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import RoleMissingError
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import apply_instance_profile
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import attached_policy_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import create_role
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_inline_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_managed_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import get_inline_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import managed_policy_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import matching_role
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import parse_arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import read_instance_profile
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import role_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import role_instance_profile_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import documents_equivalent
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import ecr_pull_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import WORKERS

DEFAULT_POLICY_NAME = "ecr-pull"
_POLICY_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-")
#: The task's options that only apply to the single form; with workloads they must keep their defaults.
SINGLE_FORM_DEFAULTS = (("launch_type", "fargate"), ("permissions", "managed"), ("create_role", False), ("state", "present"))
#: What the module reports in its checks (anything else is a bug and gives a traceback).
REPORTED_ERRORS = (AnsibleAWSError, PolicyError, ValueError)


class ParameterError(ValueError):
    """Arguments that cannot work together; the message says what to change."""


class Workload:
    """One workload of the task (the single form's arguments, or one entry of ``workloads``): its
    checked request, and what the run found for it."""

    def __init__(self, index, name, params, request, region):
        self.index = index
        self.name = name
        self.launch_type = params["launch_type"]
        self.present = params["state"] == "present"
        self.create_role = params["create_role"]
        self.task_definition = params["task_definition"]
        self.request = request
        # Repository names resolve in, and images are compared with, the task's region.
        self.region = (request["task_definition"] or {}).get("region") or region
        self.task = None
        self.work = None
        self.repository_arns = None
        self.operation = None
        self.created_role = None

    @property
    def policy_name(self):
        """The inline policy this workload owns (None with permissions=managed)."""
        return self.request["policy_name"]

    @property
    def ensures_profile(self):
        """Whether the workload puts its ec2 role in an instance profile when none holds it."""
        return self.launch_type == "ec2" and self.present and self.create_role


class RoleWork:
    """One IAM role and what the task's workloads want of it: read once, then changed once, so
    workloads that share a role share its reads and writes."""

    def __init__(self):
        self.workloads = []
        self.role = None  # boto3 shape; for a role the run creates, the role it would create
        self.exists = False
        self.creators = []  # the workloads that create the role (present, create_role, role missing)
        self.managed = {}  # managed policy ARN -> (present, first workload)
        self.inline = {}  # inline policy name -> (wanted document or None, first workload)
        self.ec2 = False
        self.ensure_profile = False
        # Read before anything is written:
        self.attached = []
        self.documents = {}
        self.profiles = {"profile_arns": [], "named": None}
        # After the run (predicted in check mode):
        self.created = False
        self.changed = {}
        self.attached_after = []
        self.documents_after = {}
        self.profile_arns_after = []
        self.error = None


def validated_request(params, region):
    """Check the task's arguments before any AWS call; raises ValueError (ParameterError,
    InvalidRoleError, InvalidReferenceError) saying what to fix."""
    inline = params["permissions"] == "inline"
    if not inline and params["repositories"] is not None:
        raise ParameterError(
            "repositories scopes the inline policy and cannot be used with permissions=managed: the AWS managed "
            "policies allow pulling from every repository (Resource *). Use permissions=inline to allow only the "
            "listed repositories, or drop repositories"
        )
    if not inline and params["policy_name"] is not None:
        raise ParameterError("policy_name names the inline policy and only applies to permissions=inline; drop it or set permissions=inline")
    if params["task_definition"] is not None and params["launch_type"] != "fargate":
        raise ParameterError(
            f"task_definition gives the task execution role, the role that pulls on Fargate; with launch_type={params['launch_type']} "
            "the container instance role pulls the images, so name it with role_name instead"
        )
    policy_name = params["policy_name"] or DEFAULT_POLICY_NAME
    if not 1 <= len(policy_name) <= 128 or set(policy_name) - _POLICY_NAME_CHARS:
        raise ParameterError(f"policy_name {policy_name!r} is not a valid IAM policy name (1-128 letters, digits and +=,.@_-)")
    task_definition = None
    if params["task_definition"] is not None:
        task_definition = parse_task_definition_reference(params["task_definition"])
        region = task_definition["region"] or region
    repositories = None
    if inline and params["repositories"] is not None:
        if not params["repositories"]:
            raise ParameterError("repositories is empty; list the repositories to allow, or leave it out to allow every repository")
        repositories = [parse_repository_reference(reference) for reference in params["repositories"]]
        if not region and any(reference["arn"] is None for reference in repositories):
            raise ParameterError("repository names resolve in the task's region, and no region is set; set region or give repository ARNs")
    return {
        "role": parse_role_reference(params["role_name"]) if params["role_name"] is not None else None,
        "task_definition": task_definition,
        "repositories": repositories,
        "policy_name": policy_name if inline else None,
    }


def validated_workloads(params, region):
    """The task's workloads, checked before any AWS call: one for the single form (raising
    ValueError saying what to fix), or one per entry of ``workloads``.

    Returns ``(workloads, problems)``; ``problems`` lists ``(indexes, names, error)`` for the
    entries that are not valid, so that every entry is checked and all are reported at once."""
    if params["workloads"] is None:
        return [Workload(0, None, params, validated_request(params, region), region)], []
    for key, default in SINGLE_FORM_DEFAULTS:
        if params[key] != default:
            raise ParameterError(
                f"{key}={params[key]} is an option of the single form (role_name or task_definition) and does not apply to "
                f"workloads; set {key} on each entry of workloads instead, and leave it out of the task"
            )
    if not params["workloads"]:
        raise ParameterError("workloads is empty; list the workloads to manage")
    workloads, problems = [], []
    for index, entry in enumerate(params["workloads"]):
        name = entry["name"] or entry["role_name"] or entry["task_definition"] or f"workloads[{index}]"
        try:
            if (entry["role_name"] is None) == (entry["task_definition"] is None):
                raise ParameterError("give exactly one of role_name and task_definition")
            workloads.append(Workload(index, name, entry, validated_request(entry, region), region))
        except (ParameterError, InvalidRoleError, InvalidReferenceError) as e:
            problems.append(((index,), (name,), e))
    return workloads, problems


def problem(workloads, error):
    """A problem of the run: ``(indexes, names, error)`` of the workloads it concerns."""
    return tuple(w.index for w in workloads), tuple(w.name for w in workloads), error


def run_all(pool, function, items):
    """``[(result, error)]`` of ``function`` on every item, in order, side by side in ``pool``
    (in this thread for a single item). Only the errors the module reports are caught."""

    def guarded(item):
        try:
            return function(item), None
        except REPORTED_ERRORS as e:
            return None, e

    if len(items) <= 1:
        return [guarded(item) for item in items]
    return list(pool.map(guarded, items))


def resolve_task_definition(client, task_definition, region):
    """The task definition and the execution role it names (parsed).

    Raises AnsibleECSError when it is missing, ParameterError when it names no execution role and
    InvalidRoleError when the role it names is not a role ARN."""
    task = describe_task_definition(client, task_definition, region)
    if not task.get("executionRoleArn"):
        raise ParameterError(
            f"task definition {task['taskDefinitionArn']} has no execution role (executionRoleArn), so there is no role to "
            "give ECR pull access; nothing was changed. Register a revision with an execution role, or name the role with role_name"
        )
    try:
        return task, parse_role_reference(task["executionRoleArn"])
    except InvalidRoleError as e:
        raise InvalidRoleError(f"task definition {task['taskDefinitionArn']}: {e}") from e


def resolve_task_definitions(module, pool, workloads):
    """Describe the task definitions the workloads name (each one once) and take the execution
    role each names as the workload's role. Returns the problems found."""
    named = [w for w in workloads if w.task_definition is not None]
    clients = {}
    for workload in named:
        if workload.region not in clients:
            clients[workload.region] = module.client("ecs", retry_decorator=ecs_retry, region=workload.region, config=CLIENT_CONFIG)
    keys = list(dict.fromkeys((w.region, w.task_definition) for w in named))
    found = dict(zip(keys, run_all(pool, lambda key: resolve_task_definition(clients[key[0]], key[1], key[0]), keys)))
    problems = []
    for workload in named:
        value, error = found[(workload.region, workload.task_definition)]
        if error is not None:
            problems.append(problem([workload], error))
        else:
            workload.task, workload.request["role"] = value
    return problems


def resolve_role(module, found, workload, caller):
    """The role a workload's reference names: ``found`` (what IAM has under the reference's
    name, or None), or when it is missing the role the run would create, if allowed.

    Returns ``(role_or_None, create)``; ``caller()`` gives ``(account_id, partition)`` of the
    credentials. Raises RoleMissingError / RoleMismatchError."""
    reference = workload.request["role"]
    role = matching_role(found, reference)
    if role is not None or not workload.present:
        return role, False
    if not workload.create_role:
        raise RoleMissingError(
            message=(
                f"role {reference['arn'] or reference['name']!r} does not exist; nothing was changed. Create it, set "
                "create_role=true to have it created with the launch type's trust policy, or check the name"
            )
        )
    account_id, caller_partition = caller()
    if reference["account_id"] and reference["account_id"] != account_id:
        raise RoleMismatchError(
            message=(
                f"cannot create role {reference['arn']}: the credentials are for account {account_id}, and IAM creates "
                "roles in the caller's account; nothing was changed"
            )
        )
    partition = reference["partition"] or (partition_for_region(module.region) if module.region else caller_partition)
    path = reference["path"] or "/"
    return {"RoleName": reference["name"], "Path": path, "Arn": role_arn(partition, account_id, reference["name"], path)}, True


def resolve_roles(module, pool, client, workloads):
    """Find the role of every workload (each role name looked up once) and group the workloads
    by role. Returns ``(works, problems)``."""
    names = list(dict.fromkeys(w.request["role"]["name"] for w in workloads))
    found = dict(zip(names, run_all(pool, lambda name: get_iam_role(client, name), names)))
    caller = {}

    def caller_account():
        if "value" not in caller:
            caller["value"] = get_aws_account_info(module)
        return caller["value"]

    works, problems = {}, []
    for workload in workloads:
        role, error = found[workload.request["role"]["name"]]
        try:
            if error is not None:
                raise error
            role, create = resolve_role(module, role, workload, caller_account)
        except REPORTED_ERRORS as e:
            problems.append(problem([workload], e))
            continue
        work = works.setdefault(role["RoleName"] if role else workload.request["role"]["name"], RoleWork())
        work.workloads.append(workload)
        workload.work = work
        if create:
            workload.created_role = role
            work.creators.append(workload)
            work.role = work.role or role
        elif role is not None:
            work.role, work.exists = role, True
    return list(works.values()), problems


def conflict(first, second, what, how):
    """A problem of two workloads that want different things of the same role."""
    return problem([first, second], ParameterError(f"{what}, so nothing was changed. {how}"))


def plan_role(work):
    """Work out what the workloads want of their role: which managed policies to attach or
    detach, which inline policies to put or delete, whether to create the role or put it in an
    instance profile. Returns the problems found: workloads that want different things of the
    same policy, or would create the role differently."""
    problems = []
    name = work.role["RoleName"]
    founder = work.creators[0] if work.creators else None
    for creator in work.creators[1:]:
        if creator.launch_type != founder.launch_type:
            problems.append(
                conflict(
                    founder,
                    creator,
                    f"would both create role {name!r}, one with the trust policy of launch_type={founder.launch_type} and the other "
                    f"with that of launch_type={creator.launch_type}",
                    "Give them the same launch_type, or create the role first",
                )
            )
        elif creator.created_role["Arn"] != founder.created_role["Arn"]:
            problems.append(
                conflict(
                    founder,
                    creator,
                    f"would both create role {name!r}, one as {founder.created_role['Arn']} and the other as {creator.created_role['Arn']}",
                    "Name the role the same way in both (by name, or by the same ARN), or create it first",
                )
            )
    partition, account_id = parse_arn_account(work.role["Arn"])
    for workload in work.workloads:
        if workload.request["repositories"] is not None:
            workload.repository_arns = resolve_repository_arns(workload.request["repositories"], partition, workload.region, account_id)
        if workload.launch_type == "ec2":
            work.ec2 = True
            work.ensure_profile = work.ensure_profile or workload.ensures_profile
        state = "state=present" if workload.present else "state=absent"
        if workload.policy_name is None:
            arn = managed_policy_arn(workload.launch_type, partition)
            workload.operation = ("managed", arn)
            present, first = work.managed.setdefault(arn, (workload.present, workload))
            if present != workload.present:
                problems.append(
                    conflict(
                        first,
                        workload,
                        f"both manage the attachment of {arn} to role {name!r}, one with state={'present' if present else 'absent'} "
                        f"and the other with {state}",
                        "Give them the same state, or leave one of them out",
                    )
                )
            continue
        wanted = ecr_pull_policy(workload.repository_arns) if workload.present else None
        workload.operation = ("inline", workload.policy_name)
        document, first = work.inline.setdefault(workload.policy_name, (wanted, workload))
        if documents_equivalent(document, wanted):
            continue
        if first.present != workload.present:
            what = f", one with state={'present' if first.present else 'absent'} and the other with {state}"
            how = "Give them the same state, or give each its own policy_name"
        else:
            what = f" with different repositories ({', '.join(first.repository_arns or ['*'])} and {', '.join(workload.repository_arns or ['*'])})"
            how = (
                "The policy holds one list of repositories: give both the same repositories (every one the role pulls from), "
                "or give each its own policy_name"
            )
        problems.append(conflict(first, workload, f"both manage inline policy {workload.policy_name!r} of role {name!r}{what}", how))
    return problems


def read_permissions(client, work):
    """The read step: what the workloads manage on the role now (nothing is read for a role the
    run creates). Raises InstanceProfileConflictError when the role would have to go into an
    instance profile that holds another role."""
    name = work.role["RoleName"]
    work.attached = attached_policy_arns(client, name) if work.exists else []
    work.documents = {policy_name: get_inline_policy(client, name, policy_name) if work.exists else None for policy_name in work.inline}
    if work.ensure_profile:
        work.profiles = read_instance_profile(client, name, work.exists)
    elif work.ec2:
        work.profiles = {"profile_arns": role_instance_profile_arns(client, name) if work.exists else [], "named": None}


def apply_permissions(client, work, check_mode):
    """The apply step: create the role when the run creates it, then bring its managed policy
    attachments, inline policies and instance profile from what ``read_permissions`` read to
    what ``plan_role`` planned (only predicting it in check mode). Writes only what differs."""
    role = work.role
    if work.creators:
        role = create_role(client, role["RoleName"], role["Path"], work.creators[0].launch_type, check_mode, role["Arn"])
        work.role, work.created = role, True
    name = role["RoleName"]
    attached = work.attached
    for arn, (present, dummy) in work.managed.items():
        work.changed[("managed", arn)], attached = ensure_managed_policy(client, name, arn, attached, present, check_mode)
    work.attached_after = sorted(attached)
    for policy_name, (wanted, dummy) in work.inline.items():
        work.changed[("inline", policy_name)], work.documents_after[policy_name] = ensure_inline_policy(
            client, name, policy_name, work.documents[policy_name], wanted, check_mode
        )
    if work.ensure_profile:
        partition, account_id = parse_arn_account(role["Arn"])
        work.changed["profile"], work.profile_arns_after = apply_instance_profile(client, name, role["Path"], partition, account_id, work.profiles, check_mode)
    else:
        work.profile_arns_after = work.profiles["profile_arns"]


def workload_result(workload):
    """What the run returns about one workload: ``(result, diff, notes)``, ``notes`` the
    warnings about its task definition's images."""
    work = workload.work
    exists = work is not None and work.role is not None
    changed = exists and (
        (work.created and workload in work.creators)
        or work.changed.get(workload.operation, False)
        or (workload.ensures_profile and work.changed.get("profile", False))
    )
    policy_name = workload.policy_name
    before = dict(role_arn=None, attached_policy_arns=[], inline_policy=None)
    after = dict(before)
    if exists:
        before.update(role_arn=work.role["Arn"] if work.exists else None, attached_policy_arns=work.attached)
        after.update(role_arn=work.role["Arn"], attached_policy_arns=work.attached_after)
        if policy_name is not None:
            before["inline_policy"], after["inline_policy"] = work.documents[policy_name], work.documents_after[policy_name]
        if workload.launch_type == "ec2":
            before["instance_profile_arns"], after["instance_profile_arns"] = work.profiles["profile_arns"], work.profile_arns_after
    result = dict(after, changed=bool(changed), launch_type=workload.launch_type, role_name=workload.request["role"]["name"])
    if after["inline_policy"] is not None:
        result["inline_policy"] = dict(policy_name=policy_name, policy_document=after["inline_policy"])
    notes = []
    task = workload.task
    if task is not None:
        result["task_definition_arn"] = task["taskDefinitionArn"]
        account_id = parse_arn_account(work.role["Arn"] if exists else task["taskDefinitionArn"])[1]
        # With an inline policy, images its scope does not cover are worth a warning.
        scope = (workload.repository_arns or ["*"]) if policy_name and workload.present and exists else None
        result["images"], result["cross_account_repositories"], notes = describe_images(task.get("containerDefinitions"), workload.region, account_id, scope)
    return result, dict(before=before, after=after), notes


def describe_names(names):
    """``'a'``, ``'a' and 'b'``, ``'a', 'b' and 'c'``."""
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def fail_on_problems(module, problems, total, stage, **extra):
    """Fail naming every workload that failed (in the order given), each with what was wrong.
    The single form fails as it always has, AWS errors with their details."""
    if not problems:
        return
    if module.params["workloads"] is None:
        error = problems[0][2]
        if isinstance(error, AnsibleAWSError):
            module.fail_json_aws_error(error)
        if isinstance(error, PolicyError):
            module.fail_json(msg=str(error), **extra)
        module.fail_json(msg=str(error))
    problems = sorted(problems, key=lambda found: min(found[0]))
    failed = {index for indexes, dummy, dummy_error in problems for index in indexes}
    lines = "; ".join(f"workload{'s' if len(names) > 1 else ''} {describe_names(names)}: {error}" for dummy, names, error in problems)
    module.fail_json(msg=f"{len(failed)} of {total} workloads {stage}: {lines}", **extra)


def main():
    workload_options = dict(
        name=dict(type="str"),
        role_name=dict(type="str"),
        task_definition=dict(type="str"),
        launch_type=dict(type="str", default="fargate", choices=["fargate", "ec2", "external"]),
        permissions=dict(type="str", default="managed", choices=["managed", "inline"]),
        repositories=dict(type="list", elements="str"),
        policy_name=dict(type="str"),
        create_role=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    # The single form's options are a workload's, less its name.
    argument_spec = {key: dict(spec) for key, spec in workload_options.items() if key != "name"}
    argument_spec["workloads"] = dict(type="list", elements="dict", options=workload_options)
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("role_name", "task_definition", "workloads"), ("repositories", "workloads"), ("policy_name", "workloads")],
        required_one_of=[("role_name", "task_definition", "workloads")],
    )
    fleet = module.params["workloads"] is not None

    try:
        workloads, problems = validated_workloads(module.params, module.region)
    except (ParameterError, InvalidRoleError, InvalidReferenceError) as e:
        module.fail_json(msg=str(e))
    total = len(workloads) + len(problems)

    # Reads and writes of different roles run side by side.
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        # Every workload is resolved, read and checked before anything is written.
        problems += resolve_task_definitions(module, pool, workloads)
        client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff(), config=CLIENT_CONFIG)
        works, found = resolve_roles(module, pool, client, [w for w in workloads if w.request["role"] is not None])
        problems += found
        # A role that neither exists nor is created by the run has nothing to remove.
        works = [work for work in works if work.role is not None]
        for work in works:
            problems += plan_role(work)
        read = run_all(pool, lambda work: read_permissions(client, work), works)
        problems += [problem(work.workloads, error) for work, (dummy, error) in zip(works, read) if error is not None]
        # The single form's failures carry what it knew, as they always have.
        extra = {} if fleet else dict(changed=False, launch_type=workloads[0].launch_type)
        if not fleet and workloads[0].task is not None:
            extra["task_definition_arn"] = workloads[0].task["taskDefinitionArn"]
        fail_on_problems(module, problems, total, "failed their checks, so nothing was changed", **extra)

        applied = run_all(pool, lambda work: apply_permissions(client, work, module.check_mode), works)

    failures = []
    for work, (dummy, error) in zip(works, applied):
        if error is not None:
            work.error = error
            failures.append(problem(work.workloads, error))
    if not fleet:
        fail_on_problems(module, failures, total, "could not be changed", **extra)
        result, diff, notes = workload_result(workloads[0])
        for note in notes:
            module.warn(note)
        if module._diff:
            result["diff"] = diff
        module.exit_json(**result)

    results, diffs = [], []
    for workload in workloads:
        work = workload.work
        if work is not None and work.error is not None:
            # Writing stopped part way for this role: say what is known.
            changed = work.created or any(work.changed.values())
            results.append(dict(name=workload.name, changed=changed, failed=True, msg=str(work.error)))
            continue
        result, diff, notes = workload_result(workload)
        results.append(dict(result, name=workload.name))
        diffs.append(dict(diff, before_header=workload.name, after_header=workload.name))
        for note in notes:
            module.warn(f"{workload.name}: {note}")
    changed = any(result["changed"] for result in results)
    fail_on_problems(module, failures, total, "could not be changed (the others were, see workloads)", changed=changed, workloads=results)
    result = dict(changed=changed, workloads=results)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
