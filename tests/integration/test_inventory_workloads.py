# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pullaccess.aws.workloads inventory plugin against the rig: what it discovers
(``ansible-inventory --list`` compared whole), its cache, and the grant playbook over it."""

import json
import os
import subprocess
import sys

import pytest

from integration.conftest import dump
from integration.conftest import lightsail_services
from integration.conftest import wait_until

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRANT = os.path.join(REPO_ROOT, "playbooks", "grant.yml")
ACCOUNT = "123456789012"
OTHER = "222222222222"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
OTHER_REGISTRY = f"{OTHER}.dkr.ecr.us-east-1.amazonaws.com"
EU_REGISTRY = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32
SHARED_SID = "PullAccessLightsailShared"


def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def steady(aws, names):
    return wait_until(lambda: (found := lightsail_services(aws)) and all(found[n]["state"] in ("READY", "RUNNING") for n in names) and found,
                      f"services {names} steady")


def deploy(aws, name, **images):
    aws.client("lightsail").create_container_service_deployment(serviceName=name, containers={c: {"image": i} for c, i in images.items()})


def latest_deployment(aws, name):
    return aws.client("lightsail").get_container_service_deployments(serviceName=name)["deployments"][0]


@pytest.fixture
def account(aws):
    """An account with Lightsail services (deployed, pending, none, public images, another
    Region's image, a failed deployment) and ECS services (Fargate with a cross-account image,
    EC2, external), and the repositories they pull from."""
    ecr = aws.client("ecr")
    for name in ("shop/web", "shop/api", "shared/base", "batch/runner"):
        ecr.create_repository(repositoryName=name)
    aws.client("ecr", region="eu-west-1").create_repository(repositoryName="shop/web")
    aws.account_client("ecr", OTHER).create_repository(repositoryName="platform/base")
    aws.lightsail_config(puller_delay=0.2, deploy_delay=0.2)

    lightsail = aws.client("lightsail")

    def create(name, tags=(), puller=False, **images):
        extra = {"deployment": {"containers": {c: {"image": i} for c, i in images.items()}}} if images else {}
        extra["privateRegistryAccess"] = {"ecrImagePullerRole": {"isActive": puller}}
        lightsail.create_container_service(serviceName=name, power="nano", scale=1, tags=[{"key": k, "value": v} for k, v in tags], **extra)

    # Deployed: two tags and a digest of the same repository are one repository.
    create("shop-web", tags=[("team", "shop")], web=f"{REGISTRY}/shop/web:1.2", worker=f"{REGISTRY}/shop/web@{DIGEST}",
           base=f"{REGISTRY}/shared/base:3")
    # Its puller role is active: a grant made while the next deployment activates lets it pull.
    create("shop-api", puller=True, api=f"{REGISTRY}/shop/api:1")
    create("shop-empty")
    create("shop-public", web="nginx:1.27", proxy="public.ecr.aws/nginx/nginx:1.27", app=":shop-public.app.3")
    create("shop-eu", web=f"{EU_REGISTRY}/shop/web:1")
    create("shop-retry")
    steady(aws, ["shop-web", "shop-api", "shop-empty", "shop-public", "shop-eu", "shop-retry"])
    # Pending: a new deployment held while it activates.
    deploy(aws, "shop-api", api=f"{REGISTRY}/shop/api:2", base=f"{REGISTRY}/shared/base:3")
    aws.lightsail_set_state("shop-api", "DEPLOYING")
    # Failed: a private image without a grant cannot be pulled.
    deploy(aws, "shop-retry", app=f"{REGISTRY}/batch/runner:7")
    wait_until(lambda: latest_deployment(aws, "shop-retry")["state"] == "FAILED", "the shop-retry deployment failing")

    iam = aws.client("iam")
    execution = iam.create_role(RoleName="api-execution", AssumeRolePolicyDocument=trust("ecs-tasks.amazonaws.com"))["Role"]
    iam.create_role(RoleName="ecs-instances", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
    iam.create_role(RoleName="anywhere", AssumeRolePolicyDocument=trust("ssm.amazonaws.com"))
    ecs = aws.client("ecs")
    for cluster in ("prod", "edge"):
        ecs.create_cluster(clusterName=cluster)

    def task(family, *images, role=None):
        containers = [{"name": f"c{i}", "image": image, "essential": True, "memory": 128} for i, image in enumerate(images)]
        extra = {"executionRoleArn": role} if role else {}
        return ecs.register_task_definition(family=family, containerDefinitions=containers, **extra)["taskDefinition"]["taskDefinitionArn"]

    tasks = {
        "api": task("api", f"{REGISTRY}/shop/api:1", f"{OTHER_REGISTRY}/platform/base:9", "busybox", role=execution["Arn"]),
        "batch": task("batch", f"{REGISTRY}/batch/runner:7"),
        "agent": task("agent", f"{REGISTRY}/shared/base:3", f"{OTHER_REGISTRY}/platform/base:9"),
    }
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition=tasks["api"], desiredCount=1, launchType="FARGATE",
                       tags=[{"key": "team", "value": "api"}])
    ecs.create_service(cluster="prod", serviceName="batch", taskDefinition=tasks["batch"], desiredCount=1, launchType="EC2")
    ecs.create_service(cluster="edge", serviceName="agent", taskDefinition=tasks["agent"], desiredCount=1, launchType="EXTERNAL")
    aws.seeded = {"tasks": tasks, "execution_role": execution["Arn"]}
    return aws


def config(tmp_path, **options):
    """An inventory configuration file for the plugin (JSON is YAML)."""
    doc = {"plugin": "pullaccess.aws.workloads", "regions": ["us-east-1", "eu-west-1"],
           "lightsail_deployments": ["current", "pending", "failed"],
           "ecs_instance_roles": {"prod": "ecs-instances", "edge": "anywhere"},
           "compose": {"ecr_pull_access_verify_delay": "0.2"}}
    doc.update(options)
    path = tmp_path / "rig.workloads.aws.yml"
    path.write_text(json.dumps(doc))
    return str(path)


def plain(value):
    """JSON from ``ansible-inventory --list`` without Ansible's markers of untrusted strings."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def run_inventory(ansible, source, env=None, options=()):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", source, "--list", *options]
    # A source that fails to parse is an error, not an empty inventory with a warning.
    env = dict(os.environ, **ansible.env(dict(env or {}, ANSIBLE_INVENTORY_UNPARSED_FAILED="1")))
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=120)


