# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The audit report (``pull_access_report``): from the results of ecr_pull_access_info, one per
Region, the report as JSON data (a stable, documented schema), Markdown and a self-contained HTML
page (inline CSS and SVG, nothing loaded from the network).

Pure and controller-side; the findings and their severities come from the audit engine."""

import html

from ansible.errors import AnsibleFilterError

from ansible_collections.pullaccess.aws.plugins.module_utils._audit import SEVERITIES
from ansible_collections.pullaccess.aws.plugins.module_utils._audit import severity_reached

#: Version of the report.json schema; raised on any incompatible change.
SCHEMA_VERSION = 1
#: ``fail_on`` values: a severity, or ``none`` (never fail).
FAIL_ON = SEVERITIES + ("none",)

# Matrix colours by kind of grant (the legend lists them).
_KIND_COLOURS = {
    "public": "#d73027",
    "lightsail_service_principal": "#a50026",
    "account": "#fc8d59",
    "organization": "#fee090",
    "pattern": "#e0b0ff",
    "lightsail_pattern": "#91bfdb",
    "lightsail_puller": "#1a9850",
    "ecs_role": "#1a9850",
    "role": "#66bd63",
    "identity_policy": "#4575b4",
}
_SEVERITY_COLOURS = {"critical": "#a50026", "high": "#d73027", "medium": "#fc8d59", "low": "#fee090", "info": "#e0e0e0"}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
h1{font-size:1.6em}h2{font-size:1.3em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}
td.cell{text-align:center;min-width:2.5em}
.sev{display:inline-block;padding:0 .4em;border-radius:3px}
.legend span{display:inline-block;margin-right:1em}
.legend i{display:inline-block;width:1em;height:1em;margin-right:.3em;vertical-align:middle}
code{font-size:.9em}
"""


def _esc(value):
    return html.escape("" if value is None else str(value), quote=True)


def _region_results(results):
    regions = []
    for result in results or []:
        if not isinstance(result, dict) or "findings" not in result or "region" not in result:
            raise AnsibleFilterError("pull_access_report: every input must be an ecr_pull_access_info result (with region and findings)")
        regions.append(result)
    return regions


def build_report(results, fail_on="high", generated_by="pullaccess.aws.audit"):
    """The report as data: ``schema_version``, ``generated_by``, ``fail_on``, ``summary`` (findings
    per severity), ``failed`` (whether a finding reaches ``fail_on``), ``regions`` (one per
    result: ``region``, ``account_id``, ``repositories``, ``workloads``, ``matrix``, ``findings``,
    ``summary``) and ``findings`` (all Regions', each with its ``region`` and ``account_id``)."""
    if fail_on not in FAIL_ON:
        raise AnsibleFilterError(f"ecr_pull_access_audit_fail_on {fail_on!r} is not one of {', '.join(FAIL_ON)}")
    regions = []
    findings = []
    for result in _region_results(results):
        region = {key: result.get(key) for key in ("region", "account_id", "repositories", "workloads", "matrix", "findings", "summary")}
        regions.append(region)
        findings.extend(dict(f, region=result["region"], account_id=result.get("account_id")) for f in result["findings"])
    findings.sort(key=lambda f: (-SEVERITIES.index(f["severity"]), f["code"], f["region"], f["target"]))
    failing = [] if fail_on == "none" else severity_reached(findings, fail_on)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_by": generated_by,
        "fail_on": fail_on,
        "failed": bool(failing),
        "failing_findings": len(failing),
        "failing_codes": sorted({f["code"] for f in failing}),
        "summary": {severity: sum(1 for f in findings if f["severity"] == severity) for severity in SEVERITIES},
        "regions": regions,
        "findings": findings,
    }


