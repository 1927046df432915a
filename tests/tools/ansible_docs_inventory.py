#!/usr/bin/env python
# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a Sphinx inventory for the labels of Ansible's docsite that our pages reference.

The docsite build runs offline, so Sphinx cannot download docs.ansible.com's objects.inv. The
pages antsibull-docs writes reference a few labels of Ansible's own docs and the plugin pages of
other collections (amazon.aws, community.aws in seealso); this inventory maps each such label to
its page on docs.ansible.com, so the links point where Ansible's docsite has them. A label that is
neither one of ours, nor a collection plugin label, nor in ANSIBLE_LABELS stays unresolved, and the
build (sphinx-build -W) fails on it. The same holds for ansible-core's ANSIBLE_* environment
variables that plugin pages name (documented on Ansible's configuration page, not here).

Usage: ansible_docs_inventory.py RST_DIR OUT_FILE
"""

import pathlib
import re
import sys
import zlib

# Labels of Ansible's docsite that antsibull-docs' templates use, and their pages.
ANSIBLE_LABELS = {
    "common_return_values": "reference_appendices/common_return_values.html#common-return-values",
    "ansible_configuration_settings": "reference_appendices/config.html#ansible-configuration-settings",
    "action_plugins": "plugins/action.html#action-plugins",
    "module_defaults": "playbook_guide/playbooks_module_defaults.html#module-defaults",
    "check_mode_dry": "playbook_guide/playbooks_checkmode.html#check-mode-dry",
    "collections_installing": "collections_guide/collections_installing.html#collections-installing",
}
# ansible_collections.<namespace>.<name>.<plugin>_<type>[__<anchor>]
COLLECTION_LABEL = re.compile(r"^ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.([a-z0-9_]+?)(?:__(.+))?$")
REF = re.compile(r":ref:`(?:[^`<]*<([^>`]+)>|([^`<]+))`")
DEFINED = re.compile(r"^\.\. _([^:]+):\s*$", re.M)
# ansible-core's own settings (an inventory plugin's cache options, say) are documented on its config page.
ENVVAR_REF = re.compile(r":envvar:`([^`]+)`")
ENVVAR_DEFINED = re.compile(r"^\.\. envvar:: (\S+)\s*$", re.M)


def main(rst_dir, out_file):
    texts = [path.read_text(encoding="utf-8") for path in pathlib.Path(rst_dir).rglob("*.rst")]
    defined = {label for text in texts for label in DEFINED.findall(text)}
    wanted = {a or b for text in texts for a, b in REF.findall(text)} - defined
    lines = []
    for label in sorted(wanted):
        match = COLLECTION_LABEL.match(label)
        if label in ANSIBLE_LABELS:
            uri = ANSIBLE_LABELS[label]
        elif match and not label.startswith("ansible_collections.pullaccess.aws."):
            namespace, name, page, anchor = match.groups()
            uri = f"collections/{namespace}/{name}/{page}.html" + (f"#{anchor}" if anchor else "")
        else:
            continue
        lines.append(f"{label} std:label -1 {uri} -")
    defined_envvars = {name for text in texts for name in ENVVAR_DEFINED.findall(text)}
    envvars = {ref.replace("\\", "") for text in texts for ref in ENVVAR_REF.findall(text)} - defined_envvars
    for name in sorted(envvars):
        if name.startswith("ANSIBLE_"):
            lines.append(f"{name} std:envvar -1 reference_appendices/config.html#envvar-{name} -")
    header = b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
    pathlib.Path(out_file).write_bytes(header + zlib.compress("".join(f"{line}\n" for line in lines).encode()))


if __name__ == "__main__":
    main(*sys.argv[1:])