def inventory_list(ansible, source):
    """``ansible-inventory --list`` over a source, as plain JSON, with its warnings."""
    done = run_inventory(ansible, source)
    assert done.returncode == 0, done.stderr
    listed = plain(json.loads(done.stdout))
    listed["_meta"].pop("profile", None)  # how ansible-core 2.19+ says it serialised the output
    return listed, done.stderr


def image(container, ref, deployment, repository=None, skipped=None):
    from_ecr = repository is not None
    arn = None
    if from_ecr:
        name = repository if isinstance(repository, str) else repository["name"]
        registry = ACCOUNT if isinstance(repository, str) else repository["registry_id"]
        arn = f"arn:aws:ecr:us-east-1:{registry}:repository/{name}"
    return {"container": container, "image": ref, "deployment": deployment, "repository": repository, "repository_arn": arn, "skipped": skipped}


NOT_ECR = "not an ECR private image (registry {}; no grant needed)"
# The Lightsail services none of whose images can be granted, and their images.
EMPTY = {
    "shop-empty": [],
    "shop-public": [
        image("app", ":shop-public.app.3", "current", skipped="an image pushed to the container service (no grant needed)"),
        image("proxy", "public.ecr.aws/nginx/nginx:1.27", "current", skipped=NOT_ECR.format("public.ecr.aws")),
        image("web", "nginx:1.27", "current", skipped=NOT_ECR.format("docker.io"))],
    "shop-eu": [
        image("web", f"{EU_REGISTRY}/shop/web:1", "current",
              skipped="in ECR in eu-west-1: a Lightsail container service in us-east-1 pulls from its own Region only")],
}


def lightsail_host(aws, name, repositories, images, deployment, pending="NONE", tags=None):
    service = lightsail_services(aws)[name]
    return {"ecr_pull_access_type": "lightsail", "ecr_pull_access_region": "us-east-1", "ecr_pull_access_service_name": name,
            "ecr_pull_access_repositories": repositories, "ecr_pull_access_verify_delay": 0.2,
            "workload_type": "lightsail", "workload_name": name, "workload_region": "us-east-1", "workload_account_id": ACCOUNT,
            "workload_arn": service["arn"], "workload_tags": tags or {}, "workload_state": service["state"],
            "workload_deployment_state": deployment, "workload_pending_deployment_state": pending, "workload_images": images}


