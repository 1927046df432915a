#!/usr/bin/env python
# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Extract only ansible_collections/amazon/aws/ from the `ansible` wheel (Galaxy is not needed)."""

import sys
import zipfile

PREFIX = "ansible_collections/amazon/aws/"


def main(wheel, dest):
    """Extract the amazon.aws collection of ``wheel`` below ``dest``."""
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith(PREFIX)]
        if not members:
            sys.exit(f"{wheel} holds no {PREFIX}")
        archive.extractall(dest, members)
    print(f"extracted {len(members)} files of amazon.aws into {dest}")


if __name__ == "__main__":
    main(*sys.argv[1:])
