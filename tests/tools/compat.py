#!/usr/bin/env python
# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compatibility matrix (make compat): one ansible-core minor per run, and the README table.

  compat.py run CORE        units + integration targets (against the rig) on build/compat/CORE
  compat.py all CORE...     `run` for each, two at a time (2 cores), each in its own process; then `matrix`
  compat.py sanity CORE     ansible-test sanity on build/compat/CORE
  compat.py matrix          build/compat/matrix.md from every run's result.json
  compat.py readme [--check]  put matrix.md into the README's marked block (--check: fail if it differs)

A run needs, made by the Makefile: build/compat/CORE/venv (tests/compat/requirements-CORE.txt pinned by
constraints-CORE.txt) and build/compat/CORE/amazon.aws (from the `ansible` wheel the requirements name).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build", "compat")
README = os.path.join(ROOT, "README.md")
BEGIN = "<!-- compat-matrix: begin (make compat-readme writes this from build/compat/matrix.md) -->"
END = "<!-- compat-matrix: end -->"


def requirement_comment(core, key):
    """A `# key: value` line of tests/compat/requirements-CORE.txt."""
    with open(os.path.join(ROOT, "tests", "compat", f"requirements-{core}.txt"), encoding="utf-8") as handle:
        match = re.search(rf"^# {key}: (\S+)$", handle.read(), re.M)
    return match.group(1)


def copy_tree(core, purpose):
    """The ansible_collections tree ansible-test wants: this checkout's files plus that amazon.aws
    (one per purpose, so that a version's sanity and its run can go side by side)."""
    tree = os.path.join(BUILD, core, purpose, "ansible_collections")
    shutil.rmtree(tree, ignore_errors=True)
    collection = os.path.join(tree, "pullaccess", "aws")
    os.makedirs(collection)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = os.path.join(ROOT, name)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(os.path.join(collection, name)), exist_ok=True)
            shutil.copy2(source, os.path.join(collection, name))
    shutil.copytree(os.path.join(BUILD, core, "amazon.aws", "ansible_collections", "amazon", "aws"),
                    os.path.join(tree, "amazon", "aws"))
    # ansible-test lists files with git; build/ is ignored in the checkout, so the copy has its own.
    subprocess.run(["git", "init", "-q"], cwd=collection, check=True)
    subprocess.run(["git", "add", "-A"], cwd=collection, check=True)
    return collection


def venv_versions(venv):
    """Exact versions in the run's venv."""
    code = ("import sys, json, ansible, boto3, botocore; print(json.dumps({'python': '%d.%d.%d' % sys.version_info[:3], "
            "'ansible_core': ansible.__version__, 'boto3': boto3.__version__, 'botocore': botocore.__version__}))")
    return json.loads(subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], check=True,
                                     capture_output=True, text=True).stdout)


def step(name, command, cwd, log):
    """Run one step, its output to the run's log; returns (passed, seconds)."""
    started = time.monotonic()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"\n=== {name}: {' '.join(command)}\n")
        handle.flush()
        returncode = subprocess.call(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)
    seconds = round(time.monotonic() - started)
    print(f"compat: {name}: {'passed' if returncode == 0 else 'FAILED'} in {seconds} s", flush=True)
    return returncode == 0, seconds


