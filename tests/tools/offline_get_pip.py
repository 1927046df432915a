#!/usr/bin/env python
# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Place an offline stand-in for the pip bootstrap script that ansible-test downloads.

``ansible-test --venv`` bootstraps pip in each venv it makes with a ``get-pip.py`` fetched from
the internet and cached in ``~/.ansible/test/cache/get_pip_<version>.py``. On machines without
that host the download fails; this stand-in does the same job with ``ensurepip`` and then
installs the requested pip version from the configured package index, leaving the caller's pip
configuration (index, constraints, certificates) as it is.
"""

import os
import re
import sys

STAND_IN = '''\
"""Offline stand-in for get-pip.py, written by pullaccess.aws's tests/tools/offline_get_pip.py."""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + args)
'''


def pip_version():
    """Return the pip version ansible-test bootstraps (from its own requirements data)."""
    import ansible_test  # pylint: disable=import-outside-toplevel

    # ansible-test keeps the version in get_venv_packages(); read it from the source rather
    # than importing an internal module.
    base = os.path.dirname(ansible_test.__file__)
    with open(os.path.join(base, "_internal", "python_requirements.py"), encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"\bpip='([0-9.]+)'", text)
    if match:
        return match.group(1)
    sys.exit("cannot find the pip version ansible-test bootstraps")


def main():
    """Write the stand-in to ansible-test's cache (a real downloaded script is left alone)."""
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, "get_pip_%s.py" % pip_version().replace(".", "_"))
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
        if current == STAND_IN or "offline_get_pip" not in current:
            return
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(STAND_IN)
    print(f"wrote offline pip bootstrap stand-in {path}")


if __name__ == "__main__":
    main()
