#!/usr/bin/env python
# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`make bench`: API calls and wall-clock time of the shipped playbooks on a fleet, against the emulators.

For each statement mode and fleet size N it seeds an account on the rig (moto + the Lightsail
emulator, loopback only) with ECR repositories (the first carrying a foreign statement that must
stay), N Lightsail container services and max(2, N // 10) ECS Fargate workloads (by role name with
an inline policy, and by task definition with the AWS managed policy). Two fleet shapes:
``pairs`` (10 repositories; workload i pulls from repositories i % 10 and (i + 1) % 10) and
``base`` (a repository ``base`` that every workload pulls from, plus one of 10 others). Then it
measures:

* ours: ``ansible-playbook pullaccess.aws.grant`` as a dry run (--check --diff, on the fresh
  fleet; again with the change reported in one task instead of per host), a cold grant, a
  converged re-run, and ``pullaccess.aws.revoke``;
* the floor: the calls each phase strictly needs, from the declarations and the state before it,
  and the safe floor: the floor plus what fail-early and lost-update protection strictly need;
* the baseline: the same fleet done the way the Lightsail guide's AWS CLI procedure does it, one
  workload at a time (``aws`` from ``build/bench/awscli-venv``), on a freshly seeded account.

API calls come from the rig's request log. Results: ``<out>/results.json``, ``<out>/results.md``
(the Markdown table printed at the end) and ``<out>/results.png`` (drawn by ``chart.py`` with the
bench venv's matplotlib).
"""

import argparse
import collections
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from rig import Rig  # noqa: E402  pylint: disable=wrong-import-position

ACCOUNT = "123456789012"
REGION = "us-east-1"
PHASES = ("cold", "converged", "check", "check-once", "revoke")
# The order the phases run in: the dry run is what a user does first, on the fresh fleet.
RUN_ORDER = ("check", "check-once", "cold", "converged", "revoke")
# Dry runs: check reports each changed host in the recap (the default); check-once reports the
# batch's change in one task (ecr_pull_access_report_per_host=false).
DRY_RUNS = {"check": [], "check-once": ["-e", "ecr_pull_access_report_per_host=false"]}
BASELINE_PHASES = ("cold", "converged", "revoke")
FOREIGN_STATEMENT = {
    "Sid": "CiPushFromBuildAccount",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:role/ci-builder"},
    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"],
}
FOREIGN_PRINCIPAL = FOREIGN_STATEMENT["Principal"]["AWS"]
# What the Lightsail guide's policy statement allows.
GUIDE_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
INLINE_POLICY_NAME = "ecr-pull"
MANAGED_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ECS_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
FLOOR_DEFINITION = (
    "Floor = the calls the change strictly needs, from the declarations and the state before the phase: "
    "reads = one per Lightsail service + one per ECS role + one per ECS task definition used + one per repository "
    "whose policy the fleet touches (a dry run: only repositories it can predict, i.e. with a declaring service whose "
    "puller ARN exists already, or in the account mode all); writes = one per puller role switched + one per ECS role "
    "whose permissions change + one per repository whose policy changes (none at all on a converged run or a dry run)."
)
SAFE_FLOOR_DEFINITION = (
    "Safe floor = the floor + two reads for each repository whose policy changes: its policy is read once to plan "
    "and check it before the first write (fail early), once right before the write (so the change applies to what "
    "is there, not to an old read) and once after it (to see that no other writer replaced it): three reads and "
    "one write in all."
)
MODES = ("workload", "shared", "account")
AWS_MODULES = ("pullaccess.aws.lightsail_ecr_puller", "pullaccess.aws.ecs_execution_role_ecr", "pullaccess.aws.ecr_repo_policy_statement")
SHAPES = ("pairs", "base")
# The account mode's statement (and only it) names "*": it lets every puller role of the account
# in the Region pull, limited by conditions.
EVERYONE = "*"


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


class PlaybookFailed(BenchError):
    """ansible-playbook failed; ``output`` is what it printed."""

    def __init__(self, message, output):
        super().__init__(message)
        self.output = output


def log(text):
    print(text, flush=True)


# ----- the fleet -------------------------------------------------------------------------------


class Fleet:
    """The declarations of one scenario: repositories, Lightsail services, ECS workloads, and the
    statement mode they are written in."""

    def __init__(self, services, repositories, shape="pairs", mode="shared"):
        self.shape, self.mode = shape, mode
        others = [f"bench/repo-{index:02d}" for index in range(repositories)]
        count = len(others)
        if shape == "base":
            self.repositories = ["bench/base"] + others

            def pulls(index):
                return ["bench/base", others[index % count]]
        else:
            self.repositories = others

            def pulls(index):
                return sorted({others[index % count], others[(index + 1) % count]})
        self.services = [{"name": f"bench-svc-{index:03d}", "repositories": pulls(index)} for index in range(services)]
        self.ecs = []
        for index in range(max(2, services // 10)):
            by_task_definition = index % 2 == 1
            self.ecs.append({
                "name": f"bench-ecs-{index:02d}",
                "role": f"bench-ecs-{index:02d}-execution",
                "task_definition": f"bench-ecs-{index:02d}" if by_task_definition else None,
                "permissions": "managed" if by_task_definition else "inline",
                "repositories": pulls(index),
            })

    @property
    def workloads(self):
        return len(self.services) + len(self.ecs)

    def label(self):
        return f"{len(self.services)} Lightsail + {len(self.ecs)} ECS"

    def touched_repositories(self, services=None):
        """Repositories whose policy the fleet writes: those of the Lightsail services (the ECS
        workloads are in the same account, so IAM alone gives them access)."""
        found = set()
        for service in self.services if services is None else services:
            found.update(service["repositories"])
        return sorted(found)

    def inventory(self):
        lightsail = {service["name"]: {"ecr_pull_access_repositories": service["repositories"]} for service in self.services}
        ecs = {}
        for workload in self.ecs:
            host = {"ecr_pull_access_ecs_permissions": workload["permissions"], "ecr_pull_access_repositories": workload["repositories"]}
            if workload["task_definition"]:
                host["ecr_pull_access_ecs_task_definition"] = workload["task_definition"]
            else:
                host["ecr_pull_access_ecs_role_name"] = workload["role"]
            ecs[workload["name"]] = host
        return {"all": {
            "vars": {"ecr_pull_access_region": REGION, "ecr_pull_access_statement_mode": self.mode},
            "children": {
                "lightsail": {"vars": {"ecr_pull_access_type": "lightsail"}, "hosts": lightsail},
                "ecs_fargate": {"vars": {"ecr_pull_access_type": "ecs", "ecr_pull_access_ecs_launch_type": "fargate"}, "hosts": ecs},
            },
        }}


def seed(rig, fleet):
    """A fresh account with the fleet's resources and nothing granted."""
    rig.reset()
    ecr = rig.client("ecr")
    for name in fleet.repositories:
        ecr.create_repository(repositoryName=name)
    rig.create_roles(FOREIGN_PRINCIPAL)  # ECR refuses principals that do not exist
    ecr.set_repository_policy(repositoryName=fleet.repositories[0],
                              policyText=json.dumps({"Version": "2008-10-17", "Statement": [FOREIGN_STATEMENT]}))
    lightsail = rig.client("lightsail")
    for service in fleet.services:
        lightsail.create_container_service(serviceName=service["name"], power="nano", scale=1)
    iam = rig.client("iam")
    ecs = rig.client("ecs")
    for workload in fleet.ecs:
        role = iam.create_role(RoleName=workload["role"], AssumeRolePolicyDocument=json.dumps(ECS_TRUST))["Role"]
        if workload["task_definition"]:
            image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{workload['repositories'][0]}:1"
            ecs.register_task_definition(
                family=workload["task_definition"], executionRoleArn=role["Arn"], requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc", cpu="256", memory="512",
                containerDefinitions=[{"name": workload["name"], "image": image, "essential": True}])
    # Let every service leave PENDING, as a fleet that exists already would have.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = {service["state"] for service in lightsail.get_container_services()["containerServices"]}
        if states <= {"READY", "RUNNING"}:
            return
        time.sleep(0.2)
    raise BenchError(f"seeded Lightsail services did not become READY: {states}")


# ----- state, floor, verification --------------------------------------------------------------


def principals_of(policy):
    found = set()
    for statement in (policy or {}).get("Statement", []):
        value = statement.get("Principal", {})
        value = value.get("AWS", []) if isinstance(value, dict) else value
        found.update([value] if isinstance(value, str) else value)
    return found


def snapshot(rig, fleet):
    """The state the floor is computed from (these calls are made outside any measured window)."""
    pullers = {}
    for service in rig.client("lightsail").get_container_services()["containerServices"]:
        role = service["privateRegistryAccess"]["ecrImagePullerRole"]
        pullers[service["containerServiceName"]] = {"active": bool(role.get("isActive")), "arn": role.get("principalArn") or ""}
    ecr = rig.client("ecr")
    policies = {}
    for name in fleet.repositories:
        try:
            policies[name] = json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])
        except ecr.exceptions.RepositoryPolicyNotFoundException:
            policies[name] = None
    iam = rig.client("iam")
    permissions = {}
    for workload in fleet.ecs:
        if workload["permissions"] == "inline":
            permissions[workload["name"]] = INLINE_POLICY_NAME in iam.list_role_policies(RoleName=workload["role"])["PolicyNames"]
        else:
            attached = iam.list_attached_role_policies(RoleName=workload["role"])["AttachedPolicies"]
            permissions[workload["name"]] = MANAGED_POLICY_ARN in [policy["PolicyArn"] for policy in attached]
    return {"pullers": pullers, "policies": policies, "permissions": permissions}


