# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
name: workloads
short_description: Container workloads and the ECR repositories they pull, as hosts for the ecr_pull_access role
version_added: 0.1.0
description:
  - Discovers Amazon Lightsail container services and Amazon ECS services and turns each into an inventory host with
    the variables of the P(pullaccess.aws.ecr_pull_access#role) role, so that the playbook C(pullaccess.aws.grant) grants
    exactly what is deployed.
  - The repositories are read from what runs, not declared - a Lightsail service's current deployment (optionally also
    its pending or last failed one), an ECS service's task definition (optionally also the task definitions of a
    rollout under way). Each repository is listed once per host; tags and digests do not matter.
  - Images that are not full ECR private URIs (Docker Hub, ECR Public, images pushed to a Lightsail service with
    C(:service.label.N)) need no grant and are left out, with a warning unless O(non_ecr_images=ignore). An image in
    another Region is left out of a Lightsail host (Lightsail pulls only from its own Region) with a warning.
  - Hosts are in the groups C(lightsail) and C(ecs); the facts C(workload_*) (name, cluster, Region, account, ARN, tags,
    state, launch type, task definition, deployment states, images) are there to group on with O(keyed_groups) and
    O(groups).
  - The configuration file must end with C(workloads.aws.yml) or C(workloads.aws.yaml).
  - Nothing connects to these hosts; the role calls AWS from the controller.
