# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fleets that share a repository: the role's statement modes (shared, account, workload), the
moves between them, the size limit, and the per-host report of whose access changed."""

import json
import os
import re

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRANT = os.path.join(REPO_ROOT, "playbooks", "grant.yml")
REVOKE = os.path.join(REPO_ROOT, "playbooks", "revoke.yml")
ACCOUNT = "123456789012"
FOREIGN = {"Sid": "CiPush", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/ci"},
           "Action": ["ecr:PutImage", "ecr:UploadLayerPart"]}
SHARED = "PullAccessLightsailShared"
ACCOUNT_SID = "PullAccessLightsailAccount"
REPORT = "Report this workload's pull access"


def services(count):
    return [f"svc{i:03d}" for i in range(count)]


def inventory(names, mode=None, extra_vars=None):
    variables = {"ecr_pull_access_region": "us-east-1", "ecr_pull_access_type": "lightsail", "ecr_pull_access_repositories": ["base"],
                 "ecr_pull_access_verify_delay": 0.2}
    if mode:
        variables["ecr_pull_access_statement_mode"] = mode
    variables.update(extra_vars or {})
    return {"all": {"vars": variables, "hosts": {name: {} for name in names}}}


def fleet(aws, count):
    aws.create_roles(FOREIGN["Principal"]["AWS"])  # ECR refuses a principal that does not exist
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="base")
    ecr.set_repository_policy(repositoryName="base", policyText=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
    lightsail = aws.client("lightsail")
    for name in services(count):
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    aws.lightsail_config(puller_delay=0.05)


def policy(aws):
    ecr = aws.client("ecr")
    try:
        return json.loads(ecr.get_repository_policy(repositoryName="base")["policyText"])
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None


def statements(aws):
    """{Sid: statement} of the repository's policy; the foreign statement must be there unchanged."""
    document = policy(aws)
    assert document is not None and FOREIGN in document["Statement"], document
    return {s.get("Sid"): s for s in document["Statement"] if s is not FOREIGN and s != FOREIGN}


def puller_arns(aws, active=True):
    return {s["containerServiceName"]: s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
            for s in aws.client("lightsail").get_container_services()["containerServices"]
            if s["privateRegistryAccess"]["ecrImagePullerRole"]["isActive"] == active}


def shared_principals(aws):
    found = statements(aws).get(SHARED)
    if not found:
        return set()
    principals = found["Principal"]["AWS"]
    return set([principals] if isinstance(principals, str) else principals)


def writes(aws, mark):
    return [r["operation"] for r in aws.requests(since=mark, mutating=True, service="ecr")]


def changed_hosts(run):
    return sorted(r.host for r in run.results if r.name == REPORT and r.changed)


def test_shared_mode_is_the_default_for_a_fleet_on_one_repository(ansible, aws):
    """60 services on one repository: one shared statement, one write; revoking half keeps the
    other half; re-runs write nothing; the foreign statement survives every step."""
    fleet(aws, 60)
    names = services(60)
    mark = aws.mark()
    run = ansible.play(GRANT, inventory=inventory(names))
    assert run.rc == 0, run.stdout
    assert writes(aws, mark) == ["SetRepositoryPolicy"]
    arns = puller_arns(aws)
    assert set(statements(aws)) == {SHARED} and shared_principals(aws) == set(arns.values())
    assert changed_hosts(run) == names

    mark = aws.mark()
    again = ansible.play(GRANT, inventory=inventory(names))
    assert again.rc == 0 and aws.requests(since=mark, mutating=True) == [] and changed_hosts(again) == []

    half = names[:30]
    mark = aws.mark()
    revoke = ansible.play(REVOKE, inventory=inventory(half))
    assert revoke.rc == 0, revoke.stdout
    assert writes(aws, mark) == ["SetRepositoryPolicy"]
    assert shared_principals(aws) == {arns[name] for name in names[30:]}
    assert set(puller_arns(aws)) == set(names[30:])
    assert changed_hosts(revoke) == half

    mark = aws.mark()
    again = ansible.play(REVOKE, inventory=inventory(half))
    assert again.rc == 0 and aws.requests(since=mark, mutating=True) == []


