"""Model instances (contract section 2): loading and validating the instances YAML file.

Each instance is validated on its own: a bad instance carries an `error` and is not run, the
others are unaffected. Only a file that cannot be read as a list of instances fails as a whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

INSTANCE_TYPES = (
    "action_prediction",
    "pcltv",
    "rfm",
    "interest_product",
    "interest_iab",
    "interest_custom",
    "byom",
)
CONFIGURED_STATUSES = ("draft", "ready", "suspended")
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class InstancesFileError(ValueError):
    """The instances file cannot be read as a list of instances."""


class InstanceConfigError(ValueError):
    """One instance's configuration is invalid; the message names the instance and the key."""


@dataclass(frozen=True)
class InstanceSpec:
    """One configured instance: its common keys, its type-specific parameters, and the
    validation error that keeps it from running (None when it is valid)."""

    id: str
    type: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # The instance's keys as written in the file (all but id, type and status), kept even when
    # the instance is invalid: monitoring reads them (model_instances.config).
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def runnable(self) -> bool:
        return self.status == "ready" and self.error is None


# Type-specific validation: each takes (instance id, raw mapping) and returns the parameters
# the type's runner uses, raising InstanceConfigError. Registered by pcdp.types.validation.
ParamsValidator = Callable[[str, dict[str, Any]], dict[str, Any]]
_VALIDATORS: dict[str, ParamsValidator] = {}


def register_validator(instance_type: str, validator: ParamsValidator) -> None:
    _VALIDATORS[instance_type] = validator


def load_instances(path: str | Path) -> list[InstanceSpec]:
    """Read and validate an instances file; raises InstancesFileError if it is unreadable."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InstancesFileError(f"cannot read instances file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise InstancesFileError(f"instances file {path} is not valid YAML: {error}") from error
    return parse_instances(document, source=str(path))


def parse_instances(document: object, source: str = "instances file") -> list[InstanceSpec]:
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise InstancesFileError(f"{source} must be a mapping with a list under 'instances'")
    _load_type_validators()
    specs: list[InstanceSpec] = []
    seen: set[str] = set()
    for position, entry in enumerate(document["instances"], start=1):
        spec = _parse_one(position, entry)
        if spec.id in seen:
            spec = InstanceSpec(
                f"{spec.id}__duplicate_{position}",
                spec.type,
                spec.status,
                error=f"instance '{spec.id}' (entry {position}): id is used by an earlier instance",
                config=spec.config,
            )
        seen.add(spec.id)
        specs.append(spec)
    return specs


def _parse_one(position: int, entry: object) -> InstanceSpec:
    if not isinstance(entry, dict):
        return InstanceSpec(
            f"instance_{position}", "unknown", "ready", error=f"entry {position} is not a mapping"
        )
    raw_id = entry.get("id")
    instance_id = raw_id if isinstance(raw_id, str) else f"instance_{position}"
    instance_type = entry.get("type")
    status = entry.get("status", "ready")
    type_name = instance_type if isinstance(instance_type, str) else "unknown"
    status_name = status if isinstance(status, str) else "ready"
    config = {key: value for key, value in entry.items() if key not in ("id", "type", "status")}

    def refused(message: str) -> InstanceSpec:
        return InstanceSpec(instance_id, type_name, status_name, error=message, config=config)

    if not isinstance(raw_id, str) or not _ID_PATTERN.fullmatch(raw_id):
        return refused(
            f"entry {position}: id must be lower snake case (letters, digits, _), got {raw_id!r}"
        )
    if instance_type not in INSTANCE_TYPES:
        return refused(
            f"instance '{instance_id}': type must be one of {', '.join(INSTANCE_TYPES)}, "
            f"got {instance_type!r}"
        )
    if status not in CONFIGURED_STATUSES:
        return refused(
            f"instance '{instance_id}': status must be one of {', '.join(CONFIGURED_STATUSES)}, "
            f"got {status!r}"
        )
    validator = _VALIDATORS.get(instance_type)
    if validator is None:
        return refused(f"instance '{instance_id}': type {instance_type} is not available yet")
    try:
        params = validator(instance_id, dict(config))
    except InstanceConfigError as error:
        return refused(str(error))
    return InstanceSpec(instance_id, instance_type, status, params, config=config)


def _load_type_validators() -> None:
    """Importing pcdp.types.validation registers every type's validator."""
    from pcdp.types import validation  # noqa: F401


class InstanceNotFoundError(LookupError):
    """No instance of the file has the requested id."""


def set_configured_status(path: str | Path, instance_id: str, status: str) -> str:
    """Set one instance's `status:` in the instances file; returns the previous status.

    The file is edited in place as text, not re-serialised: only that instance's status value
    changes (or a `status:` line is added under its `id:` when it had none), so comments,
    order and formatting stay as they were. The new file is written next to the old one and
    swapped in atomically.
    """
    if status not in CONFIGURED_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CONFIGURED_STATUSES)}")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
    except OSError as error:
        raise InstancesFileError(f"cannot read instances file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise InstancesFileError(f"instances file {path} is not valid YAML: {error}") from error
    item = _instance_node(root, instance_id, path)
    status_node = next((value for key, value in item.value if _scalar(key) == "status"), None)
    if isinstance(status_node, yaml.ScalarNode):
        previous = status_node.value
        start, end = status_node.start_mark.index, status_node.end_mark.index
        text = text[:start] + status + text[end:]
    elif status_node is not None:
        raise InstancesFileError(f"instance '{instance_id}': status must be a plain value")
    elif item.flow_style:  # {id: x, type: rfm}: add the key before the closing brace
        previous = "ready"
        close = text.rindex("}", item.start_mark.index, item.end_mark.index)
        text = text[:close] + f", status: {status}" + text[close:]
    else:  # a block mapping: add a line under `id:`, indented like it
        previous = "ready"
        id_key, id_value = next((k, v) for k, v in item.value if _scalar(k) == "id")
        line_end = text.find("\n", id_value.end_mark.index)
        line_end = len(text) if line_end < 0 else line_end
        text = (
            text[:line_end]
            + "\n"
            + " " * id_key.start_mark.column
            + f"status: {status}"
            + text[line_end:]
        )
    # A safety net for YAML the edit above does not handle (anchors, odd quoting...).
    edited = {spec.id: spec.status for spec in parse_instances(yaml.safe_load(text))}
    if edited.get(instance_id) != status:
        raise InstancesFileError(f"could not set the status of '{instance_id}' in {path}")
    _write_atomically(path, text)
    return previous


def _scalar(node: yaml.Node) -> object:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _instance_node(root: yaml.Node | None, instance_id: str, path: Path) -> yaml.MappingNode:
    instances = None
    if isinstance(root, yaml.MappingNode):
        instances = next((v for k, v in root.value if _scalar(k) == "instances"), None)
    if not isinstance(instances, yaml.SequenceNode):
        raise InstancesFileError(f"{path} must be a mapping with a list under 'instances'")
    ids = []
    for item in instances.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        found = next((_scalar(v) for k, v in item.value if _scalar(k) == "id"), None)
        if found == instance_id:
            return item
        if isinstance(found, str):
            ids.append(found)
    known = ", ".join(ids) or "none"
    raise InstanceNotFoundError(f"no instance '{instance_id}' in {path} (instances: {known})")


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
