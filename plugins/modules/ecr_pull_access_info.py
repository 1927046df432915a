#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: ecr_pull_access_info
short_description: Who can pull from which ECR repository, and what is stale or dangerous
version_added: 0.1.0
description:
  - Reads, for one Region and one registry, the ECR private repositories with their policies, the Lightsail container
    services with their ECR image puller roles, and ECS task definitions with the permissions of their execution
    roles; changes nothing.
  - Returns per repository who can pull (RV(repositories[].grants)), each principal with its kind (Lightsail puller
    of a service, ECS role, account, organisation, public, ARN pattern such as the account-wide Lightsail statement)
    and the statement that grants it, and the size of the policy against ECR's 10,240-character limit; per workload
    the repositories it can pull from (RV(workloads)); an access matrix (RV(matrix)); and findings (RV(findings)),
    each with a stable code, a severity, a target and what to do.
  - The playbook C(pullaccess.aws.audit) runs this module once per Region of an inventory and writes a report.
author:
  - pullaccess.aws maintainers (@pullaccess)
options:
  registry_id:
    description:
      - The account whose registry is read (a registry of another account, which must allow the caller to
        C(ecr:DescribeRepositories) and C(ecr:GetRepositoryPolicy)). The caller's registry when not given.
    type: str
  repositories:
    description:
      - Names of the repositories to read. Every repository of the registry in the Region when not given.
      - A named repository that does not exist makes the module fail, naming it.
      - With names given, an active puller role that none of them allows is not reported (C(UNUSED_LIGHTSAIL_PULLER)
        needs every repository).
    type: list
    elements: str
  lightsail:
    description:
      - Whether to read the Region's Lightsail container services. Without them Lightsail grants are classified by
        their ARN only, and stale or unused puller roles are not reported.
    type: bool
    default: true
  service_names:
    description:
      - Names of the Lightsail container services to report as workloads. Every service of the Region when not given
        (stale grants are always checked against every service).
    type: list
    elements: str
  task_definitions:
    description:
      - ECS task definitions to check (family, family:revision or ARN; a family means its latest ACTIVE revision).
    type: list
    elements: str
    default: []
  clusters:
    description:
      - ECS clusters whose services' task definitions are checked too.
    type: list
    elements: str
    default: []
  trusted_accounts:
    description:
      - Accounts besides the registry's own that may pull without a C(UNTRUSTED_ACCOUNT) finding.
      - The registry's own account is always trusted; when O(registry_id) names another account, list the caller's
        account here if its workloads are meant to pull from that registry.
    type: list
    elements: str
    default: []
  declared:
    description:
      - The workloads an inventory declares, as the C(pullaccess.aws.pull_access_workload) filter returns them
        (C(type), C(name), C(sid), C(statement_mode), C(state), C(repositories)); C(principal) may give an ECS
        workload's role ARN.
      - With it, statements this collection wrote (Sid C(PullAccess...)) that no workload declares are reported
        (C(UNDECLARED_GRANT)), and declared Lightsail grants that are missing (C(MISSING_GRANT)). Statements of other
        tools are never counted as drift.
    type: list
    elements: dict
notes:
  - Reads only; in check mode it reads the same.
  - Only Allow statements that cover C(ecr:BatchGetImage) grant pulling. Deny statements are counted in
    RV(repositories[].deny_statements) but not subtracted from the grants.
  - A C(*) principal (also C(NotPrincipal) with Allow) counts as limited only by a positive condition on
    C(aws:PrincipalOrgID), C(aws:PrincipalOrgPaths), C(aws:PrincipalAccount), C(aws:SourceAccount) or
    C(aws:PrincipalArn) (keys in any case, plain or C(ForAnyValue:)); negated, C(...IfExists) and C(ForAllValues:)
    conditions do not limit it.
seealso:
  - module: pullaccess.aws.lightsail_ecr_puller
    description: Activates a Lightsail container service's ECR image puller role and returns the puller's principal ARN.
  - module: pullaccess.aws.ecr_repo_policy_statement
    description: Adds a principal (a puller role, or an ECS role of another account) to a repository's policy, as one statement.
  - module: pullaccess.aws.ecs_execution_role_ecr
    description: Gives the IAM role that pulls an ECS task's images the ECR pull permissions.
  - ref: ansible_collections.pullaccess.aws.docsite.guide_role
    description: >-
      The role C(pullaccess.aws.ecr_pull_access) and the playbooks C(pullaccess.aws.grant) and C(pullaccess.aws.revoke)
      do this for a fleet declared in the inventory.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - pullaccess.aws.attributes.read_only
