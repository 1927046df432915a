# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures for the rig's own tests: one rig server per session, reset before each test."""

import os
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from rig import Rig  # noqa: E402  (needs tests/ on sys.path)
from rig_testlib import NO_RETRY, ResponseRecorder  # noqa: E402


@pytest.fixture(scope="session")
def rig(tmp_path_factory):
    """The running rig (moto + Lightsail emulator) shared by all tests."""
    with Rig.start(tmp_path_factory.mktemp("rig"), puller_delay=0.5) as running:
        process = running.process
        yield running
    assert process.returncode == 0, "the rig server did not stop cleanly on SIGTERM"


@pytest.fixture(autouse=True)
def fresh_rig(rig):
    """Every test starts from an empty rig: no AWS state, no faults, empty log, default delays."""
    rig.reset()


@pytest.fixture
def lightsail(rig):
    """A Lightsail client without retries whose every response must match the model."""
    client = rig.client("lightsail", config=NO_RETRY)
    recorder = ResponseRecorder(client)
    yield client
    assert recorder.records, "no Lightsail response was recorded"
    assert recorder.problems() == []


@pytest.fixture
def raw_lightsail(rig):
    """A Lightsail client that sends whatever it is given (no client-side validation)."""
    from botocore.config import Config
    client = rig.client("lightsail", config=NO_RETRY.merge(Config(parameter_validation=False)))
    recorder = ResponseRecorder(client)
    yield client
    assert recorder.problems() == []
