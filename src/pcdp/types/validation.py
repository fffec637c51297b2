"""Configuration checks of every instance type, registered with pcdp.instances on import.

Each validator takes an instance's id and its keys (a raw mapping from the instances file) and
returns the parameters the type's runner (pcdp.types.<type>) uses, or raises
InstanceConfigError. They live apart from the runners and import none of the modelling
libraries: `pcdp run` checks the instances file before dbt starts, and loading scikit-learn and
SciPy there took about 1 s of every run and 96 MB of memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pcdp.action.config import ConfigError, parse_action_config
from pcdp.byom.instance import ByomConfigError, validate_params
from pcdp.instances import InstanceConfigError, ParamsValidator, register_validator

PCLTV_DEFAULT_HORIZONS = (3, 6, 12)
PCLTV_MODELS = ("auto", "btyd", "ml")
PCLTV_MAX_HORIZON_MONTHS = 120
_PCLTV_KEYS = {"horizons_months", "model", "description"}

DEFAULT_MIN_CONFIDENCE = 0.3  # of a page or product label (pcdp.interest)
INTEREST_TYPES = ("interest_product", "interest_iab", "interest_custom")
DEFAULT_TOP_K = 3
DEFAULT_HALF_LIFE_DAYS = 90.0
MAX_WEIGHT = 1_000_000
CUSTOM_TAXONOMY_SEED = "custom_taxonomy"
DEFAULT_EVENT_WEIGHTS: dict[str, dict[str, float]] = {
    "interest_product": {"product_view": 1.0, "add_to_cart": 2.0, "order_completed": 3.0},
    "interest_iab": {"page_view": 1.0},
    "interest_custom": {
        "page_view": 1.0,
        "product_view": 1.0,
        "add_to_cart": 2.0,
        "order_completed": 3.0,
    },
}
_INTEREST_COMMON_KEYS = {"top_k", "half_life_days", "event_weights", "description"}
_INTEREST_KEYS = {
    "interest_product": _INTEREST_COMMON_KEYS,
    "interest_iab": _INTEREST_COMMON_KEYS | {"min_confidence"},
    "interest_custom": _INTEREST_COMMON_KEYS | {"min_confidence", "taxonomy"},
}
TAXONOMY_COLUMNS = {"keywords", "product_categories", "example_titles"}


# ------------------------------------------------------------------------------- action_prediction


def validate_action_prediction(instance_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Checked by pcdp.action.config (the rules are in its docstring)."""
    try:
        parse_action_config({**params, "id": instance_id, "type": "action_prediction"})
    except ConfigError as error:
        raise InstanceConfigError(str(error)) from None
    return dict(params)


# -------------------------------------------------------------------------------------------- byom


