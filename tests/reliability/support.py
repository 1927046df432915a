# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared helpers for the reliability suite: sizes, seeding the account, reading it back and
starting runs that can be killed."""

import collections
import copy
import json
import os
import signal
import time

import ansible_runner

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCOUNT = "123456789012"
REGION = "us-east-1"
# Someone else's statement in a repository we write to: must come through every run unchanged.
FOREIGN = {"Sid": "CiPush", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/ci"},
           "Action": ["ecr:PutImage", "ecr:UploadLayerPart"]}
# A repository nobody declares, with its own policy: must never be written.
UNDECLARED_REPOSITORY = "untouched/tools"
UNDECLARED_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Tools", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/tools"}, "Action": "ecr:BatchGetImage"}]})
# A Lightsail service nobody declares, with an active puller role: must never be updated.
UNDECLARED_SERVICE = "not-in-inventory"
SID_PREFIX = "PullAccess"
ECS_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class Scale:
    """Sizes of the short suite (``make test``) and the long one (``make stress``)."""

    def __init__(self, stress):
        self.stress = stress
        self.writers = 20
        self.rounds = 3 if stress else 1
        # Lightsail services granted under injected faults (plus one ECS workload).
        self.fault_services = 6 if stress else 2
        # Independent fault runs (different seeds).
        self.fault_seeds = (11, 23, 37) if stress else (11,)
        self.fault_rate = 0.36

    def __repr__(self):
        return f"Scale(stress={self.stress}, writers={self.writers}, rounds={self.rounds}, fault_services={self.fault_services})"


def playbook(name):
    """A shipped playbook by path (ansible-runner wants a file)."""
    return os.path.join(REPO_ROOT, "playbooks", f"{name}.yml")


def fault_rules(rate, seed, kinds=("throttle", "server_error", "drop")):
    """Rules that make a share ``rate`` of all requests fail, split evenly over ``kinds``.

    Rules are tried in order and the first that fires answers, so rule k fires with the
    conditional probability that gives each kind ``rate / len(kinds)`` of all requests."""
    share = rate / len(kinds)
    rules = []
    left = 1.0
    for index, kind in enumerate(kinds):
        rules.append({"service": "*", "operation": "*", "kind": kind, "probability": round(share / left, 6), "seed": seed + index})
        left -= share
    return rules


def count_faults(entries):
    """Injected faults in log entries, by (service, fault kind)."""
    return collections.Counter((entry["service"], entry["fault"]) for entry in entries if entry.get("fault"))


def count_operations(entries):
    """Log entries by (service, operation)."""
    return collections.Counter((entry["service"], entry["operation"]) for entry in entries)


def fmt_counts(counter):
    return ", ".join(f"{'/'.join(str(part) for part in key)}={value}" for key, value in sorted(counter.items())) or "none"


# ----- the account ---------------------------------------------------------------------------


def create_repositories(aws, names, foreign_on=("web",)):
    """Create repositories; those in ``foreign_on`` get the foreign statement, and the undeclared
    repository gets its own policy."""
    ecr = aws.client("ecr")
    # ECR refuses principals that do not exist: the foreign and the undeclared statements' roles.
    aws.create_roles(FOREIGN["Principal"]["AWS"], json.loads(UNDECLARED_POLICY)["Statement"][0]["Principal"]["AWS"])
    for name in names:
        ecr.create_repository(repositoryName=name)
        if name in foreign_on:
            ecr.set_repository_policy(repositoryName=name, policyText=json.dumps({"Version": "2008-10-17", "Statement": [FOREIGN]}))
    ecr.create_repository(repositoryName=UNDECLARED_REPOSITORY)
    ecr.set_repository_policy(repositoryName=UNDECLARED_REPOSITORY, policyText=UNDECLARED_POLICY)


def create_services(aws, names, undeclared=True):
    """Create Lightsail container services (and one nobody declares, with its puller active)."""
    lightsail = aws.client("lightsail")
    for name in names:
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    if undeclared:
        lightsail.create_container_service(serviceName=UNDECLARED_SERVICE, power="nano", scale=1)
        wait_steady(aws, [UNDECLARED_SERVICE])
        lightsail.update_container_service(serviceName=UNDECLARED_SERVICE, privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}})
        wait_steady(aws, [UNDECLARED_SERVICE])


def wait_steady(aws, names, timeout=30.0):
    """Wait until the services are READY or RUNNING."""
    lightsail = aws.client("lightsail")
    deadline = time.monotonic() + timeout
    while True:
        states = {s["containerServiceName"]: s["state"] for s in lightsail.get_container_services()["containerServices"]}
        if all(states.get(name) in ("READY", "RUNNING") for name in names):
            return
        assert time.monotonic() < deadline, f"services not steady after {timeout}s: {states}"
        time.sleep(0.1)


def create_execution_role(aws, name):
    aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ECS_TRUST))


def policy_text(aws, repository):
    ecr = aws.client("ecr")
    try:
        return ecr.get_repository_policy(repositoryName=repository)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None


def policy(aws, repository):
    text = policy_text(aws, repository)
    return json.loads(text) if text else None


def our_grants(aws, repository):
    """{Sid: sorted principals} of the role's statements in a repository's policy."""
    document = policy(aws, repository) or {"Statement": []}
    grants = {}
    for statement in document["Statement"]:
        if statement.get("Sid", "").startswith(SID_PREFIX):
            principals = statement["Principal"]["AWS"]
            grants[statement["Sid"]] = sorted([principals] if isinstance(principals, str) else principals)
    return grants


def pullers(aws):
    """{service: (isActive, principalArn)} for every container service."""
    services = aws.client("lightsail").get_container_services()["containerServices"]
    return {s["containerServiceName"]: (s["privateRegistryAccess"]["ecrImagePullerRole"]["isActive"],
                                        s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]) for s in services}


def foreign_snapshot(aws):
    """What no run may change: the undeclared repository's policy text and the undeclared
    service's puller role."""
    return {"undeclared_policy": policy_text(aws, UNDECLARED_REPOSITORY), "undeclared_puller": pullers(aws).get(UNDECLARED_SERVICE)}


