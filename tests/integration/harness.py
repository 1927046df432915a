# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run Ansible through ansible-runner against the rig and collect per-task results."""

import json
import os
import sys

import ansible_runner


def writes(rig, mark):
    """The mutating operations the rig served since ``mark``, in order."""
    return [r["operation"] for r in rig.requests(since=mark, mutating=True)]


class TaskResult:
    """One task's result on one host."""

    def __init__(self, name, host, status, res):
        self.name = name
        self.host = host
        self.status = status  # ok | failed | skipped | unreachable
        self.res = res or {}

    @property
    def changed(self):
        return bool(self.res.get("changed"))

    @property
    def failed(self):
        return self.status in ("failed", "unreachable")

    @property
    def msg(self):
        return str(self.res.get("msg", ""))

    def __getitem__(self, key):
        return self.res[key]

    def get(self, key, default=None):
        return self.res.get(key, default)

    def __repr__(self):
        return f"TaskResult({self.name!r}, {self.host!r}, {self.status!r}, {json.dumps(self.res, default=str)[:2000]})"


class PlaybookRun:
    """The outcome of one ansible-runner run."""

    def __init__(self, runner, stdout):
        self.rc = runner.rc
        self.status = runner.status
        self.stdout = stdout
        self.results = []
        for event in runner.events:
            kind = event.get("event", "")
            if not kind.startswith("runner_on_") or kind == "runner_on_start":
                continue
            data = event.get("event_data", {})
            status = kind[len("runner_on_"):]
            self.results.append(TaskResult(data.get("task", ""), data.get("host", ""), status, data.get("res")))

    def task(self, name, host=None):
        """The (last) result of the task called ``name`` (on ``host``)."""
        found = [r for r in self.results if r.name == name and (host is None or r.host == host)]
        assert found, f"no result for task {name!r} (host {host}); ran: {[r.name for r in self.results]}\n{self.stdout}"
        return found[-1]

    @property
    def changed_tasks(self):
        return [r for r in self.results if r.changed]


class Ansible:
    """Runs playbooks the way a user does, with the rig's environment (endpoints, credentials)."""

    def __init__(self, rig, workdir, collections_path):
        self.rig = rig
        self.workdir = workdir
        self.collections_path = collections_path
        self.counter = 0

    def env(self, extra=None):
        env = dict(self.rig.env())
        env.update(
            ANSIBLE_COLLECTIONS_PATH=self.collections_path,
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_DEPRECATION_WARNINGS="0",
            ANSIBLE_LOCALHOST_WARNING="0",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        )
        env.update(extra or {})
        return env

    def _private_dir(self):
        self.counter += 1
        path = os.path.join(self.workdir, f"run{self.counter}")
        os.makedirs(os.path.join(path, "inventory"), exist_ok=True)
        return path

    def _inventory(self, private_dir, inventory):
        if isinstance(inventory, str):
            return inventory  # an inventory source as is (e.g. an inventory plugin's configuration file)
        path = os.path.join(private_dir, "inventory", "hosts.json")
        if inventory is None:
            inventory = {"all": {"hosts": {"localhost": {}}}}
        inventory.setdefault("all", {}).setdefault("vars", {}).update(
            ansible_connection="local", ansible_python_interpreter=sys.executable
        )
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(inventory, handle)
        return path

    def start(self, playbook, inventory=None, extravars=None, check=False, diff=False, env=None, limit=None, tags=None, skip_tags=None):
        """Start a run in the background; returns (thread, runner, private_dir)."""
        private_dir = self._private_dir()
        if isinstance(playbook, list):
            path = os.path.join(private_dir, "playbook.yml")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(playbook, handle)  # JSON is YAML
            playbook = path
        cmdline = []
        if check:
            cmdline.append("--check")
        if diff:
            cmdline.append("--diff")
        thread, runner = ansible_runner.run_async(
            private_data_dir=private_dir,
            playbook=playbook,
            inventory=self._inventory(private_dir, inventory),
            extravars=extravars or {},
            envvars=self.env(env),
            cmdline=" ".join(cmdline) or None,
            limit=limit,
            tags=tags,
            skip_tags=skip_tags,
            quiet=True,
            suppress_env_files=True,
        )
        return thread, runner, private_dir

    @staticmethod
    def finish(started):
        thread, runner = started[0], started[1]
        thread.join()
        stdout = runner.stdout.read() if runner.stdout else ""
        return PlaybookRun(runner, stdout)

    def play(self, playbook, **kwargs):
        """Run a playbook (path, or a list of plays) and wait for it."""
        return self.finish(self.start(playbook, **kwargs))

    def tasks(self, tasks, check=False, diff=False, extravars=None, env=None):
        """Run tasks in one play on localhost (no facts)."""
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
        return self.play(play, check=check, diff=diff, extravars=extravars, env=env)

    def module(self, name, args, check=False, diff=False, env=None):
        """Run one module task; returns its TaskResult."""
        run = self.tasks([{"name": "under test", name: args}], check=check, diff=diff, env=env)
        return run.task("under test")
