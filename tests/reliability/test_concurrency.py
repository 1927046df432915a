# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Many writers at once: parallel ansible-runner jobs (AWX job slices of one inventory) granting
and revoking different workloads' statements on the same repositories, round after round."""

import json
import re
import time

import pytest

from reliability.support import (
    assert_foreign_untouched,
    count_operations,
    create_repositories,
    create_services,
    fmt_counts,
    foreign_snapshot,
    lightsail_inventory,
    our_grants,
    play,
    playbook,
    pullers,
    start,
)

REPOSITORIES = ("web", "shared/base")
SERVICE_IN_ARN = re.compile(r"/containers/([^/]+)/")


def returned_policies(value, repository):
    """The policies a job's returned values report for ``repository`` (the module's read-back)."""
    found = []
    if isinstance(value, dict):
        if value.get("repository") == repository and "policy" in value:
            found.append(value["policy"])
        for item in value.values():
            found.extend(returned_policies(item, repository))
    elif isinstance(value, list):
        for item in value:
            found.extend(returned_policies(item, repository))
    return found


def what_the_job_saw(jobs_by_name, name, repository):
    """For a failure message: did the workload's own job read its change back as done?"""
    run = jobs_by_name.get(name)
    if run is None:
        return f"{name}: no job this round"
    seen = returned_policies([result.res for result in run.results], repository)
    if not seen:
        return f"{name}: rc={run.rc}, its job returned no policy for {repository} (its statement was never written)"
    has = [f"/containers/{name}/" in json.dumps(document) for document in seen]
    return f"{name}: rc={run.rc}, its job read back its own statement {'present' if has[-1] else 'absent'} in {repository}"


def check_round(aws, granted, revoked, snapshot, jobs_by_name=None):
    """Every granted workload has its statement (with its current puller ARN) in every
    repository, no revoked one has, and nothing foreign changed."""
    roles = pullers(aws)
    for name in granted:
        assert roles[name][0] and roles[name][1], f"{name}: puller role not active: {roles[name]}"
    for name in revoked:
        assert roles[name] == (False, ""), f"{name}: puller role still active: {roles[name]}"
    for repository in REPOSITORIES:
        present = {}
        for principals in our_grants(aws, repository).values():
            for arn in principals:
                present.setdefault(SERVICE_IN_ARN.search(arn).group(1), []).append(arn)
        lost = sorted(name for name in granted if present.get(name) != [roles[name][1]])
        stale = sorted(name for name in present if name not in granted)
        assert not lost and not stale, (f"{repository}: statements lost (granted, not there with the current puller ARN): {lost}; "
                                        f"stale (revoked, still there): {stale}; "
                                        + "; ".join(what_the_job_saw(jobs_by_name or {}, name, repository) for name in lost + stale))
    assert_foreign_untouched(aws, snapshot)


@pytest.mark.parametrize("mode", ["workload", "shared"])
def test_concurrent_writers_grant_and_revoke(ansible, aws, scale, mode):
    """In the workload mode each job adds or removes its own statement; in the shared mode all
    jobs add and remove principals of the same statement."""
    services = [f"writer{i:02d}" for i in range(scale.writers)]
    create_repositories(aws, REPOSITORIES)
    create_services(aws, services)
    aws.lightsail_config(puller_delay=0.3)
    snapshot = foreign_snapshot(aws)
    inventory = lightsail_inventory(services, REPOSITORIES, {"ecr_pull_access_statement_mode": mode})
    evens, odds = services[0::2], services[1::2]

    # Start from half granted, so that each round has as many removals as additions.
    setup = play(ansible, playbook("grant"), inventory, limit=",".join(odds))
    assert setup.rc == 0, setup.stdout
    check_round(aws, odds, evens, snapshot)

    totals = {"runs": 0, "policy_writes": 0, "rewrites": 0}
    granted = odds
    for round_number in range(1, scale.rounds + 1):
        granting, revoking = (evens, odds) if round_number % 2 else (odds, evens)
        mark = aws.mark()
        began = time.monotonic()
        jobs = [start(ansible, playbook("grant"), inventory, limit=name) for name in granting]
        jobs += [start(ansible, playbook("revoke"), inventory, limit=name) for name in revoking]
        runs = [ansible.finish(job) for job in jobs]
        elapsed = time.monotonic() - began
        log = aws.requests(since=mark)
        operations = count_operations(r for r in log if r["mutating"])
        writes = operations[("ecr", "SetRepositoryPolicy")] + operations[("ecr", "DeleteRepositoryPolicy")]
        # Each job writes each repository once; more writes are re-writes after another job
        # replaced the policy between this job's write and its read-back.
        rewrites = writes - len(runs) * len(REPOSITORIES)
        totals["runs"] += len(runs)
        totals["policy_writes"] += writes
        totals["rewrites"] += rewrites
        print(f"\nconcurrency round {round_number}/{scale.rounds}: {len(granting)} grant + {len(revoking)} revoke jobs at once "
              f"on {len(REPOSITORIES)} repositories in {elapsed:.1f}s; requests {len(log)}; writes: {fmt_counts(operations)}; "
              f"re-writes after a concurrent overwrite: {rewrites}")
        failed = [run for run in runs if run.rc != 0]
        assert not failed, f"{len(failed)} jobs failed:\n" + "\n\n".join(r.msg for run in failed for r in run.results if r.failed)
        check_round(aws, granting, revoking, snapshot, dict(zip(granting + revoking, runs)))
        granted = granting
        print(f"round {round_number} checked: {len(granting)} statements per repository (+1 foreign on web), none lost, none stale")

    # Converged: granting the granted ones again changes nothing (short and long suite alike).
    mark = aws.mark()
    again = play(ansible, playbook("grant"), inventory, limit=",".join(granted))
    assert again.rc == 0, again.stdout
    assert aws.requests(since=mark, mutating=True) == [], "a re-run after the rounds wrote"
    assert again.changed_tasks == [], again.changed_tasks
    print(f"concurrency total: {totals['runs']} jobs, {totals['policy_writes']} policy writes, "
          f"{totals['rewrites']} of them re-writes after a concurrent overwrite; nothing lost, nothing foreign touched")
