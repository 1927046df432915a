# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test rig of pullaccess.aws: real HTTP to emulated AWS (moto + a Lightsail emulator).

Import :class:`Rig` with ``tests/`` on ``sys.path``; see README.md beside this file.
"""

from .client import Rig, RigError

__all__ = ["Rig", "RigError"]