def test_over_the_size_limit_fails_before_any_write_and_the_account_mode_fits(ansible, aws):
    fleet(aws, 150)
    names = services(150)
    before = policy(aws)
    mark = aws.mark()
    run = ansible.play(GRANT, inventory=inventory(names, "shared"))
    assert run.rc != 0
    assert aws.requests(since=mark, mutating=True) == [], "something was written"
    assert policy(aws) == before
    failed = [r for r in run.results if r.failed]
    message = " ".join(r.msg for r in failed)
    assert "10240-character limit" in message and "repository 'base'" in message, message
    assert "150 workloads for repository base" in message and "ecr_pull_access_statement_mode" in message, message
    assert "private-repo-access" not in run.stdout, "the failure output dumps the batch of statements"

    mark = aws.mark()
    run = ansible.play(GRANT, inventory=inventory(names, "account"))
    assert run.rc == 0, run.stdout
    assert writes(aws, mark) == ["SetRepositoryPolicy"]
    statement = statements(aws)[ACCOUNT_SID]
    assert statement["Condition"] == {
        "StringEquals": {"aws:PrincipalAccount": ACCOUNT},
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/us-east-1/containers/*/private-repo-access/*"}}
    assert len(puller_arns(aws)) == 150
    assert len(json.dumps(policy(aws))) < 1000

    # A revoke of part of the fleet deactivates those puller roles and keeps the statement.
    mark = aws.mark()
    revoke = ansible.play(REVOKE, inventory=inventory(names[:10], "account"))
    assert revoke.rc == 0, revoke.stdout
    assert writes(aws, mark) == [] and ACCOUNT_SID in statements(aws)
    assert len(puller_arns(aws)) == 140


def test_moving_between_modes_on_a_live_fleet(ansible, aws):
    """workload -> shared -> account -> shared: each move leaves exactly the new mode's statements."""
    fleet(aws, 4)
    names = services(4)
    run = ansible.play(GRANT, inventory=inventory(names, "workload"))
    assert run.rc == 0, run.stdout
    arns = puller_arns(aws)
    found = statements(aws)
    assert len(found) == 4 and all(sid.startswith("PullAccessLightsailSvc") for sid in found)
    assert sorted(p for s in found.values() for p in s["Principal"]["AWS"]) == sorted(arns.values())

    for mode, expected in (("shared", {SHARED}), ("account", {ACCOUNT_SID}), ("shared", {SHARED})):
        mark = aws.mark()
        run = ansible.play(GRANT, inventory=inventory(names, mode))
        assert run.rc == 0, run.stdout
        assert writes(aws, mark) == ["SetRepositoryPolicy"], mode
        assert set(statements(aws)) == expected, (mode, statements(aws))
        if mode == "shared":
            assert shared_principals(aws) == set(arns.values())
        assert puller_arns(aws) == arns, "a move between modes must not touch the puller roles"
        mark = aws.mark()
        again = ansible.play(GRANT, inventory=inventory(names, mode))
        assert again.rc == 0 and aws.requests(since=mark, mutating=True) == [], mode


def test_account_mode_dry_run_shows_the_policy_before_any_puller_is_active(ansible, aws):
    fleet(aws, 3)
    names = services(3)
    mark = aws.mark()
    dry = ansible.play(GRANT, inventory=inventory(names, "account", {"ecr_pull_access_service_pattern": "svc*"}), check=True, diff=True)
    assert dry.rc == 0, dry.stdout
    assert aws.requests(since=mark, mutating=True) == []
    predicted = dry.task("Write each repository's policy once for all workloads of the play")["results"][0]["policies"][0]["policy"]
    assert changed_hosts(dry) == names

    run = ansible.play(GRANT, inventory=inventory(names, "account", {"ecr_pull_access_service_pattern": "svc*"}))
    assert run.rc == 0, run.stdout
    (sid,) = statements(aws)
    assert sid.startswith(ACCOUNT_SID) and sid != ACCOUNT_SID
    expected = next(s for s in predicted["Statement"] if s.get("Sid") == sid)
    stored = statements(aws)[sid]
    assert stored["Condition"] == expected["Condition"] and stored["Action"] == expected["Action"]
    assert stored["Condition"]["ArnLike"]["aws:PrincipalArn"].endswith("/containers/svc*/private-repo-access/*")


def recap_changed(run):
    """The hosts the play recap counts as changed."""
    return sorted(match.group(1) for match in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=([1-9]\d*)", run.stdout, re.MULTILINE))


ONCE = "Report the workloads whose pull access changed, once for the batch"


def test_report_once_names_the_changed_workloads_in_one_task(ansible, aws):
    """ecr_pull_access_report_per_host false: no host reports on its own; one task on the first host
    names every workload whose access changed (or would, in a dry run), and a converged run none."""
    fleet(aws, 5)
    names = services(5)
    once = inventory(names, extra_vars={"ecr_pull_access_report_per_host": False})
    mark = aws.mark()
    dry = ansible.play(GRANT, inventory=once, check=True, diff=True)
    assert dry.rc == 0, dry.stdout
    assert aws.requests(since=mark, mutating=True) == []
    assert changed_hosts(dry) == [] and recap_changed(dry) == [names[0]]
    assert dry.task(ONCE).changed and dry.task(ONCE).msg == f"Pull access would change for 5 workloads: {', '.join(names)}"

    run = ansible.play(GRANT, inventory=once)
    assert run.rc == 0, run.stdout
    assert changed_hosts(run) == [] and recap_changed(run) == [names[0]]
    assert run.task(ONCE).msg == f"Pull access changed for 5 workloads: {', '.join(names)}"
    assert shared_principals(aws) == set(puller_arns(aws).values())

    again = ansible.play(GRANT, inventory=once)
    assert again.rc == 0 and recap_changed(again) == [] and not again.task(ONCE).changed
    assert again.task(ONCE).msg == "No workload's pull access changed"

    one = ansible.play(REVOKE, inventory=inventory(names[4:], extra_vars={"ecr_pull_access_report_per_host": False}))
    assert one.rc == 0 and one.task(ONCE).msg == f"Pull access changed for 1 workload: {names[4]}", one.stdout

    # By default each changed host reports, and the once-for-the-batch task is skipped.
    revoke = ansible.play(REVOKE, inventory=inventory(names[:2]))
    assert revoke.rc == 0, revoke.stdout
    assert changed_hosts(revoke) == names[:2] == recap_changed(revoke)
    assert revoke.task(ONCE).status == "skipped"


def test_report_per_host_must_be_the_same_for_every_host(ansible, aws):
    fleet(aws, 3)
    names = services(3)
    mixed = inventory(names)
    mixed["all"]["hosts"][names[1]] = {"ecr_pull_access_report_per_host": False}
    mark = aws.mark()
    run = ansible.play(GRANT, inventory=mixed)
    assert run.rc != 0
    assert aws.requests(since=mark) == [], "the declaration check comes before any AWS call"
    message = run.task("Check every workload's declaration").msg
    assert "ecr_pull_access_report_per_host is true for 2 of the 3 hosts (for example svc000) and false for the others: " \
        "set it the same for every host of the play" in message, message
