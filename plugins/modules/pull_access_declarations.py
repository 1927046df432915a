#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: pull_access_declarations
short_description: Check the pull-access declarations of many hosts in one task
version_added: 0.1.0
description:
  - Reads the C(ecr_pull_access_*) variables of every host in O(hosts) as a task of the
    C(pullaccess.aws.ecr_pull_access) role on that host sees them (inventory, group and host variables, play and
    role variables, block and include variables, facts and extra variables), checks them against the role's
    argument specification (O(argument_spec)) and for misspelt names, checks each declaration as the
    P(pullaccess.aws.pull_access_workload#filter) filter does, and returns the workloads.
  - The role runs it once for the batch (under the C(linear) strategy), so a fleet of a thousand hosts is checked in
    one task instead of two tasks on every host; include the role with C(rolespec_validate=false) to skip
    ansible-core's own per-host argument validation, which this module repeats.
  - When any host's declaration is wrong it fails naming every such host and what to fix (the first 20, and how many
    more), and returns no workloads. C(ecr_pull_access_remove_undeclared) and C(ecr_pull_access_report_per_host) must be
    the same for every host.
  - Runs on the controller; it makes no connection to the hosts and no AWS call.
author:
  - pullaccess.aws maintainers (@pullaccess)
options:
  hosts:
    description:
      - The inventory hosts whose declarations to check, in the order their workloads are returned.
    type: list
    elements: str
    required: true
  argument_spec:
    description:
      - The role's argument specification, the C(options) of its C(main) entry point in C(meta/argument_specs.yml).
      - Every variable named C(ecr_pull_access_*) that it does not list is reported as misspelt.
    type: dict
    required: true
extends_documentation_fragment:
  - pullaccess.aws.controller
notes:
  - It reads the hosts' variables through ansible-core's variable manager, as the strategy does for every task.
"""

EXAMPLES = r"""
- name: Check every workload's declaration, once for the batch
  pullaccess.aws.pull_access_declarations:
    hosts: "{{ ansible_play_batch }}"
    argument_spec: "{{ (lookup('ansible.builtin.file', role_path ~ '/meta/argument_specs.yml') | from_yaml).argument_specs.main.options }}"
  run_once: true
  register: declarations
"""

RETURN = r"""
workloads_json:
  description:
    - RV(workloads) as JSON text, for the P(pullaccess.aws.pull_access_plan#filter) filter and the operator policy filters,
      which take either. Ansible passes one string to a filter at once, while it hands over a list item by item on every
      use, which takes seconds for a thousand workloads.
  returned: always
  type: str
  sample: '[{"host": "shop-frontend", "type": "lightsail", "state": "present", "region": "us-east-1", "name": "shop-frontend"}]'
workloads:
  description:
    - One workload per host, in the order of O(hosts), as the P(pullaccess.aws.pull_access_workload#filter) filter
      returns it (type, state, region, name, repositories, Sid, statement mode, and the ECS settings).
    - Empty when the module fails.
  returned: always
  type: list
  elements: dict
  sample:
    - host: shop-frontend
      type: lightsail
      state: present
      region: us-east-1
      name: shop-frontend
      statement_mode: shared
      service_pattern: "*"
      exclusive: false
      repositories:
        - {name: shop/web, registry_id: null, region: us-east-1, partition: aws}
      cleanup_repositories: []
      sid: PullAccessLightsailShopFrontend1a2b3c4d
report_per_host:
  description:
    - The hosts' C(ecr_pull_access_report_per_host), which must be the same for all of them; V(true) when O(hosts) is empty.
  returned: success
  type: bool
  sample: true
remove_undeclared:
  description:
    - The hosts' C(ecr_pull_access_remove_undeclared), which must be the same for all of them; V(false) when O(hosts) is empty.
  returned: success
  type: bool
  sample: false
"""
