#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

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
  role_name: &role_name
    description:
      - Name or ARN of the role that pulls the images.
      - An ARN must name a role of the account whose credentials are used (IAM is managed per account).
      - Exactly one of O(role_name), O(task_definition) and O(workloads) is required; in an entry of O(workloads),
        exactly one of O(workloads[].role_name) and O(workloads[].task_definition).
    type: str
  task_definition: &task_definition
    description:
      - A task definition whose execution role (C(executionRoleArn)) is the role to manage, as C(family) (its latest
        ACTIVE revision), C(family:revision) or a task definition ARN.
      - The module fails, changing nothing, when the task definition does not exist or names no execution role.
      - The images of its containers are reported in RV(images); images that are not full ECR URIs and ECR images in
        another region give warnings, and repositories of other accounts are listed in RV(cross_account_repositories).
      - Only with O(launch_type=fargate), since a task definition names the task execution role; for O(launch_type=ec2)
        and O(launch_type=external) the container instance role pulls, so give it with O(role_name).
    type: str
  launch_type: &launch_type
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
  permissions: &permissions
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
  repositories: &repositories
    description:
      - With O(permissions=inline), the repositories the role may pull from, as names or ARNs.
      - Names resolve in the role's account and the task's region (C(arn:<partition>:ecr:<region>:<account>:repository/<name>));
        give repositories of other regions or accounts as ARNs. C(*) wildcards are allowed, as in IAM.
      - When not set, every repository (C(*)).
      - Not allowed with O(permissions=managed), whose policies allow every repository.
    type: list
    elements: str
  policy_name: &policy_name
    description:
      - Name of the inline policy this module owns when O(permissions=inline). When not set, V(ecr-pull).
      - Not allowed with O(permissions=managed).
    type: str
  create_role: &create_role
    description:
      - Create the role when it does not exist, with the trust policy of O(launch_type). A role given by ARN is
        created with the ARN's path.
      - For O(launch_type=ec2), the role is also put in an instance profile of the same name (created when missing)
        unless an instance profile already holds it.
      - The trust policy of an existing role is never changed. Ignored with O(state=absent).
    type: bool
    default: false
  state: &state
    description:
      - V(present) makes sure the role can pull.
      - V(absent) removes only what this module manages, the managed policy attachment of O(launch_type) or the inline
        policy O(policy_name); never the role, its instance profiles or other policies. A missing role is not an error.
    type: str
    choices: [present, absent]
    default: present
  workloads:
    description:
      - The fleet form - many workloads in one task, each with its own role (O(workloads[].role_name)) or task
        definition (O(workloads[].task_definition)) and its own options, checked like the single form's.
      - Each entry takes the single form's options (documented above, with the same defaults; in an entry, an option
        named there means the entry's own), plus O(workloads[].name).
      - All workloads are resolved, read and checked first (task definitions described, roles found, their
        policies and instance profiles read), and the task fails naming every workload that fails, writing
        nothing, when any does - a missing role or task definition, a task definition without an execution role, a
        role ARN of another account, an instance profile that holds another role, or arguments that do not work
        together. Then the roles are changed side by side.
      - Workloads whose roles are the same role share its reads and writes; workloads asking the same of it are
        fine. Two workloads that want different things of the same policy (the same inline policy with different
        repositories or states, or the same managed policy attachment with different states), or would create the
        role with different trust policies, fail the task before anything is written.
      - The task's O(launch_type), O(permissions), O(create_role) and O(state) do not apply to the entries; the task
        fails when one of them is set to another value than its default. O(repositories) and O(policy_name) cannot
        be used with O(workloads).
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
      role_name: *role_name
      task_definition: *task_definition
      launch_type: *launch_type
      permissions: *permissions
      repositories: *repositories
      policy_name: *policy_name
      create_role: *create_role
      state: *state
notes:
  - The AWS managed policies grant more than pulling images; use O(permissions=inline) for least privilege. A
    Fargate task that sends logs with the C(awslogs) driver then needs C(logs:CreateLogStream) and C(logs:PutLogEvents)
    from another policy.
  - Repositories in another account (RV(cross_account_repositories)) must also allow the role in their own repository
    policies, which this module does not change; see M(pullaccess.aws.ecr_repo_policy_statement).
  - IAM is eventually consistent; after a role is created the module waits until IAM returns it.
