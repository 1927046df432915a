#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: lightsail_ecr_puller
short_description: Activate or deactivate the ECR image puller role of Lightsail container services
version_added: 0.1.0
description:
  - Switches the Amazon ECR image puller IAM role (C(privateRegistryAccess.ecrImagePullerRole)) of one Amazon
    Lightsail container service on or off, and returns the role's principal ARN, which is what an ECR repository
    policy must grant (for example with M(pullaccess.aws.ecr_repo_policy_statement)).
  - With O(service_names) it does the same for many services of one region in one run (the fleet form, used by
    the C(pullaccess.aws.ecr_pull_access) role). One C(GetContainerServices) call reads every service of the
    region, updates go only to the services whose role is not as wanted, busy services are waited for side by
    side, and each poll is again one call for the whole region. Results are in RV(pullers).
  - The returned RV(principal_arn) is the puller role's ARN, never the container service's own C(principalArn);
    granting the service's own ARN makes deployments from private repositories end as C(Canceled).
  - Only the puller role is changed; power, scale, domains, deployments and the disabled flag are left alone.
  - Lightsail assigns the principal ARN only once activation has finished (AWS documents about 30 seconds). With
    O(wait=true) the module polls until the role has its ARN (or, when deactivating, has none) and the service is
    out of C(PENDING), C(UPDATING) and C(DEPLOYING).
  - Lightsail refuses updates while a service is C(PENDING), C(UPDATING) or C(DEPLOYING). When the role has to be
    switched then, the module waits (within O(wait_timeout), also with O(wait=false)) until the service accepts
    the update.
  - The container service and the ECR repositories it pulls from must be in the same region.
author:
  - pullaccess.aws maintainers (@pullaccess)
options:
  service_name:
    description:
      - Name of the Lightsail container service, in the region given by O(region).
      - Mutually exclusive with O(service_names); one of the two is required.
    type: str
    aliases: [name]
  service_names:
    description:
      - Names of Lightsail container services in the region given by O(region), whose puller roles are all
        brought to O(state) in one run (the fleet form). Results are returned in RV(pullers), one per name, in the
        order given; a name listed twice is handled and returned once.
      - When any of them does not exist in the region the module fails naming all such services, before any
        change.
      - When the time runs out (O(wait_timeout)) for some services, the module fails saying which services are
        not done and in what state they are; the others are done and RV(pullers) returns every service's result.
      - An empty list makes no AWS call and returns an empty RV(pullers).
      - Mutually exclusive with O(service_name); one of the two is required.
    type: list
    elements: str
  state:
    description:
      - V(present) makes sure the ECR image puller role is active.
      - V(absent) makes sure it is inactive. Remove the role's ARN from repository policies first; the role
        and its ARN are gone after deactivation, and a later activation creates a role with a new ARN.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until the puller role has finished switching (see the description) before returning.
      - With V(false) the module returns right after the update with what is known then; after an activation
        RV(principal_arn) is then usually V("") and RV(principal_arn_known) V(false).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait in all, for a busy service to accept the update and (with O(wait=true)) for the role
        to finish switching. With O(service_names) the services are waited for side by side within this one budget.
      - When the time runs out the module fails, saying whether the change was requested and what state the
        service is in.
    type: int
    default: 300
notes:
  - Check mode makes no change and reports whether the role would be switched. The ARN a new activation will get
    cannot be known before Lightsail assigns it, so in check mode RV(principal_arn) is then V(""),
    RV(principal_arn_known) is V(false), RV(msg) says why, and the diff shows C((known after activation)).
  - Throttling (C(ThrottlingException)) and server errors (C(ServiceException)) are retried by botocore (standard
    retry mode, up to 10 attempts per call).
seealso:
  - module: pullaccess.aws.ecr_repo_policy_statement
    description: Adds a principal (a puller role, or an ECS role of another account) to a repository's policy, as one statement.
  - module: pullaccess.aws.ecr_pull_access_info
    description: Reports who can pull from each repository, and what is stale or dangerous.
  - ref: ansible_collections.pullaccess.aws.docsite.guide_role
    description: >-
      The role C(pullaccess.aws.ecr_pull_access) and the playbooks C(pullaccess.aws.grant) and C(pullaccess.aws.revoke)
      do this for a fleet declared in the inventory.
  - name: Lightsail container services and Amazon ECR private repositories
    link: https://docs.aws.amazon.com/lightsail/latest/userguide/amazon-lightsail-container-service-ecr-private-repo-access.html
    description: The AWS guide to the ECR image puller role.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - pullaccess.aws.attributes
"""

EXAMPLES = r"""
- name: Activate the ECR image puller role and get its ARN
  pullaccess.aws.lightsail_ecr_puller:
    service_name: my-container-service
    region: us-east-1
  register: puller

- name: Let that role pull from a private repository in the same region
  pullaccess.aws.ecr_repo_policy_statement:
    repository: my-private-repo
    sid: AllowLightsailPullMyContainerService
    principals:
      - "{{ puller.principal_arn }}"
    region: us-east-1

