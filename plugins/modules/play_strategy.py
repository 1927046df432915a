#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
---
module: play_strategy
short_description: Tell the running play's strategy and whether run_once runs once under it
version_added: 0.1.0
description:
  - Returns the strategy of the play it runs in (the C(strategy) play keyword, or the configured default) and
    whether a C(run_once) task runs once for the batch under it.
  - Under C(linear) (and C(debug)) a C(run_once) task runs on one host and its registered result and facts go to
    every host of the batch. Under C(free) and C(host_pinned) ansible-core runs it for every host, and each
    host's result overwrites the other hosts' copies, so a role that carries results from one C(run_once) task
    to the next gets another host's results. The C(pullaccess.aws.ecr_pull_access) role uses this module to run
    its AWS work once for the batch under C(linear), and per host (each host its own workload) otherwise.
  - Runs on the controller; it makes no connection to the host and no AWS call.
author:
  - pullaccess.aws maintainers (@pullaccess)
options: {}
extends_documentation_fragment:
  - pullaccess.aws.controller
notes:
  - Strategies from other collections count as not running C(run_once) once (V(false)), the safe answer for a
    role that then works per host.
"""

EXAMPLES = r"""
- name: Find out whether run_once runs once in this play
  pullaccess.aws.play_strategy:
  register: strategy

- name: Work once for the batch, or per host under strategy free
  ansible.builtin.include_tasks:
    file: work.yml
    apply:
      run_once: "{{ strategy.runs_once }}"
  run_once: "{{ strategy.runs_once }}"
"""

RETURN = r"""
strategy:
  description: The play's strategy as written in the play (or the configured default).
  returned: always
  type: str
  sample: linear
runs_once:
  description:
    - V(true) when a C(run_once) task runs on one host of the batch and its results go to every host of the batch
      (C(linear), C(debug)); V(false) when it runs for every host (C(free), C(host_pinned), any other strategy).
  returned: always
  type: bool
  sample: true
"""
