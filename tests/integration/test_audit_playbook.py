# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pullaccess.aws.audit playbook against the rig: the report files (JSON schema, Markdown, HTML
parsed with a real parser), the exit status per severity, and no mutating call."""

import html.parser
import json
import os
import subprocess

import jsonschema
import pytest

from integration.conftest import REPO_ROOT
from integration.conftest import dump
from integration.harness import writes
from integration.test_ecr_pull_access_info import ACCOUNT
from integration.test_ecr_pull_access_info import IMAGE
from integration.test_ecr_pull_access_info import MANAGED
from integration.test_ecr_pull_access_info import ROLE_OK
from integration.test_ecr_pull_access_info import TRUSTED
from integration.test_ecr_pull_access_info import put_policy
from integration.test_ecr_pull_access_info import seeded  # noqa: F401  pylint: disable=unused-import
from integration.test_ecr_pull_access_info import service_with_puller
from integration.test_ecr_pull_access_info import statement
from integration.test_ecr_pull_access_info import task_definition

PLAYBOOK = os.path.join(REPO_ROOT, "playbooks", "audit.yml")
REPORT_KEYS = {"schema_version", "generated_by", "fail_on", "failed", "failing_findings", "failing_codes", "summary", "regions", "findings"}
FINDING_KEYS = {"code", "severity", "title", "target_type", "target", "repository", "workload", "sid", "principal", "message", "remedy",
                "details", "region", "account_id"}


def inventory():
    """Two Lightsail services declared on repository app (api's grant is missing in the seeded account)."""
    return {"all": {"vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_repositories": ["app"]}, "children": {
        "lightsail": {"vars": {"ecr_pull_access_type": "lightsail"}, "hosts": {"web": {}, "api": {}}},
        "ecs": {"vars": {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_task_definition": "app-ok"}, "hosts": {"app-ok": {}}},
    }}}


class Parsed(html.parser.HTMLParser):
    """Collects what the tests look at in the HTML report, and anything that loads from the network."""

    def __init__(self):
        super().__init__()
        self.cells, self.remote, self.tags, self.stack = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag not in ("br", "meta", "rect", "i"):
            self.stack.append(tag)
        for name in ("src", "href"):
            if attrs.get(name):
                self.remote.append(attrs[name])
        if tag == "link" or tag == "script":
            self.remote.append(tag)
        if tag == "td" and attrs.get("data-kind"):
            self.cells.append(attrs["data-kind"])

    def handle_endtag(self, tag):
        if tag in ("br", "meta", "rect", "i"):
            return
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> after {self.stack[-3:]}"
        self.stack.pop()


def read_report(directory):
    with open(os.path.join(directory, "report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    with open(os.path.join(REPO_ROOT, "docs", "audit-report.schema.json"), encoding="utf-8") as handle:
        jsonschema.Draft202012Validator(json.load(handle)).validate(report)
    with open(os.path.join(directory, "report.md"), encoding="utf-8") as handle:
        markdown = handle.read()
    parser = Parsed()
    with open(os.path.join(directory, "report.html"), encoding="utf-8") as handle:
        parser.feed(handle.read())
    parser.close()
    return report, markdown, parser


def audit(ansible, aws, directory, **extravars):
    mark = aws.mark()
    run = ansible.play(PLAYBOOK, inventory=inventory(),
                       extravars=dict({"ecr_pull_access_audit_dir": str(directory), "ecr_pull_access_audit_trusted_accounts": [TRUSTED]},
                                      **extravars))
    assert writes(aws, mark) == [], "the audit made a mutating call"
    return run


def test_report_of_the_seeded_account(ansible, aws, seeded, tmp_path):  # pylint: disable=redefined-outer-name
    run = audit(ansible, aws, tmp_path / "report", ecr_pull_access_audit_fail_on="none")
    assert run.rc == 0, run.stdout
    report, markdown, parsed = read_report(tmp_path / "report")
    assert set(report) == REPORT_KEYS
    assert report["schema_version"] == 1 and report["failed"] is False
    assert all(set(f) == FINDING_KEYS for f in report["findings"]), dump(report["findings"][:2])
    codes = {(f["code"], f["target"]) for f in report["findings"]}
    assert ("MISSING_GRANT", "lightsail:api") in codes  # declared in the inventory, not granted
    assert ("UNDECLARED_GRANT", "app") in codes  # PullAccessLightsailRetired... is declared by no host
    assert ("PUBLIC_PULL", "public-repo") in codes
    assert report["summary"]["critical"] == 1
    [region] = report["regions"]
    assert region["region"] == "us-east-1" and region["account_id"] == ACCOUNT
    cells = {(c["repository"], c["workload"]): c["kind"] for c in region["matrix"]["cells"]}
    assert cells[("app", "lightsail:web")] == "lightsail_puller"
    assert cells[("app", "ecs:app-ok:1")] == "identity_policy"
    assert "ecs:app-ok:1" in region["matrix"]["workloads"]  # the inventory's ECS task definition was read
    # The HTML page: parses, has the findings and the matrix, loads nothing.
    assert parsed.remote == [], parsed.remote
    assert {"table", "svg", "style"} <= parsed.tags
    assert sorted(parsed.cells) == sorted(c["kind"] for c in region["matrix"]["cells"])
    assert "| critical | PUBLIC_PULL | us-east-1 | public-repo |" in markdown
    assert "## Access matrix: us-east-1" in markdown
    assert seeded


@pytest.mark.parametrize(
    "fail_on, fails",
    [("critical", True), ("high", True), ("low", True), ("none", False)],
)
def test_exit_status_per_severity(ansible, aws, seeded, tmp_path, fail_on, fails):  # pylint: disable=redefined-outer-name
    run = audit(ansible, aws, tmp_path / "out", ecr_pull_access_audit_fail_on=fail_on)
    assert run.rc == (2 if fails else 0), run.stdout  # ansible-playbook's status for a failed host
    report = read_report(tmp_path / "out")[0]  # written before the audit fails
    assert report["failed"] is fails
    if fails:
        assert "PUBLIC_PULL" in run.task("Findings at or above ecr_pull_access_audit_fail_on fail the audit").msg
    assert seeded


def clean_account(aws):
    aws.lightsail_config(create_delay=0.1)
    web = service_with_puller(aws, "web")[0]
    api = service_with_puller(aws, "api")[0]
    aws.create_roles(ROLE_OK)
    aws.client("iam").attach_role_policy(RoleName="exec-ok", PolicyArn=MANAGED)
    put_policy(aws.client("ecr"), "app", statement("PullAccessLightsailShared", {"AWS": [api, web]}))
    task_definition(aws.client("ecs"), "app-ok", ROLE_OK, [IMAGE])


def test_clean_account_passes_at_every_severity(ansible, aws, tmp_path):
    clean_account(aws)
    run = audit(ansible, aws, tmp_path / "clean", ecr_pull_access_audit_fail_on="info")
    assert run.rc == 0, run.stdout
    report, markdown, parsed = read_report(tmp_path / "clean")
    assert report["findings"] == [] and report["failed"] is False, dump(report["findings"])
    assert "No findings." in markdown
    assert sorted(parsed.cells) == ["identity_policy", "lightsail_puller", "lightsail_puller"]


def test_fqcn_form_and_bad_options(ansible, aws, tmp_path):
    clean_account(aws)
    inventory_path = tmp_path / "inventory.json"
    inventory_path.write_text(json.dumps(inventory()))
    env = dict(os.environ, **ansible.env())
    command = ["ansible-playbook", "pullaccess.aws.audit", "-i", str(inventory_path), "-e", "ansible_connection=local"]
    done = subprocess.run(command + ["-e", f"ecr_pull_access_audit_dir={tmp_path / 'fqcn'}"], env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_report(tmp_path / "fqcn")[0]["findings"] == []
    mark = aws.mark()
    bad = subprocess.run(command + ["-e", f"ecr_pull_access_audit_dir={tmp_path / 'bad'}", "-e", "ecr_pull_access_audit_fail_on=severe"],
                         env=env, capture_output=True, text=True, check=False, timeout=300)
    assert bad.returncode == 2
    assert "ecr_pull_access_audit_fail_on to info, low, medium, high" in bad.stdout, bad.stdout
    assert aws.requests(since=mark) == [], "options are checked before anything is read"
    assert not (tmp_path / "bad").exists()


def test_check_mode_writes_no_files(ansible, aws, tmp_path):
    clean_account(aws)
    mark = aws.mark()
    run = ansible.play(PLAYBOOK, inventory=inventory(), check=True, extravars={"ecr_pull_access_audit_dir": str(tmp_path / "dry")})
    assert run.rc == 0, run.stdout
    assert run.task("Read each Region")["results"][0]["findings"] == []
    assert not (tmp_path / "dry").exists()
    assert writes(aws, mark) == []


def test_no_credential_value_shown(ansible, aws, seeded, tmp_path):  # pylint: disable=redefined-outer-name
    """The audit at -vvv with credentials in the environment and in the role's variables, passing
    and failing (findings at or above fail_on): no secret key or session token in its output,
    returned values, ansible-runner's records or the reports. The rig's log shows the variables'
    key signing its reads (they win over the environment's), so the credentials were used."""
    # pylint: disable=import-outside-toplevel
    from reliability.support import start
    from reliability.test_operator import CANARIES, CANARY_ACCESS_KEYS, assert_not_shown, credential_vars, shown
    variables = credential_vars({"AWS_ACCESS_KEY_ID": CANARY_ACCESS_KEYS[1], "AWS_SECRET_ACCESS_KEY": CANARIES["var_secret_key"],
                                 "AWS_SESSION_TOKEN": CANARIES["var_session_token"]})
    declared = inventory()
    declared["all"]["vars"].update(variables)
    env = {"AWS_ACCESS_KEY_ID": CANARY_ACCESS_KEYS[0], "AWS_SECRET_ACCESS_KEY": CANARIES["env_secret_key"],
           "AWS_SESSION_TOKEN": CANARIES["env_session_token"]}
    for fail_on, status in (("none", 0), ("critical", 2)):
        directory = tmp_path / fail_on
        mark = aws.mark()
        job = start(ansible, PLAYBOOK, declared, env=env, verbosity=3,
                    extravars={"ecr_pull_access_audit_dir": str(directory), "ecr_pull_access_audit_trusted_accounts": [TRUSTED],
                               "ecr_pull_access_audit_fail_on": fail_on})
        run, texts = shown(ansible, job)
        assert run.rc == status, run.stdout[-3000:]
        log = aws.requests(since=mark)
        assert log and {entry["access_key"] for entry in log} == {CANARY_ACCESS_KEYS[1]}, sorted({e["access_key"] for e in log})
        for name in sorted(os.listdir(directory)):
            with open(directory / name, encoding="utf-8") as handle:
                texts[f"report {name}"] = handle.read()
        assert any(name.startswith("report ") for name in texts), "no report written"
        assert_not_shown(CANARIES, texts, f"audit (fail_on {fail_on})")
    assert seeded
