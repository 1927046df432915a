# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ecr_pull_access_remove_undeclared over the pullaccess.aws.workloads inventory against the rig: the
grants of a deleted Lightsail service (shown by ECR as an IAM unique id) and of a service the
inventory no longer lists go, in one write, and nothing else; without the option they stay; a
limited run refuses; a dry run shows the removal without a mutating call."""

import json
import os

import pytest

from integration.conftest import dump
from integration.conftest import lightsail_services as services
from integration.conftest import repository_policy as policy
from integration.conftest import wait_until

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRANT = os.path.join(REPO_ROOT, "playbooks", "grant.yml")
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
SHARED_SID = "PullAccessLightsailShared"
FOREIGN = {"Sid": "TheirCI", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": ["ecr:BatchGetImage"]}
REMOVE = {"ecr_pull_access_remove_undeclared": True}
WRITE_TASK = "Write each repository's policy once for all workloads of the play"


def by_sid(document):
    return {s["Sid"]: s for s in document["Statement"]}


def principals(statement):
    value = statement["Principal"]["AWS"]
    return sorted([value] if isinstance(value, str) else value)


def inventory(tmp_path):
    # gone keeps a statement of its own (workload mode): nothing but the cleanup touches it once it is deleted.
    doc = {"plugin": "pullaccess.aws.workloads", "regions": ["us-east-1"], "ecs_clusters": [],
           "compose": {"ecr_pull_access_verify_delay": "0.2", "ecr_pull_access_check_permissions": "false",
                       "ecr_pull_access_statement_mode": "'workload' if ecr_pull_access_service_name == 'gone' else 'shared'"}}
    path = tmp_path / "fleet.workloads.aws.yml"
    path.write_text(json.dumps(doc))
    return str(path)


def test_remove_undeclared_takes_away_only_the_grants_of_workloads_gone_from_the_inventory(ansible, aws, tmp_path):
    ecr = aws.client("ecr")
    for name in ("app", "blog"):
        ecr.create_repository(repositoryName=name)
    ecr.set_repository_policy(repositoryName="app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
    aws.lightsail_config(puller_delay=0.2, deploy_delay=0.2)
    lightsail = aws.client("lightsail")
    for name, images in {"shop": ["app"], "blog": ["blog", "app"], "gone": ["app"], "quiet": ["app"]}.items():
        containers = {f"c{i}": {"image": f"{REGISTRY}/{repository}:1"} for i, repository in enumerate(images)}
        lightsail.create_container_service(serviceName=name, power="nano", scale=1, deployment={"containers": containers})
    source = inventory(tmp_path)

    # 1. The fleet as discovered.
    run = ansible.play(GRANT, inventory=source)
    assert run.rc == 0, run.stdout
    pullers = {n: s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"] for n, s in services(aws).items()}
    granted = by_sid(policy(aws, "app"))
    (gone_sid,) = [sid for sid in granted if sid.startswith("PullAccessLightsailGone")]
    assert principals(granted[SHARED_SID]) == sorted(pullers[n] for n in ("shop", "blog", "quiet"))
    assert principals(granted[gone_sid]) == [pullers["gone"]] and granted["TheirCI"] == FOREIGN
    blog_policy = policy(aws, "blog")
    assert principals(by_sid(blog_policy)[SHARED_SID]) == [pullers["blog"]]

    # 2. gone is deleted (ECR then shows its puller role as a unique id); quiet now pulls a public image only:
    #    the inventory lists neither.
    lightsail.delete_container_service(serviceName="gone")
    lightsail.create_container_service_deployment(serviceName="quiet", containers={"web": {"image": "nginx:1.27"}})
    wait_until(lambda: "gone" not in services(aws) and services(aws)["quiet"]["state"] == "RUNNING"
               and services(aws)["quiet"]["currentDeployment"]["containers"]["web"]["image"] == "nginx:1.27", "gone deleted, quiet deployed")
    stale = by_sid(policy(aws, "app"))
    (unique_id,) = principals(stale[gone_sid])
    assert unique_id.startswith("AROA") and len(unique_id) == 21, dump(stale)

    # 3. Without the option their grants stay, and nothing is written.
    mark = aws.mark()
    plain = ansible.play(GRANT, inventory=source)
    assert plain.rc == 0, plain.stdout
    assert aws.requests(since=mark, mutating=True) == []
    assert by_sid(policy(aws, "app")) == stale

    # 4. A dry run with the option shows the removal in the diff and changes nothing.
    mark = aws.mark()
    dry = ansible.play(GRANT, inventory=source, extravars=REMOVE, check=True, diff=True)
    assert dry.rc == 0, dry.stdout
    assert aws.requests(since=mark, mutating=True) == []
    (written,) = [r for item in dry.task(WRITE_TASK)["results"] for r in item["policies"] if r["changed"]]
    assert written["repository"] == "app"
    assert set(by_sid(written["policy"])) == {SHARED_SID, "TheirCI"}
    assert principals(by_sid(written["policy"])[SHARED_SID]) == sorted(pullers[n] for n in ("shop", "blog"))
    (diff,) = [d for item in dry.task(WRITE_TASK)["results"] for d in item["diff"]]
    assert diff["before_header"] == "app" and unique_id in diff["before"] and pullers["quiet"] in diff["before"]
    assert unique_id not in diff["after"] and pullers["quiet"] not in diff["after"] and gone_sid not in diff["after"]

    # 5. A limited run with the option refuses before the role reads or writes anything (the inventory reads Lightsail).
    mark = aws.mark()
    limited = ansible.play(GRANT, inventory=source, extravars=REMOVE, limit="shop")
    assert limited.rc != 0
    assert "ecr_pull_access_remove_undeclared is set, but the run is limited (--limit shop); nothing was changed" in limited.stdout
    assert [r["operation"] for r in aws.requests(since=mark) if r["service"] != "lightsail"] == []
    assert aws.requests(since=mark, mutating=True) == []

    # 6. With the option: one write takes away gone's statement and quiet's principal, and nothing else.
    mark = aws.mark()
    cleaned = ansible.play(GRANT, inventory=source, extravars=REMOVE)
    assert cleaned.rc == 0, cleaned.stdout
    assert [(r["operation"], r["path"]) for r in aws.requests(since=mark, mutating=True)] == [("SetRepositoryPolicy", "/")]
    after = by_sid(policy(aws, "app"))
    assert set(after) == {SHARED_SID, "TheirCI"} and after["TheirCI"] == FOREIGN
    assert principals(after[SHARED_SID]) == sorted(pullers[n] for n in ("shop", "blog"))
    assert policy(aws, "blog") == blog_policy
    assert services(aws)["quiet"]["privateRegistryAccess"]["ecrImagePullerRole"]["isActive"]  # roles are left alone

    # 7. Converged: a re-run with the option writes nothing.
    mark = aws.mark()
    again = ansible.play(GRANT, inventory=source, extravars=REMOVE)
    assert again.rc == 0 and again.changed_tasks == [], again.stdout
    assert aws.requests(since=mark, mutating=True) == []


def role_play(**play):
    return [dict({"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Pull access", "ansible.builtin.import_role": {"name": "pullaccess.aws.ecr_pull_access", "rolespec_validate": False}}]},
        **play)]


@pytest.mark.parametrize(
    "play, host_remove, message",
    [
        ({"serial": 1}, [True, True], "ecr_pull_access_remove_undeclared is set, but the batch holds 1 of the 2 hosts of the play (serial); "
                                      "nothing was changed"),
        ({"strategy": "free"}, [True, True], "ecr_pull_access_remove_undeclared is set, but the strategy runs the role for each host on its own; "
                                             "nothing was changed"),
        ({}, [True, False], "ecr_pull_access_remove_undeclared is true for 1 of the 2 hosts (for example shop) and false for the others: "
                            "set it the same for every host of the play"),
    ],
    ids=["serial", "strategy-free", "some-hosts"],
)
def test_remove_undeclared_refuses_a_run_that_sees_part_of_the_play(ansible, aws, play, host_remove, message):
    hosts = {name: {"ecr_pull_access_remove_undeclared": remove} for name, remove in zip(("shop", "blog"), host_remove)}
    declared = {"ecr_pull_access_type": "lightsail", "ecr_pull_access_region": "us-east-1", "ecr_pull_access_repositories": ["app"]}
    inventory_doc = {"all": {"hosts": hosts, "vars": declared}}
    mark = aws.mark()
    run = ansible.play(role_play(**play), inventory=inventory_doc)
    assert run.rc != 0
    assert message in run.stdout, run.stdout
    assert aws.requests(since=mark) == []


def test_a_write_drops_a_deleted_services_own_statement_without_the_option(ansible, aws, tmp_path):
    """ECR refuses a policy naming a deleted principal: the next grant that writes the repository takes
    the deleted service's own statement (workload mode) out in the same write, and nothing else."""
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
    aws.lightsail_config(puller_delay=0.2, deploy_delay=0.2)
    lightsail = aws.client("lightsail")
    for name in ("shop", "gone"):
        lightsail.create_container_service(serviceName=name, power="nano", scale=1, deployment={"containers": {"web": {"image": f"{REGISTRY}/app:1"}}})
    doc = {"plugin": "pullaccess.aws.workloads", "regions": ["us-east-1"], "ecs_clusters": [],
           "compose": {"ecr_pull_access_verify_delay": "0.2", "ecr_pull_access_check_permissions": "false", "ecr_pull_access_statement_mode": "'workload'"}}
    source = tmp_path / "fleet.workloads.aws.yml"
    source.write_text(json.dumps(doc))
    assert ansible.play(GRANT, inventory=str(source)).rc == 0
    sids = {name: sid for sid in by_sid(policy(aws, "app")) for name in ("shop", "gone") if sid.startswith("PullAccessLightsail" + name.capitalize())}

    lightsail.delete_container_service(serviceName="gone")
    wait_until(lambda: "gone" not in services(aws), "gone deleted")
    assert principals(by_sid(policy(aws, "app"))[sids["gone"]])[0].startswith("AROA")
    lightsail.create_container_service(serviceName="fresh", power="nano", scale=1, deployment={"containers": {"web": {"image": f"{REGISTRY}/app:1"}}})

    mark = aws.mark()
    run = ansible.play(GRANT, inventory=str(source))
    assert run.rc == 0, run.stdout
    assert [r["operation"] for r in aws.requests(since=mark, mutating=True) if r["service"] == "ecr"] == ["SetRepositoryPolicy"]
    after = by_sid(policy(aws, "app"))
    assert sids["gone"] not in after and sids["shop"] in after and after["TheirCI"] == FOREIGN
    assert [sid for sid in after if sid.startswith("PullAccessLightsailFresh")]

    mark = aws.mark()
    assert ansible.play(GRANT, inventory=str(source)).rc == 0
    assert aws.requests(since=mark, mutating=True) == []
