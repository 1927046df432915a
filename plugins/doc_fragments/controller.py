# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:
    """Attributes of the actions that run on the controller and change nothing."""

    DOCUMENTATION = r"""
options: {}
attributes:
  action:
    description: The work is done by an action plugin on the controller.
    support: full
  check_mode:
    description: Changes nothing, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so it has no diff.
    support: none
  idempotent:
    description: Changes nothing and reports no change.
    support: full
"""