- name: Request activation without waiting for it
  pullaccess.aws.lightsail_ecr_puller:
    name: my-container-service
    wait: false
    region: us-east-1

- name: Activate the puller roles of a whole fleet of one region in one task
  pullaccess.aws.lightsail_ecr_puller:
    service_names:
      - shop-frontend
      - shop-api
      - reporting
    region: us-east-1
  register: fleet

- name: Let all of them pull from a private repository
  pullaccess.aws.ecr_repo_policy_statement:
    repository: my-private-repo
    sid: AllowLightsailPullFleet
    principals: "{{ fleet.pullers | map(attribute='principal_arn') | list }}"
    region: us-east-1

- name: Deactivate the puller role (after removing its ARN from repository policies)
  pullaccess.aws.lightsail_ecr_puller:
    service_name: my-container-service
    state: absent
    region: us-east-1
"""

RETURN = r"""
principal_arn:
  description:
    - ARN of the service's ECR image puller role (C(privateRegistryAccess.ecrImagePullerRole.principalArn)), the
      principal to grant in ECR repository policies. This is not the container service's own C(principalArn).
    - V("") when the role is inactive, and while an activation has not finished (check mode, O(wait=false)); see
      RV(principal_arn_known).
  returned: when O(service_name) is given
  type: str
  sample: arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/my-container-service/private-repo-access/abc123
principal_arn_known:
  description:
    - V(false) when the role is (or in check mode would be) active but Lightsail has not assigned its ARN yet, so
      RV(principal_arn) is V("") although the role will have an ARN. V(true) otherwise.
  returned: when O(service_name) is given
  type: bool
  sample: true
is_active:
  description: Whether the puller role is active after the run (in check mode, whether it would be).
  returned: when O(service_name) is given
  type: bool
  sample: true
msg:
  description:
    - Explains why RV(principal_arn) (with O(service_names), some RV(pullers[].principal_arn)) is empty although
      the role is, or would be, active.
  returned: when RV(principal_arn_known) or some RV(pullers[].principal_arn_known) is false
  type: str
  sample: "Check mode: the ECR image puller role would be activated; its principal ARN cannot be known before activation"
pullers:
  description:
    - With O(service_names), the puller role of each listed service after the run (in check mode, as it would
      be), one element per service in the order given.
    - Also returned when the module fails because some services could not be finished; the services not named
      in RV(msg) are done.
  returned: when O(service_names) is given
  type: list
  elements: dict
  contains:
    service_name:
      description: Name of the container service.
      type: str
      sample: shop-api
    service_arn:
      description: ARN of the container service (it names the account and Region of the service).
      type: str
      sample: arn:aws:lightsail:us-east-1:111122223333:ContainerService/1f2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d
    is_active:
      description: Whether the service's puller role is active after the run (in check mode, whether it would be).
      type: bool
      sample: true
    principal_arn:
      description:
        - ARN of the service's ECR image puller role, as RV(principal_arn) of the single form; never the container
          service's own C(principalArn).
        - V("") when the role is inactive, and while an activation has not finished (check mode, O(wait=false)).
      type: str
      sample: arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/shop-api/private-repo-access/abc123
    principal_arn_known:
      description: As RV(principal_arn_known) of the single form, for this service.
      type: bool
      sample: true
    principal_arn_before:
      description:
        - ARN of the service's ECR image puller role before the run; V("") when it was inactive. After a
          deactivation (or in check mode, before one) this is the ARN to take out of repository policies.
      type: str
      sample: arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/shop-api/private-repo-access/abc123
    changed:
      description: Whether this run switched (in check mode, would switch) this service's puller role.
      type: bool
      sample: true
service:
  description:
    - The container service as C(GetContainerServices) (or, with O(wait=false), C(UpdateContainerService))
      describes it after the run, with keys in snake_case and tags as a dict. In check mode, the service as it is.
    - Names chosen by the user (keys of C(public_domain_names), container names) are kept as they are.
  returned: when O(service_name) is given
  type: dict
  contains:
    container_service_name:
      description: Name of the container service.
      type: str
      sample: my-container-service
    arn:
      description: ARN of the container service.
      type: str
      sample: arn:aws:lightsail:us-east-1:111122223333:ContainerService/1f2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d
    state:
      description: State of the service, one of C(PENDING), C(READY), C(RUNNING), C(UPDATING), C(DELETING), C(DISABLED), C(DEPLOYING).
      type: str
      sample: READY
    principal_arn:
      description: The service's own role ARN. Not the puller role; do not grant it ECR access.
      type: str
      sample: arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/my-container-service/xyz789
    private_registry_access:
      description: The service's private registry access settings.
      type: dict
      contains:
        ecr_image_puller_role:
          description: The ECR image puller role as Lightsail reports it.
          type: dict
          contains:
            is_active:
              description: Whether the role is active.
              type: bool
            principal_arn:
              description: ARN of the role; empty while inactive or not yet assigned.
              type: str
    power:
      description: Power (size) of the service's nodes.
      type: str
      sample: nano
    scale:
      description: Number of nodes.
      type: int
      sample: 1
    is_disabled:
      description: Whether the service is disabled.
      type: bool
      sample: false
    tags:
      description: Tags of the service, as a dict.
      type: dict
      sample: {"env": "prod"}
    url:
      description: Public URL of the service.
      type: str
      sample: https://my-container-service.abc123.us-east-1.cs.amazonlightsail.com/
