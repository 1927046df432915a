# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reliability suite: concurrency, injected faults, killed runs, bad input and least privilege,
through ansible-runner against the rig (the integration suite's fixtures, reused).

``--stress`` (or ``PULLACCESS_STRESS=1`` in the environment) selects the long version.
"""

import os
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

# The integration suite's fixtures: one rig per session, a reset account per test, ansible-runner.
from integration.conftest import rig, aws, ansible  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
from reliability.support import Scale  # noqa: E402  pylint: disable=wrong-import-position


def pytest_addoption(parser):
    parser.addoption("--stress", action="store_true", default=False,
                     help="run the long reliability suite (same as PULLACCESS_STRESS=1)")


@pytest.fixture(scope="session")
def scale(request):
    """How big the runs are: short (make test) or long (--stress / PULLACCESS_STRESS=1)."""
    stress = bool(request.config.getoption("--stress", default=False)) or os.environ.get("PULLACCESS_STRESS", "") not in ("", "0")
    return Scale(stress)
