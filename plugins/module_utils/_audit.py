# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who can pull what, and what is stale or dangerous (private module_utils: the engine of
ecr_pull_access_info and of the audit playbook).

Pure (no AWS calls): ``audit`` takes what was read (repositories with their policy text,
Lightsail container services, ECS task definitions with their role's permissions, optionally the
inventory's declared workloads) and returns, per repository, every principal that can pull with
its kind and the statement that grants it; per workload, the repositories it can pull from; an
access matrix; and findings, each with a stable code (``FINDINGS``), a severity, a target and what
to do. Policies are parsed and rendered by the one policy engine (``_policy``); names and ARNs
come from ``_names``.
"""

import fnmatch

from ansible_collections.pullaccess.aws.plugins.module_utils._names import ACCOUNT_SID
from ansible_collections.pullaccess.aws.plugins.module_utils._names import ECR_TOKEN_ACTION
from ansible_collections.pullaccess.aws.plugins.module_utils._names import OWNED_SID_PREFIX
from ansible_collections.pullaccess.aws.plugins.module_utils._names import PULL_ACTIONS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import SHARED_SIDS
from ansible_collections.pullaccess.aws.plugins.module_utils._names import arn_account
from ansible_collections.pullaccess.aws.plugins.module_utils._names import image_repository_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import is_account_id
from ansible_collections.pullaccess.aws.plugins.module_utils._names import lightsail_puller_arn_pattern
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_image
from ansible_collections.pullaccess.aws.plugins.module_utils._names import parse_lightsail_role_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._names import repository_arn
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import ECR_POLICY_MAX_LENGTH
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import PolicyError
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import build_statement
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import canonical_principal
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import is_unique_id
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import parse_iam_policy_document
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import parse_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import render_policy
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import resources_cover
from ansible_collections.pullaccess.aws.plugins.module_utils._policy import statements_of

#: Severities, lowest first (``-e ecr_pull_access_audit_fail_on=high`` fails on high and critical).
SEVERITIES = ("info", "low", "medium", "high", "critical")
#: Share of ECR's policy size limit above which a policy is reported.
SIZE_WARNING_RATIO = 0.8

#: The stable finding codes: severity, title, what to do.
FINDINGS = {
    "PUBLIC_PULL": ("critical", "Anyone can pull", "Remove the statement, or limit it with a condition on aws:PrincipalOrgID, "
                    "aws:PrincipalAccount, aws:PrincipalArn or aws:SourceAccount"),
    "UNTRUSTED_ACCOUNT": ("high", "Another account can pull", "Remove the account's principal, or add the account to the trusted accounts"),
    "SERVICE_PRINCIPAL_GRANTED": ("high", "Lightsail service's own principal granted",
                                  "Grant the service's ECR image puller role instead (deployments with the service's own principal end "
                                  "as Canceled): pullaccess.aws.lightsail_ecr_puller returns its ARN"),
    "BROAD_ACTIONS": ("high", "Workload statement grants more than pulling",
                      "Grant only ecr:BatchGetImage, ecr:GetDownloadUrlForLayer (and ecr:BatchCheckLayerAvailability for ECS)"),
    "ECS_ROLE_CANNOT_PULL": ("high", "ECS role cannot pull an image of its task definition",
                             "Give the role pull permissions (pullaccess.aws.ecs_execution_role_ecr) and, for a repository of another "
                             "account, a statement in that repository's policy"),
    "MISSING_GRANT": ("high", "Declared grant missing", "Run pullaccess.aws.grant for the inventory"),
    "DELETED_PRINCIPAL": ("medium", "Principal of a deleted role or user",
                          "Remove the unique id from the statement; grant the role's ARN again if it was recreated"),
    "STALE_LIGHTSAIL_GRANT": ("medium", "Grant to a Lightsail puller role that is gone",
                              "Remove the principal from the statement (pullaccess.aws.revoke, or ecr_repo_policy_statement)"),
    "POLICY_NEAR_LIMIT": ("medium", "Repository policy near the size limit",
                          "Move the repository's Lightsail workloads to the account statement mode, or remove unused statements"),
    "UNDECLARED_GRANT": ("medium", "Grant written by this collection that no host declares",
                         "Revoke it (pullaccess.aws.revoke, or ecr_pull_access_exclusive), or declare the workload again"),
    "UNUSED_LIGHTSAIL_PULLER": ("low", "Active puller role that no repository allows",
                                "Grant it on the repositories the service deploys from, or deactivate it"),
    "ECS_IMAGE_NOT_ECR_URI": ("low", "ECS image not named by a full ECR URI",
                              "Name the image <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> so that ECS pulls it from ECR"),
}

#: ECR actions that only read (what a workload may be granted along with pulling).
READ_ACTIONS = (
    "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImageReplicationStatus", "ecr:DescribeImageScanFindings",
    "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer",
    "ecr:GetLifecyclePolicy", "ecr:GetLifecyclePolicyPreview", "ecr:GetRepositoryPolicy", "ecr:ListImages", "ecr:ListTagsForResource",
)
#: ECR actions that change a repository or its images.
WRITE_ACTIONS = (
    "ecr:BatchDeleteImage", "ecr:BatchImportUpstreamImage", "ecr:CompleteLayerUpload", "ecr:CreateRepository", "ecr:DeleteLifecyclePolicy",
    "ecr:DeleteRepository", "ecr:DeleteRepositoryPolicy", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability", "ecr:PutLifecyclePolicy", "ecr:ReplicateImage", "ecr:SetRepositoryPolicy", "ecr:StartImageScan",
    "ecr:StartLifecyclePolicyPreview", "ecr:TagResource", "ecr:UntagResource", "ecr:UploadLayerPart",
)
#: AWS managed policies that let a role pull from every repository (by name; any partition and path).
PULL_MANAGED_POLICIES = (
    "AmazonECSTaskExecutionRolePolicy", "AmazonEC2ContainerServiceforEC2Role", "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPullOnly", "AmazonEC2ContainerRegistryPowerUser", "AmazonEC2ContainerRegistryFullAccess",
)

# Condition keys (lower case: keys are case-insensitive) that limit who a "*" principal is.
_ORG_KEYS = ("aws:principalorgid", "aws:principalorgpaths")
_ACCOUNT_KEYS = ("aws:principalaccount", "aws:sourceaccount", "aws:sourceowner")
_ARN_KEYS = ("aws:principalarn",)
_POSITIVE_OPERATORS = ("stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike")

#: Kinds of grant that belong to a workload (a Lightsail service or an ECS role).
WORKLOAD_KINDS = ("lightsail_puller", "lightsail_pattern", "lightsail_service_principal", "ecs_role")


# --------------------------------------------------------------------------------------------
# Statements: actions, conditions, principals
# --------------------------------------------------------------------------------------------


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _action_matches(pattern, action):
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards."""
    return isinstance(pattern, str) and fnmatch.fnmatchcase(action.lower(), pattern.strip().lower().replace("[", "[[]"))


def statement_actions(statement):
    """``(allows_pull, beyond_pull)`` of a statement: whether it covers ``ecr:BatchGetImage``, and
    the action entries (as written) that also cover a write action (``NotAction`` entries are shown
    as ``NotAction: ...``)."""
    if "NotAction" in statement:
        excluded = _as_list(statement.get("NotAction"))
        allows_pull = not any(_action_matches(pattern, PULL_ACTIONS[0]) for pattern in excluded)
        writes = [action for action in WRITE_ACTIONS if not any(_action_matches(pattern, action) for pattern in excluded)]
        return allows_pull, ([f"NotAction: {', '.join(str(p) for p in excluded)}"] if writes else [])
    actions = _as_list(statement.get("Action"))
    allows_pull = any(_action_matches(pattern, PULL_ACTIONS[0]) for pattern in actions)
    beyond = [pattern for pattern in actions if any(_action_matches(pattern, action) for action in WRITE_ACTIONS)]
    return allows_pull, beyond


def _split_operator(operator):
    """``(set_prefix, base, if_exists)`` of a condition operator, all lower case."""
    value = str(operator).lower()
    prefix = ""
    if ":" in value:
        prefix, value = value.split(":", 1)
    if_exists = value.endswith("ifexists")
    if if_exists:
        value = value[: -len("ifexists")]
    return prefix, value, if_exists


def limiting_conditions(condition):
    """What a Condition block limits the principal to: ``{"organizations", "accounts", "arns"}``,
    each a sorted list of the values required. Only conditions that must hold for every request
    count: positive string and ARN operators (plain or ``ForAnyValue:``), not negated ones
    (``StringNotEquals``), not ``...IfExists`` nor ``ForAllValues:`` (both pass when the key is
    missing), and not a bare ``*`` value. Condition keys are compared case-insensitively."""
    found = {"organizations": set(), "accounts": set(), "arns": set()}
    if not isinstance(condition, dict):
        return {key: [] for key in found}
    for operator, clauses in condition.items():
        prefix, base, if_exists = _split_operator(operator)
        if prefix not in ("", "foranyvalue") or if_exists or base not in _POSITIVE_OPERATORS or not isinstance(clauses, dict):
            continue
        for key, values in clauses.items():
            values = [str(v) for v in _as_list(values) if str(v).strip() not in ("", "*")]
            if not values:
                continue
            lowered = str(key).lower()
            if lowered in _ORG_KEYS:
                found["organizations"].update(values)
            elif lowered in _ACCOUNT_KEYS:
                found["accounts"].update(values)
            elif lowered in _ARN_KEYS:
                found["arns"].update(values)
    return {key: sorted(values) for key, values in found.items()}


def _principal_blocks(statement):
    """``(block, negated)``: the Principal (or NotPrincipal) block of a statement."""
    if "NotPrincipal" in statement:
        return statement.get("NotPrincipal"), True
    return statement.get("Principal"), False


def _is_everyone(block):
    if block == "*":
        return True
    return isinstance(block, dict) and "*" in [str(p).strip() for p in _as_list(block.get("AWS"))]


class Context:
    """What the classification knows besides the policy: the registry's account, the trusted
    accounts, the region's Lightsail services and the ECS roles of the task definitions read."""

    def __init__(self, account_id, region, partition="aws", trusted_accounts=(), services=None, ecs_roles=None, services_account=None):
        self.account_id = account_id
        self.region = region
        self.partition = partition
        self.trusted = set(trusted_accounts or ()) | {account_id}
        #: service name -> {"state", "puller_active", "puller_arn", "principal_arn"}; None: not read
        self.services = services
        self.services_account = services_account or account_id
        #: role ARN -> sorted workload ids (ECS task definitions that use the role)
        self.ecs_roles = ecs_roles or {}


def _grant(kind, principal, statement, index, **extra):
    grant = {
        "principal": principal,
        "kind": kind,
        "account_id": None,
        "workloads": [],
        "sid": statement.get("Sid"),
        "statement_index": index,
        "owned": str(statement.get("Sid") or "").startswith(OWNED_SID_PREFIX),
        "conditions": statement.get("Condition"),
        "note": None,
        "any_account": False,
    }
    grant.update(extra)
    return grant


def classify_principal(principal, statement, index, context):
    """One ``Principal.AWS`` entry of an Allow statement as a grant (see ``classify_statement``)."""
    value = str(principal).strip()
    if is_account_id(value):
        return _grant("account", value, statement, index, account_id=value)
    if is_unique_id(value):
        return _grant("unique_id", value, statement, index)
    account = canonical_principal(value)
    if account.startswith("account:"):
        return _grant("account", value, statement, index, account_id=account[len("account:"):])
    lightsail = parse_lightsail_role_arn(value)
    partition, account_id = arn_account(value)
    if lightsail:
        kind = "lightsail_puller" if lightsail["kind"] == "puller" else "lightsail_service_principal"
        return _grant(kind, value, statement, index, account_id=lightsail["account_id"], workloads=[f"lightsail:{lightsail['service_name']}"])
    if value in context.ecs_roles:
        return _grant("ecs_role", value, statement, index, account_id=account_id, workloads=list(context.ecs_roles[value]))
    kind = "principal"
    if partition:
        resource = value.split(":", 5)[-1]
        kind = {"role": "role", "user": "user", "assumed-role": "assumed_role"}.get(resource.split("/", 1)[0], "principal")
    return _grant(kind, value, statement, index, account_id=account_id)


def _everyone_grants(statement, index, negated, context):
    """Grants of a ``*`` (or NotPrincipal) statement: public, or what its conditions limit it to."""
    limits = limiting_conditions(statement.get("Condition"))
    note = "NotPrincipal: everyone but the principals listed" if negated else None
    if limits["arns"]:
        grants = []
        for pattern in limits["arns"]:
            lightsail = parse_lightsail_role_arn(pattern)
            if lightsail and lightsail["kind"] == "puller":
                members = [
                    f"lightsail:{name}" for name, service in sorted((context.services or {}).items())
                    if service["puller_active"] and service["puller_arn"] and fnmatch.fnmatchcase(service["puller_arn"], pattern)
                ]
                grants.append(_grant("lightsail_pattern", pattern, statement, index, account_id=lightsail["account_id"], workloads=members,
                                     note=note))
            else:
                account = pattern.split(":")[4] if pattern.count(":") >= 5 else None
                if not is_account_id(account):
                    # arn:aws:iam::*:role/ci is any account's role named ci: only an account or organisation condition limits it.
                    account = limits["accounts"][0] if len(limits["accounts"]) == 1 else None
                grants.append(_grant("pattern", pattern, statement, index, account_id=account, note=note,
                                     any_account=account is None and not limits["accounts"] and not limits["organizations"]))
        return grants
    if limits["accounts"]:
        return [_grant("account", account, statement, index, account_id=account, note=note) for account in limits["accounts"]]
    if limits["organizations"]:
        return [_grant("organization", org, statement, index, note=note) for org in limits["organizations"]]
    return [_grant("public", "*", statement, index, note=note)]


def classify_statement(statement, index, context):
    """The grants of one statement: ``[]`` unless it is an Allow that covers ``ecr:BatchGetImage``.

    Each grant: ``principal`` (as written, or the condition value that limits a ``*``), ``kind``
    (``public``, ``organization``, ``account``, ``pattern``, ``lightsail_pattern``,
    ``lightsail_puller``, ``lightsail_service_principal``, ``ecs_role``, ``role``, ``user``,
    ``assumed_role``, ``unique_id``, ``service``, ``principal``), ``account_id``, ``workloads``
    (ids of the workloads it lets pull), ``sid``, ``statement_index``, ``owned`` (written by this
    collection), ``conditions``."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or not statement_actions(statement)[0]:
        return []
    block, negated = _principal_blocks(statement)
    if negated or _is_everyone(block):
        return _everyone_grants(statement, index, negated, context)
    grants = []
    if isinstance(block, dict):
        for principal in _as_list(block.get("AWS")):
            grants.append(classify_principal(principal, statement, index, context))
        for kind in ("Service", "Federated", "CanonicalUser"):
            for principal in _as_list(block.get(kind)):
                grants.append(_grant("service" if kind == "Service" else kind.lower(), str(principal), statement, index))
    return grants


# --------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------


def finding(code, target_type, target, message, **extra):
    """One finding: its catalogue entry (``FINDINGS``) with a target and what was found."""
    severity, title, remedy = FINDINGS[code]
    result = {"code": code, "severity": severity, "title": title, "target_type": target_type, "target": target,
              "repository": None, "workload": None, "sid": None, "principal": None, "message": message, "remedy": remedy, "details": None}
    result.update(extra)
    return result


def severity_reached(findings, threshold):
    """The findings whose severity is ``threshold`` or higher (``threshold`` one of SEVERITIES)."""
    if threshold not in SEVERITIES:
        raise ValueError(f"severity {threshold!r} is not one of {', '.join(SEVERITIES)}")
    rank = SEVERITIES.index(threshold)
    return [f for f in findings if SEVERITIES.index(f["severity"]) >= rank]


def _statement_label(grant):
    return f"statement {grant['sid']!r}" if grant["sid"] else f"statement #{grant['statement_index'] + 1} (no Sid)"


def grant_findings(repository, grant, context):
    """The findings one grant gives rise to."""
    found = []
    where = f"{_statement_label(grant)} of repository {repository!r}"
    common = dict(repository=repository, sid=grant["sid"], principal=grant["principal"])
    kind = grant["kind"]
    if kind == "public":
        extra = " (Allow with NotPrincipal)" if grant.get("note") else ""
        found.append(finding("PUBLIC_PULL", "repository", repository, f"{where} lets anyone pull{extra}: no condition limits who", **common))
    if kind == "pattern" and grant.get("any_account"):
        found.append(finding("PUBLIC_PULL", "repository", repository,
                             f"{where} lets principals matching {grant['principal']} in any AWS account pull: no condition limits the account",
                             **common))
    if kind == "unique_id":
        found.append(finding("DELETED_PRINCIPAL", "repository", repository,
                             f"{where} names {grant['principal']}, the unique id AWS shows for a deleted role or user", **common))
    if kind == "lightsail_service_principal":
        service = parse_lightsail_role_arn(grant["principal"])["service_name"]
        found.append(finding("SERVICE_PRINCIPAL_GRANTED", "repository", repository,
                             f"{where} grants the own principal of Lightsail service {service!r}, not its ECR image puller role",
                             workload=f"lightsail:{service}", **common))
    if kind == "lightsail_puller" and context.services is not None:
        parsed = parse_lightsail_role_arn(grant["principal"])
        if parsed["region"] == context.region and parsed["account_id"] == context.services_account:
            service = context.services.get(parsed["service_name"])
            reason = None
            if service is None:
                reason = f"service {parsed['service_name']!r} does not exist (any more) in {context.region}"
            elif not service["puller_active"]:
                reason = f"the puller role of service {parsed['service_name']!r} is inactive"
            elif service["puller_arn"] != grant["principal"]:
                reason = f"service {parsed['service_name']!r} has another puller role now ({service['puller_arn']}): it was reactivated"
            if reason:
                found.append(finding("STALE_LIGHTSAIL_GRANT", "repository", repository, f"{where} names a puller role that is gone: {reason}",
                                     workload=f"lightsail:{parsed['service_name']}", **common))
    account = grant["account_id"]
    if account and account not in context.trusted and kind not in ("lightsail_service_principal",):
        found.append(finding("UNTRUSTED_ACCOUNT", "repository", repository,
                             f"{where} lets account {account} pull ({kind} {grant['principal']}); it is not a trusted account", **common))
    return found


def _size_fits(headroom, context):
    """How many more workloads fit in ``headroom`` characters, in each statement mode."""
    stand_in = lightsail_puller_arn_pattern(context.partition, context.account_id, context.region, "x" * 20).replace("*", "y" * 52)
    shared = len(render_policy({"AWS": [stand_in, stand_in]})) - len(render_policy({"AWS": [stand_in]}))
    statement = len(render_policy(build_statement(OWNED_SID_PREFIX + "Lightsail" + "X" * 48, [stand_in], PULL_ACTIONS))) + 1
    return {"shared": max(headroom // shared, 0), "workload": max(headroom // statement, 0), "account": "any (constant size)"}


# --------------------------------------------------------------------------------------------
# ECS roles
# --------------------------------------------------------------------------------------------


def role_identity_allows(permissions, repo_arn):
    """``(allows, via)``: whether a role's identity policies let it pull from ``repo_arn``
    (``permissions``: ``{"attached": [managed policy ARNs], "inline": {name: document or text}}``);
    ``via`` names the managed or inline policy, or says what is missing."""
    for arn in permissions.get("attached") or []:
        if str(arn).rsplit("/", 1)[-1] in PULL_MANAGED_POLICIES and ":iam::aws:policy/" in str(arn):
            return True, f"managed policy {arn.rsplit('/', 1)[-1]}"
    token, images = None, None
    for name, document in sorted((permissions.get("inline") or {}).items()):
        try:
            parsed = parse_iam_policy_document(document, f"inline policy {name!r}")
        except PolicyError:
            continue
        for statement in statements_of(parsed):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                continue
            actions = _as_list(statement.get("Action"))
            resources = _as_list(statement.get("Resource"))
            if any(_action_matches(a, ECR_TOKEN_ACTION) for a in actions) and resources_cover(resources, "*"):
                token = token or name
            if any(_action_matches(a, PULL_ACTIONS[0]) for a in actions) and resources_cover(resources, repo_arn):
                images = images or name
    if token and images:
        return True, f"inline policy {images!r}"
    if images:
        return False, f"inline policy {images!r} allows the image reads but no policy allows ecr:GetAuthorizationToken on *"
    return False, "no attached or inline policy allows ecr:BatchGetImage on the repository"


def _permissions_summary(permissions):
    """What a workload reports of its role's permissions: the managed policies that let it pull
    and the names of its inline policies (None when they were not read)."""
    if permissions is None:
        return None
    managed = [arn for arn in permissions.get("attached") or [] if str(arn).rsplit("/", 1)[-1] in PULL_MANAGED_POLICIES]
    return {"pull_managed_policies": sorted(managed), "inline_policies": sorted(permissions.get("inline") or {})}


def _ecs_workload_id(task):
    return f"ecs:{task['family']}:{task['revision']}"


# --------------------------------------------------------------------------------------------
# The audit
# --------------------------------------------------------------------------------------------


def _service_summary(service):
    role = (service.get("privateRegistryAccess") or {}).get("ecrImagePullerRole") or {}
    active = bool(role.get("isActive"))
    return {"state": service.get("state"), "puller_active": active, "puller_arn": (role.get("principalArn") or "") if active else "",
            "principal_arn": service.get("principalArn") or ""}


def analyse_repository(repository, context):
    """One repository: its grants, findings and policy size. ``repository``: ``{"name", "arn",
    "registry_id", "policy_text"}``."""
    name = repository["name"]
    result = {"name": name, "arn": repository.get("arn"), "registry_id": repository.get("registry_id"), "policy": None,
              "policy_size": 0, "policy_size_limit": ECR_POLICY_MAX_LENGTH, "policy_size_percent": 0.0, "grants": [],
              "deny_statements": 0, "error": None}
    findings = []
    try:
        document = parse_policy(repository.get("policy_text"), f"the policy of repository {name!r}")
    except PolicyError as e:
        result["error"] = str(e)
        return result, findings
    if document is None:
        return result, findings
    result["policy"] = document
    size = len(render_policy(document))
    result["policy_size"] = size
    result["policy_size_percent"] = round(100.0 * size / ECR_POLICY_MAX_LENGTH, 1)
    for index, statement in enumerate(statements_of(document)):
        if isinstance(statement, dict) and statement.get("Effect") == "Deny":
            result["deny_statements"] += 1
        grants = classify_statement(statement, index, context)
        result["grants"].extend(grants)
        for grant in grants:
            findings.extend(grant_findings(name, grant, context))
        beyond = statement_actions(statement)[1] if grants else []
        workload_grants = [g for g in grants if g["kind"] in WORKLOAD_KINDS]
        if beyond and (workload_grants or str(statement.get("Sid") or "").startswith(OWNED_SID_PREFIX)):
            label = _statement_label(grants[0])
            findings.append(finding("BROAD_ACTIONS", "repository", name,
                                    f"{label} of repository {name!r} grants workloads more than pulling: {', '.join(str(a) for a in beyond)}",
                                    repository=name, sid=statement.get("Sid")))
    if size > SIZE_WARNING_RATIO * ECR_POLICY_MAX_LENGTH:
        fits = _size_fits(ECR_POLICY_MAX_LENGTH - size, context)
        findings.append(finding(
            "POLICY_NEAR_LIMIT", "repository", name,
            f"the policy of repository {name!r} is {size} of {ECR_POLICY_MAX_LENGTH} characters ({result['policy_size_percent']}%); "
            f"about {fits['shared']} more Lightsail workloads fit in the shared mode, {fits['workload']} in the workload mode, "
            "any number in the account mode",
            repository=name, details={"size": size, "limit": ECR_POLICY_MAX_LENGTH, "more_workloads": fits}))
    return result, findings


def analyse_task_definition(task, repositories_by_arn, context):
    """One ECS task definition: ``(workload, findings)``. ``task``: ``{"arn", "family", "revision",
    "execution_role_arn", "launch_types", "containers": [{"name", "image"}], "permissions"}``
    (``permissions`` as ``role_identity_allows`` takes them, None when they could not be read)."""
    workload_id = _ecs_workload_id(task)
    role = task.get("execution_role_arn")
    workload = {"id": workload_id, "type": "ecs", "name": f"{task['family']}:{task['revision']}", "task_definition_arn": task.get("arn"),
                "principal_arn": role or "", "launch_types": task.get("launch_types") or [], "images": [], "repositories": [],
                "role_permissions": _permissions_summary(task.get("permissions"))}
    findings = []
    common = dict(workload=workload_id, principal=role)
    role_account = arn_account(role)[1] if role else None
    for container in task.get("containers") or []:
        parsed = parse_image(container.get("image"))
        image = {"container_name": container.get("name"), "image": parsed["image"], "full_ecr_uri": parsed["full_ecr_uri"],
                 "repository": parsed["repository"] if parsed["full_ecr_uri"] else None, "registry_id": parsed["registry_id"],
                 "can_pull": None, "reason": None}
        workload["images"].append(image)
        if not parsed["full_ecr_uri"]:
            if parsed["registry_host"] == "docker.io" and "." not in str(container.get("image") or "").split("/", 1)[0]:
                findings.append(finding("ECS_IMAGE_NOT_ECR_URI", "workload", workload_id,
                                        f"task definition {workload['name']}: container {container.get('name')!r} names image "
                                        f"{parsed['image']!r}, which ECS pulls from Docker Hub, not ECR", **common))
            continue
        repo_arn = image_repository_arn(parsed)
        if not role and (not workload["launch_types"] or set(workload["launch_types"]) - {"FARGATE"}):
            # On EC2 and external instances the container instance role pulls when there is no execution role.
            image.update(reason="no execution role: the container instance role pulls on EC2 and external instances; it was not read")
        elif not role:
            image.update(can_pull=False, reason="the task definition has no execution role, which Fargate needs to pull from ECR")
        elif task.get("permissions") is None:
            image.update(reason="the role's permissions were not read (a role of another account)")
        else:
            allows, via = role_identity_allows(task["permissions"], repo_arn)
            read = repositories_by_arn.get(repo_arn)
            granted = read is not None and any(
                g["principal"] == role or g["kind"] == "public" or (g["kind"] == "account" and g["account_id"] == role_account)
                or (g["kind"] == "pattern" and fnmatch.fnmatchcase(role, g["principal"]))
                for g in read["grants"])
            if parsed["registry_id"] == role_account:
                image.update(can_pull=allows or granted, reason=via if allows or not granted else "the repository policy grants the role")
            elif read is None:
                image.update(can_pull=None if allows else False,
                             reason=via if not allows else "cross-account repository not read: its policy is unknown")
            else:
                image.update(can_pull=allows and granted,
                             reason=via if not allows else ("the repository policy grants the role" if granted
                                                            else f"the policy of repository {parsed['repository']!r} in account "
                                                                 f"{parsed['registry_id']} does not allow the role"))
        if image["can_pull"] is False:
            findings.append(finding("ECS_ROLE_CANNOT_PULL", "workload", workload_id,
                                    f"task definition {workload['name']}: role {role or '(none)'} cannot pull image {parsed['image']!r}: "
                                    f"{image['reason']}", repository=parsed["repository"], **common))
        if image["can_pull"] and parsed["repository"] not in workload["repositories"]:
            workload["repositories"].append(parsed["repository"])
    return workload, findings


def _declared_principal(workload, services, task_roles):
    if workload["type"] == "lightsail":
        service = (services or {}).get(workload["name"])
        return service["puller_arn"] if service and service["puller_active"] else ""
    role = workload.get("principal") or workload.get("role_name") or task_roles.get(workload["name"]) or ""
    # A role given by name (the role's ecr_pull_access_ecs_role_name) matches any role ARN with that name.
    return role if role.startswith("arn:") or not role else f"*:role/{role}"


def drift_findings(declared, repositories, context, task_roles):
    """Drift between the inventory's ``declared`` workloads (as ``pull_access_workload`` checks
    them: ``type``, ``name``, ``sid``, ``statement_mode``, ``state``, ``repositories``) and the
    statements this collection wrote (Sid ``PullAccess...``); statements other tools own are not
    looked at. Only repositories of the registry read count."""
    findings = []
    present = [w for w in declared if w.get("state", "present") == "present"]
    by_repo = {}
    for workload in present:
        for ref in workload.get("repositories") or []:
            if (ref.get("registry_id") or context.account_id) == context.account_id and (ref.get("region") or context.region) == context.region:
                by_repo.setdefault(ref["name"], []).append(workload)
    for repo in repositories:
        name = repo["name"]
        document = repo["policy"]
        wanted = by_repo.get(name, [])
        principals = {canonical_principal(p) for p in (_declared_principal(w, context.services, task_roles) for w in wanted) if p}
        sids = {w["sid"] for w in wanted}
        for index, statement in enumerate(statements_of(document)):
            sid = str(statement.get("Sid") or "") if isinstance(statement, dict) else ""
            if not sid.startswith(OWNED_SID_PREFIX):
                continue
            if sid in SHARED_SIDS.values():
                for grant in classify_statement(statement, index, context):
                    by_name = any(p.startswith("*:role/") and grant["principal"].endswith("/" + p[len("*:role/"):]) for p in principals)
                    if grant["kind"] != "unique_id" and canonical_principal(grant["principal"]) not in principals and not by_name:
                        findings.append(finding("UNDECLARED_GRANT", "repository", name,
                                                f"shared statement {sid!r} of repository {name!r} names {grant['principal']}, which no host declares",
                                                repository=name, sid=sid, principal=grant["principal"]))
            elif sid.startswith(ACCOUNT_SID):
                if not any(w["type"] == "lightsail" and w.get("statement_mode") == "account" for w in wanted):
                    findings.append(finding("UNDECLARED_GRANT", "repository", name,
                                            f"account statement {sid!r} of repository {name!r} is declared by no host", repository=name, sid=sid))
            elif sid not in sids:
                findings.append(finding("UNDECLARED_GRANT", "repository", name,
                                        f"statement {sid!r} of repository {name!r} was written for a workload no host declares", repository=name, sid=sid))
    read = {repo["name"]: repo for repo in repositories}
    for repo_name, workloads in sorted(by_repo.items()):
        for workload in workloads:
            target = f"{workload['type']}:{workload['name']}"
            common = dict(repository=repo_name, workload=target, sid=workload["sid"])
            if workload["type"] == "ecs":
                continue  # same-account ECS access is the role's identity policy: see ECS_ROLE_CANNOT_PULL
            repo = read.get(repo_name)
            if repo is None:
                findings.append(finding("MISSING_GRANT", "workload", target, f"{target} declares repository {repo_name!r}, which was not found",
                                        **common))
                continue
            principal = _declared_principal(workload, context.services, task_roles)
            mode = workload.get("statement_mode") or "shared"
            grants = repo["grants"]
            if mode == "account":
                ok = any(g["kind"] == "lightsail_pattern" and str(g["sid"] or "").startswith(ACCOUNT_SID) and target in g["workloads"] for g in grants)
            else:
                sid = SHARED_SIDS["lightsail"] if mode == "shared" else workload["sid"]
                ok = bool(principal) and any(g["sid"] == sid and g["principal"] == principal for g in grants)
            if not ok:
                why = "its puller role is not active" if not principal and mode != "account" else f"no {mode}-mode statement grants it"
                findings.append(finding("MISSING_GRANT", "workload", target,
                                        f"{target} declares repository {repo_name!r} but cannot pull from it: {why}", principal=principal or None, **common))
    return findings


def audit(region, account_id, repositories, services=None, task_definitions=(), trusted_accounts=(), declared=None, partition="aws",
          services_account=None, all_repositories=True):
    """Audit what was read; see the module docstring. ``services``: Lightsail services (boto3
    shape) or None when they were not read; ``all_repositories``: whether every repository of
    the registry was read (an active puller no repository allows is reported only then).

    Returns ``{"repositories", "workloads", "matrix", "findings", "summary"}``."""
    service_map = None if services is None else {s["containerServiceName"]: _service_summary(s) for s in services}
    ecs_roles = {}
    for task in task_definitions:
        if task.get("execution_role_arn"):
            ecs_roles.setdefault(task["execution_role_arn"], []).append(_ecs_workload_id(task))
    context = Context(account_id, region, partition, trusted_accounts, service_map, ecs_roles, services_account)
    analysed, findings = [], []
    for repository in sorted(repositories, key=lambda r: r["name"]):
        result, found = analyse_repository(repository, context)
        if not result.get("arn") and account_id:
            result["arn"] = repository_arn(partition, region, result.get("registry_id") or account_id, result["name"])
        analysed.append(result)
        findings.extend(found)
    by_arn = {repo["arn"]: repo for repo in analysed}

    workloads = []
    for name, service in sorted((service_map or {}).items()):
        workload_id = f"lightsail:{name}"
        pulls = sorted({repo["name"] for repo in analysed for g in repo["grants"]
                        if g["kind"] == "public" or (workload_id in g["workloads"] and g["kind"] != "lightsail_service_principal"
                                                     and (g["kind"] != "lightsail_puller" or g["principal"] == service["puller_arn"]))}
                       if service["puller_active"] and service["puller_arn"] else set())
        workloads.append(dict(id=workload_id, type="lightsail", name=name, state=service["state"], puller_active=service["puller_active"],
                              puller_arn=service["puller_arn"], principal_arn=service["principal_arn"], repositories=pulls))
        if service["puller_active"] and service["puller_arn"] and all_repositories and not any(
                g["principal"] == service["puller_arn"] or workload_id in g["workloads"] and g["kind"] == "lightsail_pattern"
                for repo in analysed for g in repo["grants"]):
            findings.append(finding("UNUSED_LIGHTSAIL_PULLER", "workload", workload_id,
                                    f"the ECR image puller role of Lightsail service {name!r} is active, but no repository policy allows it",
                                    workload=workload_id, principal=service["puller_arn"]))
    task_roles = {}
    for task in sorted(task_definitions, key=_ecs_workload_id):
        workload, found = analyse_task_definition(task, by_arn, context)
        workloads.append(workload)
        findings.extend(found)
        if task.get("execution_role_arn"):
            task_roles[task["family"]] = task["execution_role_arn"]
    if declared is not None:
        findings.extend(drift_findings(declared, analysed, context, task_roles))

    cells = []
    for workload in workloads:
        for repo in analysed:
            if repo["name"] not in workload["repositories"]:
                continue
            own = workload.get("puller_arn") if workload["type"] == "lightsail" else workload.get("principal_arn")
            kinds = [g for g in repo["grants"] if g["principal"] == own or (g["kind"] == "lightsail_pattern" and workload["id"] in g["workloads"])]
            kinds = kinds or [g for g in repo["grants"] if g["kind"] == "public"]
            cells.append({"repository": repo["name"], "workload": workload["id"], "kind": kinds[0]["kind"] if kinds else "identity_policy",
                          "sid": kinds[0]["sid"] if kinds else None})
    findings.sort(key=lambda f: (-SEVERITIES.index(f["severity"]), f["code"], f["target"], f.get("sid") or "", f.get("principal") or ""))
    summary = {severity: sum(1 for f in findings if f["severity"] == severity) for severity in SEVERITIES}
    return {
        "repositories": analysed,
        "workloads": workloads,
        "matrix": {"repositories": [r["name"] for r in analysed], "workloads": [w["id"] for w in workloads], "cells": cells},
        "findings": findings,
        "summary": summary,
    }
