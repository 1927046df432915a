# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ecr_pull_access role inside a user's own playbook over real (SSH) hosts: the hosts point at
a closed port on 127.0.0.1 and at a Python that does not exist, so any attempt to reach one fails
loudly. The role's AWS calls must run on the controller; serial, --limit, tags and strategy free
must give the grants they promise."""

import collections
import json

import pytest

SERVICES = [f"app{i}" for i in range(6)]
FOREIGN = {"Sid": "CiPush", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/ci"},
           "Action": ["ecr:PutImage", "ecr:UploadLayerPart"]}


def inventory(services=SERVICES, verify_delay=0.2):
    """App servers reached over SSH (a closed port), whose host vars also declare their Lightsail workload."""
    return {"all": {
        "vars": {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_verify_delay": verify_delay},
        "children": {"app": {
            "vars": {
                "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_ssh_timeout": 2,
                "ansible_python_interpreter": "/nonexistent/python3",
                "ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["web", "base"],
            },
            "hosts": {name: {} for name in services},
        }},
    }}


def play(role_tasks=None, roles=None, extra=None, pre_tasks=None):
    """A user's deploy play: no facts (the role needs none), the role in it one way or another."""
    body = {"hosts": "app", "gather_facts": False}
    if roles is not None:
        body["roles"] = roles
    body["tasks"] = (pre_tasks or []) + (role_tasks or [])
    body.update(extra or {})
    return [body]


IMPORT = [{"name": "Pull access", "ansible.builtin.import_role": {"name": "pullaccess.aws.ecr_pull_access"}}]
INCLUDE = [{"name": "Pull access", "ansible.builtin.include_role": {"name": "pullaccess.aws.ecr_pull_access"}}]
ROLES = ["pullaccess.aws.ecr_pull_access"]
# A task of the user's own that needs the host: it fails on these unreachable hosts.
DEPLOY = [{"name": "Deploy the app", "ansible.builtin.command": "true", "tags": ["deploy"]}]


@pytest.fixture
def fleet(aws):
    ecr = aws.client("ecr")
    for name in ("web", "base"):
        ecr.create_repository(repositoryName=name)
    aws.create_roles(FOREIGN["Principal"]["AWS"])  # ECR refuses principals that do not exist
    ecr.set_repository_policy(repositoryName="web", policyText=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
    lightsail = aws.client("lightsail")
    for name in SERVICES:
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    aws.lightsail_config(puller_delay=0.2)
    return aws


def granted(aws, repository):
    """Service name -> principal of each statement the role wrote, by the puller ARNs Lightsail has."""
    owners = {s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]: s["containerServiceName"]
              for s in aws.client("lightsail").get_container_services()["containerServices"]}
    ecr = aws.client("ecr")
    try:
        document = json.loads(ecr.get_repository_policy(repositoryName=repository)["policyText"])
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return set(), []
    ours = {owners.get(p, p) for s in document["Statement"] if s.get("Sid", "").startswith("PullAccess") for p in s["Principal"]["AWS"]}
    foreign = [s for s in document["Statement"] if not s.get("Sid", "").startswith("PullAccess")]
    return ours, foreign


def assert_granted(aws, names):
    for repository in ("web", "base"):
        ours, foreign = granted(aws, repository)
        assert ours == set(names), (repository, ours)
        if repository == "web":
            assert foreign == [FOREIGN]


def policy_writes(aws, mark):
    return collections.Counter(r["operation"] for r in aws.requests(since=mark, mutating=True, service="ecr"))


@pytest.mark.parametrize("how", ["roles", "import_role", "include_role"])
def test_role_in_a_play_over_ssh_hosts(ansible, fleet, how):
    """Grant and revoke from a user's play over SSH hosts: nothing connects to a host."""
    aws = fleet
    way = {"roles": dict(roles=ROLES), "import_role": dict(role_tasks=IMPORT), "include_role": dict(role_tasks=INCLUDE)}[how]
    mark = aws.mark()
    run = ansible.play(play(**way), inventory=inventory())
    assert run.rc == 0, run.stdout
    assert "UNREACHABLE" not in run.stdout
    assert_granted(aws, SERVICES)
    assert policy_writes(aws, mark) == {"SetRepositoryPolicy": 2}

    again = ansible.play(play(**way), inventory=inventory(), extravars={"ecr_pull_access_state": "absent"})
    assert again.rc == 0, again.stdout
    assert_granted(aws, [])
    assert not any(s["privateRegistryAccess"]["ecrImagePullerRole"]["isActive"]
                   for s in aws.client("lightsail").get_container_services()["containerServices"])


def test_serial_batches_write_their_own_hosts(ansible, fleet):
    """serial: 2 over 6 hosts: the same final policies as one batch, at most one write per
    repository per batch, and each batch's writes name only its own hosts."""
    aws = fleet
    mark = aws.mark()
    run = ansible.play(play(role_tasks=IMPORT, extra={"serial": 2}), inventory=inventory())
    assert run.rc == 0, run.stdout
    assert_granted(aws, SERVICES)
    assert policy_writes(aws, mark) == {"SetRepositoryPolicy": 6}  # 2 repositories x 3 batches