def expected_inventory(aws):
    """Every host with its variables and groups, as ansible-inventory --list shows them (ARNs from the rig)."""
    tasks = aws.seeded["tasks"]

    def ecs_host(cluster, name, launch_type, family, repositories, images, tags=None, **role):
        # moto runs no tasks (no container instances), so its deployments stay IN_PROGRESS.
        variables = {"ecr_pull_access_type": "ecs", "ecr_pull_access_region": "us-east-1", "ecr_pull_access_ecs_launch_type": launch_type,
                     "ecr_pull_access_repositories": repositories, "ecr_pull_access_verify_delay": 0.2,
                     "workload_type": "ecs", "workload_name": name, "workload_cluster": cluster, "workload_region": "us-east-1",
                     "workload_account_id": ACCOUNT, "workload_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/{cluster}/{name}",
                     "workload_tags": tags or {}, "workload_state": "ACTIVE", "workload_launch_type": launch_type,
                     "workload_task_definition": tasks[family], "workload_deployment_state": "IN_PROGRESS", "workload_images": images}
        variables.update(role)
        return variables

    platform = {"name": "platform/base", "registry_id": OTHER}
    hostvars = {
        "shop-web": lightsail_host(aws, "shop-web", ["shared/base", "shop/web"], [
            image("base", f"{REGISTRY}/shared/base:3", "current", "shared/base"),
            image("web", f"{REGISTRY}/shop/web:1.2", "current", "shop/web"),
            image("worker", f"{REGISTRY}/shop/web@{DIGEST}", "current", "shop/web")], "ACTIVE", tags={"team": "shop"}),
        "shop-api": lightsail_host(aws, "shop-api", ["shop/api", "shared/base"], [
            image("api", f"{REGISTRY}/shop/api:1", "current", "shop/api"),
            image("api", f"{REGISTRY}/shop/api:2", "pending", "shop/api"),
            image("base", f"{REGISTRY}/shared/base:3", "pending", "shared/base")], "ACTIVE", pending="ACTIVATING"),
        "shop-retry": lightsail_host(aws, "shop-retry", ["batch/runner"], [image("app", f"{REGISTRY}/batch/runner:7", "failed", "batch/runner")],
                                     "NONE", pending="FAILED"),
        "prod/api": ecs_host("prod", "api", "fargate", "api", ["shop/api", platform], [
            image("c0", f"{REGISTRY}/shop/api:1", "service", "shop/api"),
            image("c1", f"{OTHER_REGISTRY}/platform/base:9", "service", platform),
            image("c2", "busybox", "service", skipped=NOT_ECR.format("docker.io"))],
            tags={"team": "api"}, ecr_pull_access_ecs_task_definition=tasks["api"]),
        "prod/batch": ecs_host("prod", "batch", "ec2", "batch", ["batch/runner"], [image("c0", f"{REGISTRY}/batch/runner:7", "service", "batch/runner")],
                               ecr_pull_access_ecs_role_name="ecs-instances"),
        "edge/agent": ecs_host("edge", "agent", "external", "agent", ["shared/base", platform], [
            image("c0", f"{REGISTRY}/shared/base:3", "service", "shared/base"),
            image("c1", f"{OTHER_REGISTRY}/platform/base:9", "service", platform)], ecr_pull_access_ecs_role_name="anywhere"),
    }
    lightsail = ["shop-api", "shop-retry", "shop-web"]
    ecs = ["edge/agent", "prod/api", "prod/batch"]
    return {
        "_meta": {"hostvars": hostvars},
        "all": {"children": ["ungrouped", "lightsail", "team_shop", "ecs", "team_api"]},
        "lightsail": {"hosts": lightsail},
        "ecs": {"hosts": ecs},
        "team_api": {"hosts": ["prod/api"]},
        "team_shop": {"hosts": ["shop-web"]},
    }