def assert_foreign_untouched(aws, snapshot, repositories_with_foreign=("web",)):
    assert foreign_snapshot(aws) == snapshot, "something nobody declared was changed"
    for repository in repositories_with_foreign:
        document = policy(aws, repository)
        assert document is not None and document["Statement"][0] == FOREIGN, f"foreign statement in {repository} changed: {document}"
        assert document["Version"] == "2008-10-17", document


def lightsail_inventory(services, repositories, extra_vars=None):
    """One Lightsail workload per host, all pulling from ``repositories`` (group vars)."""
    variables = {"ecr_pull_access_region": REGION, "ecr_pull_access_statement_mode": "workload", "ecr_pull_access_type": "lightsail",
                 "ecr_pull_access_repositories": list(repositories)}
    variables.update(extra_vars or {})
    return {"all": {"vars": variables, "hosts": {name: {} for name in services}}}


# ----- runs ----------------------------------------------------------------------------------


def start(ansible, playbook_path, inventory, limit=None, verbosity=None, env=None, cancel_callback=None, extravars=None):
    """Start a run like ``Ansible.start`` does, with ansible-runner's own cancellation (as AWX
    cancels a job: SIGKILL to the run's process group) and verbosity available.

    Returns (thread, runner, private_dir) for ``Ansible.finish``."""
    private_dir = ansible._private_dir()  # pylint: disable=protected-access
    kwargs = {}
    if cancel_callback is not None:
        kwargs.update(cancel_callback=cancel_callback, settings={"pexpect_timeout": 0.1})
    if verbosity:
        kwargs["verbosity"] = verbosity
    thread, runner = ansible_runner.run_async(
        private_data_dir=private_dir,
        playbook=playbook_path,
        inventory=ansible._inventory(private_dir, copy.deepcopy(inventory)),  # pylint: disable=protected-access
        extravars=extravars or {},
        envvars=ansible.env(env),
        limit=limit,
        quiet=True,
        suppress_env_files=True,
        **kwargs,
    )
    return thread, runner, private_dir


def play(ansible, playbook_path, inventory, **kwargs):
    return ansible.finish(start(ansible, playbook_path, inventory, **kwargs))


def assert_rerun_writes_nothing(ansible, inventory, aws, what):
    """Run the grant again: it must succeed and make no mutating call (``what`` names the run).
    Returns the run."""
    mark = aws.mark()
    again = play(ansible, playbook("grant"), inventory)
    assert again.rc == 0, again.stdout
    assert aws.requests(since=mark, mutating=True) == [], f"{what} wrote"
    return again


def run_processes(private_dir):
    """Pids of a run's ansible-playbook and its forked task workers (their command line names the
    run's inventory, which lives in the run's private data directory)."""
    marker = os.path.join(private_dir, "inventory", "hosts.json").encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def cancel(ansible, job, kill):
    """Cancel a run started with ``cancel_callback=kill.is_set`` and make sure none of it goes on.

    ansible-runner cancels as AWX does: SIGKILL to ansible-playbook's process group. ansible-core
    2.21 (WORKER_SESSION_ISOLATION) runs each task's worker in a session of its own, so that
    worker and its module outlive the cancel and would go on calling AWS (polling, writing,
    reading back). They are killed too (each worker's process group: the worker and its module),
    as when the job's container goes away. Returns (the run, how many processes outlived the
    cancel)."""
    kill.set()
    run = ansible.finish(job)
    own_group = os.getpgid(0)
    survivors = run_processes(job[2])
    for pid in survivors:
        try:
            group = os.getpgid(pid)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in survivors):
        assert time.monotonic() < deadline, f"processes of the cancelled run still alive: {survivors}"
        time.sleep(0.05)
    return run, len(survivors)


def _alive(pid):
    """Whether a process still runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until_log_is_quiet(aws, quiet=1.0, timeout=60.0):
    """Wait until the rig's request log has stopped growing (no new entry for ``quiet`` seconds),
    e.g. so that the calls a killed run had on the wire have landed; returns the last seq. Fails
    if it is still growing after ``timeout`` seconds (something is still calling AWS)."""
    deadline = time.monotonic() + timeout
    last, changed_at = aws.mark(), time.monotonic()
    while True:
        time.sleep(0.1)
        seq = aws.mark()
        if seq != last:
            last, changed_at = seq, time.monotonic()
        elif time.monotonic() - changed_at >= quiet:
            return last
        assert time.monotonic() < deadline, f"the request log was still growing after {timeout:g} s (a killed run still calling AWS?)"


def wait_for_requests(aws, since, job, operation, count, timeout=300.0):
    """Wait until the rig has logged ``count`` requests of ``operation`` since ``since`` or the job
    (``start``'s return) has ended; returns how many there are."""
    deadline = time.monotonic() + timeout
    while True:
        found = len(aws.requests(since=since, operation=operation))
        if found >= count or not job[0].is_alive():
            return found
        assert time.monotonic() < deadline, f"only {found} {operation} requests after {timeout:g} s"
        time.sleep(0.1)


def failure_text(run):
    """Everything a user sees of a failed run: stdout plus the failed tasks' messages."""
    return run.stdout + "\n" + "\n".join(r.msg for r in run.results if r.failed)
