# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the audit report filter (plugins/filter/pull_access_report.py): schema, threshold,
escaping, and HTML that a real parser accepts."""

import html.parser
import json

import jsonschema
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pullaccess.aws.plugins.filter.pull_access_report import pull_access_report
from ansible_collections.pullaccess.aws.plugins.module_utils._audit import audit

ACCOUNT = "123456789012"
HOSTILE = 'x"><script>alert(1)</script>|y'


def info_result(statements):
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    result = audit("us-east-1", ACCOUNT, [{"name": "app", "registry_id": ACCOUNT, "policy_text": policy}])
    return dict(result, region="us-east-1", account_id=ACCOUNT, changed=False)


PUBLIC = {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}
HOSTILE_SID = {"Sid": HOSTILE, "Effect": "Allow", "Principal": {"AWS": "AROAEXAMPLEID1234567"}, "Action": ["ecr:BatchGetImage"]}


@pytest.mark.parametrize(
    "statements, fail_on, failed, codes",
    [
        ([PUBLIC], "critical", True, ["PUBLIC_PULL"]),
        ([PUBLIC], "none", False, []),
        ([HOSTILE_SID], "high", False, []),
        ([HOSTILE_SID], "medium", True, ["DELETED_PRINCIPAL"]),
        ([PUBLIC, HOSTILE_SID], "info", True, ["DELETED_PRINCIPAL", "PUBLIC_PULL"]),
    ],
    ids=["critical", "none", "below", "at", "several"],
)
def test_threshold(statements, fail_on, failed, codes):
    report = pull_access_report([info_result(statements)], fail_on)["report"]
    assert (report["failed"], report["failing_codes"]) == (failed, codes)
    assert report["schema_version"] == 1
    assert json.loads(json.dumps(report)) == report


@pytest.mark.parametrize("fail_on", ["severe", "", "HIGH"])
def test_bad_threshold(fail_on):
    with pytest.raises(AnsibleFilterError, match="is not one of info, low, medium, high, critical, none"):
        pull_access_report([info_result([PUBLIC])], fail_on)


def test_not_an_info_result():
    with pytest.raises(AnsibleFilterError, match="must be an ecr_pull_access_info result"):
        pull_access_report([{"changed": False}], "high")


class Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts = 0
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"

    def handle_data(self, data):
        self.text.append(data)


def test_values_are_escaped():
    rendered = pull_access_report([info_result([HOSTILE_SID])], "high")
    parser = Collect()
    parser.feed(rendered["html"])
    assert parser.scripts == 0
    assert HOSTILE in "".join(parser.text)
    row = [line for line in rendered["markdown"].splitlines() if "DELETED_PRINCIPAL" in line][0]
    assert "|y" not in row.replace("\\|y", "")


SCHEMA_PATH = __file__.rsplit("/tests/", 1)[0] + "/docs/audit-report.schema.json"


def schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def test_schema_lists_every_finding_code():
    from ansible_collections.pullaccess.aws.plugins.module_utils._audit import FINDINGS  # pylint: disable=import-outside-toplevel
    assert sorted(schema()["$defs"]["code"]["enum"]) == sorted(FINDINGS)


@pytest.mark.parametrize(
    "statements",
    [[PUBLIC, HOSTILE_SID], [], [dict(PUBLIC, Principal={"AWS": [f"arn:aws:iam::{ACCOUNT}:role/r{i:04d}-{'x' * 40}" for i in range(115)]})]],
    ids=["findings", "empty-policy", "near-limit-details"],
)
def test_report_matches_the_documented_schema(statements):
    jsonschema.Draft202012Validator.check_schema(schema())
    report = pull_access_report([info_result(statements)], "high")["report"]
    jsonschema.Draft202012Validator(schema()).validate(json.loads(json.dumps(report)))


def test_schema_refuses_an_unknown_key():
    report = pull_access_report([info_result([PUBLIC])], "high")["report"]
    report["findings"][0]["extra"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(json.loads(json.dumps(report)))
