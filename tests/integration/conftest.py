# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Integration test harness: real modules, run by ansible-runner (AWX's engine), against the
rig's emulated AWS over real HTTP.

The collection must be installed the way a user has it (``make install``: the built tarball
plus amazon.aws in ``build/collections``); ANSIBLE_COLLECTIONS_PATH points there.
"""

import json
import os
import sys
import tempfile
import time

import pytest

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS_DIR)

from rig import Rig  # noqa: E402  pylint: disable=wrong-import-position
from integration.harness import Ansible  # noqa: E402  pylint: disable=wrong-import-position

REPO_ROOT = os.path.dirname(TESTS_DIR)
# ansible-runner starts ansible-playbook from PATH: use the one beside this interpreter.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def rig():
    """One rig (moto + Lightsail emulator) for the session."""
    workdir = tempfile.mkdtemp(prefix="pullaccess-rig-")
    started = Rig.start(workdir, puller_delay=0.5)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def aws(rig):  # pylint: disable=redefined-outer-name
    """The rig, reset to an empty account with no faults, for one test."""
    rig.clear_faults()
    rig.reset()
    return rig


@pytest.fixture
def ansible(aws, tmp_path):  # pylint: disable=redefined-outer-name
    """Runs tasks and playbooks through ansible-runner against the rig."""
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(REPO_ROOT, "build", "collections")
    if not os.path.isdir(os.path.join(collections, "ansible_collections", "pullaccess", "aws")):
        pytest.fail(f"pullaccess.aws is not installed in {collections}: run `make install` (or `make integration`)")
    return Ansible(aws, str(tmp_path), collections)


def dump(value):
    """Readable JSON for assertion messages."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def wait_until(predicate, what, timeout=30.0):
    """``predicate()``'s first true value, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.05)
    return found


def lightsail_services(aws):
    """The rig's container services by name."""
    return {s["containerServiceName"]: s for s in aws.client("lightsail").get_container_services()["containerServices"]}


def repository_policy(aws, repository):
    """A repository's policy as a document, or None."""
    ecr = aws.client("ecr")
    try:
        return json.loads(ecr.get_repository_policy(repositoryName=repository)["policyText"])
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None