def repository_changes(fleet, state, phase):
    """How many repository policies the phase must change."""
    if phase in DRY_RUNS:
        return 0
    grant = phase != "revoke"
    changed = 0
    for name in fleet.touched_repositories():
        present = principals_of(state["policies"][name])
        declared = [state["pullers"][service["name"]] for service in fleet.services if name in service["repositories"]]
        if fleet.mode == "account":
            # One statement for every puller of the account; a revoke keeps it (see the README).
            changes = grant and EVERYONE not in present
        elif grant:
            changes = any(not puller["active"] or puller["arn"] not in present for puller in declared)
        else:
            changes = any(puller["arn"] and puller["arn"] in present for puller in declared)
        changed += int(changes)
    return changed


def floor(fleet, state, phase):
    """(reads, writes, safe floor calls) the phase strictly needs; see FLOOR_DEFINITION and SAFE_FLOOR_DEFINITION."""
    repositories = fleet.touched_repositories()
    reads = len(fleet.services) + len(fleet.ecs) + sum(1 for workload in fleet.ecs if workload["task_definition"])
    if phase in DRY_RUNS:
        # Before a puller role is active its ARN does not exist, so no policy can be predicted for
        # it, except in the account mode, whose statement names no ARN.
        known = [service for service in fleet.services if fleet.mode == "account" or state["pullers"][service["name"]]["arn"]]
        reads += len(fleet.touched_repositories(known))
        return reads, 0, reads
    reads += len(repositories)
    grant = phase != "revoke"
    writes = sum(1 for service in fleet.services if state["pullers"][service["name"]]["active"] != grant)
    writes += sum(1 for workload in fleet.ecs if state["permissions"][workload["name"]] != grant)
    policy_writes = repository_changes(fleet, state, phase)
    writes += policy_writes
    return reads, writes, reads + writes + 2 * policy_writes


