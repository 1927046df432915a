#!/usr/bin/env python
# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Draw ``results.png`` from ``results.json`` (written by run_bench.py): API calls and seconds
against fleet size, one line per statement mode and phase, with the safe floor and the AWS CLI
procedure beside them.

Run with the bench venv's Python (matplotlib, Agg backend)::

    build/bench/awscli-venv/bin/python tests/bench/chart.py build/bench/results.json build/bench/results.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position

PHASE_COLOURS = {"check": "#2ca02c", "check-once": "#98df8a", "cold": "#1f77b4", "converged": "#ff7f0e", "revoke": "#9467bd"}
MODE_STYLES = {"account": "-", "shared": "--", "workload": ":"}


def series(entries, mode, phase, key):
    points = sorted((entry["services"], entry[key]) for entry in entries
                    if entry["mode"] == mode and entry["phase"] == phase and entry.get(key) is not None)
    return [size for size, _value in points], [value for _size, value in points]


def draw(results, png):
    entries = [entry for entry in results["results"] if "refused" not in entry]
    figure, (calls_axis, time_axis) = plt.subplots(1, 2, figsize=(14, 6.5))
    modes = sorted({entry["mode"] for entry in entries})
    phases = [phase for phase in PHASE_COLOURS if any(entry["phase"] == phase for entry in entries)]
    for mode in modes:
        for phase in phases:
            style = dict(color=PHASE_COLOURS[phase], linestyle=MODE_STYLES.get(mode, "-"), marker="o")
            calls_axis.plot(*series(entries, mode, phase, "calls_total"), label=f"ours {phase} ({mode})", **style)
            time_axis.plot(*series(entries, mode, phase, "seconds"), label=f"ours {phase} ({mode})", **style)
        sizes, floors = series(entries, mode, "cold", "safe_floor_calls")
        calls_axis.plot(sizes, floors, color="#7f7f7f", linestyle=MODE_STYLES.get(mode, "-"), marker="x", label=f"safe floor, cold ({mode})")
    for phase, colour in (("cold", "#d62728"),):
        sizes, calls = series(entries, modes[0], phase, "baseline_calls_total")
        calls_axis.plot(sizes, calls, color=colour, linestyle="-.", marker="s", label=f"AWS CLI procedure, {phase} (~ extrapolated)")
        sizes, seconds = series(entries, modes[0], phase, "baseline_seconds")
        time_axis.plot(sizes, seconds, color=colour, linestyle="-.", marker="s", label=f"AWS CLI procedure, {phase} (~ extrapolated)")
    calls_axis.set_title("API calls per run")
    calls_axis.set_ylabel("calls (log)")
    time_axis.set_title("wall-clock seconds per run")
    time_axis.set_ylabel("seconds (log)")
    for axis in (calls_axis, time_axis):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("Lightsail services (ECS workloads: a tenth as many)")
        axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
        axis.grid(alpha=0.3, which="both")
    meta = results["machine"]
    figure.suptitle(f"pullaccess.aws on emulated AWS, fleet shape {meta.get('shape', 'pairs')}: nproc {meta['nproc']}, Python {meta['python']}, "
                    f"ANSIBLE_FORKS={meta['forks']}, puller delay {meta['puller_delay']} s, {meta['date']}", fontsize=10)
    figure.tight_layout()
    figure.savefig(png, dpi=110)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py RESULTS_JSON OUTPUT_PNG")
    with open(sys.argv[1], encoding="utf-8") as stream:
        results = json.load(stream)
    draw(results, sys.argv[2])


if __name__ == "__main__":
    main()
