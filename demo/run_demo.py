#!/usr/bin/env python
# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`make demo`: the main job on embedded, emulated AWS.

Starts the rig (moto server + the Lightsail container-service emulator on loopback), creates an
example account and generates the operator's least-privilege policy for the inventory. As an IAM
user that has only that policy, under the rig's IAM enforcement, it runs the grant playbook with
--check --diff, for real, and again (all ok), prints the resulting repository policies and runs
the revoke playbook; then deploys images whose deployment fails for lack of access, shows the
inventory the pullaccess.aws.workloads plugin discovers from what is deployed, grants from it (as
an administrator user), deploys again, and stops the emulators.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from rig import Rig  # noqa: E402  pylint: disable=wrong-import-position

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
OPERATOR = "demo-operator"
OPERATOR_ARN = f"arn:aws:iam::{ACCOUNT}:user/{OPERATOR}"
FOREIGN_STATEMENT = {
    "Sid": "CiPushFromBuildAccount",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:role/ci-builder"},
    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"],
}


def banner(text):
    print(f"\n{'=' * 78}\n== {text}\n{'=' * 78}", flush=True)


def seed_account(rig):
    """Repositories (one already carrying someone else's statement) and Lightsail services."""
    ecr = rig.client("ecr")
    for name in ("web", "worker", "shared/base"):
        ecr.create_repository(repositoryName=name)
    rig.create_roles(FOREIGN_STATEMENT["Principal"]["AWS"])  # ECR refuses principals that do not exist
    ecr.set_repository_policy(
        repositoryName="web", policyText=json.dumps({"Version": "2008-10-17", "Statement": [FOREIGN_STATEMENT]})
    )
    lightsail = rig.client("lightsail")
    for name in ("shop-frontend", "shop-api"):
        lightsail.create_container_service(serviceName=name, power="nano", scale=1)
    iam = rig.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="billing-execution", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    rig.client("ecs").register_task_definition(
        family="billing", executionRoleArn=role["Arn"], requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
        cpu="256", memory="512",
        containerDefinitions=[{"name": "billing", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/worker:1.4", "essential": True}],
    )
    rig.account_client("ecr", OTHER_ACCOUNT).create_repository(repositoryName="base-images")
    print("created ECR repositories web (with a CI push statement of someone else's), worker, shared/base")
    print(f"created ECR repository base-images in another account ({OTHER_ACCOUNT})")
    print("created Lightsail container services shop-frontend, shop-api")
    print("created ECS task execution role billing-execution and task definition billing (image from worker)")


def show_state(rig):
    ecr = rig.client("ecr")
    for name in ("web", "worker", "shared/base"):
        try:
            text = ecr.get_repository_policy(repositoryName=name)["policyText"]
            print(f"--- policy of {name}:\n{json.dumps(json.loads(text), indent=2)}")
        except ecr.exceptions.RepositoryPolicyNotFoundException:
            print(f"--- {name}: no policy")
    other = rig.account_client("ecr", OTHER_ACCOUNT)
    try:
        text = other.get_repository_policy(repositoryName="base-images")["policyText"]
        print(f"--- policy of base-images (account {OTHER_ACCOUNT}):\n{json.dumps(json.loads(text), indent=2)}")
    except other.exceptions.RepositoryPolicyNotFoundException:
        print(f"--- base-images (account {OTHER_ACCOUNT}): no policy")
    inline = rig.client("iam").list_role_policies(RoleName="billing-execution")["PolicyNames"]
    print(f"--- IAM role billing-execution inline policies: {inline or '(none)'}")
    for service in rig.client("lightsail").get_container_services()["containerServices"]:
        puller = service["privateRegistryAccess"]["ecrImagePullerRole"]
        print(f"--- Lightsail {service['containerServiceName']}: state {service['state']}, puller active "
              f"{puller['isActive']}, puller ARN {puller['principalArn'] or '(none)'}")


def ansible_env(rig, credentials=None):
    """The rig's environment; ``credentials`` (an IAM user's keys) replace its own `testing` key,
    which moto names `user/moto`: no IAM user, so the role could not check its permissions."""
    env = rig.env(base=os.environ)
    env.update(credentials or {})
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, "build", "collections"))
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_LOCALHOST_WARNING"] = "0"
    return env