def verify(fleet, state, granted, services=None, ecs=None, mode=None):
    """What is wrong with the state after a grant (``granted``) or a revoke; [] when all is right.
    ``mode``: the statement mode the policies are written in (the fleet's by default)."""
    services = fleet.services if services is None else services
    ecs = fleet.ecs if ecs is None else ecs
    mode = mode or fleet.mode
    problems = []
    for service in services:
        puller = state["pullers"][service["name"]]
        if puller["active"] != granted or bool(puller["arn"]) != granted:
            problems.append(f"{service['name']}: puller active={puller['active']} arn={puller['arn']!r}")
    for workload in ecs:
        if state["permissions"][workload["name"]] != granted:
            problems.append(f"{workload['name']}: pull permissions present={state['permissions'][workload['name']]}")
    for name in fleet.repositories:
        policy = state["policies"][name]
        declared = [service for service in services if name in service["repositories"]]
        expected = set()
        if mode == "account" and declared:
            expected = {EVERYONE}  # granted, and kept by a revoke
        elif granted:
            expected = {state["pullers"][service["name"]]["arn"] for service in declared}
        if name == fleet.repositories[0]:
            if not policy or FOREIGN_STATEMENT not in policy.get("Statement", []):
                problems.append(f"{name}: the foreign statement is gone or changed")
            expected.add(FOREIGN_PRINCIPAL)
        if principals_of(policy) != expected:
            problems.append(f"{name}: principals {sorted(principals_of(policy))} != expected {sorted(expected)}")
        if not expected and policy is not None:
            problems.append(f"{name}: a policy is left after the revoke: {policy}")
    return problems


# ----- counting --------------------------------------------------------------------------------


def count(entries):
    operations = collections.Counter(f"{entry['service']}:{entry['operation']}" for entry in entries)
    writes = sum(1 for entry in entries if entry["mutating"])
    return {
        "calls_total": len(entries),
        "reads": len(entries) - writes,
        "writes": writes,
        "errors": sum(1 for entry in entries if (entry.get("status") or 0) >= 400),
        "operations": dict(sorted(operations.items())),
    }


def window(rig, start, end):
    """Logged requests with start < seq <= end."""
    return [entry for entry in rig.requests(since=start) if entry["seq"] <= end]


# ----- ours: the shipped playbooks ---------------------------------------------------------------


class Playbooks:
    """Runs ``ansible-playbook pullaccess.aws.<name>`` as a user does, with the rig's environment."""

    def __init__(self, rig, workdir, forks, collections_path):
        self.workdir = workdir
        self.command = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        env = rig.env(base=os.environ)
        env["ANSIBLE_COLLECTIONS_PATH"] = collections_path
        env["ANSIBLE_FORKS"] = str(forks)
        env["ANSIBLE_NOCOLOR"] = "1"
        env["ANSIBLE_DEPRECATION_WARNINGS"] = "0"
        env["ANSIBLE_LOCALHOST_WARNING"] = "0"
        env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"
        # Task timings (tests/bench/callback_plugins/bench_timer.py); changes no output and no API call.
        env["ANSIBLE_CALLBACK_PLUGINS"] = os.path.join(HERE, "callback_plugins")
        env["ANSIBLE_CALLBACKS_ENABLED"] = "bench_timer"
        self.env = env

    def run(self, name, inventory, options, log_path):
        command = [self.command, name, "-i", inventory, *options]
        timer_path = os.path.splitext(log_path)[0] + "-tasks.json"
        if os.path.exists(timer_path):
            os.remove(timer_path)
        started = time.time()
        start = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as output:
            output.write(f"$ ansible-playbook {name} -i {os.path.basename(inventory)} {' '.join(options)}\n")
            output.flush()
            result = subprocess.run(command, env=dict(self.env, BENCH_TIMER_FILE=timer_path), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                    stdout=output, stderr=subprocess.STDOUT, check=False, timeout=3600)
        seconds = time.monotonic() - start
        with open(log_path, encoding="utf-8") as stream:
            text = stream.read()
        if result.returncode != 0:
            raise PlaybookFailed(f"ansible-playbook {name} {' '.join(options)} failed ({result.returncode}); end of {log_path}:\n{text[-4000:]}",
                                 text)
        return seconds, recap(text), *task_times(timer_path, started, seconds)


def task_times(path, started, seconds):
    """Where a run's wall-clock time went: Ansible's start-up (process start to first task), each
    task name's summed spans, and the end (last task to process exit); and the same time split
    into start-up and end, per-host tasks (run on more than one host, or started once per host), this collection's modules
    (run once for the batch) and the rest (planning, includes: once for the batch)."""
    try:
        with open(path, encoding="utf-8") as stream:
            timer = json.load(stream)
    except (OSError, ValueError):
        return {}, {}
    spans = collections.OrderedDict()
    startup = timer["tasks"][0]["start"] - started if timer["tasks"] else 0.0
    end = max(0.0, started + seconds - timer["end"])
    spans["(ansible-playbook start-up, inventory)"] = startup
    split = {"start-up and end": startup + end, "per-host tasks": 0.0, "module runs": 0.0, "checks and planning (once)": 0.0}
    # A meta task (the role's end_role) starts once per host, each start its own entry of one host.
    starts = collections.Counter(task["name"] for task in timer["tasks"])
    for task in timer["tasks"]:
        spans[task["name"]] = spans.get(task["name"], 0.0) + task["seconds"]
        if task.get("hosts", 0) > 1 or starts[task["name"]] > 1:
            split["per-host tasks"] += task["seconds"]
        elif task.get("action") in AWS_MODULES:
            split["module runs"] += task["seconds"]
        else:
            split["checks and planning (once)"] += task["seconds"]
    spans["(end of run, process exit)"] = end
    return {name: round(value, 2) for name, value in spans.items()}, {name: round(value, 2) for name, value in split.items()}