def test_inventory_lists_what_is_deployed_and_caches_it(ansible, account, tmp_path):
    source = config(tmp_path, keyed_groups=[{"key": "workload_tags.team", "prefix": "team"}],
                    cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(tmp_path / "cache"))
    mark = account.mark()
    listed, warnings = inventory_list(ansible, source)
    expected = expected_inventory(account)
    for host in sorted(set(listed["_meta"]["hostvars"]) | set(expected["_meta"]["hostvars"])):
        assert listed["_meta"]["hostvars"].get(host) == expected["_meta"]["hostvars"].get(host), (host, dump(listed["_meta"]["hostvars"].get(host)))
    assert listed == expected, dump(listed)
    # Only reads, and the images that need no grant (or cannot get one) are named in warnings.
    assert account.requests(since=mark, mutating=True) == []
    for left_out in ("nginx:1.27", "public.ecr.aws/nginx/nginx:1.27", ":shop-public.app.3", f"{EU_REGISTRY}/shop/web:1", "busybox"):
        assert left_out in " ".join(warnings.split()), warnings
    assert account.requests(since=mark, service="lightsail")

    # The second run is served from the cache: no AWS call at all, the same inventory.
    mark = account.mark()
    again = inventory_list(ansible, source)[0]
    assert account.requests(since=mark) == []
    assert again == listed

    # Workloads with nothing to grant get hosts only when asked for (no cache: read again).
    with_empty = inventory_list(ansible, config(tmp_path, workloads_without_repositories="include"))[0]
    assert sorted(with_empty["lightsail"]["hosts"]) == sorted(listed["lightsail"]["hosts"] + list(EMPTY))
    for host, images in EMPTY.items():
        assert with_empty["_meta"]["hostvars"][host] == lightsail_host(account, host, [], images, "NONE" if host == "shop-empty" else "ACTIVE")