"""

EXAMPLES = r"""
- name: Who can pull from the repositories of this account in us-east-1
  pullaccess.aws.ecr_pull_access_info:
    region: us-east-1
  register: access

- name: Fail on public repositories
  ansible.builtin.assert:
    that: access.findings | selectattr('code', 'equalto', 'PUBLIC_PULL') | list | length == 0

- name: Check two repositories, the task definitions of a cluster, and trust the CI account
  pullaccess.aws.ecr_pull_access_info:
    region: eu-west-1
    repositories: [shop/api, shop/web]
    clusters: [production]
    trusted_accounts: ["444455556666"]
"""

RETURN = r"""
account_id:
  description: The account of the registry read.
  returned: always
  type: str
  sample: "123456789012"
region:
  description: The Region read.
  returned: always
  type: str
  sample: us-east-1
repositories:
  description: The repositories read, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Repository name.
      type: str
      sample: shop/api
    arn:
      description: Repository ARN.
      type: str
    registry_id:
      description: Account of the registry.
      type: str
    policy:
      description: The repository policy as a document; V(null) when there is none.
      type: dict
    policy_size:
      description: Characters of the policy written compactly (what a writer sends, counted against the limit).
      type: int
      sample: 512
    policy_size_limit:
      description: ECR's limit, 10,240 characters.
      type: int
    policy_size_percent:
      description: RV(repositories[].policy_size) as a percentage of the limit.
      type: float
    deny_statements:
      description: How many Deny statements the policy has (not subtracted from the grants).
      type: int
    error:
      description: Why the policy could not be read as a policy (then it has no grants); V(null) otherwise.
      type: str
    grants:
      description: Who can pull, one entry per principal of each Allow statement that covers C(ecr:BatchGetImage).
      type: list
      elements: dict
      contains:
        principal:
          description: The principal as written, or for a C(*) limited by conditions, the value it is limited to.
          type: str
        kind:
          description:
            - C(public), C(organization), C(account), C(pattern) (an C(aws:PrincipalArn) pattern),
              C(lightsail_pattern) (the puller roles of services whose names match, as the account statement
              mode writes), C(lightsail_puller), C(lightsail_service_principal), C(ecs_role), C(role), C(user),
              C(assumed_role), C(unique_id), C(service), C(federated), C(canonicaluser) or C(principal).
          type: str
          sample: lightsail_puller
        account_id:
          description: The account of the principal, when it names one.
          type: str
        workloads:
          description: Ids of the workloads (C(lightsail:NAME), C(ecs:FAMILY:REVISION)) this grant lets pull.
          type: list
          elements: str
        sid:
          description: Sid of the statement that grants it (V(null) when it has none).
          type: str
        statement_index:
          description: Position of that statement in the policy, from 0.
          type: int
        owned:
          description: Whether the statement was written by this collection (Sid C(PullAccess...)).
          type: bool
        conditions:
          description: The statement's Condition block.
          type: dict
        note:
          description: Why a C(public) grant comes from a C(NotPrincipal) statement, or V(null).
          type: str
        any_account:
          description: For a C(pattern), whether it matches principals of any account (no account or organisation condition).
          type: bool
workloads:
  description: The Lightsail services and ECS task definitions read, and the repositories (of those read) each can pull from.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: C(lightsail:NAME) or C(ecs:FAMILY:REVISION).
      type: str
    type:
      description: C(lightsail) or C(ecs).
      type: str
    name:
      description: Service name, or C(FAMILY:REVISION).
      type: str
    repositories:
      description: Names of the repositories read that it can pull from.
      type: list
      elements: str
    state:
      description: Lightsail only, the service's state.
      type: str
    puller_active:
      description: Lightsail only, whether its ECR image puller role is active.
      type: bool
    puller_arn:
      description: Lightsail only, ARN of the puller role (V("") when inactive).
      type: str
    principal_arn:
      description: Lightsail, the service's own principal (never to be granted); ECS, the execution role.
      type: str
    task_definition_arn:
      description: ECS only.
      type: str
    launch_types:
      description: ECS only, the launch types the task definition requires (or its service uses).
      type: list
      elements: str
    role_permissions:
      description:
        - ECS only, what the execution role has that lets it pull, C(pull_managed_policies) (attached AWS managed policies that
          allow pulling) and C(inline_policies) (names of its inline policies, the one M(pullaccess.aws.ecs_execution_role_ecr)
          writes included); V(null) for a role of another account, which these credentials cannot read.
      type: dict
    images:
      description: ECS only, one entry per container with C(container_name), C(image), C(full_ecr_uri), C(repository),
        C(registry_id), C(can_pull) (V(null) when it cannot be told) and C(reason).
      type: list
      elements: dict