def recap(text):
    """Totals of the PLAY RECAP: hosts, and how many workloads changed: the hosts that reported a
    change (on ansible-core 2.18 and later a workload whose access did not change ends the role
    without a task, so it is not listed), or, reported once for the batch, the count that task gives."""
    hosts = changed_hosts = 0
    for match in re.finditer(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)", text, re.MULTILINE):
        hosts += 1
        changed_hosts += int(int(match.group(1)) > 0)
    once = re.search(r"Pull access (?:changed|would change) for (\d+) workloads?:", text)
    return {"hosts": hosts, "changed_hosts": int(once.group(1)) if once else changed_hosts}


def run_ours(rig, fleet, playbooks, inventory, workdir):
    """The phases in RUN_ORDER; a fleet whose policies cannot fit the mode's statements must be
    refused before any write, and the phases after the refusal are not run."""
    results = {}
    for phase in RUN_ORDER:
        state = snapshot(rig, fleet)
        floor_reads, floor_writes, safe_floor = floor(fleet, state, phase)
        playbook = "pullaccess.aws.revoke" if phase == "revoke" else "pullaccess.aws.grant"
        options = ["--check", "--diff", *DRY_RUNS[phase]] if phase in DRY_RUNS else []
        log(f"  ours   {phase:9} ansible-playbook {playbook} {' '.join(options)}".rstrip() + " ...")
        start = rig.mark()
        began = time.monotonic()
        try:
            seconds, summary, tasks, split = playbooks.run(playbook, inventory, options, os.path.join(workdir, f"ansible-{phase}.log"))
        except PlaybookFailed as failure:
            if "character limit" not in failure.output:
                raise
            writes = [entry for entry in window(rig, start, rig.mark()) if entry["mutating"]]
            if writes:
                raise BenchError(f"ours, {phase}: refused over the size limit, but after {len(writes)} writes") from failure
            message = re.search(r"(policy of repository .*? characters, over the \d+-character limit)", failure.output)
            results[phase] = {"refused": message.group(1) if message else "over the policy size limit", "seconds": round(time.monotonic() - began, 2)}
            log(f"         {phase:9} refused before any write: {results[phase]['refused']}")
            break
        entries = window(rig, start, rig.mark())
        dump(os.path.join(workdir, f"requests-ours-{phase}.json"), entries)
        figures = count(entries)
        after = snapshot(rig, fleet)
        if phase in DRY_RUNS and after != state:
            raise BenchError("the dry run changed the account")
        if phase in ("cold", "converged", "revoke"):
            problems = verify(fleet, after, granted=phase != "revoke")
            if problems:
                raise BenchError(f"ours, {phase}: wrong state afterwards:\n  " + "\n  ".join(problems[:20]))
        if (phase == "converged" or phase in DRY_RUNS) and figures["writes"]:
            log(f"  WARNING: {figures['writes']} write calls in the {phase} phase: {figures['operations']}")
        results[phase] = dict(figures, seconds=round(seconds, 2), floor_reads=floor_reads, floor_writes=floor_writes,
                              floor_calls=floor_reads + floor_writes, safe_floor_calls=safe_floor, changed_hosts=summary["changed_hosts"],
                              hosts=fleet.workloads, recap_hosts=summary["hosts"], tasks=tasks, split=split)
        log(f"         {phase:9} {seconds:7.1f} s  {figures['calls_total']:5} calls ({figures['reads']} reads, {figures['writes']} writes)"
            f"  floor {floor_reads + floor_writes} ({floor_reads} / {floor_writes}), safe floor {safe_floor}"
            f"  workloads changed {summary['changed_hosts']}/{fleet.workloads} (hosts in the recap: {summary['hosts']})")
        log("                   " + ", ".join(f"{name} {spent:.1f} s" for name, spent in split.items()))
        for name, spent in sorted(tasks.items(), key=lambda item: -item[1])[:4]:
            log(f"                   {spent:6.1f} s  {name}")
    return results


def dump(path, entries):
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(entries, stream, indent=0)


# ----- baseline: the AWS CLI procedure of the Lightsail guide, one workload at a time ------------