def _md_cell(value):
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report):
    """The report as Markdown: summary, findings table, and per Region the access matrix."""
    lines = ["# ECR pull access audit", ""]
    lines.append("Findings: " + ", ".join(f"{report['summary'][s]} {s}" for s in reversed(SEVERITIES)) + ".")
    verdict = "fails" if report["failed"] else "passes"
    lines += ["", f"The audit {verdict} at `fail_on={report['fail_on']}` ({report['failing_findings']} findings at or above it).", ""]
    lines += ["## Findings", ""]
    if report["findings"]:
        lines += ["| Severity | Code | Region | Target | Statement | What was found | What to do |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for f in report["findings"]:
            values = (f["severity"], f["code"], f["region"], f["target"], f.get("sid"), f["message"], f["remedy"])
            lines.append("| " + " | ".join(_md_cell(v) for v in values) + " |")
    else:
        lines.append("No findings.")
    for region in report["regions"]:
        lines += ["", f"## Access matrix: {region['region']} (account {region['account_id']})", ""]
        matrix = region["matrix"]
        if not matrix["repositories"] or not matrix["workloads"]:
            lines.append("No repositories or no workloads read.")
            continue
        cells = {(c["repository"], c["workload"]): c["kind"] for c in matrix["cells"]}
        lines.append("| Repository | " + " | ".join(_md_cell(w) for w in matrix["workloads"]) + " |")
        lines.append("| --- |" + " --- |" * len(matrix["workloads"]))
        for repository in matrix["repositories"]:
            lines.append(f"| {_md_cell(repository)} | " + " | ".join(_md_cell(cells.get((repository, w), "")) for w in matrix["workloads"]) + " |")
    return "\n".join(lines) + "\n"


def _severity_chart(summary):
    """An inline SVG bar chart of the findings per severity."""
    width, bar_height, gap = 360, 18, 6
    most = max(list(summary.values()) + [1])
    rows = []
    for index, severity in enumerate(reversed(SEVERITIES)):
        y = index * (bar_height + gap)
        length = int(250 * summary[severity] / most)
        rows.append(f'<text x="0" y="{y + 13}" font-size="12">{severity}</text>'
                    f'<rect x="70" y="{y}" width="{length}" height="{bar_height}" fill="{_SEVERITY_COLOURS[severity]}"/>'
                    f'<text x="{75 + length}" y="{y + 13}" font-size="12">{summary[severity]}</text>')
    height = len(SEVERITIES) * (bar_height + gap)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="findings per severity">{"".join(rows)}</svg>')


def render_html(report):
    """The report as one self-contained HTML page: summary chart, findings table, access matrices."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>ECR pull access audit</title>', f"<style>{_CSS}</style></head><body>"]
    out.append("<h1>ECR pull access audit</h1>")
    verdict = "fails" if report["failed"] else "passes"
    out.append(f"<p>The audit <strong>{verdict}</strong> at <code>fail_on={_esc(report['fail_on'])}</code> "
               f"({report['failing_findings']} findings at or above it).</p>")
    out.append(_severity_chart(report["summary"]))
    out.append('<h2 id="findings">Findings</h2>')
    if report["findings"]:
        out.append("<table><thead><tr><th>Severity</th><th>Code</th><th>Region</th><th>Target</th><th>Statement</th><th>Principal</th>"
                   "<th>What was found</th><th>What to do</th></tr></thead><tbody>")
        for f in report["findings"]:
            out.append(f'<tr><td><span class="sev" style="background:{_SEVERITY_COLOURS[f["severity"]]}">{_esc(f["severity"])}</span></td>'
                       f"<td><code>{_esc(f['code'])}</code></td><td>{_esc(f['region'])}</td><td>{_esc(f['target'])}</td>"
                       f"<td>{_esc(f.get('sid'))}</td><td><code>{_esc(f.get('principal'))}</code></td><td>{_esc(f['message'])}</td>"
                       f"<td>{_esc(f['remedy'])}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>No findings.</p>")
    out.append('<p class="legend">' + "".join(f'<span><i style="background:{colour}"></i>{_esc(kind)}</span>'
                                              for kind, colour in _KIND_COLOURS.items()) + "</p>")
    for region in report["regions"]:
        out.append(f'<h2 id="matrix-{_esc(region["region"])}">Access matrix: {_esc(region["region"])} (account {_esc(region["account_id"])})</h2>')
        matrix = region["matrix"]
        if not matrix["repositories"] or not matrix["workloads"]:
            out.append("<p>No repositories or no workloads read.</p>")
            continue
        cells = {(c["repository"], c["workload"]): c for c in matrix["cells"]}
        out.append('<table class="matrix"><thead><tr><th>Repository</th>' + "".join(f"<th>{_esc(w)}</th>" for w in matrix["workloads"])
                   + "</tr></thead><tbody>")
        for repository in matrix["repositories"]:
            row = [f"<tr><th>{_esc(repository)}</th>"]
            for workload in matrix["workloads"]:
                cell = cells.get((repository, workload))
                if cell is None:
                    row.append('<td class="cell"></td>')
                else:
                    colour = _KIND_COLOURS.get(cell["kind"], "#bbbbbb")
                    title = f"{cell['kind']} ({cell['sid']})" if cell.get("sid") else cell["kind"]
                    row.append(f'<td class="cell" style="background:{colour}" title="{_esc(title)}" data-kind="{_esc(cell["kind"])}">&#10003;</td>')
            out.append("".join(row) + "</tr>")
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def pull_access_report(results, fail_on="high"):
    """``{"report": data, "markdown": text, "html": text}`` from ecr_pull_access_info results."""
    report = build_report(results, fail_on)
    return {"report": report, "markdown": render_markdown(report), "html": render_html(report)}


class FilterModule:
    """The audit report filter."""

    def filters(self):
        return {"pull_access_report": pull_access_report}
