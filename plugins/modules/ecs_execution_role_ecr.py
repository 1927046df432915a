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
author:
  - pullaccess.aws maintainers (@pullaccess)
options:
  role_name:
    description:
      - Name or ARN of the role that pulls the images.
      - An ARN must name a role of the account whose credentials are used (IAM is managed per account).
      - Exactly one of O(role_name) and O(task_definition) is required.
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

- name: Remove the inline policy again (the role and its other policies stay)
  pullaccess.aws.ecs_execution_role_ecr:
    role_name: web-task-execution
    permissions: inline
    state: absent
"""

RETURN = r"""
role_name:
  description: Name of the role.
  returned: always
  type: str
  sample: ecsTaskExecutionRole
role_arn:
  description:
    - ARN of the role (in check mode, of the role that would be created).
    - V(null) when the role does not exist and O(state=absent).
  returned: always
  type: str
  sample: arn:aws:iam::111122223333:role/ecsTaskExecutionRole
launch_type:
  description: The launch type whose role this is.
  returned: always
  type: str
  sample: fargate
attached_policy_arns:
  description: ARNs of all managed policies attached to the role after the run (predicted in check mode), sorted.
  returned: always
  type: list
  elements: str
  sample: ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
inline_policy:
  description:
    - With O(permissions=inline), the inline policy this module owns after the run (predicted in check mode).
    - V(null) with O(permissions=managed), or when the policy is not there.
  returned: always
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
diff:
  description: With C(--diff), what this module manages before and after the run (predicted in check mode).
  returned: when diff mode is on
  type: dict
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

from ansible_collections.amazon.aws.plugins.module_utils.iam import AnsibleIAMError
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import AnsibleECSError
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
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import attached_policy_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import create_role
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_inline_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_instance_profile
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import ensure_managed_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import find_role
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import get_inline_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import managed_policy_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import parse_arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import role_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import role_instance_profile_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import ecr_pull_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import CLIENT_CONFIG

DEFAULT_POLICY_NAME = "ecr-pull"
_POLICY_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-")


class ParameterError(ValueError):
    """Arguments that cannot work together; the message says what to change."""


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


def resolve_role(module, client, reference, present, launch_type):
    """Find the role, or create it (predict it in check mode) when allowed.

    Returns ``(role_or_None, created)``. Raises RoleMissingError / RoleMismatchError."""
    role = find_role(client, reference)
    if role is not None or not present:
        return role, False
    if not module.params["create_role"]:
        raise RoleMissingError(
            message=(
                f"role {reference['arn'] or reference['name']!r} does not exist; nothing was changed. Create it, set "
                "create_role=true to have it created with the launch type's trust policy, or check the name"
            )
        )
    account_id, caller_partition = get_aws_account_info(module)
    if reference["account_id"] and reference["account_id"] != account_id:
        raise RoleMismatchError(
            message=(
                f"cannot create role {reference['arn']}: the credentials are for account {account_id}, and IAM creates "
                "roles in the caller's account; nothing was changed"
            )
        )
    partition = reference["partition"] or (partition_for_region(module.region) if module.region else caller_partition)
    path = reference["path"] or "/"
    predicted = role_arn(partition, account_id, reference["name"], path)
    return create_role(client, reference["name"], path, launch_type, module.check_mode, predicted), True


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


