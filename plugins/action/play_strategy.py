# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from ansible.plugins.action import ActionBase

# Strategies that run a run_once task once for the batch and give its results to every host.
# free and host_pinned run it for every host, and each host's result overwrites the others'.
# Any other strategy (from a collection too) counts as running it per host: the safe answer.
RUNS_ONCE = frozenset(prefix + name for prefix in ("", "ansible.builtin.", "ansible.legacy.") for name in ("linear", "debug"))


class ActionModule(ActionBase):
    """Tell the play's strategy and whether run_once runs once under it: no connection, no AWS call."""

    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if self._task.args:
            return dict(result, failed=True, msg="play_strategy takes no options; got " + ", ".join(sorted(self._task.args)) + ".")
        strategy = str(self._task.get_play().strategy or "linear")
        return dict(result, changed=False, strategy=strategy, runs_once=strategy in RUNS_ONCE)
