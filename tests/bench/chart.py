#!/usr/bin/env python
"""Draw ``results.png`` from ``results.json`` (written by run_bench.py).

Run with the bench venv's Python (matplotlib, Agg backend)::

    build/bench/awscli-venv/bin/python tests/bench/chart.py build/bench/results.json build/bench/results.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position


def draw(results, png):
    entries = results["results"]
    labels = [f"{entry['services']}\n{entry['phase']}" for entry in entries]
    positions = list(range(len(entries)))
    width = 0.27
    figure, (calls_axis, time_axis) = plt.subplots(1, 2, figsize=(14, 6.5))

    def baseline(key):
        return [entry.get(key) or 0 for entry in entries]

    calls_axis.bar([p - width for p in positions], [entry["floor_calls"] for entry in entries], width, label="floor", color="#9e9e9e")
    calls_axis.bar(positions, [entry["calls_total"] for entry in entries], width, label="pullaccess.aws", color="#1f77b4")
    calls_axis.bar([p + width for p in positions], baseline("baseline_calls_total"), width, label="AWS CLI procedure", color="#d62728")
    calls_axis.bar(positions, [entry["writes"] for entry in entries], width * 0.5, label="of which writes (ours)", color="#0b3c5d")
    calls_axis.bar([p + width for p in positions], baseline("baseline_writes"), width * 0.5, label="of which writes (AWS CLI)", color="#7f1010")
    calls_axis.set_title("API calls per run")
    calls_axis.set_yscale("symlog", linthresh=10)
    calls_axis.set_ylabel("calls (symlog)")

    time_axis.bar([p - width / 2 for p in positions], [entry["seconds"] for entry in entries], width, label="pullaccess.aws", color="#1f77b4")
    time_axis.bar([p + width / 2 for p in positions], baseline("baseline_seconds"), width, label="AWS CLI procedure", color="#d62728")
    for position, entry in zip(positions, entries):
        if entry.get("speedup"):
            text = f"{'~' if entry.get('baseline_extrapolated') else ''}{entry['speedup']}x"
            time_axis.annotate(text, (position + width / 2, entry["baseline_seconds"]), ha="center", va="bottom", fontsize=8)
    time_axis.set_title("wall-clock seconds per run (~ = extrapolated baseline)")
    time_axis.set_yscale("log")
    time_axis.set_ylabel("seconds (log)")

    for axis in (calls_axis, time_axis):
        axis.set_xticks(positions)
        axis.set_xticklabels(labels, fontsize=8)
        axis.set_xlabel("Lightsail services / phase")
        axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
        axis.grid(axis="y", alpha=0.3)
    meta = results["machine"]
    figure.suptitle(f"pullaccess.aws on emulated AWS: nproc {meta['nproc']}, Python {meta['python']}, "
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
