# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run parliament (with its community auditors) over policy files; print the findings as JSON:
``[{"file", "issue", "actions", "detail"}]``. Runs in parliament's own venv (tests/lint/requirements.txt)."""

import json
import os
import sys
import warnings

warnings.simplefilter("ignore")  # parliament imports the deprecated pkg_resources

from parliament import analyze_policy_string  # noqa: E402  pylint: disable=wrong-import-position,import-error


def main(paths):
    findings = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        policy = analyze_policy_string(text, filepath=path, include_community_auditors=True)
        for finding in policy.findings:
            actions = (finding.location or {}).get("actions") or (finding.detail if isinstance(finding.detail, list) else [])
            findings.append({"file": os.path.basename(path), "issue": finding.issue, "actions": sorted(str(a).lower() for a in actions),
                             "detail": json.loads(json.dumps(finding.detail, default=str))})
    json.dump(findings, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
