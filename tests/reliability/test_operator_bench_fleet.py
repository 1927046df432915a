# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The generated operator policy at the bench's size, under the rig's IAM enforcement: for the
bench fleet (1,000 Lightsail services and 100 ECS workloads sharing `base` plus one of 10 other
repositories, in the account statement mode; built and seeded by tests/bench/run_bench.py), a dry
run, a grant, a re-run and a revoke pass as an IAM user with only the policy the generator writes
for that inventory. The permission check runs (the user can be simulated) and finds nothing missing.

Several minutes long: `make operator-bench-fleet` runs it (in `make test`'s checks lane);
`make reliability` leaves it out."""

import json
import os
import sys
import time

from reliability.support import REPO_ROOT
from reliability.test_operator_generated import MANAGED_POLICY_LIMIT, generate, run_as_operator

sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "bench"))
from run_bench import Fleet, seed, snapshot, verify  # noqa: E402  pylint: disable=wrong-import-position,import-error

SERVICES = 1000
REPOSITORIES = 10
# As `make bench` runs it (ANSIBLE_FORKS=10).
FORKS = "10"


def test_generated_policy_is_enough_for_the_bench_fleet(ansible, aws, tmp_path):
    """Dry run, grant, re-run (no write) and revoke of the bench fleet with only the generated
    policy: nothing refused, the permission check simulated the user before the dry run and the
    grant and found nothing missing, the state right after the grant and the revoke, every call one
    the policy names, every document within IAM's managed-policy limit."""
    fleet = Fleet(SERVICES, REPOSITORIES, shape="base", mode="account")
    seed(aws, fleet)
    aws.lightsail_config(puller_delay=0.2)
    inventory = fleet.inventory()
    inventory["all"]["vars"]["ecr_pull_access_verify_delay"] = 0.2
    # One ARN per container service needs more managed policies than IAM attaches to one principal
    # (10 by default): the generator says so and how to narrow; with the Region scope it fits.
    (tmp_path / "exact").mkdir()
    exact, dummy, too_many = generate(ansible, aws, inventory, tmp_path / "exact", env={"ANSIBLE_FORKS": FORKS})
    assert exact.rc == 0 and len(too_many) > 10 and "pullaccess_operator_policy_lightsail_scope=region" in exact.stdout, exact.stdout[-4000:]
    began = time.monotonic()
    mark = aws.mark()
    run, dummy, documents = generate(ansible, aws, inventory, tmp_path, env={"ANSIBLE_FORKS": FORKS},
                                     extravars={"pullaccess_operator_policy_lightsail_scope": "region"})
    seconds = {"generate": time.monotonic() - began}
    assert run.rc == 0, run.stdout[-4000:]
    assert aws.requests(since=mark, mutating=True) == [], "the generator changed something"
    sizes = {name: len(json.dumps(document, separators=(",", ":"))) for name, document in documents.items()}
    assert sizes and all(size <= MANAGED_POLICY_LIMIT for size in sizes.values()), sizes
    assert len(documents) <= 10 and "lightsail_scope" not in run.stdout, sorted(documents)

    def verify_state(phase):
        problems = verify(fleet, snapshot(aws, fleet), granted=phase == "grant")
        assert not problems, f"{phase}: " + "\n".join(problems[:20])

    seconds.update(run_as_operator(ansible, aws, inventory, documents, env={"ANSIBLE_FORKS": FORKS}, verify_state=verify_state))
    print(f"\ngenerated operator policy for the bench fleet ({fleet.label()}, account mode): {len(documents)} documents "
          f"({', '.join(f'{name} {size}' for name, size in sorted(sizes.items()))} characters); seconds: "
          + ", ".join(f"{name} {spent:.1f}" for name, spent in seconds.items()))
