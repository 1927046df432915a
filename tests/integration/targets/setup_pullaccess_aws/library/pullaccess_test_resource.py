#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: pullaccess_test_resource
short_description: Test-only - create or delete the AWS resources the pullaccess.aws targets work on
description:
  - Creates or deletes a Lightsail container service (power C(nano), scale 1, the cheapest) or an ECR repository.
  - amazon.aws has no module for either; this one exists only for the integration targets.
options:
  kind:
    description: What to create or delete.
    type: str
    required: true
    choices: [lightsail_container_service, ecr_repository]
  name:
    description: Name of the service or repository.
    type: str
    required: true
  state:
    description: C(present) creates it, C(absent) deletes it (a repository with its images).
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for a new container service to leave C(PENDING).
    type: int
    default: 900
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: A container service to work on
  pullaccess_test_resource:
    kind: lightsail_container_service
    name: "{{ resource_prefix }}-svc"
"""

RETURN = r"""
resource:
  description: The service or repository as AWS describes it (snake_case); empty after deletion.
  returned: always
  type: dict
"""

import time

try:
    import botocore  # pylint: disable=unused-import
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

# Real Lightsail takes minutes to leave PENDING; the rig a fraction of a second.
POLL_SECONDS = 2


def lightsail_service(client, name):
    """The container service, or None."""
    try:
        return client.get_container_services(serviceName=name)["containerServices"][0]
    except is_boto3_error_code("NotFoundException"):
        return None


def ensure_lightsail_service(module, client, name, present):
    """Create (and wait out PENDING) or delete one container service; returns (changed, service)."""
    service = lightsail_service(client, name)
    if not present:
        if service is None or service["state"] == "DELETING":
            return False, {}
        client.delete_container_service(serviceName=name)
        return True, {}
    changed = service is None
    if changed:
        client.create_container_service(serviceName=name, power="nano", scale=1)
    deadline = time.monotonic() + module.params["wait_timeout"]
    service = lightsail_service(client, name)
    while service["state"] == "PENDING" and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        service = lightsail_service(client, name)
    if service["state"] == "PENDING":
        module.fail_json(msg=f"container service {name} still PENDING after {module.params['wait_timeout']} s")
    return changed, service


def ensure_ecr_repository(client, name, present):
    """Create or delete (with its images) one repository; returns (changed, repository)."""
    try:
        repository = client.describe_repositories(repositoryNames=[name])["repositories"][0]
    except is_boto3_error_code("RepositoryNotFoundException"):
        repository = None
    if present and repository is None:
        return True, client.create_repository(repositoryName=name)["repository"]
    if not present and repository is not None:
        client.delete_repository(repositoryName=name, force=True)
        return True, {}
    return False, repository or {}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            kind=dict(type="str", required=True, choices=["lightsail_container_service", "ecr_repository"]),
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            wait_timeout=dict(type="int", default=900),
        ),
    )
    present = module.params["state"] == "present"
    name = module.params["name"]
    try:
        if module.params["kind"] == "lightsail_container_service":
            changed, resource = ensure_lightsail_service(module, module.client("lightsail"), name, present)
        else:
            changed, resource = ensure_ecr_repository(module.client("ecr"), name, present)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"{module.params['kind']} {name}")
    module.exit_json(changed=changed, resource=camel_dict_to_snake_dict(resource))


if __name__ == "__main__":
    main()
