# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`make bench`: write each task's wall-clock span to the JSON file named by BENCH_TIMER_FILE."""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Wall-clock span of each task, for make bench
description:
  - Writes a JSON list of tasks (name, action, start as epoch seconds, seconds until the next task started or the
    run ended, and on how many hosts it ran) to the file named by the E(BENCH_TIMER_FILE) environment variable at
    the end of the run.
  - Used by C(tests/bench/run_bench.py) only; it is not part of the collection.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=bench_timer and ANSIBLE_CALLBACK_PLUGINS pointing at this folder
"""


class CallbackModule(CallbackBase):
    """Records when each task starts; a task lasts until the next one starts (or the run ends)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._tasks = []

    def _begin(self, task):
        now = time.time()
        if self._tasks:
            self._tasks[-1]["seconds"] = now - self._tasks[-1]["start"]
        self._tasks.append({"name": task.get_name(), "action": task.action, "start": now, "seconds": 0.0, "hosts": 0})

    def _ran(self, result, *args, **kwargs):
        if self._tasks:
            self._tasks[-1]["hosts"] += 1

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._begin(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._begin(task)

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _ran

    def v2_playbook_on_stats(self, stats):
        if self._tasks:
            self._tasks[-1]["seconds"] = time.time() - self._tasks[-1]["start"]
        path = os.environ.get("BENCH_TIMER_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as stream:
                json.dump({"end": time.time(), "tasks": self._tasks}, stream, indent=1)
