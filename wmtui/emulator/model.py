"""WorkMail's own rules, read from botocore's model: request validation and answer checking.

The emulator rejects what the real service rejects because it reads the same service-2.json that
boto3 ships, rather than a hand-copied list of patterns that could drift from it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

SERVICE_NAME = "workmail"
TARGET_PREFIX = "WorkMailService"


@functools.cache
def service_model() -> Any:
    """botocore's WorkMail ServiceModel, loaded once (botocore is imported only when needed)."""
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    data = create_loader().load_service_model(SERVICE_NAME, "service-2")
    return ServiceModel(data, service_name=SERVICE_NAME)


def operation_names() -> frozenset[str]:
    return frozenset(service_model().operation_names)


def operation_model(name: str) -> Any:
    return service_model().operation_model(name)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # The model's patterns are Java regexes meant to match the whole value; fullmatch does
    # that, and a leading ^ or trailing $ inside them is harmless under fullmatch.
    return re.compile(pattern)


def _camel(name: str) -> str:
    """The service names a member in its messages with a lower-case first letter: 'jobId'."""
    return name[:1].lower() + name[1:]


def _shown(value: object) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 256 else value[:253] + "..."
        return "'" + text + "'"
    return repr(value)


def _check_value(shape: Any, value: object, path: str, problems: list[str]) -> None:
    """Append a service-style problem for each rule of `shape` that `value` breaks."""
    type_name: str = shape.type_name
    meta: Mapping[str, Any] = shape.metadata

    def fail(rule: str) -> None:
        problems.append(f"Value {_shown(value)} at '{path}' failed to satisfy constraint: {rule}")

    if type_name == "structure":
        if not isinstance(value, dict):
            fail("Member must be a structure")
            return
        _check_structure(shape, value, path, problems)
    elif type_name == "list":
        if not isinstance(value, list):
            fail("Member must be a list")
            return
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        for index, item in enumerate(value, start=1):
            _check_value(shape.member, item, f"{path}.{index}.member", problems)
    elif type_name == "map":
        if not isinstance(value, dict):
            fail("Member must be a map")
            return
        for key, item in value.items():
            _check_value(shape.key, key, f"{path}.key", problems)
            _check_value(shape.value, item, f"{path}.{key}", problems)
    elif type_name == "string":
        if not isinstance(value, str):
            fail("Member must be of type string")
            return
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        enum = shape.enum
        if enum and value not in enum:
            fail("Member must satisfy enum value set: [" + ", ".join(enum) + "]")
        pattern = meta.get("pattern")
        if pattern is not None and not _compiled(pattern).fullmatch(value):
            fail(f"Member must satisfy regular expression pattern: {pattern}")
    elif type_name in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"Member must be of type {type_name}")
            return
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")
    elif type_name in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"Member must be of type {type_name}")
    elif type_name == "boolean":
        if not isinstance(value, bool):
            fail("Member must be of type boolean")
    elif type_name == "timestamp":
        # JSON 1.1 sends timestamps as epoch seconds.
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail("Member must be a timestamp in epoch seconds")
    elif type_name == "blob" and not isinstance(value, str):
        fail("Member must be base64 text")


def _check_structure(
    shape: Any, value: Mapping[str, Any], prefix: str, problems: list[str]
) -> None:
    members: Mapping[str, Any] = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            path = f"{prefix}.{_camel(name)}" if prefix else _camel(name)
            problems.append(
                f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
            )
    for name, item in value.items():
        member = members.get(name)
        if member is None or item is None:
            # Like the service, members it does not know are ignored.
            continue
        path = f"{prefix}.{_camel(name)}" if prefix else _camel(name)
        _check_value(member, item, path, problems)


def input_problems(operation: str, params: Mapping[str, Any]) -> list[str]:
    """Every way `params` breaks the operation's input shape, in the service's words."""
    shape = operation_model(operation).input_shape
    if shape is None:
        return []
    problems: list[str] = []
    _check_structure(shape, params, "", problems)
    return problems


def validation_message(problems: list[str]) -> str:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)


def output_problems(operation: str, data: object) -> list[str]:
    """How an answer body breaks the operation's output shape (members it lacks are allowed).

    Stricter than the input check: a member the shape does not have is a problem, because an
    answer must carry only what the real service could send.
    """
    shape = operation_model(operation).output_shape
    if shape is None:
        return [] if data in ({}, None) else [f"{operation} has no output, got {data!r}"]
    problems: list[str] = []
    _check_output_value(shape, data, operation, problems)
    return problems


def _check_output_value(shape: Any, value: object, path: str, problems: list[str]) -> None:
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        members: Mapping[str, Any] = shape.members
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                problems.append(f"{path}.{name}: not a member of {shape.name}")
            elif item is None:
                problems.append(f"{path}.{name}: null (absent members are left out)")
            else:
                _check_output_value(member, item, f"{path}.{name}", problems)
    elif shape.type_name == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check_output_value(shape.member, item, f"{path}[{index}]", problems)
    else:
        found: list[str] = []
        _check_value(shape, value, path, found)
        problems.extend(found)