def run(core):
    """Units and integration targets on one ansible-core; writes build/compat/CORE/result.json."""
    venv = os.path.join(BUILD, core, "venv")
    log = os.path.join(BUILD, core, "run.log")
    open(log, "w", encoding="utf-8").close()
    collection = copy_tree(core, "run")
    with open(os.path.join(collection, "..", "..", "amazon", "aws", "MANIFEST.json"), encoding="utf-8") as handle:
        amazon_aws = json.load(handle)["collection_info"]["version"]
    result = dict(venv_versions(venv), core=core, amazon_aws=amazon_aws)
    python = requirement_comment(core, "python")
    ansible_test = os.path.join(venv, "bin", "ansible-test")
    # ansible-test in the venv's own Python (no --venv): the venv holds exactly the pinned packages.
    os.environ["PATH"] = os.path.join(venv, "bin") + os.pathsep + os.environ.get("PATH", "")
    result["units"], result["units_seconds"] = step(
        f"{core} units", [ansible_test, "units", "--python", python, "--color", "no"], collection, log)
    result["targets"], result["targets_seconds"] = step(
        f"{core} integration targets", [sys.executable, os.path.join(ROOT, "tests", "tools", "run-targets"),
                                        "--ansible-test", ansible_test, "--collection", collection], collection, log)
    with open(os.path.join(BUILD, core, "result.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    if not (result["units"] and result["targets"]):
        sys.exit(f"compat {core} failed: see {os.path.relpath(log, ROOT)}")


def ansible_test_ssh_key():
    """The SSH key pair every ansible-test integration run uses, made as ansible-test makes it.
    On a fresh machine two runs side by side would both make it, and the second ssh-keygen asks
    whether to overwrite the first's key and fails."""
    key = os.path.expanduser(os.path.join("~", ".ansible", "test", "id_rsa"))
    if os.path.isfile(key) and os.path.isfile(key + ".pub"):
        return
    os.makedirs(os.path.dirname(key), exist_ok=True)
    for path in (key, key + ".pub"):
        if os.path.exists(path):
            os.remove(path)
    subprocess.run(["ssh-keygen", "-m", "PEM", "-q", "-t", "rsa", "-N", "", "-f", key], check=True, capture_output=True)
    # As ansible-test does: paramiko reads only the RSA PEM header.
    with open(key, encoding="utf-8") as handle:
        text = re.sub(r"(BEGIN|END) PRIVATE KEY", r"\1 RSA PRIVATE KEY", handle.read())
    with open(key, "w", encoding="utf-8") as handle:
        handle.write(text)


def run_all(cores):
    """Every core's run, two side by side; all run even when one fails; then the table."""
    ansible_test_ssh_key()
    command = [sys.executable, os.path.abspath(__file__), "run"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = list(pool.map(lambda core: subprocess.call(command + [core]), cores))
    matrix()
    failed = [core for core, code in zip(cores, codes) if code]
    if failed:
        sys.exit(f"compat: failed on ansible-core {', '.join(failed)}")


def sanity(core):
    """ansible-test sanity on one ansible-core (its own venvs, --venv), no ignore entries."""
    venv = os.path.join(BUILD, core, "venv")
    collection = copy_tree(core, "sanity")
    os.environ["PATH"] = os.path.join(venv, "bin") + os.pathsep + os.environ.get("PATH", "")
    # The offline pip bootstrap for the pip version this ansible-test wants.
    subprocess.run([os.path.join(venv, "bin", "python"), os.path.join(ROOT, "tests", "tools", "offline_get_pip.py")], check=True)
    command = [os.path.join(venv, "bin", "ansible-test"), "sanity", "--venv", "--python", requirement_comment(core, "python"), "--color", "no"]
    print("+", " ".join(command), flush=True)
    sys.exit(subprocess.call(command, cwd=collection))


def matrix():
    """build/compat/matrix.md: one row per run, oldest ansible-core first."""
    results = []
    cores = [name for name in os.listdir(BUILD) if re.fullmatch(r"\d+\.\d+", name)]
    for core in sorted(cores, key=lambda v: tuple(int(p) for p in v.split("."))):
        path = os.path.join(BUILD, core, "result.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                results.append(json.load(handle))
    lines = ["| ansible-core | Python | amazon.aws | boto3 | botocore | unit tests | integration targets |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        verdict = {True: "pass", False: "FAIL"}
        # Python as major.minor: the patch release is the machine's, the rest is pinned.
        python = ".".join(r["python"].split(".")[:2])
        lines.append(f"| {r['ansible_core']} | {python} | {r['amazon_aws']} | {r['boto3']} | {r['botocore']} "
                     f"| {verdict[r['units']]} | {verdict[r['targets']]} |")
    with open(os.path.join(BUILD, "matrix.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def readme(check):
    """Put build/compat/matrix.md between the README's markers (or, with check, fail if it differs)."""
    with open(os.path.join(BUILD, "matrix.md"), encoding="utf-8") as handle:
        table = handle.read()
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"README.md has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    wanted = f"{head}{BEGIN}\n{table}{END}{tail}"
    if wanted == text:
        print("README.md compatibility table matches this run")
        return
    if check:
        sys.exit("README.md's compatibility table differs from build/compat/matrix.md: run `make compat-readme` and commit")
    with open(README, "w", encoding="utf-8") as handle:
        handle.write(wanted)
    print("README.md compatibility table updated")


def main(argv):
    if argv[:1] == ["run"] and len(argv) == 2:
        run(argv[1])
    elif argv[:1] == ["all"] and len(argv) > 1:
        run_all(argv[1:])
    elif argv[:1] == ["sanity"] and len(argv) == 2:
        sanity(argv[1])
    elif argv == ["matrix"]:
        matrix()
    elif argv[:1] == ["readme"] and argv[1:] in ([], ["--check"]):
        readme(check=argv[1:] == ["--check"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