class AwsCli:
    """One ``aws`` process per command, as a script following the guide runs it."""

    def __init__(self, executable, env, workdir):
        self.executable = executable
        self.env = dict(env, AWS_PAGER="")
        self.workdir = workdir
        self.commands = 0
        self.command_seconds = 0.0

    def __call__(self, *args, tolerate=()):
        start = time.monotonic()
        result = subprocess.run([self.executable, *args, "--output", "json"], env=self.env, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, check=False, timeout=300)
        self.commands += 1
        self.command_seconds += time.monotonic() - start
        if result.returncode != 0:
            if any(code in result.stderr for code in tolerate):
                return None
            raise BenchError(f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def document(self, name, document):
        """Write a JSON document to a file for ``file://`` arguments (as the guide does)."""
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as stream:
            json.dump(document, stream)
        return "file://" + path


def guide_sid(service_name):
    return "AllowLightsailPull" + "".join(part.capitalize() for part in service_name.split("-"))


def cli_get_policy(aws, repository):
    found = aws("ecr", "get-repository-policy", "--repository-name", repository, tolerate=("RepositoryPolicyNotFoundException",))
    return json.loads(found["policyText"]) if found else None


def cli_puller_arn(aws, service_name, timeout, poll):
    deadline = time.monotonic() + timeout
    while True:
        found = aws("lightsail", "get-container-services", "--service-name", service_name)
        arn = found["containerServices"][0]["privateRegistryAccess"]["ecrImagePullerRole"].get("principalArn")
        if arn:
            return arn
        if time.monotonic() > deadline:
            raise BenchError(f"baseline: no puller ARN for {service_name} after {timeout} s")
        time.sleep(poll)


def baseline_grant_service(aws, service, poll):
    """The guide: activate, wait for the puller ARN, then per repository get the policy, merge
    (correctly: replace or add our statement by Sid, keep every other statement) and set it."""
    name = service["name"]
    aws("lightsail", "update-container-service", "--service-name", name, "--private-registry-access", "ecrImagePullerRole={isActive=true}")
    arn = cli_puller_arn(aws, name, 300, poll)
    statement = {"Sid": guide_sid(name), "Effect": "Allow", "Principal": {"AWS": arn}, "Action": GUIDE_ACTIONS}
    for repository in service["repositories"]:
        policy = cli_get_policy(aws, repository) or {"Version": "2008-10-17", "Statement": []}
        policy["Statement"] = [item for item in policy.get("Statement", []) if item.get("Sid") != statement["Sid"]] + [statement]
        aws("ecr", "set-repository-policy", "--repository-name", repository, "--policy-text", aws.document("policy.json", policy))


def baseline_revoke_service(aws, service):
    """Remove the service's statement from each repository, then deactivate the puller role."""
    name = service["name"]
    for repository in service["repositories"]:
        policy = cli_get_policy(aws, repository)
        if policy is None:
            continue
        kept = [item for item in policy.get("Statement", []) if item.get("Sid") != guide_sid(name)]
        if len(kept) == len(policy.get("Statement", [])):
            continue
        if kept:
            policy["Statement"] = kept
            aws("ecr", "set-repository-policy", "--repository-name", repository, "--policy-text", aws.document("policy.json", policy))
        else:
            aws("ecr", "delete-repository-policy", "--repository-name", repository)
    aws("lightsail", "update-container-service", "--service-name", name, "--private-registry-access", "ecrImagePullerRole={isActive=false}")


def baseline_ecs(aws, workload, grant):
    """The ECS side by hand: put/delete the inline policy, or look up the task definition's
    execution role and attach/detach the managed policy."""
    if workload["task_definition"]:
        found = aws("ecs", "describe-task-definition", "--task-definition", workload["task_definition"])
        role = found["taskDefinition"]["executionRoleArn"].rsplit("/", 1)[-1]
        verb = "attach-role-policy" if grant else "detach-role-policy"
        aws("iam", verb, "--role-name", role, "--policy-arn", MANAGED_POLICY_ARN)
    elif grant:
        resources = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}" for name in workload["repositories"]]
        document = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", *GUIDE_ACTIONS], "Resource": resources}]}
        aws("iam", "put-role-policy", "--role-name", workload["role"], "--policy-name", INLINE_POLICY_NAME,
            "--policy-document", aws.document("role-policy.json", document))
    else:
        aws("iam", "delete-role-policy", "--role-name", workload["role"], "--policy-name", INLINE_POLICY_NAME)


def run_baseline(rig, fleet, aws, sample, poll):
    """The baseline's phases on a freshly seeded account. With ``sample`` < the fleet's services,
    only the first ``sample`` services (and as many ECS workloads in proportion) are done, and the
    totals are extrapolated per workload kind; results say so."""
    services = fleet.services
    ecs = fleet.ecs
    if sample and sample < len(fleet.services):
        services = fleet.services[:sample]
        ecs = fleet.ecs[:max(2, round(len(fleet.ecs) * sample / len(fleet.services)))]
    extrapolated = len(services) < len(fleet.services)
    results = {}
    for phase in BASELINE_PHASES:
        grant = phase != "revoke"
        log(f"  AWS CLI {phase:9} {len(services)} services + {len(ecs)} ECS workloads, one at a time"
            + (f" (sample of {fleet.label()}, extrapolated)" if extrapolated else "") + " ...")
        commands_before, command_seconds_before = aws.commands, aws.command_seconds
        spans = {"lightsail": [], "ecs": []}
        start_seq = rig.mark()
        start = time.monotonic()
        for index, service in enumerate(services, 1):
            seq = rig.mark()
            began = time.monotonic()
            if grant:
                baseline_grant_service(aws, service, poll)
            else:
                baseline_revoke_service(aws, service)
            spans["lightsail"].append((seq, rig.mark(), time.monotonic() - began))
            if index % 10 == 0 or index == len(services):
                log(f"          {index}/{len(services)} services, {time.monotonic() - start:.0f} s")
        for workload in ecs:
            seq = rig.mark()
            began = time.monotonic()
            baseline_ecs(aws, workload, grant)
            spans["ecs"].append((seq, rig.mark(), time.monotonic() - began))
        # The workloads' own time (the request-log marks between them are left out).
        seconds = measured_seconds = sum(span[2] for kind in spans.values() for span in kind)
        entries = window(rig, start_seq, rig.mark())
        dump(os.path.join(aws.workdir, f"requests-cli-{phase}.json"), entries)
        measured = count(entries)
        commands = aws.commands - commands_before
        per_command = (aws.command_seconds - command_seconds_before) / max(commands, 1)
        problems = verify(fleet, snapshot(rig, fleet), granted=grant, services=services, ecs=ecs, mode="workload")
        if problems:
            raise BenchError(f"baseline, {phase}: wrong state afterwards:\n  " + "\n  ".join(problems[:20]))
        figures = dict(measured)
        if extrapolated:
            figures = extrapolate(entries, spans, {"lightsail": len(fleet.services), "ecs": len(fleet.ecs)})
            seconds = sum(sum(span[2] for span in kind) / len(kind) * total
                          for kind, total in ((spans["lightsail"], len(fleet.services)), (spans["ecs"], len(fleet.ecs))) if kind)
        results[phase] = dict(figures, seconds=round(seconds, 2), commands=commands, seconds_per_command=round(per_command, 3),
                              extrapolated=extrapolated, measured_services=len(services), measured_ecs=len(ecs),
                              measured_calls_total=measured["calls_total"], measured_seconds=round(measured_seconds, 2))
        log(f"          {phase:9} {seconds:7.1f} s{' (extrapolated)' if extrapolated else ''}  {figures['calls_total']:5} calls"
            f" ({figures['reads']} reads, {figures['writes']} writes), {per_command:.2f} s per aws command")
    return results