def converge_permissions(client, role, created, request, launch_type, present, ensure_profile, region, check_mode):
    """Bring what this module manages on ``role`` to the wanted state (predict it in check mode).

    ``created`` says the role was created (or, in check mode, would be) by this run, so it has no
    policies yet. Returns ``(changed, state)``: ``state`` has ``attached_policy_arns``,
    ``inline_policy`` (the document or None), ``repository_arns``, ``before`` and, for ec2,
    ``instance_profile_arns``."""
    partition, account_id = parse_arn_account(role["Arn"])
    name = role["RoleName"]
    readable = not (created and check_mode)
    repository_arns = None
    if request["repositories"] is not None:
        repository_arns = resolve_repository_arns(request["repositories"], partition, region, account_id)
    changed = False
    attached = attached_policy_arns(client, name) if readable else []
    before = dict(role_arn=None if created else role["Arn"], attached_policy_arns=attached, inline_policy=None)
    state = dict(role_arn=role["Arn"], attached_policy_arns=attached, inline_policy=None)
    if request["policy_name"] is None:
        changed, state["attached_policy_arns"] = ensure_managed_policy(
            client, name, managed_policy_arn(launch_type, partition), attached, present, check_mode
        )
    else:
        current = get_inline_policy(client, name, request["policy_name"]) if readable else None
        before["inline_policy"] = current
        wanted = ecr_pull_policy(repository_arns) if present else None
        changed, state["inline_policy"] = ensure_inline_policy(client, name, request["policy_name"], current, wanted, check_mode)
    if launch_type == "ec2":
        if ensure_profile:
            step, profiles = ensure_instance_profile(client, name, role["Path"], partition, account_id, readable, check_mode)
        else:
            step, profiles = False, role_instance_profile_arns(client, name)
        changed |= step
        # The profiles only change when none held the role.
        before["instance_profile_arns"] = [] if step else profiles
        state["instance_profile_arns"] = profiles
    return changed or created, dict(state, repository_arns=repository_arns, account_id=account_id, before=before)


def main():
    argument_spec = dict(
        role_name=dict(type="str"),
        task_definition=dict(type="str"),
        launch_type=dict(type="str", default="fargate", choices=["fargate", "ec2", "external"]),
        permissions=dict(type="str", default="managed", choices=["managed", "inline"]),
        repositories=dict(type="list", elements="str"),
        policy_name=dict(type="str"),
        create_role=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("role_name", "task_definition")],
        required_one_of=[("role_name", "task_definition")],
    )
    params = module.params
    launch_type = params["launch_type"]
    present = params["state"] == "present"

    try:
        request = validated_request(params, module.region)
    except (ParameterError, InvalidRoleError, InvalidReferenceError) as e:
        module.fail_json(msg=str(e))

    result = dict(changed=False, launch_type=launch_type)
    task = None
    # Repository names resolve in, and images are compared with, the task's region.
    region = module.region
    account_id = None
    if request["task_definition"] is not None:
        region = request["task_definition"]["region"] or region
        try:
            task, request["role"] = resolve_task_definition(module.client("ecs", retry_decorator=ecs_retry, region=region, config=CLIENT_CONFIG),
                                                            params["task_definition"], region)
        except (ParameterError, InvalidRoleError) as e:
            module.fail_json(msg=str(e))
        except AnsibleECSError as e:
            module.fail_json_aws_error(e)
        result["task_definition_arn"] = task["taskDefinitionArn"]
        account_id = parse_arn_account(task["taskDefinitionArn"])[1]

    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff(), config=CLIENT_CONFIG)
    state = dict(role_arn=None, attached_policy_arns=[], inline_policy=None, repository_arns=None)
    before = dict(role_arn=None, attached_policy_arns=[], inline_policy=None)
    try:
        role, created = resolve_role(module, client, request["role"], present, launch_type)
        if role is not None:
            ensure_profile = present and params["create_role"]
            result["changed"], state = converge_permissions(
                client, role, created, request, launch_type, present, ensure_profile, region, module.check_mode
            )
            before, account_id = state.pop("before"), state.pop("account_id")
    except PolicyError as e:
        module.fail_json(msg=str(e), **result)
    except AnsibleIAMError as e:
        module.fail_json_aws_error(e)

    repository_arns = state.pop("repository_arns")
    result.update(state, role_name=request["role"]["name"])
    if result["inline_policy"] is not None:
        result["inline_policy"] = dict(policy_name=request["policy_name"], policy_document=result["inline_policy"])

    if task is not None:
        # With an inline policy, images its scope does not cover are worth a warning.
        scope = (repository_arns or ["*"]) if request["policy_name"] and present and role is not None else None
        result["images"], result["cross_account_repositories"], notes = describe_images(
            task.get("containerDefinitions"), region, account_id, scope
        )
        for note in notes:
            module.warn(note)

    if module._diff:
        after = {key: state[key] for key in before if key in state}
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