diff:
  description:
    - With C(--diff), the puller role before and after the run.
    - With O(service_names), C(before) and C(after) map the name of each service whose role is (or would be)
      switched to that role (a dict with C(is_active) and C(principal_arn), as in the single form); services left
      as they are do not appear.
    - In check mode, and with O(wait=false), the C(principal_arn) of a role that is being activated is the
      placeholder C((known after activation)), since Lightsail assigns it only when activation finishes.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The role before the run (with O(service_names), the roles by service name).
      type: dict
      sample: {"is_active": false, "principal_arn": ""}
    after:
      description: The role after the run, predicted in check mode (with O(service_names), the roles by service name).
      type: dict
      sample: {"is_active": true, "principal_arn": "(known after activation)"}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import InvalidRequestError
from ansible_collections.pullaccess.aws.plugins.module_utils._aws import fail_with
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import AnsibleLightsailError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_report
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import snake_service
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import unknown_arn_note
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerRunError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import PullerTimeoutError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail_pullers import converge_puller_roles
from ansible_collections.pullaccess.aws.plugins.module_utils._names import validate_service_name


def check_request(service_names, wait_timeout):
    """Raise InvalidRequestError naming every problem of the arguments at once."""
    problems = [problem for problem in map(validate_service_name, service_names) if problem]
    if wait_timeout < 0:
        problems.append(f"wait_timeout must be 0 or more seconds, got {wait_timeout}")
    if problems:
        raise InvalidRequestError("; ".join(problems))


def build_result(outcomes, fleet, is_active, check_mode, diff):
    """The return values: of the single form from its one outcome, of the fleet form from all."""
    reports = [puller_report(outcome, is_active, check_mode) for outcome in outcomes]
    pullers = [report[0] for report in reports]
    if fleet:
        result = dict(changed=any(puller["changed"] for puller in pullers), pullers=pullers)
        switched = [(puller["service_name"], role_diff) for puller, role_diff in reports if puller["changed"]]
        role_diffs = dict(before={name: d["before"] for name, d in switched}, after={name: d["after"] for name, d in switched})
    else:
        puller, role_diffs = reports[0]
        result = dict(
            changed=puller["changed"],
            principal_arn=puller["principal_arn"],
            principal_arn_known=puller["principal_arn_known"],
            is_active=puller["is_active"],
            service=snake_service(outcomes[0].after),
        )
    note = unknown_arn_note(pullers, check_mode, fleet)
    if note:
        result["msg"] = note
    if diff:
        result["diff"] = role_diffs
    return result


def fail(module, error, fleet, is_active):
    """The one failure path. When some services could not be finished, the fleet form returns
    every service's result; the single form fails with its service's error, and with the role
    as it is when the role was switched but did not become steady in time."""
    extra = {}
    if isinstance(error, PullerRunError) and fleet:
        extra = build_result(error.outcomes, fleet, is_active, module.check_mode, module._diff)
        extra.pop("msg", None)
        extra["changed"] = error.requested
    elif isinstance(error, PullerRunError):
        outcome = error.outcomes[0]
        error = outcome.error
        if isinstance(error, PullerTimeoutError):
            extra = dict(changed=outcome.requested, service=snake_service(outcome.after), **puller_role(outcome.after))
    fail_with(module, error, **extra)


def main():
    argument_spec = dict(
        service_name=dict(type="str", aliases=["name"]),
        service_names=dict(type="list", elements="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[["service_name", "service_names"]],
        required_one_of=[["service_name", "service_names"]],
        supports_check_mode=True,
    )
    fleet = module.params["service_names"] is not None
    service_names = module.params["service_names"] if fleet else [module.params["service_name"]]
    is_active = module.params["state"] == "present"
    wait_timeout = module.params["wait_timeout"]
    try:
        check_request(service_names, wait_timeout)
        outcomes = []
        if service_names:
            client = module.client("lightsail", config=CLIENT_CONFIG)
            # The single form reads its one service by name: a missing service is a NotFoundException naming it.
            outcomes = converge_puller_roles(
                client, service_names, module.region, is_active, check_mode=module.check_mode, wait=module.params["wait"],
                wait_timeout=wait_timeout, read_by_name=not fleet,
            )
    except (InvalidRequestError, AnsibleLightsailError) as e:
        fail(module, e, fleet, is_active)
    module.exit_json(**build_result(outcomes, fleet, is_active, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
