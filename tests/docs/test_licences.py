# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every source file carries the collection's SPDX licence header, and the licence it names is in LICENSES/.

The files are found on disk (not listed), so a new plugin, module_utils, role file, playbook or test
without the header fails here.
"""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPDX = re.compile(r"^# SPDX-License-Identifier: (\S+)$", re.M)
# Where a header is wanted: every Python file of these trees, and the YAML the collection ships.
PYTHON_TREES = ("plugins", "tests", "demo")
YAML_GLOBS = ("plugins/**/*.yml", "roles/**/*.yml", "playbooks/*.yml")
SKIP_PARTS = {"output", "__pycache__"}


def source_files():
    files = [path for tree in PYTHON_TREES for path in (ROOT / tree).rglob("*.py")]
    files += [path for pattern in YAML_GLOBS for path in ROOT.glob(pattern)]
    return sorted(path for path in files if not SKIP_PARTS & set(path.relative_to(ROOT).parts))


def declared_licences():
    return set(yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["license"])


def test_the_tree_has_source_files():
    names = {path.relative_to(ROOT).as_posix() for path in source_files()}
    assert "plugins/modules/ecr_repo_policy_statement.py" in names
    assert "roles/ecr_pull_access/tasks/main.yml" in names


@pytest.mark.parametrize("path", source_files(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_spdx_header(path):
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return  # empty package markers (__init__.py) have nothing to license
    # The header belongs at the top, before any code.
    found = SPDX.findall("\n".join(text.splitlines()[:8]))
    assert found, f"{path.relative_to(ROOT)}: no '# SPDX-License-Identifier:' line in its first 8 lines"
    assert set(found) <= declared_licences(), f"{path.relative_to(ROOT)}: {found} is not a licence galaxy.yml declares"


def test_every_declared_licence_has_its_text():
    for licence in declared_licences():
        text = (ROOT / "LICENSES" / f"{licence}.txt").read_text(encoding="utf-8")
        assert "GNU GENERAL PUBLIC LICENSE" in text if licence.startswith("GPL-") else text.strip()
