# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""parliament (with its community auditors) over every policy document the collection writes or
ships: the ECS inline pull policy, the repository statements of every statement mode (and the
moves between them), the static operator policy (core and addendum) and the generated operator
policy of the demo inventory. Only the findings in tests/lint/allowlist.yml, each with its
reason, may appear; every entry there must still be needed.

The documents come from the collection's own code (installed in build/collections); parliament
runs in its own venv (build/parliament-venv, tests/lint/requirements.txt; `make policy-lint`).
Repository policies are linted as ECR applies them: with the repository as their Resource (ECR
refuses a Resource key in the text; without one parliament reports every statement malformed).
"""

import fnmatch
import json
import os
import subprocess
import sys

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(REPO_ROOT, "build", "collections")
PARLIAMENT_PYTHON = os.environ.get("PARLIAMENT_PYTHON") or os.path.join(REPO_ROOT, "build", "parliament-venv", "bin", "python")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.pullaccess.aws.plugins.filter.pull_access import _policy_changes  # noqa: E402
from ansible_collections.pullaccess.aws.plugins.filter.pull_access import pull_access_workload  # noqa: E402
from ansible_collections.pullaccess.aws.plugins.filter.pull_access_operator import pull_access_operator_policy  # noqa: E402
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import build_statement  # noqa: E402
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import ecr_pull_policy  # noqa: E402

ACCOUNT = "123456789012"
OTHER = "210987654321"
REGION = "us-east-1"
PULLER = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/shop/private-repo-access/" + "a" * 52
ECS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/billing-execution"


def workloads(mode, state="present"):
    """A Lightsail service and an ECS role pulling from another account's repository, in ``mode``."""
    return [
        pull_access_workload({"type": "lightsail", "name": "shop", "region": REGION, "repositories": ["web", "shared/base"], "statement_mode": mode,
                              "state": state, "exclusive": True, "cleanup_repositories": ["old"]}, "shop"),
        pull_access_workload({"type": "ecs", "region": REGION, "ecs_role_name": "billing-execution", "ecs_permissions": "inline", "state": state,
                              "repositories": ["worker", {"name": "base-images", "registry_id": OTHER}], "statement_mode": mode}, "billing"),
    ]


def repository_documents():
    """The statements the role writes into repository policies, per mode and state, one document
    per repository (removals left out: they write nothing)."""
    principals = {("lightsail", REGION, "shop"): PULLER, ("ecs", "billing"): ECS_ROLE, ("account", REGION): ACCOUNT}
    found = {}
    for mode in ("shared", "account", "workload"):
        for change in _policy_changes(workloads(mode), principals):
            statements = [build_statement(s["sid"], s["principals"], s["actions"], conditions=s.get("conditions"),
                                          resources=f"arn:aws:ecr:{change['region']}:{change['registry_id'] or ACCOUNT}:repository/{change['repository']}")
                          for s in change["statements"] if s.get("state", "present") == "present"]
            if statements:
                found[f"repository-{mode}-{change['repository'].replace('/', '-')}.json"] = {"Version": "2012-10-17", "Statement": statements}
    assert len(found) >= 6, sorted(found)
    return found


def documents():
    found = {"ecs-inline-pull.json": ecr_pull_policy([f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/worker",
                                                      f"arn:aws:ecr:{REGION}:{OTHER}:repository/base-images"]),
             "ecs-inline-pull-any.json": ecr_pull_policy()}
    found.update(repository_documents())
    for name in ("operator-policy.json", "operator-policy-addendum.json"):
        with open(os.path.join(REPO_ROOT, "docs", name), encoding="utf-8") as handle:
            found[name] = json.load(handle)
    with open(os.path.join(REPO_ROOT, "demo", "inventory.yml"), encoding="utf-8") as handle:
        demo = yaml.safe_load(handle)
    declared = [pull_access_workload({"type": "lightsail", "name": host, "region": REGION, "repositories": ["web", "shared/base"]}, host)
                for host in demo["all"]["children"]["lightsail_shop"]["hosts"]]
    declared += [pull_access_workload({"type": "ecs", "region": REGION, "ecs_task_definition": "billing", "ecs_permissions": "inline",
                                       "repositories": ["worker", "shared/base", {"name": "base-images", "registry_id": OTHER}]}, "billing-task"),
                 pull_access_workload({"type": "ecs", "region": REGION, "ecs_role_name": "cluster-instances", "ecs_launch_type": "ec2",
                                       "ecs_create_role": True}, "cluster")]
    reads = ({"results": [{"pullers": [{"service_name": name, "service_arn": f"arn:aws:lightsail:{REGION}:{ACCOUNT}:ContainerService/id-{name}"}]}
                          for name in ["shop-frontend"]]},
             {"results": [{"workloads": [{"name": "billing-task", "role_arn": ECS_ROLE}]}]})
    for document in pull_access_operator_policy(declared, ACCOUNT, *reads, [f"arn:aws:iam::{ACCOUNT}:user/operator"]):
        found["generated-demo-" + document["name"]] = document["document"]
    return found


def allowlist():
    with open(os.path.join(REPO_ROOT, "tests", "lint", "allowlist.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_policies_pass_parliament(tmp_path):
    if not os.path.exists(PARLIAMENT_PYTHON):
        pytest.fail(f"parliament's venv is missing ({PARLIAMENT_PYTHON}): run `make policy-lint`")
    linted = documents()
    paths = []
    for name, document in sorted(linted.items()):
        path = tmp_path / name
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        paths.append(str(path))
    run = subprocess.run([PARLIAMENT_PYTHON, os.path.join(REPO_ROOT, "tests", "lint", "run_parliament.py")] + paths,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    findings = json.loads(run.stdout)
    expected = allowlist()
    used = set()
    unexpected = []
    for finding in findings:
        matches = [index for index, entry in enumerate(expected)
                   if fnmatch.fnmatch(finding["file"], entry["file"]) and entry["issue"] == finding["issue"]
                   and ("actions" not in entry or sorted(entry["actions"]) == finding["actions"])]
        used.update(matches)
        if not matches:
            unexpected.append(finding)
    stale = [entry for index, entry in enumerate(expected) if index not in used]
    print(f"\nparliament: {len(linted)} policy documents, {len(findings)} findings, all in the allow-list")
    assert not unexpected, f"parliament findings not in tests/lint/allowlist.yml: {json.dumps(unexpected, indent=1)}"
    assert not stale, f"allow-list entries nothing matched (remove them): {stale}"
