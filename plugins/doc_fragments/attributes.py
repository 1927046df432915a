# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment:
    """Attributes every module of this collection supports in full."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      - Can run in check mode and return the changed status it predicts, without changing anything.
      - No call that changes AWS is made in check mode.
    support: full
  diff_mode:
    description:
      - Returns details on what has changed (or would change in check mode) under C(diff).
    support: full
  idempotent:
    description:
      - When run twice in a row with the same arguments, the second run reports no change and makes no write call.
      - Comparison is by meaning (order, string or one-element list, account id or account-root ARN), not by bytes.
    support: full
"""

    # Modules that only read AWS (pullaccess.aws.attributes.read_only).
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    description: Reads the same in check mode; it never changes anything.
    support: full
  diff_mode:
    description: Changes nothing, so there is no diff.
    support: none
  idempotent:
    description: Reads only.
    support: full
"""
