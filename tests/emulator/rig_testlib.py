# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers for the rig's own tests: a model shape checker and polling."""

import json
import time

from botocore.config import Config

# No retries at all. Note: retries={"max_attempts": 1} would still allow one retry, since
# botocore counts max_attempts without the first request (total_max_attempts counts it).
NO_RETRY = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)


def shape_problems(value, shape, path="$"):
    """Differences between a JSON 1.1 wire value and a botocore shape, as a list of strings.

    Checks: no keys outside a structure's members, JSON types right (timestamps are epoch
    numbers on the wire), enum values from the model, integer ranges.
    """
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected object for {shape.name}, got {type(value).__name__}"]
        problems = [f"{path}.{key}: not a member of {shape.name}" for key in value if key not in shape.members]
        for key, item in value.items():
            if key in shape.members:
                problems += shape_problems(item, shape.members[key], f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected map, got {type(value).__name__}"]
        problems = []
        for key, item in value.items():
            problems += shape_problems(key, shape.key, f"{path}<key>")
            problems += shape_problems(item, shape.value, f"{path}[{key!r}]")
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected string, got {type(value).__name__}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.name} {shape.enum}"]
        return []
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected integer, got {type(value).__name__}"]
        low, high = shape.metadata.get("min", value), shape.metadata.get("max", value)
        return [] if low <= value <= high else [f"{path}: {value} outside {low}..{high}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected boolean, got {type(value).__name__}"]
    if kind in ("timestamp", "double", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected number ({kind}), got {type(value).__name__}"]
    return [f"{path}: shape type {kind} not checked"]


class ResponseRecorder:
    """Keeps the raw JSON of every response a botocore client receives."""

    def __init__(self, client):
        self.records = []  # (operation model, HTTP status, decoded body)
        client.meta.events.register(f"after-call.{client.meta.service_model.service_name}", self._after_call)

    def _after_call(self, http_response, model, **kwargs):
        body = json.loads(http_response.content) if http_response.content else {}
        self.records.append((model, http_response.status_code, body))

    def problems(self):
        """Shape problems over all recorded responses (errors must carry __type and message)."""
        found = []
        for model, status, body in self.records:
            if status == 200:
                found += [f"{model.name}: {p}" for p in shape_problems(body, model.output_shape)]
            elif not (isinstance(body.get("__type"), str) and isinstance(body.get("message"), str)):
                found.append(f"{model.name}: error response without __type/message: {body}")
        return found


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll ``predicate`` until it returns something truthy; return that or fail."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