def playbook(rig, name, *options, inventory="inventory.yml", credentials=None):
    """Run a playbook shipped in the collection by its FQCN, as a user would."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", os.path.join(HERE, inventory),
               name, *options]
    print(f"$ ansible-playbook {name} -i demo/{inventory} {' '.join(options)}".rstrip(), flush=True)
    result = subprocess.run(command, env=ansible_env(rig, credentials), check=False)
    if result.returncode != 0:
        sys.exit(f"demo: {name} failed with exit code {result.returncode}")


DISCOVERED = "demo.workloads.aws.yml"


def deploy(rig, service, image):
    """Deploy one container to a Lightsail service and wait for the deployment to end; its state."""
    lightsail = rig.client("lightsail")
    wait(lambda: lightsail.get_container_services(serviceName=service)["containerServices"][0]["state"] in ("READY", "RUNNING"))
    lightsail.create_container_service_deployment(serviceName=service, containers={"app": {"image": image}})
    latest = wait(lambda: (d := lightsail.get_container_service_deployments(serviceName=service)["deployments"][0])["state"] != "ACTIVATING" and d)
    print(f"deployed {image} to Lightsail {service}: deployment {latest['version']} is {latest['state']}")
    return latest["state"]


def wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        if time.monotonic() > deadline:
            sys.exit("demo: the emulated AWS did not get there in time")
        time.sleep(0.1)
    return found


def operator_credentials(rig, workdir):
    """Generate the least-privilege operator policy for the demo's inventory, and an IAM user
    `demo-operator` that has only that policy; its keys."""
    policy_dir = os.path.join(workdir, "operator-policy")
    playbook(rig, "pullaccess.aws.operator_policy", "-e", f"pullaccess_operator_policy_dir={policy_dir}",
             "-e", json.dumps({"pullaccess_operator_policy_principals": [OPERATOR_ARN]}))
    statements = []
    for name in sorted(os.listdir(policy_dir)):
        with open(os.path.join(policy_dir, name), encoding="utf-8") as handle:
            document = json.load(handle)
        print(f"{name}: " + ", ".join(statement["Sid"] for statement in document["Statement"]))
        statements += document["Statement"]
    # The rig's user has one inline policy: the documents' statements together (on AWS the other
    # account's document is attached there).
    credentials = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": statements}, name=OPERATOR)
    print(f"created IAM user {OPERATOR} with only these statements")
    return credentials


def show_discovered(rig, credentials=None):
    """What the inventory plugin makes of the account: hosts, groups and the repositories of each."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", os.path.join(HERE, DISCOVERED), "--list"]
    print(f"$ ansible-inventory -i demo/{DISCOVERED} --list   (shown in short)", flush=True)
    result = subprocess.run(command, env=ansible_env(rig, credentials), check=False, capture_output=True, text=True)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        sys.exit("demo: ansible-inventory failed")
    listed = json.loads(result.stdout, object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d)
    for host, variables in sorted(listed["_meta"]["hostvars"].items()):
        role = variables.get("ecr_pull_access_ecs_task_definition") or variables.get("ecr_pull_access_ecs_role_name") or ""
        print(f"  {host:<16} {variables['ecr_pull_access_type']:<9} {variables.get('ecr_pull_access_ecs_launch_type', ''):<8} "
              f"repositories {json.dumps(variables['ecr_pull_access_repositories'])} {role.rsplit('/', 1)[-1]}")


def main():
    workdir = tempfile.mkdtemp(prefix="pullaccess-demo-")
    banner("Starting emulated AWS (moto server + Lightsail emulator) on loopback")
    with Rig.start(workdir, puller_delay=2.0) as rig:
        print(f"moto: {rig.moto_url}   lightsail: {rig.lightsail_url}")
        seed_account(rig)
        banner("0. The operator's least-privilege policy for this inventory (pullaccess.aws.operator_policy)")
        operator = operator_credentials(rig, workdir)
        # From here to the revoke, the rig refuses every call the operator's policy does not allow.
        rig.enforce_iam(True)
        print(f"IAM enforcement on: steps 1 to 4 run as {OPERATOR}, whose permissions the role checks before any write")
        banner("1. Dry run: what would the grant change? (--check --diff, no write call)")
        mark = rig.mark()
        playbook(rig, "pullaccess.aws.grant", "--check", "--diff", credentials=operator)
        writes = rig.requests(since=mark, mutating=True)
        print(f"mutating API calls during the dry run: {len(writes)} (taken from the emulators' request log)")
        banner("2. Grant for real")
        playbook(rig, "pullaccess.aws.grant", "--diff", credentials=operator)
        banner("3. Grant again: nothing to do (all ok, no write call)")
        mark = rig.mark()
        playbook(rig, "pullaccess.aws.grant", credentials=operator)
        print(f"mutating API calls during the re-run: {len(rig.requests(since=mark, mutating=True))}")
        mark = rig.mark()
        banner("Resulting repository policies and puller states")
        show_state(rig)
        banner("4. Revoke")
        playbook(rig, "pullaccess.aws.revoke", "--diff", credentials=operator)
        rig.enforce_iam(False)
        show_state(rig)
        # The discovered inventory needs more (discovery's reads, the managed pull policy): an administrator.
        admin = rig.create_limited_credentials({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                                               name="demo-admin")
        banner("5. Deploy without access: the deployment fails")
        deploy(rig, "shop-frontend", f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:2.0")
        rig.client("ecs").create_cluster(clusterName="payments")
        rig.client("ecs").create_service(cluster="payments", serviceName="billing", taskDefinition="billing", desiredCount=1,
                                         launchType="FARGATE")
        print("created ECS cluster payments with Fargate service billing (task definition billing)")
        banner("6. The second inventory: discovered from what is deployed (pullaccess.aws.workloads)")
        show_discovered(rig, credentials=admin)
        banner("7. Grant from the discovered inventory (as demo-admin), then deploy again")
        playbook(rig, "pullaccess.aws.grant", inventory=DISCOVERED, credentials=admin)
        deploy(rig, "shop-frontend", f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:2.0")
        banner("Stopping emulated AWS")
    print("demo finished")


if __name__ == "__main__":
    main()
