#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: lightsail_ecr_puller
short_description: Activate or deactivate the ECR image puller role of a Lightsail container service
version_added: 0.1.0
description:
  - Switches the Amazon ECR image puller IAM role (C(privateRegistryAccess.ecrImagePullerRole)) of one Amazon
    Lightsail container service on or off, and returns the role's principal ARN, which is what an ECR repository
    policy must grant (for example with M(pullaccess.aws.ecr_repo_policy_statement)).
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
    type: str
    required: true
    aliases: [name]
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
        to settle.
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
  returned: always
  type: str
  sample: arn:aws:iam::111122223333:role/amazon/lightsail/us-east-1/containers/my-container-service/private-repo-access/abc123
principal_arn_known:
  description:
    - V(false) when the role is (or in check mode would be) active but Lightsail has not assigned its ARN yet, so
      RV(principal_arn) is V("") although the role will have an ARN. V(true) otherwise.
  returned: always
  type: bool
  sample: true
is_active:
  description: Whether the puller role is active after the run (in check mode, whether it would be).
  returned: always
  type: bool
  sample: true
msg:
  description: Explains why RV(principal_arn) is empty although the role is, or would be, active.
  returned: when RV(principal_arn_known) is false
  type: str
  sample: "Check mode: the ECR image puller role would be activated; its principal ARN cannot be known before activation"
service:
  description:
    - The container service as C(GetContainerServices) (or, with O(wait=false), C(UpdateContainerService))
      describes it after the run, with keys in snake_case and tags as a dict. In check mode, the service as it is.
    - Names chosen by the user (keys of C(public_domain_names), container names) are kept as they are.
  returned: always
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
    - In check mode, and with O(wait=false), the C(principal_arn) of a role that is being activated is the
      placeholder C((known after activation)), since Lightsail assigns it only when activation finishes.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The role before the run.
      type: dict
      sample: {"is_active": false, "principal_arn": ""}
    after:
      description: The role after the run (predicted in check mode).
      type: dict
      sample: {"is_active": true, "principal_arn": "(known after activation)"}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import AnsibleLightsailError
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import PullerWaitTimeout
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import converge_puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import puller_role
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import snake_service
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import validate_service_name

# What the diff shows for the ARN of a role whose activation has not finished.
ARN_PENDING = "(known after activation)"


def role_after(outcome, is_active, check_mode):
    """The puller role after the run (predicted in check mode) as ``(role, arn_known)``."""
    if check_mode and outcome.changed:
        return {"is_active": is_active, "principal_arn": ""}, not is_active
    role = puller_role(outcome.after)
    return role, not (role["is_active"] and not role["principal_arn"])


def pending_note(check_mode, changed):
    """Why principal_arn is empty although the role is (or would be) active."""
    if check_mode and changed:
        return (
            "Check mode: the ECR image puller role would be activated; its principal ARN cannot be known before "
            "activation, so principal_arn is empty"
        )
    return (
        "The ECR image puller role is active but Lightsail has not assigned its principal ARN yet (activation takes "
        "about 30 seconds), so principal_arn is empty; check mode and wait=false do not wait for it"
    )


def main():
    argument_spec = dict(
        service_name=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    service_name = module.params["service_name"]
    is_active = module.params["state"] == "present"
    wait_timeout = module.params["wait_timeout"]

    problem = validate_service_name(service_name)
    if problem:
        module.fail_json(msg=problem)
    if wait_timeout < 0:
        module.fail_json(msg=f"wait_timeout must be 0 or more seconds, got {wait_timeout}")

    client = module.client("lightsail")
    try:
        outcome = converge_puller_role(
            client,
            service_name,
            module.region,
            is_active,
            check_mode=module.check_mode,
            wait=module.params["wait"],
            wait_timeout=wait_timeout,
        )
    except PullerWaitTimeout as e:
        role = puller_role(e.service)
        module.fail_json(msg=e.message, changed=e.requested, service=snake_service(e.service), **role)
    except AnsibleLightsailError as e:
        module.fail_json_aws_error(e)

    role, arn_known = role_after(outcome, is_active, module.check_mode)
    result = dict(
        changed=outcome.changed,
        principal_arn=role["principal_arn"],
        principal_arn_known=arn_known,
        is_active=role["is_active"],
        service=snake_service(outcome.after),
    )
    if not arn_known:
        result["msg"] = pending_note(module.check_mode, outcome.changed)
    if module._diff:
        after = dict(role)
        if not arn_known:
            after["principal_arn"] = ARN_PENDING
        result["diff"] = dict(before=puller_role(outcome.before), after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
