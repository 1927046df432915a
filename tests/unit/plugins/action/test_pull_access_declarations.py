# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The declaration check's pure parts: role variables to a declaration, and the one failure message."""

import pytest

from ansible_collections.pullaccess.aws.plugins.action.pull_access_declarations import SHOWN_PROBLEMS
from ansible_collections.pullaccess.aws.plugins.action.pull_access_declarations import declaration
from ansible_collections.pullaccess.aws.plugins.action.pull_access_declarations import mixed_settings
from ansible_collections.pullaccess.aws.plugins.action.pull_access_declarations import problems_message


@pytest.mark.parametrize("values, expected", [
    ({"ecr_pull_access_type": "lightsail", "ecr_pull_access_service_name": "web", "ecr_pull_access_repositories": ["app"]},
     {"type": "lightsail", "name": "web", "repositories": ["app"]}),
    # Connection, timing and targeting variables are not part of the workload.
    ({"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_role_name": "r", "ecr_pull_access_aws_secret_key": "s",
      "ecr_pull_access_verify_delay": 2.0, "ecr_pull_access_aws_host": "localhost", "ecr_pull_access_hosts": "all",
      "ecr_pull_access_report_per_host": False},
     {"type": "ecs", "ecs_role_name": "r", "name": None}),
    ({}, {"name": None}),
])
def test_declaration(values, expected):
    assert declaration(values) == expected


@pytest.mark.parametrize("count, shown, more", [
    (1, 1, None),
    (SHOWN_PROBLEMS, SHOWN_PROBLEMS, None),
    (SHOWN_PROBLEMS + 5, SHOWN_PROBLEMS, "... and 5 more hosts"),
])
def test_problems_message(count, shown, more):
    problems = [f"host h{i}: wrong" for i in range(count)]
    lines = problems_message(problems, 100).splitlines()
    assert lines[0].startswith(f"ecr_pull_access: {count} of 100 hosts declare their pull access wrongly; nothing was changed.")
    assert lines[1:1 + shown] == problems[:shown]
    assert (lines[-1] if more else None) == more
    assert len(lines) == 1 + shown + bool(more)


SAME = "and false for the others: set it the same for every host of the play"


@pytest.mark.parametrize("settings, checked, expected", [
    ({"report_per_host": {True: ["a", "b"]}, "remove_undeclared": {False: ["a", "b"]}}, 2, []),
    ({"report_per_host": {}, "remove_undeclared": {}}, 0, []),
    ({"report_per_host": {True: ["a"], False: ["b"]}, "remove_undeclared": {False: ["a", "b"]}}, 2,
     [f"ecr_pull_access_report_per_host is true for 1 of the 2 hosts (for example a) {SAME}"]),
    ({"report_per_host": {False: ["a"], True: ["b", "c"]}, "remove_undeclared": {True: ["c"], False: ["a", "b"]}}, 3,
     [f"ecr_pull_access_report_per_host is true for 2 of the 3 hosts (for example b) {SAME}",
      f"ecr_pull_access_remove_undeclared is true for 1 of the 3 hosts (for example c) {SAME}"]),
])
def test_mixed_settings(settings, checked, expected):
    assert mixed_settings(settings, checked) == expected