extends_documentation_fragment:
  - inventory_cache
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    type: str
    choices: [pullaccess.aws.workloads]
  regions:
    description:
      - The Regions to look in.
      - Empty (the default) means every Region that EC2's C(DescribeRegions) lists.
    type: list
    elements: str
    default: []
  lightsail:
    description: Whether to look for Lightsail container services.
    type: bool
    default: true
  lightsail_include:
    description: Shell patterns (C(*), C(?)) of the container service names to include; empty includes all.
    type: list
    elements: str
    default: []
  lightsail_exclude:
    description: Shell patterns of the container service names to leave out; they win over O(lightsail_include).
    type: list
    elements: str
    default: []
  lightsail_deployments:
    description:
      - The deployments of a container service whose images are read.
      - V(current) - the deployment that runs.
      - V(pending) - the deployment being activated (the service is C(DEPLOYING)), so that access is granted before a
        deployment that would fail for lack of it. This helps when the service's puller role is active already - Lightsail
        does not update a service while it deploys, so the role waits for the deployment to end before it activates one.
      - V(failed) - the service's latest deployment when it failed (and is newer than the current one); a deployment
        that failed because the puller role could not pull succeeds when deployed again after the grant. One more call
        (C(GetContainerServiceDeployments)) per service.
    type: list
    elements: str
    choices: [current, pending, failed]
    default: [current]
  lightsail_hostname:
    description: Host name of a container service; C({service}) and C({region}) are replaced.
    type: str
    default: "{service}"
  ecs_clusters:
    description:
      - ECS clusters (names or ARNs) whose services are read; V(*) means every cluster of each Region.
      - An empty list leaves ECS out.
    type: list
    elements: str
    default: ["*"]
  ecs_include:
    description: Shell patterns of the ECS service names to include; empty includes all.
    type: list
    elements: str
    default: []
  ecs_exclude:
    description: Shell patterns of the ECS service names to leave out; they win over O(ecs_include).
    type: list
    elements: str
    default: []
  ecs_rolling_deployments:
    description:
      - Also read the images of the task definitions of a service's other deployments (the ones a rollout under way
        replaces), so that both old and new tasks can pull until the rollout ends.
      - By default only the service's task definition is read.
    type: bool
    default: false
  ecs_hostname:
    description: Host name of an ECS service; C({cluster}), C({service}) and C({region}) are replaced.
    type: str
    default: "{cluster}/{service}"
  ecs_instance_roles:
    description:
      - The container instance role (name or ARN) of each cluster, by cluster name, for services on EC2 and EXTERNAL
        instances, which pull with the instance role rather than a task execution role. The key V(*) applies to every
        cluster not named.
      - An EC2 or EXTERNAL service of a cluster without one gets no host, with a warning.
    type: dict
    default: {}
  non_ecr_images:
    description:
      - What to do with an image that is not a full ECR private URI, which needs no grant.
      - V(warn) leaves it out with a warning, V(ignore) leaves it out silently, V(fail) stops.
    type: str
    choices: [warn, ignore, fail]
    default: warn
  workloads_without_repositories:
    description:
      - What to do with a workload none of whose images comes from an ECR private repository it can be granted
        (no deployment, only public images, only another Region's images).
      - V(skip) gives it no host - there is nothing to grant, and the role would activate its puller role (or give its
        ECS role the pull permissions) for nothing.
      - V(include) gives it a host with no repositories, for grouping, or so that O(exclusive) takes its old grants away
        (the role still activates its puller role or gives its ECS role the permissions).
    type: str
    choices: [skip, include]
    default: skip
  exclusive:
    description:
      - Set C(ecr_pull_access_exclusive) on every host and give it, as C(ecr_pull_access_cleanup_repositories), every
        repository of its account in its Region (one C(DescribeRepositories) per Region), so that a grant takes each
        workload's access away from every repository it no longer pulls from.
      - A workload that is gone (a deleted service) has no host, so its grants are not taken away; revoke before
        deleting, or find them with the C(pullaccess.aws.audit) playbook (C(STALE_LIGHTSAIL_GRANT)).
    type: bool
    default: false
notes:
  - AWS calls made (all reads) - C(lightsail:GetContainerServices) per Region (and
    C(lightsail:GetContainerServiceDeployments) per service with O(lightsail_deployments=failed)),
    C(ecs:ListClusters), C(ecs:ListServices), C(ecs:DescribeServices), C(ecs:DescribeTaskDefinition) per distinct task
    definition, C(ec2:DescribeRegions) without O(regions), C(ecr:DescribeRepositories) with O(exclusive).
  - With O(cache=true) a second run within O(cache_timeout) makes no AWS call.
seealso:
  - plugin: amazon.aws.aws_ec2
    plugin_type: inventory
"""

EXAMPLES = r"""
# workloads.aws.yml - every Lightsail container service and ECS service of two Regions
plugin: pullaccess.aws.workloads
regions: [us-east-1, eu-west-1]

---
# prod.workloads.aws.yml - only production, grants ahead of pending deployments, cached for an hour
plugin: pullaccess.aws.workloads
regions: [us-east-1]
lightsail_include: ["shop-*"]
lightsail_deployments: [current, pending, failed]
ecs_clusters: [production]
ecs_exclude: ["*-canary"]
ecs_instance_roles:
  production: ecsInstanceRole
exclusive: true
keyed_groups:
  - key: workload_tags.team | default('none')
    prefix: team
compose:
  ecr_pull_access_ecs_permissions: "'inline'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/pullaccess-workloads
cache_timeout: 3600

# Then:
#   ansible-inventory -i prod.workloads.aws.yml --list
#   ansible-playbook pullaccess.aws.grant -i prod.workloads.aws.yml --check --diff
#   ansible-playbook pullaccess.aws.grant -i prod.workloads.aws.yml
"""

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.plugin_utils.inventory import AWSInventoryBase

from ansible_collections.pullaccess.aws.plugins.module_utils._aws import CLIENT_CONFIG
from ansible_collections.pullaccess.aws.plugins.module_utils._ecr import list_repositories
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_cluster_services
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import describe_task_definition
from ansible_collections.pullaccess.aws.plugins.module_utils._ecs import list_cluster_arns
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import get_container_service_deployments
from ansible_collections.pullaccess.aws.plugins.module_utils._lightsail import list_container_services
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import ecs_task_definitions
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import ecs_workload
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import latest_failed_deployment
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import lightsail_workload
from ansible_collections.pullaccess.aws.plugins.module_utils._workloads import matches


class InventoryModule(AWSInventoryBase):
    """Lightsail container services and ECS services as hosts of the ecr_pull_access role."""

    NAME = "pullaccess.aws.workloads"
    INVENTORY_FILE_SUFFIXES = ("workloads.aws.yml", "workloads.aws.yaml")

    def _client(self, service, region):
        return self.client(service, region=region, config=CLIENT_CONFIG)

    def _regions(self):
        return self.get_option("regions") or self._boto3_regions(service="ec2")

    # ----- discovery (AWS reads); the result is plain data, so it can be cached --------------

    def _discover(self):
        """``{"hosts": [{"name", "group", "vars"}], "warnings": [...]}`` of every Region."""
        hosts, warnings = [], []
        for region in self._regions():
            try:
                if self.get_option("lightsail"):
                    self._discover_lightsail(region, hosts, warnings)
                if self.get_option("ecs_clusters"):
                    self._discover_ecs(region, hosts, warnings)
            except AnsibleAWSError as e:
                self.fail_aws(f"{self.NAME}: {e.message} in region {region}", exception=e.exception)
        if self.get_option("exclusive"):
            self._add_cleanup_repositories(hosts)
        return {"hosts": hosts, "warnings": warnings}

    def _discover_lightsail(self, region, hosts, warnings):
        client = self._client("lightsail", region)
        wanted = self.get_option("lightsail_deployments")
        kinds = [kind for kind in ("current", "pending") if kind in wanted]
        for name, service in sorted(list_container_services(client).items()):
            if not matches(name, self.get_option("lightsail_include"), self.get_option("lightsail_exclude")):
                continue
            failed = None
            if "failed" in wanted:
                failed = latest_failed_deployment(get_container_service_deployments(client, name, region), service)
            variables, images = lightsail_workload(service, region, kinds, failed)
            host = self._host_name("lightsail_hostname", service=name, region=region)
            self._add_host(hosts, warnings, {"name": host, "group": "lightsail", "vars": variables}, images)

    def _discover_ecs(self, region, hosts, warnings):
        client = self._client("ecs", region)
        clusters = self.get_option("ecs_clusters")
        if "*" in clusters:
            clusters = sorted(list_cluster_arns(client), key=lambda arn: arn.rsplit("/", 1)[-1])
        roles = self.get_option("ecs_instance_roles") or {}
        tasks = {}
        for cluster in clusters:
            cluster_name = cluster.rsplit("/", 1)[-1]
            for service in sorted(describe_cluster_services(client, cluster), key=lambda s: s["serviceName"]):
                if not matches(service["serviceName"], self.get_option("ecs_include"), self.get_option("ecs_exclude")):
                    continue
                definitions = []
                for arn in ecs_task_definitions(service, self.get_option("ecs_rolling_deployments")):
                    if arn not in tasks:
                        tasks[arn] = describe_task_definition(client, arn, region)
                    definitions.append(tasks[arn])
                variables, images, problem = ecs_workload(service, cluster_name, region, definitions, roles.get(cluster_name, roles.get("*")))
                host = self._host_name("ecs_hostname", cluster=cluster_name, service=service["serviceName"], region=region)
                if problem:
                    warnings.append(f"ECS service {host} in {region} gets no host: {problem}")
                    continue
                self._add_host(hosts, warnings, {"name": host, "group": "ecs", "vars": variables}, images)

    def _add_host(self, hosts, warnings, host, images):
        self._note_images(host["name"], images, warnings)
        if host["vars"]["ecr_pull_access_repositories"] or self.get_option("workloads_without_repositories") == "include":
            hosts.append(host)

    def _add_cleanup_repositories(self, hosts):
        """Every repository of each host's own account and Region, for the role's exclusive cleanup."""
        names = {}
        for host in hosts:
            region = host["vars"]["ecr_pull_access_region"]
            if region not in names:
                try:
                    names[region] = sorted(r["repositoryName"] for r in list_repositories(self._client("ecr", region)))
                except AnsibleAWSError as e:
                    self.fail_aws(f"{self.NAME}: {e.message} in region {region}", exception=e.exception)
            host["vars"]["ecr_pull_access_exclusive"] = True
            host["vars"]["ecr_pull_access_cleanup_repositories"] = names[region]

    def _host_name(self, option, **fields):
        try:
            return self.get_option(option).format(**fields)
        except (KeyError, IndexError, ValueError) as e:
            raise AnsibleError(f"{self.NAME}: {option} {self.get_option(option)!r} is not a valid host name template: {to_native(e)}") from e

    def _note_images(self, host, images, warnings):
        for entry in images:
            if entry["skipped"] is None:
                continue
            message = f"{host}: container {entry['container']} image {entry['image']!r} is left out: {entry['skipped']}"
            foreign_region = entry["skipped"].startswith("in ECR in ")
            if self.get_option("non_ecr_images") == "fail" and not foreign_region:
                raise AnsibleError(f"{self.NAME}: {message} (non_ecr_images=fail)")
            if foreign_region or self.get_option("non_ecr_images") == "warn":
                warnings.append(message)

    # ----- the inventory -------------------------------------------------------------------

    def _populate(self, found):
        seen = {}
        for host in found["hosts"]:
            name = host["name"]
            if name in seen:
                raise AnsibleError(
                    f"{self.NAME}: two workloads have the host name {name!r} ({seen[name]} and {host['vars']['workload_arn']}); "
                    "make the names unique with lightsail_hostname or ecs_hostname (for example with {region})"
                )
            seen[name] = host["vars"]["workload_arn"]
            self.inventory.add_group(host["group"])
            self.inventory.add_host(name, group=host["group"])
            for key, value in host["vars"].items():
                self.inventory.set_variable(name, key, value)
            strict = self.get_option("strict")
            self._set_composite_vars(self.get_option("compose"), host["vars"], name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host["vars"], name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host["vars"], name, strict=strict)
        for message in found["warnings"]:
            self.warn(message)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        cached, found = self.get_cached_result(path, cache)
        if not cached:
            found = self._discover()
        self._populate(found)
        self.update_cached_result(path, cache, found)