matrix:
  description: Repositories by workloads; C(cells) lists each pair where the workload can pull, with the C(kind) and C(sid) of the grant.
  returned: always
  type: dict
  contains:
    repositories:
      description: Repository names.
      type: list
      elements: str
    workloads:
      description: Workload ids.
      type: list
      elements: str
    cells:
      description: C(repository), C(workload), C(kind) (a grant kind, or C(identity_policy) when only the role's own policy allows it) and C(sid).
      type: list
      elements: dict
findings:
  description: What is stale or dangerous, most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description:
        - C(PUBLIC_PULL), C(UNTRUSTED_ACCOUNT), C(SERVICE_PRINCIPAL_GRANTED), C(BROAD_ACTIONS), C(ECS_ROLE_CANNOT_PULL),
          C(MISSING_GRANT), C(DELETED_PRINCIPAL), C(STALE_LIGHTSAIL_GRANT), C(POLICY_NEAR_LIMIT), C(UNDECLARED_GRANT),
          C(UNUSED_LIGHTSAIL_PULLER) or C(ECS_IMAGE_NOT_ECR_URI).
      type: str
      sample: PUBLIC_PULL
    severity:
      description: C(info), C(low), C(medium), C(high) or C(critical).
      type: str
    title:
      description: What the code means.
      type: str
    target_type:
      description: C(repository) or C(workload).
      type: str
    target:
      description: The repository name or the workload id.
      type: str
    repository:
      description: The repository concerned, if any.
      type: str
    workload:
      description: The workload concerned, if any.
      type: str
    sid:
      description: The statement concerned, if any.
      type: str
    principal:
      description: The principal concerned, if any.
      type: str
    message:
      description: What was found.
      type: str
    remedy:
      description: What to do.
      type: str
    details:
      description:
        - More about the finding, or V(null). C(POLICY_NEAR_LIMIT) gives C(size), C(limit) and C(more_workloads), how many more
          Lightsail workloads fit in the C(shared) and C(workload) statement modes (the C(account) mode is of constant size).
      type: dict
summary:
  description: Number of findings per severity.
  returned: always
  type: dict
  sample: {"critical": 1, "high": 0, "medium": 2, "low": 0, "info": 0}
"""

from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.pullaccess.aws.plugins.module_utils._audit import audit
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import ITEM_ERRORS
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import fail_with
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import quote_names
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import run_all
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import describe_repository
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import get_repository_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import list_repositories
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import cluster_task_definitions
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_task_definition
from ansible_collections.pullaccess.aws.plugins.module_utils._iam import read_pull_permissions
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import list_container_services
from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_account_id
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_repository_name
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_role_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_task_definition_reference
from ansible_collections.pullaccess.aws.plugins.module_utils._names import partition_for_region
from ansible_collections.pullaccess.aws.plugins.module_utils._names import validate_service_name

_DECLARED_KEYS = ("type", "name", "sid")


def check_params(params):
    """Every problem with the arguments at once (InvalidRequestError), before any AWS call."""
    problems = []
    if params["registry_id"] is not None and not is_account_id(params["registry_id"]):
        problems.append(f"registry_id {params['registry_id']!r} is not a 12-digit account id")
    problems.extend(f"trusted_accounts: {a!r} is not a 12-digit account id" for a in params["trusted_accounts"] if not is_account_id(a))
    problems.extend(f"repositories: {n!r} is not a valid ECR repository name" for n in params["repositories"] or [] if not is_repository_name(n))
    problems.extend(filter(None, (validate_service_name(n) for n in params["service_names"] or [])))
    for reference in params["task_definitions"]:
        try:
            parse_task_definition_reference(reference)
        except ValueError as e:
            problems.append(str(e))
    for index, workload in enumerate(params["declared"] or []):
        missing = [key for key in _DECLARED_KEYS if not workload.get(key)]
        if missing or workload.get("type") not in ("lightsail", "ecs"):
            problems.append(f"declared[{index}] needs type (lightsail or ecs), name and sid, as pull_access_workload returns them")
    if problems:
        raise InvalidRequestError("; ".join(problems) + "; nothing was read")


def read_repositories(client, names, registry_id, region):
    """``[{"name", "arn", "registry_id", "policy_text"}]``: the named repositories (all when None)
    with their policies, read side by side."""
    if names is None:
        found = list_repositories(client, registry_id)
    else:
        results = run_all(lambda name: describe_repository(client, name, registry_id, region), sorted(set(names)))
        raise_first_error(results)
        found = [item[0] for item in results]
    policies = run_all(lambda repo: get_repository_policy(client, repo["repositoryName"], repo["registryId"], region)[0], found)
    raise_first_error(policies)
    return [{"name": repo["repositoryName"], "arn": repo["repositoryArn"], "registry_id": repo["registryId"], "policy_text": text}
            for repo, (text, unused) in zip(found, policies)]


def raise_first_error(results):
    """Raise the first error of ``run_all`` results."""
    for item in results:
        if item[1] is not None:
            raise item[1]


def read_task_definitions(ecs, iam, references, clusters, region, caller_account):
    """The task definitions named or used by the clusters' services, each with its execution role's
    pull permissions (None for a role of another account, which these credentials cannot read)."""
    launch = {reference: None for reference in references}
    for cluster in clusters:
        for arn, launch_type in cluster_task_definitions(ecs, cluster).items():
            launch.setdefault(arn, launch_type)
    tasks = {}
    for reference, launch_type in launch.items():
        task = describe_task_definition(ecs, reference, region)
        entry = tasks.setdefault(task["taskDefinitionArn"], {
            "arn": task["taskDefinitionArn"], "family": task["family"], "revision": task["revision"],
            "execution_role_arn": task.get("executionRoleArn"), "launch_types": list(task.get("requiresCompatibilities") or []),
            "containers": [{"name": c.get("name"), "image": c.get("image")} for c in task.get("containerDefinitions") or []],
        })
        if launch_type and launch_type not in entry["launch_types"]:
            entry["launch_types"].append(launch_type)
    permissions = {}
    for role in sorted({t["execution_role_arn"] for t in tasks.values() if t["execution_role_arn"]}):
        if arn_account(role)[1] == caller_account:
            permissions[role] = read_pull_permissions(iam, parse_role_reference(role)["name"])
    for task in tasks.values():
        task["permissions"] = permissions.get(task["execution_role_arn"])
    return list(tasks.values())


def main():
    argument_spec = dict(
        registry_id=dict(type="str"),
        repositories=dict(type="list", elements="str"),
        lightsail=dict(type="bool", default=True),
        service_names=dict(type="list", elements="str"),
        task_definitions=dict(type="list", elements="str", default=[]),
        clusters=dict(type="list", elements="str", default=[]),
        trusted_accounts=dict(type="list", elements="str", default=[]),
        declared=dict(type="list", elements="dict"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    region = module.region
    try:
        check_params(params)
        caller_account, caller_partition = get_aws_account_info(module)
        account_id = params["registry_id"] or caller_account
        partition = partition_for_region(region) if region else caller_partition
        repositories = read_repositories(module.client("ecr", config=CLIENT_CONFIG), params["repositories"], params["registry_id"], region)
        services = None
        if params["lightsail"]:
            services = list_container_services(module.client("lightsail", config=CLIENT_CONFIG))
            missing = sorted(set(params["service_names"] or []) - set(services))
            if missing:
                raise InvalidRequestError(f"Lightsail container services {quote_names(missing)} do not exist in region {region}; nothing else was read")
        tasks = []
        if params["task_definitions"] or params["clusters"]:
            tasks = read_task_definitions(module.client("ecs", config=CLIENT_CONFIG), module.client("iam", config=CLIENT_CONFIG),
                                          params["task_definitions"], params["clusters"], region, caller_account)
    except ITEM_ERRORS as e:
        fail_with(module, e)
    result = audit(
        region, account_id, repositories, services=None if services is None else list(services.values()), task_definitions=tasks,
        trusted_accounts=params["trusted_accounts"], declared=params["declared"], partition=partition, services_account=caller_account,
        all_repositories=params["repositories"] is None,
    )
    if params["service_names"] is not None:
        wanted = {f"lightsail:{name}" for name in params["service_names"]}
        result["workloads"] = [w for w in result["workloads"] if w["type"] != "lightsail" or w["id"] in wanted]
        result["matrix"]["workloads"] = [w["id"] for w in result["workloads"]]
        result["matrix"]["cells"] = [c for c in result["matrix"]["cells"] if c["workload"] in result["matrix"]["workloads"]]
    module.exit_json(changed=False, account_id=account_id, region=region, **result)


if __name__ == "__main__":
    main()