def test_limit_changes_only_the_limited_host(ansible, fleet):
    aws = fleet
    first = ansible.play(play(role_tasks=IMPORT), inventory=inventory(), limit="app0,app1")
    assert first.rc == 0, first.stdout
    assert_granted(aws, ["app0", "app1"])
    mark = aws.mark()
    run = ansible.play(play(role_tasks=IMPORT), inventory=inventory(), limit="app2")
    assert run.rc == 0, run.stdout
    assert_granted(aws, ["app0", "app1", "app2"])
    assert [r["operation"] for r in aws.requests(since=mark, mutating=True, service="lightsail")] == ["UpdateContainerService"]
    revoke = ansible.play(play(role_tasks=IMPORT), inventory=inventory(), limit="app1", extravars={"ecr_pull_access_state": "absent"})
    assert revoke.rc == 0, revoke.stdout
    assert_granted(aws, ["app0", "app2"])


def test_tags_run_or_skip_the_role(ansible, fleet):
    """--tags ecr_pull_access runs the role alone (the deploy task would fail on these hosts);
    --skip-tags ecr_pull_access leaves AWS alone."""
    aws = fleet
    mark = aws.mark()
    skipped = ansible.play(play(role_tasks=IMPORT, pre_tasks=DEPLOY), inventory=inventory(), skip_tags="ecr_pull_access,deploy")
    assert skipped.rc == 0, skipped.stdout
    assert aws.requests(since=mark) == []
    run = ansible.play(play(role_tasks=IMPORT, pre_tasks=DEPLOY), inventory=inventory(), tags="ecr_pull_access")
    assert run.rc == 0, run.stdout
    assert all(r.name != "Deploy the app" for r in run.results)
    assert_granted(aws, SERVICES)


DECLARATIONS = "Check every workload's declaration"


def collected(run):
    """Host -> the workloads (by host) its run of the role's AWS work took."""
    return {r.host: sorted(w["host"] for w in r["workloads"]) for r in run.results if r.name == DECLARATIONS}


def test_linear_works_once_for_the_batch(ansible, fleet):
    run = ansible.play(play(role_tasks=IMPORT), inventory=inventory())
    assert run.rc == 0, run.stdout
    assert collected(run) == {"app0": SERVICES}
    assert {r.host for r in run.results if r.name == "Report this workload's pull access" and r.changed} == set(SERVICES)


def test_strategy_free_gives_the_same_grants(ansible, fleet):
    """Under strategy free Ansible runs run_once tasks for every host, each host's results overwriting
    the others': each host must work for its own workload alone, the hosts writing side by side."""
    aws = fleet
    free = play(role_tasks=IMPORT, extra={"strategy": "free"})
    run = ansible.play(free, inventory=inventory(verify_delay=1.0))
    assert run.rc == 0, run.stdout
    assert collected(run) == {name: [name] for name in SERVICES}
    assert {r.host for r in run.results if r.name == "Report this workload's pull access" and r.changed} == set(SERVICES)
    assert_granted(aws, SERVICES)
    mark = aws.mark()
    again = ansible.play(free, inventory=inventory(verify_delay=1.0))
    assert again.rc == 0, again.stdout
    assert aws.requests(since=mark, mutating=True) == []
    assert not [r for r in again.results if r.name == "Report this workload's pull access" and r.changed]
    revoke = ansible.play(free, inventory=inventory(verify_delay=1.0), extravars={"ecr_pull_access_state": "absent"})
    assert revoke.rc == 0, revoke.stdout
    assert collected(revoke) == {name: [name] for name in SERVICES}
    assert_granted(aws, [])


def test_declarations_are_read_as_each_host_sees_them(ansible, fleet):
    """The declaration check runs once for the batch, yet takes each host's variables as a task of
    the role on that host sees them: include_role vars override the inventory for every host."""
    aws = fleet
    assert ansible.play(play(role_tasks=INCLUDE), inventory=inventory()).rc == 0
    assert_granted(aws, SERVICES)
    revoke = [{"name": "Pull access", "ansible.builtin.include_role": {"name": "pullaccess.aws.ecr_pull_access"},
               "vars": {"ecr_pull_access_state": "absent"}}]
    run = ansible.play(play(role_tasks=revoke), inventory=inventory())
    assert run.rc == 0, run.stdout
    assert_granted(aws, [])


def test_every_bad_declaration_is_named_at_once(ansible, fleet):
    aws = fleet
    hosts = inventory()
    app = hosts["all"]["children"]["app"]["hosts"]
    app["app1"] = {"ecr_pull_access_state": "gone"}
    app["app4"] = {"ecr_pull_access_exclusve": True}
    mark = aws.mark()
    # rolespec_validate: false leaves the argument spec to the role's own check (ansible-core's would fail app1 alone).
    unvalidated = [{"name": "Pull access", "ansible.builtin.import_role": {"name": "pullaccess.aws.ecr_pull_access", "rolespec_validate": False}}]
    run = ansible.play(play(role_tasks=unvalidated), inventory=hosts)
    assert run.rc != 0
    check = run.task("Check every workload's declaration")
    assert check.failed and "2 of 6 hosts" in check.msg, check
    assert "host app1: value of ecr_pull_access_state must be one of: present, absent, got: gone" in check.msg, check
    assert "host app4: unknown variables ecr_pull_access_exclusve" in check.msg, check
    assert aws.requests(since=mark) == []