seealso:
  - module: pullaccess.aws.ecr_repo_policy_statement
    description: Adds a principal (a puller role, or an ECS role of another account) to a repository's policy, as one statement.
  - module: pullaccess.aws.ecr_pull_access_info
    description: Reports who can pull from each repository, and what is stale or dangerous.
  - ref: ansible_collections.pullaccess.aws.docsite.guide_role
    description: >-
      The role C(pullaccess.aws.ecr_pull_access) and the playbooks C(pullaccess.aws.grant) and C(pullaccess.aws.revoke)
      do this for a fleet declared in the inventory.
  - module: amazon.aws.iam_role
    description: Creates the ECS task execution role or container instance role (trust policy, managed policies).
  - module: amazon.aws.iam_instance_profile
    description: The instance profile that carries the container instance role of ECS on EC2.
  - module: amazon.aws.iam_policy
    description: Manages a role's other inline policies; this module touches only its own inline policy.
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

from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import fail_with
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import failure_summary
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import quote_names
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import apply
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import check_requests
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import plan
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import read
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs_roles import workload_result

#: A workload's options: the entries of workloads, and (less the name) the single form's.
WORKLOAD_OPTIONS = dict(
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
CHECKS_FAILED = "failed their checks, so nothing was changed"
WRITES_FAILED = "could not be changed (the others were, see workloads)"


def workload_requests(params):
    """The task's workload requests: the entries of workloads, or the single form's arguments as
    the one entry. With workloads, the single form's options must keep their defaults."""
    if params["workloads"] is None:
        return [params]
    for key, spec in WORKLOAD_OPTIONS.items():
        if "default" in spec and params[key] != spec["default"]:
            raise InvalidRequestError(
                f"{key}={params[key]} is an option of the single form (role_name or task_definition) and does not apply to "
                f"workloads; set {key} on each entry of workloads instead, and leave it out of the task"
            )
    if not params["workloads"]:
        raise InvalidRequestError("workloads is empty; list the workloads to manage")
    return params["workloads"]


def run_result(module, fleet, workloads):
    """The one result of the run: the single form's workload, or every workload's in the order
    given (warnings about a workload's images start with its name)."""
    if not fleet:
        result, diff, notes = workload_result(workloads[0])
        for note in notes:
            module.warn(note)
        if module._diff:
            result["diff"] = diff
        return result
    results, diffs = [], []
    for workload in workloads:
        result, diff, notes = workload_result(workload)
        results.append(dict(result, name=workload.name))
        if diff is not None:
            diffs.append(dict(diff, before_header=workload.name, after_header=workload.name))
        for note in notes:
            module.warn(f"{workload.name}: {note}")
    result = dict(changed=any(entry["changed"] for entry in results), workloads=results)
    if module._diff:
        result["diff"] = diffs
    return result


def main():
    argument_spec = {key: dict(spec) for key, spec in WORKLOAD_OPTIONS.items() if key != "name"}
    argument_spec["workloads"] = dict(type="list", elements="dict", options=WORKLOAD_OPTIONS)
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("role_name", "task_definition", "workloads"), ("repositories", "workloads"), ("policy_name", "workloads")],
        required_one_of=[("role_name", "task_definition", "workloads")],
    )
    fleet = module.params["workloads"] is not None
    # What the single form's failures carry besides the message.
    known = {} if fleet else dict(changed=False, launch_type=module.params["launch_type"])

    def fail(problems, total, stage, **extra):
        """The one failure path: the single form fails with its error (an AWS error with its
        details), the list form naming every workload that failed, in the order given."""
        if not problems:
            return
        if not fleet:
            fail_with(module, problems[0].error, **known)
        problems = sorted(problems, key=lambda found: min(found.indexes))
        labelled = [(f"workload{'s' if len(p.names) > 1 else ''} {quote_names(p.names, last=' and ')}", p.error) for p in problems]
        failed = {index for found in problems for index in found.indexes}
        module.fail_json(msg=failure_summary(labelled, len(failed), total, "workloads", stage), **extra)

    try:
        requests = workload_requests(module.params)
    except InvalidRequestError as e:
        module.fail_json(msg=str(e))
    workloads, problems = check_requests(requests, module.region)
    if not workloads:
        fail(problems, len(requests), CHECKS_FAILED)

    # Every workload is read and checked before anything is written.
    client = module.client("iam", config=CLIENT_CONFIG)
    roles, found = read(
        workloads,
        client,
        lambda region: module.client("ecs", region=region, config=CLIENT_CONFIG),
        lambda: get_aws_account_info(module),
        module.region,
    )
    problems += found + plan(roles)
    if not fleet and workloads[0].task is not None:
        known["task_definition_arn"] = workloads[0].task["taskDefinitionArn"]
    fail(problems, len(requests), CHECKS_FAILED)

    failures = apply(client, roles, module.check_mode)
    result = run_result(module, fleet, workloads)
    fail(failures, len(requests), WRITES_FAILED, changed=result["changed"], workloads=result.get("workloads"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
