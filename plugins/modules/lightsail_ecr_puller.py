#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

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
      - Wait until the puller role has settled (see the description) before returning.
      - With V(false) the module returns right after the update with what is known then; after an activation
        RV(principal_arn) is then usually V("") and RV(principal_arn_known) V(false).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait in all, for a busy service to accept the update and (with O(wait=true)) for the role
        to settle. With O(service_names) the services are waited for side by side within this one budget.
      - When the time runs out the module fails, saying whether the change was requested and what state the
        service is in.
    type: int
    default: 300
notes:
  - Check mode makes no change and reports whether the role would be switched. The ARN a new activation will get
    cannot be known before Lightsail assigns it, so in check mode RV(principal_arn) is then V(""),
    RV(principal_arn_known) is V(false), RV(msg) says why, and the diff shows C((known after activation)).
  - Throttling (C(ThrottlingException)) and C(ServiceException) answers are retried with jittered backoff.
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

from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import AnsibleLightsailError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import PullerBatchError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import PullerWaitTimeout
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import converge_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import converge_puller_roles
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import diff_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import quote_names
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import reported_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import snake_service
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import validate_service_name
from ansible_collections.pullaccess.aws.plugins.module_utils._poll import CLIENT_CONFIG


def pending_note(check_mode, changed, names=None):
    """Why principal_arn is empty although the role is (or would be) active; ``names`` are the
    services concerned in the fleet form."""
    if check_mode and changed:
        if names:
            return (
                f"Check mode: the ECR image puller roles of {quote_names(names)} would be activated; their principal "
                "ARNs cannot be known before activation, so their principal_arn is empty"
            )
        return (
            "Check mode: the ECR image puller role would be activated; its principal ARN cannot be known before "
            "activation, so principal_arn is empty"
        )
    if names:
        return (
            f"The ECR image puller roles of {quote_names(names)} are active but Lightsail has not assigned their "
            "principal ARNs yet (activation takes about 30 seconds), so their principal_arn is empty; check mode and "
            "wait=false do not wait for them"
        )
    return (
        "The ECR image puller role is active but Lightsail has not assigned its principal ARN yet (activation takes "
        "about 30 seconds), so principal_arn is empty; check mode and wait=false do not wait for it"
    )


def single_result(outcome, is_active, check_mode, diff):
    """The return values of the single form."""
    role, arn_known = reported_puller_role(outcome, is_active, check_mode)
    result = dict(
        changed=outcome.changed,
        principal_arn=role["principal_arn"],
        principal_arn_known=arn_known,
        is_active=role["is_active"],
        service=snake_service(outcome.after),
    )
    if not arn_known:
        result["msg"] = pending_note(check_mode, outcome.changed)
    if diff:
        result["diff"] = dict(before=puller_role(outcome.before), after=diff_puller_role(role, arn_known))
    return result


def fleet_result(outcomes, is_active, check_mode, diff):
    """The return values of the fleet form (also those of its failures, with partial results)."""
    pullers = []
    diff_before, diff_after = {}, {}
    would_activate, unassigned = [], []
    for outcome in outcomes:
        role, arn_known = reported_puller_role(outcome, is_active, check_mode)
        pullers.append(
            dict(
                service_name=outcome.service_name,
                is_active=role["is_active"],
                principal_arn=role["principal_arn"],
                principal_arn_known=arn_known,
                changed=outcome.changed,
            )
        )
        if not arn_known:
            (would_activate if check_mode and outcome.changed else unassigned).append(outcome.service_name)
        if outcome.changed:
            diff_before[outcome.service_name] = puller_role(outcome.before)
            diff_after[outcome.service_name] = diff_puller_role(role, arn_known)
    result = dict(changed=any(puller["changed"] for puller in pullers), pullers=pullers)
    notes = [pending_note(check_mode, True, would_activate)] if would_activate else []
    if unassigned:
        notes.append(pending_note(check_mode, False, unassigned))
    if notes:
        result["msg"] = ". ".join(notes)
    if diff:
        result["diff"] = dict(before=diff_before, after=diff_after)
    return result


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
    service_names = module.params["service_names"]
    fleet = service_names is not None
    if not fleet:
        service_names = [module.params["service_name"]]
    is_active = module.params["state"] == "present"
    wait_timeout = module.params["wait_timeout"]

    problems = [problem for problem in map(validate_service_name, service_names) if problem]
    if problems:
        module.fail_json(msg="; ".join(problems))
    if wait_timeout < 0:
        module.fail_json(msg=f"wait_timeout must be 0 or more seconds, got {wait_timeout}")
    if not service_names:
        module.exit_json(**fleet_result([], is_active, module.check_mode, module._diff))

    converge = dict(check_mode=module.check_mode, wait=module.params["wait"], wait_timeout=wait_timeout)
    client = module.client("lightsail", config=CLIENT_CONFIG)
    try:
        if fleet:
            outcomes = converge_puller_roles(client, service_names, module.region, is_active, **converge)
        else:
            outcome = converge_puller_role(client, service_names[0], module.region, is_active, **converge)
    except PullerBatchError as e:
        partial = fleet_result(e.outcomes, is_active, module.check_mode, module._diff)
        partial.pop("msg", None)
        partial["changed"] = e.requested
        if e.exception is not None:
            module.fail_json_aws(e.exception, msg=e.message, **partial)
        module.fail_json(msg=e.message, **partial)
    except PullerWaitTimeout as e:
        role = puller_role(e.service)
        module.fail_json(msg=e.message, changed=e.requested, service=snake_service(e.service), **role)
    except AnsibleLightsailError as e:
        module.fail_json_aws_error(e)

    if fleet:
        module.exit_json(**fleet_result(outcomes, is_active, module.check_mode, module._diff))
    module.exit_json(**single_result(outcome, is_active, module.check_mode, module._diff))


if __name__ == "__main__":
    main()