def extrapolate(entries, spans, totals):
    """Scale the sampled workloads' calls to the whole fleet, per workload kind (mean per workload x count)."""
    operations = collections.Counter()
    reads = writes = errors = 0.0
    for kind, kind_spans in spans.items():
        if not kind_spans:
            continue
        factor = totals[kind] / len(kind_spans)
        for first, last, _seconds in kind_spans:
            for entry in entries:
                if first < entry["seq"] <= last:
                    operations[f"{entry['service']}:{entry['operation']}"] += factor
                    writes += factor if entry["mutating"] else 0
                    reads += 0 if entry["mutating"] else factor
                    errors += factor if (entry.get("status") or 0) >= 400 else 0
    return {
        "calls_total": round(reads + writes),
        "reads": round(reads),
        "writes": round(writes),
        "errors": round(errors),
        "operations": {name: round(value) for name, value in sorted(operations.items())},
    }


# ----- report ----------------------------------------------------------------------------------


def scenario_entries(fleet, ours, baseline):
    entries = []
    for phase in PHASES:
        mine = ours.get(phase)
        if mine is None:
            continue
        entry = {
            "name": f"{fleet.shape}-{fleet.mode}-{len(fleet.services)}-{phase}",
            "shape": fleet.shape,
            "mode": fleet.mode,
            "services": len(fleet.services),
            "ecs_workloads": len(fleet.ecs),
            "workloads": fleet.workloads,
            "repositories": len(fleet.repositories),
            "phase": phase,
            "seconds": mine["seconds"],
        }
        if "refused" in mine:
            entry["refused"] = mine["refused"]
            entries.append(entry)
            continue
        entry.update({
            "calls_total": mine["calls_total"],
            "reads": mine["reads"],
            "writes": mine["writes"],
            "floor_calls": mine["floor_calls"],
            "floor_reads": mine["floor_reads"],
            "floor_writes": mine["floor_writes"],
            "safe_floor_calls": mine["safe_floor_calls"],
            "safe_floor_ratio": round(mine["calls_total"] / mine["safe_floor_calls"], 2) if mine["safe_floor_calls"] else None,
            "seconds_per_workload": round(mine["seconds"] / fleet.workloads, 3),
            "operations": mine["operations"],
            "errors": mine["errors"],
            "changed_hosts": mine["changed_hosts"],
            "tasks_seconds": mine["tasks"],
            "time_split": mine["split"],
        })
        theirs = (baseline or {}).get(phase)
        if theirs:
            entry.update({
                "baseline_calls_total": theirs["calls_total"],
                "baseline_reads": theirs["reads"],
                "baseline_writes": theirs["writes"],
                "baseline_seconds": theirs["seconds"],
                "baseline_seconds_per_workload": round(theirs["seconds"] / fleet.workloads, 3),
                "baseline_operations": theirs["operations"],
                "baseline_commands": theirs["commands"],
                "baseline_seconds_per_command": theirs["seconds_per_command"],
                "baseline_extrapolated": theirs["extrapolated"],
                "baseline_measured_services": theirs["measured_services"],
                "baseline_measured_ecs_workloads": theirs["measured_ecs"],
                "baseline_measured_calls_total": theirs["measured_calls_total"],
                "baseline_measured_seconds": theirs["measured_seconds"],
                "speedup": round(theirs["seconds"] / mine["seconds"], 1) if mine["seconds"] else None,
                "call_ratio": round(theirs["calls_total"] / mine["calls_total"], 1) if mine["calls_total"] else None,
            })
        entries.append(entry)
    return entries


