"""Model instances (contract section 2): loading and validating the instances YAML file.

Each instance is validated on its own: a bad instance carries an `error` and is not run, the
others are unaffected. Only a file that cannot be read as a list of instances fails as a whole.
"""

from __future__ import annotations

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

    @property
    def runnable(self) -> bool:
        return self.status == "ready" and self.error is None


# Type-specific validation: each takes (instance id, raw mapping) and returns the parameters
# the type's runner uses, raising InstanceConfigError. Registered by the type modules.
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

    def refused(message: str) -> InstanceSpec:
        return InstanceSpec(instance_id, type_name, status_name, error=message)

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
    params = {key: value for key, value in entry.items() if key not in ("id", "type", "status")}
    validator = _VALIDATORS.get(instance_type)
    if validator is None:
        return refused(f"instance '{instance_id}': type {instance_type} is not available yet")
    try:
        params = validator(instance_id, params)
    except InstanceConfigError as error:
        return refused(str(error))
    return InstanceSpec(instance_id, instance_type, status, params)


def _load_type_validators() -> None:
    """Importing the type modules registers their validators."""
    from pcdp import types  # noqa: F401