@pytest.mark.parametrize("options, message", [
    ({"ecs_hostname": "{cluster}-{task}"}, "ecs_hostname '{cluster}-{task}' is not a valid host name template"),
    ({"ecs_hostname": "{service}"}, "two workloads have the host name 'agent'"),
    ({"non_ecr_images": "fail"}, "image 'busybox' is left out"),
])
def test_bad_configuration_is_one_clear_error(ansible, aws, tmp_path, options, message):
    aws.client("ecs").create_cluster(clusterName="prod")
    aws.client("ecs").create_cluster(clusterName="edge")
    task = aws.client("ecs").register_task_definition(family="agent", containerDefinitions=[
        {"name": "c0", "image": "busybox", "essential": True, "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
    for cluster in ("prod", "edge"):
        aws.client("ecs").create_service(cluster=cluster, serviceName="agent", taskDefinition=task, desiredCount=1, launchType="EC2")
    source = config(tmp_path, lightsail=False, workloads_without_repositories="include", **options)
    done = run_inventory(ansible, source)
    assert done.returncode != 0 and message in " ".join(done.stderr.split()), done.stderr


def test_grant_over_the_discovered_inventory(ansible, account, tmp_path):
    source = config(tmp_path)
    run = ansible.play(GRANT, inventory=source)
    assert run.rc == 0, run.stdout
    services = lightsail_services(account)
    pullers = {name: s["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"] for name, s in services.items()}
    ecr = account.client("ecr")

    def shared_principals(repository, client=ecr):
        try:
            document = json.loads(client.get_repository_policy(repositoryName=repository)["policyText"])
        except client.exceptions.RepositoryPolicyNotFoundException:
            return {}
        return {s["Sid"]: sorted([s["Principal"]["AWS"]] if isinstance(s["Principal"]["AWS"], str) else s["Principal"]["AWS"])
                for s in document["Statement"]}

    # Exactly what is deployed: each repository names the puller roles of the services that pull it.
    assert shared_principals("shop/web") == {SHARED_SID: [pullers["shop-web"]]}
    assert shared_principals("shop/api") == {SHARED_SID: [pullers["shop-api"]]}
    assert shared_principals("shared/base") == {SHARED_SID: sorted([pullers["shop-web"], pullers["shop-api"]])}
    assert shared_principals("batch/runner") == {SHARED_SID: [pullers["shop-retry"]]}
    # Services that pull nothing from ECR private got no puller role.
    assert not any(pullers[name] for name in ("shop-empty", "shop-public", "shop-eu"))
    # ECS: the roles that pull have the permissions; the other account's repository names them.
    iam = account.client("iam")
    attached = {role: [p["PolicyArn"].rsplit("/", 1)[-1] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
                for role in ("api-execution", "ecs-instances", "anywhere")}
    assert attached == {"api-execution": ["AmazonECSTaskExecutionRolePolicy"], "ecs-instances": ["AmazonEC2ContainerServiceforEC2Role"],
                        "anywhere": ["AmazonEC2ContainerServiceforEC2Role"]}
    other = account.account_client("ecr", OTHER)
    assert shared_principals("platform/base", other) == {
        "PullAccessEcsShared": sorted([account.seeded["execution_role"], f"arn:aws:iam::{ACCOUNT}:role/anywhere"])}

    # Converged: a re-run writes nothing.
    mark = account.mark()
    again = ansible.play(GRANT, inventory=source)
    assert again.rc == 0 and again.changed_tasks == [], again.stdout
    assert account.requests(since=mark, mutating=True) == []

    # The deployment that failed for lack of access deploys after the grant; the held one finishes too.
    deploy(account, "shop-retry", app=f"{REGISTRY}/batch/runner:7")
    account.lightsail_set_state("shop-api", "RUNNING")
    wait_until(lambda: latest_deployment(account, "shop-retry")["state"] != "ACTIVATING", "the shop-retry deployment ending")
    assert latest_deployment(account, "shop-retry")["state"] == "ACTIVE"
    assert lightsail_services(account)["shop-api"]["currentDeployment"]["state"] == "ACTIVE"

    # shop-web stops pulling shared/base: with exclusive, only its grant there goes.
    deploy(account, "shop-web", web=f"{REGISTRY}/shop/web:1.3")
    wait_until(lambda: latest_deployment(account, "shop-web")["state"] == "ACTIVE", "the new shop-web deployment")
    before = {repo: shared_principals(repo) for repo in ("shop/web", "shop/api", "batch/runner")}
    before_other = shared_principals("platform/base", other)
    mark = account.mark()
    exclusive = ansible.play(GRANT, inventory=config(tmp_path, exclusive=True))
    assert exclusive.rc == 0, exclusive.stdout
    assert shared_principals("shared/base") == {SHARED_SID: [pullers["shop-api"]]}
    assert {repo: shared_principals(repo) for repo in before} == before
    assert shared_principals("platform/base", other) == before_other
    writes = [r["operation"] for r in account.requests(since=mark, mutating=True)]
    assert writes == ["SetRepositoryPolicy"], writes


def test_no_credential_value_shown(ansible, account, tmp_path):
    """``ansible-inventory -vvv --list`` with credentials in the configuration file and in the
    environment, and when it fails (an endpoint nobody listens on; a call IAM refuses): no secret
    key or session token in its output or in the hosts' variables. The rig's log shows the file's
    key signing the reads, so those credentials were used, not only given."""
    from reliability.test_operator import CANARIES, CANARY_ACCESS_KEYS  # pylint: disable=import-outside-toplevel
    file_key, env_key = CANARY_ACCESS_KEYS[1], CANARY_ACCESS_KEYS[0]
    in_file = {"access_key": file_key, "secret_key": CANARIES["var_secret_key"], "session_token": CANARIES["var_session_token"]}
    env = {"AWS_ACCESS_KEY_ID": env_key, "AWS_SECRET_ACCESS_KEY": CANARIES["env_secret_key"], "AWS_SESSION_TOKEN": CANARIES["env_session_token"]}
    for directory in ("file", "env", "dead", "refused"):
        (tmp_path / directory).mkdir()
    cases = (
        ("credentials in the file", config(tmp_path / "file", **in_file), env, True, file_key),
        ("credentials in the environment", config(tmp_path / "env"), env, True, env_key),
        ("a dead endpoint", config(tmp_path / "dead", endpoint_url="http://127.0.0.1:9", **in_file), env, False, None),
        ("a refused call", config(tmp_path / "refused", **in_file), env, False, file_key),
    )
    for name, source, environment, works, signer in cases:
        mark = account.mark()
        account.enforce_iam(name == "a refused call")  # the canary key is no IAM user's: refused
        try:
            done = run_inventory(ansible, source, env=environment, options=["-vvv"])
        finally:
            account.enforce_iam(False)
        log = account.requests(since=mark)
        text = done.stdout + done.stderr
        if works:
            assert done.returncode == 0 and "shop-web" in done.stdout, f"{name}: {done.stderr[-3000:]}"
        else:
            assert done.returncode != 0, f"{name}: did not fail\n{text[-3000:]}"
        if name == "a refused call":
            assert log and all(entry["error_code"] for entry in log), f"{name}: not refused: {log}"
        if signer:
            assert log and {entry["access_key"] for entry in log} == {signer}, f"{name}: signed by {sorted({e['access_key'] for e in log})}"
        else:
            assert log == [], f"{name}: reached the rig"
        for secret_name, value in CANARIES.items():
            assert value not in text, f"{secret_name} appears in the output of ansible-inventory -vvv --list with {name}"
