# -*- coding: utf-8 -*-

# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.pullaccess.aws.plugins.filter.pull_access import plain
from ansible_collections.pullaccess.aws.plugins.filter.pull_access import pull_access_workload

PREFIX = "ecr_pull_access_"
# Role variables that are not part of a workload's declaration (connection, timing, targeting).
NOT_DECLARATION = ("wait_timeout", "verify_delay", "aws_profile", "aws_access_key", "aws_secret_key", "aws_session_token",
                   "aws_endpoint_url", "aws_host", "hosts", "check_permissions", "report_per_host")
# At most this many hosts' problems are spelt out in the message; the rest are counted.
SHOWN_PROBLEMS = 20
# Settings of the whole batch: every host must give the same value.
BATCH_SETTINGS = ("remove_undeclared", "report_per_host")


def declaration(values):
    """The pull_access_workload declaration from one host's checked role variables."""
    found = {name[len(PREFIX):]: value for name, value in values.items() if name[len(PREFIX):] not in NOT_DECLARATION}
    found["name"] = found.pop("service_name", None)
    return found


def problems_message(problems, checked):
    shown = problems[:SHOWN_PROBLEMS]
    more = len(problems) - len(shown)
    head = (f"ecr_pull_access: {len(problems)} of {checked} hosts declare their pull access wrongly; nothing was changed. "
            "Fix these host or group variables:")
    return "\n".join([head] + shown + ([f"... and {more} more hosts"] if more else []))


def mixed_settings(settings, checked):
    """A problem for each batch setting that some hosts set true and others false ({setting: {value: [host]}})."""
    return [f"{PREFIX}{setting} is true for {len(hosts[True])} of the {checked} hosts (for example {hosts[True][0]}) and false for the others: "
            "set it the same for every host of the play" for setting, hosts in settings.items() if len(hosts) > 1]


class ActionModule(ActionBase):
    """Check the role variables of every host of the batch, in the task's own context for each host,
    in one task: the argument spec, misspelt names and the declaration itself."""

    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec={
            "hosts": {"type": "list", "elements": "str", "required": True},
            "argument_spec": {"type": "dict", "required": True},
        })[1]
        spec = {name: {key: value for key, value in option.items() if key not in ("description", "version_added")}
                for name, option in args["argument_spec"].items()}
        hostvars = task_vars["hostvars"]
        try:
            # The variable manager gives each host's variables as a task of this role on that host sees them:
            # inventory, play, role defaults and vars, block and include variables, facts and extra vars.
            variable_manager, inventory = hostvars._variable_manager, hostvars._inventory  # pylint: disable=protected-access
        except AttributeError:
            return dict(result, failed=True, msg="pull_access_declarations: this ansible-core gives no host variables to plugins")
        play = self._task.get_play()
        batch, every = task_vars.get("ansible_play_batch"), task_vars.get("ansible_play_hosts_all")
        validator = ArgumentSpecValidator(spec)
        workloads, problems = [], []
        settings = {setting: {} for setting in BATCH_SETTINGS}
        for name in args["hosts"]:
            host = inventory.get_host(name)
            if host is None:
                problems.append(f"host {name}: not in the inventory")
                continue
            variables = variable_manager.get_vars(play=play, host=host, task=self._task, _hosts=batch, _hosts_all=every)
            templar = self._templar.copy_with_new_env(available_variables=variables)
            try:
                values = plain({option: templar.template(variables[option]) for option in spec if option in variables})
            except AnsibleError as error:
                problems.append(f"host {name}: {error.message if hasattr(error, 'message') else error}")
                continue
            unknown = sorted(variable for variable in variables if variable.startswith(PREFIX) and variable not in spec)
            if unknown:
                problems.append(f"host {name}: unknown variables {', '.join(unknown)}: the ecr_pull_access role has no such variables "
                                "(misspelt?); see its argument specification (ansible-doc -t role pullaccess.aws.ecr_pull_access)")
                continue
            checked = validator.validate(values)
            if checked.error_messages:
                problems.append(f"host {name}: " + "; ".join(checked.error_messages))
                continue
            for setting in BATCH_SETTINGS:
                settings[setting].setdefault(bool(checked.validated_parameters.get(PREFIX + setting)), []).append(name)
            try:
                workloads.append(pull_access_workload(declaration(checked.validated_parameters), name))
            except AnsibleError as error:
                problems.append(str(error.message if hasattr(error, "message") else error).replace("ecr_pull_access: ", "", 1))
        problems.extend(mixed_settings(settings, len(args["hosts"])))
        if problems:
            return dict(result, failed=True, msg=problems_message(problems, len(args["hosts"])), workloads=[], workloads_json="[]")
        # With no host, the argument spec's defaults.
        values = {setting: next(iter(settings[setting]), bool(spec.get(PREFIX + setting, {}).get("default"))) for setting in BATCH_SETTINGS}
        return dict(result, changed=False, workloads=workloads, workloads_json=json.dumps(workloads), **values)