def validate_byom(instance_id: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return validate_params(instance_id, params)
    except ByomConfigError as error:
        raise InstanceConfigError(f"instance '{instance_id}': {error}") from error


# ------------------------------------------------------------------------------------------- pcltv


def validate_pcltv(instance_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check a pcltv instance's keys; returns ``horizons_months`` (sorted) and ``model``."""

    def fail(message: str) -> InstanceConfigError:
        return InstanceConfigError(f"instance '{instance_id}': {message}")

    unknown = sorted(set(params) - _PCLTV_KEYS)
    if unknown:
        raise fail(
            f"unknown key(s) for pcltv: {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(_PCLTV_KEYS))})"
        )
    horizons = params.get("horizons_months", list(PCLTV_DEFAULT_HORIZONS))
    if not isinstance(horizons, list) or not horizons:
        raise fail(f"horizons_months must be a non-empty list of months, got {horizons!r}")
    for value in horizons:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"horizons_months must hold whole numbers of months, got {value!r}")
        if not 1 <= value <= PCLTV_MAX_HORIZON_MONTHS:
            raise fail(f"horizons_months values must be 1..{PCLTV_MAX_HORIZON_MONTHS}, got {value}")
    if len(set(horizons)) != len(horizons):
        raise fail(f"horizons_months has a month count twice: {horizons}")
    model = params.get("model", "auto")
    if model not in PCLTV_MODELS:
        raise fail(f"model must be one of {', '.join(PCLTV_MODELS)}, got {model!r}")
    description = params.get("description")
    if description is not None and not isinstance(description, str):
        raise fail("description must be text")
    out: dict[str, Any] = {"horizons_months": sorted(horizons), "model": model}
    if description is not None:
        out["description"] = description
    return out


# --------------------------------------------------------------------------------------------- rfm


def validate_rfm(instance_id: str, params: dict[str, Any]) -> dict[str, Any]:
    unknown = set(params) - {"segment_map", "description"}
    if unknown:
        raise InstanceConfigError(
            f"instance '{instance_id}': unknown key(s) for rfm: {', '.join(sorted(unknown))}"
            " (allowed: description, segment_map)"
        )
    out = dict(params)
    segment_map = params.get("segment_map")
    if segment_map is not None:
        if not isinstance(segment_map, str) or not segment_map.strip():
            raise InstanceConfigError(
                f"instance '{instance_id}': segment_map must be the path of a CSV file"
            )
        path = Path(segment_map.strip()).expanduser().resolve()
        if not path.is_file():
            raise InstanceConfigError(
                f"instance '{instance_id}': segment_map {segment_map!r} does not exist"
            )
        out["segment_map"] = str(path)
    return out


# ---------------------------------------------------------------------------------- interest types


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def interest_validator(instance_type: str) -> ParamsValidator:
    """The validator of one interest type (they differ in their keys and default weights)."""

    def validate(instance_id: str, params: dict[str, Any]) -> dict[str, Any]:
        def refuse(key: str, message: str) -> InstanceConfigError:
            return InstanceConfigError(f"instance '{instance_id}': {key} {message}")

        unknown = sorted(set(params) - _INTEREST_KEYS[instance_type])
        if unknown:
            raise InstanceConfigError(
                f"instance '{instance_id}': unknown key(s) for {instance_type}: "
                f"{', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_INTEREST_KEYS[instance_type]))})"
            )
        out: dict[str, Any] = {}
        if "description" in params:
            out["description"] = params["description"]

        top_k = params.get("top_k", DEFAULT_TOP_K)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 100:
            raise refuse("top_k", f"must be a whole number from 1 to 100, got {top_k!r}")
        out["top_k"] = top_k

        half_life = params.get("half_life_days", DEFAULT_HALF_LIFE_DAYS)
        if not _is_number(half_life) or half_life <= 0:
            raise refuse("half_life_days", f"must be a positive number, got {half_life!r}")
        out["half_life_days"] = float(half_life)

        weights = params.get("event_weights", DEFAULT_EVENT_WEIGHTS[instance_type])
        if not isinstance(weights, Mapping) or not weights:
            raise refuse(
                "event_weights",
                f"must map event names to weights (e.g. {{product_view: 1}}), got {weights!r}",
            )
        for name, weight in weights.items():
            if not isinstance(name, str) or not name.strip():
                raise refuse("event_weights", f"has an event name that is not text: {name!r}")
            if not _is_number(weight) or not 0 <= weight <= MAX_WEIGHT:
                raise refuse(
                    "event_weights",
                    f"weight of {name} must be a number from 0 to {MAX_WEIGHT:,}, got {weight!r}",
                )
        if not any(weight > 0 for weight in weights.values()):
            raise refuse("event_weights", "needs at least one positive weight")
        out["event_weights"] = {str(k).strip(): float(v) for k, v in sorted(weights.items())}

        if "min_confidence" in _INTEREST_KEYS[instance_type]:
            confidence = params.get("min_confidence", DEFAULT_MIN_CONFIDENCE)
            if not _is_number(confidence) or not 0 < confidence < 1:
                raise refuse(
                    "min_confidence", f"must be a number between 0 and 1, got {confidence!r}"
                )
            out["min_confidence"] = float(confidence)

        if instance_type == "interest_custom":
            out["taxonomy"] = _interest_taxonomy(instance_id, params.get("taxonomy"))
        return out

    return validate


def _interest_taxonomy(instance_id: str, taxonomy: object) -> str:
    """The seed name, or the absolute path of a readable CSV with a label column."""
    prefix = f"instance '{instance_id}': taxonomy"
    if taxonomy is None:
        raise InstanceConfigError(
            f"{prefix} is required: the seed name {CUSTOM_TAXONOMY_SEED} or the path of a CSV"
        )
    if not isinstance(taxonomy, str) or not taxonomy.strip():
        raise InstanceConfigError(f"{prefix} must be text, got {taxonomy!r}")
    if taxonomy.strip() == CUSTOM_TAXONOMY_SEED:
        return CUSTOM_TAXONOMY_SEED
    path = Path(taxonomy.strip()).expanduser().resolve()
    if not path.is_file():
        raise InstanceConfigError(
            f"{prefix} {taxonomy!r} is neither the seed {CUSTOM_TAXONOMY_SEED} nor an "
            f"existing CSV file"
        )
    import pandas as pd  # only for a taxonomy given as a CSV path

    try:
        columns = set(pd.read_csv(path, nrows=0).columns)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise InstanceConfigError(f"{prefix} {path} cannot be read as CSV: {error}") from error
    if "label" not in columns or not columns & TAXONOMY_COLUMNS:
        raise InstanceConfigError(
            f"{prefix} {path} needs a label column and at least one of "
            f"{', '.join(sorted(TAXONOMY_COLUMNS))}"
        )
    return str(path)


register_validator("action_prediction", validate_action_prediction)
register_validator("byom", validate_byom)
register_validator("pcltv", validate_pcltv)
register_validator("rfm", validate_rfm)
for _type in INTEREST_TYPES:
    register_validator(_type, interest_validator(_type))
