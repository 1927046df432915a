# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which strategies run a run_once task once for the batch (the role carries results between such tasks)."""

import pytest

from ansible_collections.pullaccess.aws.plugins.action.play_strategy import RUNS_ONCE


@pytest.mark.parametrize("strategy, once", [
    ("linear", True),
    ("ansible.builtin.linear", True),
    ("ansible.legacy.linear", True),
    ("debug", True),
    ("free", False),
    ("ansible.builtin.free", False),
    ("host_pinned", False),
    ("community.general.linear", False),  # someone else's strategy: per host, the safe answer
    ("mitogen_linear", False),
])
def test_runs_once(strategy, once):
    assert (strategy in RUNS_ONCE) is once
