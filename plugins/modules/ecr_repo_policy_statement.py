#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: ecr_repo_policy_statement
short_description: Manage one statement in an Amazon ECR repository policy
version_added: 0.1.0
description:
  - Owns exactly one statement, identified by its O(sid), in the policy of one Amazon ECR private repository.
  - Every other statement of the policy is kept exactly as it was, in content and order, including statements
    without a C(Sid), C(NotPrincipal)/C(NotAction) statements and conditions. Unlike C(community.aws.ecs_ecr),
    the rest of the repository (tag mutability, scanning) is never touched.
  - Comparison is by meaning, not bytes, so a converged run makes no write call.
  - C(SetRepositoryPolicy) has no revision check. After a write the module reads the policy back; when another
    writer replaced it in between, the module applies its change to what is there and writes again (bounded and
    jittered), so parallel writers adding different statements do not lose each other's work.
author:
  - pullaccess.aws maintainers (@pullaccess)
options:
  repository:
    description:
      - Name of the ECR repository.
      - One of O(repository) and O(policies) is required.
    type: str
    aliases: [repository_name]
  registry_id:
    description:
      - AWS account id of the registry that holds the repository, for a repository in another account.
      - Defaults to the registry of the account whose credentials are used.
    type: str
  sid:
    description:
      - Statement id of the statement this task owns. Letters and digits only.
      - Two tasks with different O(sid) values never touch each other's statements.
      - One of O(sid) and O(statements) is required.
    type: str
  statements:
    description:
      - Several statements of the same repository policy in one task, applied in order with at most one write
        (reads - before it, right before the write and after it - as for one statement). This is the form the
        C(pullaccess.aws.ecr_pull_access) role uses to write a whole fleet's changes to a repository at once.
      - Mutually exclusive with O(sid), O(principals) and O(conditions).
    type: list
    elements: dict
    # The same suboptions again under policies[].statements (a YAML alias).
    suboptions: &statement_suboptions
      sid:
        description: Statement id, as O(sid).
        type: str
        required: true
      state:
        description: As O(state).
        type: str
        choices: [present, absent]
        default: present
      principals:
        description: As O(principals).
        type: list
        elements: str
      actions:
        description: As O(actions); defaults to the task's O(actions).
        type: list
        elements: str
      effect:
        description: As O(effect); defaults to the task's O(effect).
        type: str
        choices: [Allow, Deny]
      conditions:
        description: As O(conditions).
        type: dict
      purge_principals:
        description: As O(purge_principals); defaults to the task's O(purge_principals).
        type: bool
  policies:
    description:
      - The fleet form - several repositories (of the task's region) in one task, each with its O(statements).
        All repositories are read and checked first, and nothing is written when any of them fails its checks;
        then the changed ones are written (and read back) side by side.
      - This is the form the C(pullaccess.aws.ecr_pull_access) role uses, one task per region for a whole play.
      - Mutually exclusive with O(repository), O(registry_id), O(sid), O(statements), O(principals) and O(conditions).
    type: list
    elements: dict
    suboptions:
      repository:
        description: Name of the repository.
        type: str
        required: true
      registry_id:
        description: As O(registry_id).
        type: str
      statements:
        description: The repository's statements, as O(statements).
        type: list
        elements: dict
        required: true
        suboptions: *statement_suboptions
      purge_sid_prefixes:
        description:
          - Also remove, in the same write, every statement whose Sid starts with one of these prefixes and that neither
            the entry's O(policies[].statements) nor O(policies[].keep_sids) name. Statements with other Sids (or none)
            are kept exactly as they are.
          - This is how the C(pullaccess.aws.ecr_pull_access) role removes the statements of workloads that no longer
            exist (its variable C(ecr_pull_access_remove_undeclared)).
        type: list
        elements: str
        version_added: 0.1.0
      keep_sids:
        description:
          - Sids that O(policies[].purge_sid_prefixes) leaves alone although the entry's statements do not name them.
        type: list
        elements: str
        version_added: 0.1.0
  state:
    description:
      - V(present) makes sure the statement is in the policy as described.
      - V(absent) removes it (or, with O(purge_principals=false), removes only O(principals) from it).
    type: str
    choices: [present, absent]
    default: present
  principals:
    description:
      - AWS principals the statement applies to, as IAM role or user ARNs, account-root ARNs or 12-digit account ids.
      - Required when O(state=present) (unless O(statements) is used). With O(state=absent) and O(purge_principals=false),
        the principals to take out.
      - C(*) is refused unless O(allow_public=true) or O(conditions) restrict it.
    type: list
    elements: str
  actions:
    description:
      - Actions the statement allows (or denies).
      - The default is the pair the Lightsail guide grants for pulling images.
    type: list
    elements: str
    default: [ecr:BatchGetImage, ecr:GetDownloadUrlForLayer]
  effect:
    description:
      - Effect of the statement.
    type: str
    choices: [Allow, Deny]
    default: Allow
  conditions:
    description:
      - 'A policy C(Condition) block, used verbatim, for example C({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}).'
    type: dict
  purge_principals:
    description:
      - When V(true), the statement names exactly O(principals).
      - When V(false), O(principals) are added to the principals the statement already has, and with O(state=absent)
        only O(principals) are removed; the statement is dropped when none are left. This lets a fleet share one
        statement.
    type: bool
    default: true
  delete_empty_policy:
    description:
      - When removing the last statement of the policy, delete the repository policy.
      - ECR does not accept a policy without statements, so with V(false) removing the last statement fails
        (nothing is written) and the policy stays as it is.
    type: bool
    default: true
  allow_public:
    description:
      - Allow the principal C(*) without O(conditions). Anyone would be able to pull.
    type: bool
    default: false
  propagation_timeout:
    description:
      - Seconds to keep retrying while ECR rejects the policy because a principal is not found, which happens for a
        while after an IAM role or user is created.
    type: int
    default: 120
  verify_delay:
    description:
      - Seconds (jittered) to wait after a write before reading the policy back to confirm it.
      - Writers that read the policy before this write have written theirs by then, so a lost update is seen and
        repaired. A failed write is retried on a fresh read, never with the old text. A writer stalled between its
        read and its write for longer than this (a frozen or heavily loaded controller) can still overwrite unseen;
        raise it when many jobs write the same repositories at once. V(0) reads back at once.
      - Use the same value in every job that writes the same repositories.
    type: float
    default: 2.0
  force:
    description:
      - Passed to C(SetRepositoryPolicy) as C(force), which lets a policy through that would stop the caller from
        setting the policy again.
    type: bool
    default: false
notes:
  - The policy text is written compactly (no whitespace) because ECR limits it to 10,240 characters. A policy
    that would be larger fails before anything is written.
  - When a role named in a statement is deleted, AWS shows its unique id (C(AROA...)) instead of its ARN. Such a
    principal in this module's statement is treated as different from the ARN and rewritten, with a warning.
    ECR refuses a policy that names one, so whenever the module writes a policy it also takes unique ids out of the
    collection's other own statements (Sids starting with C(PullAccessLightsail) or C(PullAccessEcs)), removing one
    that names nobody else. Other statements are never touched.
  - Use O(purge_principals=false) when several tasks (or hosts) share one statement; use one O(sid) per workload
    when each must be revoked on its own. See the collection README for the trade-off.
seealso:
  - module: pullaccess.aws.lightsail_ecr_puller
    description: Activates a Lightsail container service's ECR image puller role and returns the puller's principal ARN.
  - module: pullaccess.aws.ecs_execution_role_ecr
    description: Gives the IAM role that pulls an ECS task's images the ECR pull permissions.
  - module: pullaccess.aws.ecr_pull_access_info
    description: Reports who can pull from each repository, and what is stale or dangerous.
  - ref: ansible_collections.pullaccess.aws.docsite.guide_role
    description: >-
      The role C(pullaccess.aws.ecr_pull_access) and the playbooks C(pullaccess.aws.grant) and C(pullaccess.aws.revoke)
      do this for a fleet declared in the inventory.
  - module: community.aws.ecs_ecr
    description: >-
      Manages the repository itself; given its option C(policy) it replaces the whole policy,
      so leave that out for repositories whose statements this collection owns.
  - name: Private repository policies in Amazon ECR
    link: https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policies.html
    description: The AWS guide to repository policies.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - pullaccess.aws.attributes
"""

EXAMPLES = r"""
- name: Let a Lightsail container service's puller role pull from a repository
  pullaccess.aws.ecr_repo_policy_statement:
    repository: my-private-repo
    sid: AllowLightsailPullMyService
    principals:
      - arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/my-service/private-repo-access/abc123
    region: us-east-1

- name: Let another account pull, only from inside the organization
  pullaccess.aws.ecr_repo_policy_statement:
    repository: shared/base-images
    sid: AllowOrgPull
    principals: ["444455556666"]
    actions: [ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability]
    conditions:
      StringEquals:
        aws:PrincipalOrgID: o-abc123

- name: Add one principal to a statement the fleet shares
  pullaccess.aws.ecr_repo_policy_statement:
    repository: my-private-repo
    sid: FleetPull
    principals: ["arn:aws:iam::111122223333:role/web-task-execution"]
    purge_principals: false

- name: Add two workloads and remove a third in one write
  pullaccess.aws.ecr_repo_policy_statement:
    repository: my-private-repo
    purge_principals: false
    statements:
      - sid: FleetPull
        principals: ["arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:role/b"]
      - sid: FleetPull
        state: absent
        principals: ["arn:aws:iam::111122223333:role/c"]

- name: A fleet's changes to several repositories in one task (all checked before anything is written)
  pullaccess.aws.ecr_repo_policy_statement:
    policies:
      - repository: web
        statements:
          - sid: PullAccessA
            principals: ["arn:aws:iam::111122223333:role/a"]
      - repository: worker
        statements:
          - sid: PullAccessB
            state: absent

- name: Remove the statement (the policy is deleted when it was the last one)
  pullaccess.aws.ecr_repo_policy_statement:
    repository: my-private-repo
    sid: AllowLightsailPullMyService
    state: absent
"""

RETURN = r"""
repository:
  description: Name of the repository.
  returned: when O(repository) is given
  type: str
  sample: my-private-repo
registry_id:
  description: Account id of the registry holding the repository.
  returned: when O(repository) is given
  type: str
  sample: "111122223333"
policy:
  description:
    - The repository policy after the run, as a document. In check mode, the policy the run would write.
    - V(null) when the repository has no policy (or it was, or would be, deleted).
  returned: when O(repository) is given
  type: dict
  sample: {"Version": "2012-10-17", "Statement": [{"Sid": "AllowPull", "Effect": "Allow",
           "Principal": {"AWS": ["arn:aws:iam::111122223333:role/puller"]},
           "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}
policy_before:
  description: The repository policy as it was read before the run, as a document; V(null) when there was none.
  returned: when O(repository) is given
  type: dict
  sample: {"Version": "2012-10-17", "Statement": []}
statement:
  description:
    - This task's statement after the run (predicted in check mode); V(null) when it is not in the policy or
      O(statements) was used.
  returned: when O(repository) is given
  type: dict
  sample: {"Sid": "AllowPull", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/puller"]},
           "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}
statements:
  description: The statements of the task (one per distinct Sid, in order) after the run; V(null) for one not in the policy.
  returned: when O(repository) is given
  type: list
  elements: dict
  sample: [{"Sid": "PullAccessLightsail", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/puller"]},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]
write_attempts:
  description: Number of policy writes the run made (more than one when another writer replaced the policy meanwhile).
  returned: when O(repository) is given
  type: int
  sample: 1
policies:
  description:
    - With O(policies), one entry per repository in the order given.
    - When writing fails for some repositories, the entries say what was done for each.
  returned: when O(policies) is given
  type: list
  elements: dict
  contains:
    repository:
      description: Name of the repository.
      type: str
      sample: web
    registry_id:
      description: Account id of the registry, when ECR's answers gave it (V(null) for a repository without a policy that was not written).
      type: str
      sample: "111122223333"
    changed:
      description: Whether this repository's policy changed (or would change in check mode).
      type: bool
      sample: true
    policy:
      description: The policy after the run (predicted in check mode), or V(null).
      type: dict
      sample: {"Version": "2012-10-17", "Statement": []}
    policy_before:
      description: The policy as it was read before the run, or V(null) when there was none.
      type: dict
      sample: {"Version": "2012-10-17", "Statement": []}
    statements:
      description: The entry's statements after the run, one per distinct Sid; V(null) for one not in the policy.
      type: list
      elements: dict
      sample: []
    write_attempts:
      description: Number of policy writes made for this repository.
      type: int
      sample: 1
diff:
  description:
    - With C(--diff), the whole repository policy before and after as stable, readable JSON (sorted keys, two-space
      indent), so the diff shows just this statement changing. An empty string stands for "no policy".
    - With O(policies), a list of such diffs (with C(before_header)/C(after_header) naming the repository), one
      per repository that changes.
  returned: when diff mode is on
  type: raw
  contains:
    before:
      description: The policy before the run.
      type: str
    after:
      description: The policy after the run (predicted in check mode).
      type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import WRITE_CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import fail_with
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import failure_summary
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import AnsibleECRError
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import describe_repository
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import find_statement
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import pretty_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import apply_policies
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import check_requests
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import plan_policies
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import policy_result
from ansible_collections.pullaccess.aws.plugins.module_utils._repository_policies import requests_from


def argument_spec():
    statement_options = dict(
        sid=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        principals=dict(type="list", elements="str"),
        actions=dict(type="list", elements="str"),
        effect=dict(type="str", choices=["Allow", "Deny"]),
        conditions=dict(type="dict"),
        purge_principals=dict(type="bool"),
    )
    policy_options = dict(
        repository=dict(type="str", required=True),
        registry_id=dict(type="str"),
        statements=dict(type="list", elements="dict", required=True, options=statement_options),
        purge_sid_prefixes=dict(type="list", elements="str"),
        keep_sids=dict(type="list", elements="str"),
    )
    return dict(
        repository=dict(type="str", aliases=["repository_name"]),
        registry_id=dict(type="str"),
        sid=dict(type="str"),
        statements=dict(type="list", elements="dict", options=statement_options),
        policies=dict(type="list", elements="dict", options=policy_options),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        principals=dict(type="list", elements="str"),
        actions=dict(type="list", elements="str", default=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]),
        effect=dict(type="str", default="Allow", choices=["Allow", "Deny"]),
        conditions=dict(type="dict"),
        purge_principals=dict(type="bool", default=True),
        delete_empty_policy=dict(type="bool", default=True),
        allow_public=dict(type="bool", default=False),
        propagation_timeout=dict(type="int", default=120),
        verify_delay=dict(type="float", default=2.0),
        force=dict(type="bool", default=False),
    )


def fail_on_errors(module, requests, outcomes, stage, **extra):
    """End the module when a repository failed: one repository's error as it is, several in one message."""
    failed = [(request.repository, error) for request, (dummy, error) in zip(requests, outcomes) if error is not None]
    if failed and len(outcomes) == 1:
        fail_with(module, failed[0][1], **extra)
    if failed:
        module.fail_json(msg=failure_summary(failed, len(failed), len(outcomes), "repositories", stage), **extra)


def result_of(module, requests, changes, diff=False):
    """What the task returns: the one repository's policy, or with ``policies`` the list."""
    if module.params["policies"] is not None:
        result = dict(changed=any(c.changed for c in changes), policies=[policy_result(c, r) for c, r in zip(changes, requests)])
        if diff:
            result["diff"] = [
                dict(before_header=c.repository, after_header=c.repository, before=pretty_policy(c.before), after=pretty_policy(c.after))
                for c in changes
                if c.changed
            ]
        return result
    change, request = changes[0], requests[0]
    result = policy_result(change, request)
    result["statement"] = find_statement(change.after, request.statements[0]["sid"]) if module.params["sid"] else None
    if diff:
        result["diff"] = dict(before=pretty_policy(change.before), after=pretty_policy(change.after))
    return result


def main():
    module = AnsibleAWSModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_if=[("state", "present", ["principals", "statements", "policies"], True)],
        required_one_of=[("sid", "statements", "policies"), ("repository", "policies")],
        mutually_exclusive=[
            ("sid", "statements", "policies"),
            ("principals", "statements", "policies"),
            ("conditions", "statements", "policies"),
            ("repository", "policies"),
            ("registry_id", "policies"),
        ],
    )
    params = module.params
    single = params["policies"] is None
    try:
        requests = check_requests(requests_from(params), params["allow_public"])
    except InvalidRequestError as e:
        fail_with(module, e, repository=params["repository"])

    client = module.client("ecr", config=CLIENT_CONFIG)
    # Every repository is read and checked before anything is written.
    planned = plan_policies(client, requests, params["delete_empty_policy"], module.region)
    fail_on_errors(module, requests, planned, "failed their checks; nothing was written", repository=params["repository"],
                   registry_id=params["registry_id"])
    changes = [change for change, dummy in planned]

    if not module.check_mode:
        write_client = module.client("ecr", config=WRITE_CLIENT_CONFIG)
        applied = apply_policies(client, changes, force=params["force"], propagation_timeout=params["propagation_timeout"],
                                 verify_delay=params["verify_delay"], write_client=write_client)
        extra = dict(changed=any(c.changed for c in changes)) if single else result_of(module, requests, changes)
        fail_on_errors(module, requests, applied, "failed to be written", **extra)

    for note in sorted(set().union(*(request.notes for request in requests))):
        module.warn(note)
    if single and not changes[0].registry_id:
        # ECR's policy calls carry the registry id; with no policy read or written, ask for it.
        try:
            changes[0].registry_id = describe_repository(client, changes[0].repository, requests[0].registry_id, module.region)["registryId"]
        except AnsibleECRError as e:
            fail_with(module, e)
    module.exit_json(**result_of(module, requests, changes, diff=module._diff))


if __name__ == "__main__":
    main()