def machine():
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    try:
        from ansible.release import __version__ as ansible_version  # pylint: disable=import-outside-toplevel
    except ImportError:
        ansible_version = "?"
    return {"nproc": cpus, "python": platform.python_version(), "ansible_core": ansible_version,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def fleet_label(entry):
    return f"{entry['services']} Lightsail + {entry['ecs_workloads']} ECS, {entry['shape']}, {entry['mode']}"


def markdown(entries, meta):
    shapes = {"pairs": "each workload pulls from 2 of 10 repositories", "base": "each workload pulls from `base` and 1 of 10 others"}
    lines = [
        f"Machine: nproc {meta['nproc']}, Python {meta['python']}, ansible-core {meta['ansible_core']}, {meta['awscli']}; {meta['date']}.",
        f"Emulators on loopback; puller activation delay {meta['puller_delay']} s; ANSIBLE_FORKS={meta['forks']}; "
        f"fleet shape {meta['shape']} ({shapes[meta['shape']]}); statement modes {', '.join(meta['modes'])}.",
        "",
        "| fleet, shape, mode | phase | API calls (reads / writes) | floor (reads / writes) | safe floor (ratio) | seconds | s / workload "
        "| AWS CLI calls (reads / writes) | AWS CLI seconds | speedup |",
        "| --- | --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    footnote = False
    for entry in entries:
        if "refused" in entry:
            lines.append(f"| {fleet_label(entry)} | {entry['phase']} | refused before any write: {entry['refused']} | | | {entry['seconds']:.1f} "
                         "| | | | |")
            continue
        row = [fleet_label(entry), entry["phase"], f"{entry['calls_total']} ({entry['reads']} / {entry['writes']})",
               f"{entry['floor_calls']} ({entry['floor_reads']} / {entry['floor_writes']})",
               f"{entry['safe_floor_calls']} ({entry['safe_floor_ratio']}x)",
               f"{entry['seconds']:.1f}", f"{entry['seconds_per_workload']:.2f}"]
        if "baseline_calls_total" in entry:
            mark = "~" if entry["baseline_extrapolated"] else ""
            footnote = footnote or entry["baseline_extrapolated"]
            row += [f"{mark}{entry['baseline_calls_total']} ({entry['baseline_reads']} / {entry['baseline_writes']})",
                    f"{mark}{entry['baseline_seconds']:.1f}", f"{mark}{entry['speedup']}x"]
        else:
            row += ["n/a", "n/a", "n/a"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(FLOOR_DEFINITION)
    lines.append(SAFE_FLOOR_DEFINITION + " Ratio = our calls / the safe floor.")
    lines.append("Phases: check = `pullaccess.aws.grant --check --diff` on the fresh fleet (the guide has no dry run: n/a); "
                 "check-once = the same with `-e ecr_pull_access_report_per_host=false` (the change reported in one task, "
                 "not per host); "
                 "cold = first grant; converged = the same grant again; revoke = `pullaccess.aws.revoke`. "
                 "AWS CLI = the Lightsail guide's procedure scripted one workload at a time on a fresh copy of the fleet "
                 "(a re-run repeats every command; the same for every statement mode); speedup = AWS CLI seconds / ours.")
    commands = sorted({(entry["services"], entry["phase"], entry["baseline_commands"], entry["baseline_seconds_per_command"])
                       for entry in entries if "baseline_commands" in entry})
    if commands:
        text = ", ".join(f"{size} {phase} {number} commands at {per:.2f} s" for size, phase, number, per in commands)
        lines.append(f"AWS CLI commands run (one `aws` process each) and mean seconds per command: {text}.")
    if footnote:
        samples = sorted({(entry["services"], entry["baseline_measured_services"]) for entry in entries
                          if entry.get("baseline_extrapolated")})
        text = "; ".join(f"{measured} of {total} services" for total, measured in samples)
        lines.append(f"~ extrapolated: the AWS CLI baseline ran for a sample ({text}, ECS workloads in proportion) and was scaled "
                     "per workload kind to the whole fleet (it does one workload at a time, so its cost grows linearly).")
    return "\n".join(lines)


def time_markdown(entries, top=3):
    """Where ours spends its wall-clock time: per-host tasks against module runs, and the longest tasks."""
    split_names = ("start-up and end", "per-host tasks", "module runs", "checks and planning (once)")
    lines = ["Where the time goes (ours; task spans summed over the run, forks in parallel). Per-host tasks run once for every "
             "host (the report of each host's change); module runs are this collection's AWS modules, once for the batch; "
             "checks and planning: the declaration check of every host, the plans and includes, once for the batch:",
             "", "| fleet, shape, mode | phase | seconds | " + " | ".join(split_names) + " | longest tasks |",
             "| --- | --- | ---: |" + " ---: |" * len(split_names) + " --- |"]
    for entry in entries:
        if "refused" in entry:
            continue
        parts = sorted(entry.get("tasks_seconds", {}).items(), key=lambda item: -item[1])[:top]
        text = "; ".join(f"{name.split(' : ', 1)[-1]} {spent:.1f} s" for name, spent in parts)
        split = entry.get("time_split", {})
        lines.append(f"| {fleet_label(entry)} | {entry['phase']} | {entry['seconds']:.1f} | "
                     + " | ".join(f"{split.get(name, 0.0):.1f}" for name in split_names) + f" | {text} |")
    return "\n".join(lines)


def operations_markdown(entries):
    """Calls by (service, operation) for each fleet and phase, ours and the baseline's."""
    blocks = []
    for key in sorted({(entry["mode"], entry["services"]) for entry in entries if "refused" not in entry}):
        rows = [entry for entry in entries if (entry["mode"], entry["services"]) == key and "refused" not in entry]
        columns = [(f"ours {entry['phase']}", entry["operations"]) for entry in rows]
        columns += [(f"{'~' if entry['baseline_extrapolated'] else ''}CLI {entry['phase']}", entry["baseline_operations"])
                    for entry in rows if "baseline_operations" in entry]
        names = sorted({name for _label, ops in columns for name in ops})
        block = [f"Calls by operation, {fleet_label(rows[0])}:", "",
                 "| operation | " + " | ".join(label for label, _ops in columns) + " |",
                 "| --- |" + " ---: |" * len(columns)]
        for name in names:
            block.append(f"| {name} | " + " | ".join(str(ops.get(name, "")) for _label, ops in columns) + " |")
        if any(entry.get("baseline_extrapolated") for entry in rows):
            block += ["", "~ scaled from the sample: the totals hold, but the sample's repositories hold fewer statements, so more "
                          "of its revoke writes are DeleteRepositoryPolicy (last statement gone) than on the whole fleet."]
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


# ----- main ------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10,100,1000", help="Lightsail services per fleet, comma-separated (default 10,100,1000)")
    parser.add_argument("--shape", choices=SHAPES, default="base",
                        help="base: every workload pulls from base + 1 of the others (default); pairs: from 2 of the others")
    parser.add_argument("--modes", default="shared,account",
                        help=f"statement modes to run, comma-separated, of {', '.join(MODES)} (default shared,account)")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench"), help="output directory (default build/bench)")
    parser.add_argument("--repositories", type=int, default=10, help="ECR repositories besides base (default 10)")
    parser.add_argument("--puller-delay", type=float, default=0.5, help="emulated puller activation time, s (default 0.5)")
    parser.add_argument("--poll", type=float, default=0.5, help="baseline: seconds between get-container-services polls (default 0.5)")
    parser.add_argument("--forks", type=int, default=10, help="ANSIBLE_FORKS (default 10)")
    parser.add_argument("--baseline-sample", type=int, default=0,
                        help="run the baseline for only this many services of a larger fleet and extrapolate (default 0: all)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the AWS CLI baseline")
    parser.add_argument("--bench-venv", help="venv with awscli and matplotlib (default <out>/awscli-venv)")
    parser.add_argument("--collections-path", help="default: $ANSIBLE_COLLECTIONS_PATH, else build/collections")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    except ValueError:
        parser.error("--sizes takes comma-separated integers, e.g. 10,100")
    if not args.sizes or min(args.sizes) < 1 or args.repositories < 2:
        parser.error("sizes must be positive and there must be at least 2 repositories")
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes takes comma-separated statement modes of {', '.join(MODES)}")
    args.out = os.path.abspath(args.out)
    args.bench_venv = os.path.abspath(args.bench_venv or os.path.join(args.out, "awscli-venv"))
    args.collections_path = args.collections_path or os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(ROOT, "build", "collections")
    return args


def aws_version(executable):
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False, timeout=120)
    return (result.stdout or result.stderr).split(" ", 1)[0].strip() or "aws-cli ?"


def shown(path):
    """A path as printed: relative to the collection root when inside it."""
    relative = os.path.relpath(path, ROOT)
    return path if relative.startswith("..") else relative


def draw_chart(args, json_path):
    python = os.path.join(args.bench_venv, "bin", "python")
    png = os.path.join(args.out, "results.png")
    if not os.path.exists(python):
        log(f"no bench venv with matplotlib ({shown(args.bench_venv)}): chart skipped")
        return None
    result = subprocess.run([python, os.path.join(HERE, "chart.py"), json_path, png], capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise BenchError(f"chart.py failed: {result.stderr.strip()}")
    return png


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    aws_executable = os.path.join(args.bench_venv, "bin", "aws")
    if not args.no_baseline and not os.path.exists(aws_executable):
        sys.exit(f"bench: no AWS CLI at {aws_executable}; create the bench venv (make bench does) or pass --no-baseline")
    if not os.path.isdir(os.path.join(args.collections_path, "ansible_collections", "pullaccess", "aws")):
        sys.exit(f"bench: pullaccess.aws is not installed in {args.collections_path} (make install)")
    meta = machine()
    meta.update(awscli="no baseline" if args.no_baseline else aws_version(aws_executable), puller_delay=args.puller_delay,
                forks=args.forks, repositories=args.repositories, baseline_sample=args.baseline_sample, shape=args.shape, modes=args.modes)
    log(f"bench: sizes {args.sizes}, shape {args.shape}, modes {args.modes}, puller delay {args.puller_delay} s, ANSIBLE_FORKS={args.forks}, "
        f"nproc {meta['nproc']}, Python {meta['python']}, ansible-core {meta['ansible_core']}, {meta['awscli']}")
    entries = []
    baselines = {}
    began = time.monotonic()
    with Rig.start(os.path.join(args.out, "rig"), puller_delay=args.puller_delay) as rig:
        log(f"rig: moto {rig.moto_url}, lightsail {rig.lightsail_url}")
        for mode in args.modes:
            for size in args.sizes:
                fleet = Fleet(size, args.repositories, shape=args.shape, mode=mode)
                workdir = os.path.join(args.out, f"fleet-{args.shape}-{mode}-{size}")
                os.makedirs(workdir, exist_ok=True)
                inventory = os.path.join(workdir, "inventory.json")
                with open(inventory, "w", encoding="utf-8") as stream:
                    json.dump(fleet.inventory(), stream, indent=1)
                log(f"\n== fleet {fleet.label()} workloads, {len(fleet.repositories)} repositories, shape {args.shape}, "
                    f"statement mode {mode} ({time.monotonic() - began:.0f} s so far)")
                seed(rig, fleet)
                rig.lightsail_config(puller_delay=args.puller_delay)
                ours = run_ours(rig, fleet, Playbooks(rig, workdir, args.forks, args.collections_path), inventory, workdir)
                # The guide's procedure does not depend on our statement mode: run it once per size.
                if not args.no_baseline and size not in baselines:
                    seed(rig, fleet)
                    rig.lightsail_config(puller_delay=args.puller_delay)
                    aws = AwsCli(aws_executable, rig.env(base=os.environ), workdir)
                    baselines[size] = run_baseline(rig, fleet, aws, args.baseline_sample, args.poll)
                entries.extend(scenario_entries(fleet, ours, baselines.get(size)))
    meta["total_seconds"] = round(time.monotonic() - began, 1)
    json_path = os.path.join(args.out, "results.json")
    with open(json_path, "w", encoding="utf-8") as stream:
        json.dump({"machine": meta, "floor_definition": FLOOR_DEFINITION, "safe_floor_definition": SAFE_FLOOR_DEFINITION,
                   "results": entries}, stream, indent=2)
    table = markdown(entries, meta)
    details = time_markdown(entries) + "\n\n" + operations_markdown(entries)
    with open(os.path.join(args.out, "results.md"), "w", encoding="utf-8") as stream:
        stream.write(table + "\n\n" + details + "\n")
    png = draw_chart(args, json_path)
    log("\n" + table + "\n\n" + details + "\n")
    written = [json_path, os.path.join(args.out, "results.md")] + ([png] if png else [])
    log(f"written: {', '.join(shown(path) for path in written)}; {meta['total_seconds']:.0f} s in all")


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"bench: {error}")
