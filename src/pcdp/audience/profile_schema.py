"""The schemas audiences are checked against when no warehouse is at hand.

``customer_profile`` has fixed identity and feature columns plus the predictive attributes of
each non-draft instance (contract section 4); ``account_profile`` rolls these up per account.
:func:`expected_schemas` derives both from an instances file, so that ``pcdp audience validate``
works before the first run.  It assumes every non-draft instance produces its contract columns
(an instance that fails to run produces none; checking against a built warehouse with
``--db`` is exact).

The account rollup rules here mirror the macro ``pcdp_account_rollups`` (macros/audiences.sql):

* ``account_id``, ``account_name``, ``member_count`` (distinct member customers);
* fixed feature rollups (:data:`FEATURE_ROLLUPS`), e.g. ``monetary_sum``;
* each numeric attribute of a ``pcltv`` instance: ``<attribute>_sum``;
* each other numeric predictive attribute: ``<attribute>_max`` and ``<attribute>_mean``;
* each boolean predictive attribute (e.g. ``<id>_segment``): ``<attribute>_members``, the
  number of members for whom it is true;
* ``as_of``, the run's as-of date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .schema import NUMERIC_TYPES, AttrType, Schema

# customer_profile's columns that do not come from model instances (models/marts).
BASE_PROFILE: Schema = {
    "customer_id": AttrType.TEXT,
    "first_seen_at": AttrType.TIMESTAMP,
    "last_seen_at": AttrType.TIMESTAMP,
    "is_known": AttrType.BOOLEAN,
    "identifier_count": AttrType.INTEGER,
    "recency_days": AttrType.INTEGER,
    "frequency": AttrType.INTEGER,
    "monetary": AttrType.NUMBER,
    "tenure_days": AttrType.INTEGER,
    "days_since_last_event": AttrType.INTEGER,
    "events_30d": AttrType.INTEGER,
    "events_90d": AttrType.INTEGER,
    "predictive_attribute_count": AttrType.INTEGER,
}

# (profile column, aggregate, account_profile column, its type)
FEATURE_ROLLUPS: tuple[tuple[str, str, str, AttrType], ...] = (
    ("monetary", "sum", "monetary_sum", AttrType.NUMBER),
    ("frequency", "sum", "frequency_sum", AttrType.INTEGER),
    ("events_30d", "sum", "events_30d_sum", AttrType.INTEGER),
    ("events_90d", "sum", "events_90d_sum", AttrType.INTEGER),
    ("recency_days", "min", "recency_days_min", AttrType.INTEGER),
    ("last_seen_at", "max", "last_seen_at", AttrType.TIMESTAMP),
)

ACCOUNT_BASE: Schema = {
    "account_id": AttrType.TEXT,
    "account_name": AttrType.TEXT,
    "member_count": AttrType.INTEGER,
}

_ID = re.compile(r"[a-z][a-z0-9_]{0,47}\Z")
_BYOM_TYPES = {
    "boolean": AttrType.BOOLEAN,
    "number": AttrType.NUMBER,
    "integer": AttrType.INTEGER,
    "string": AttrType.TEXT,
    "array": AttrType.LIST,
}
_INTEREST_TYPES = ("interest_product", "interest_iab", "interest_custom")


def _horizons(entry: Mapping[str, Any]) -> list[int]:
    horizons = entry.get("horizons_months", [3, 6, 12])
    if not isinstance(horizons, list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in horizons
    ):
        return []
    return horizons


def instance_attributes(entry: Mapping[str, Any]) -> list[tuple[str, AttrType]]:
    """(attribute, type) of the profile columns of one instance entry (contract section 4)."""
    instance_id, kind = entry["id"], entry["type"]
    if kind == "action_prediction":
        return [
            (f"{instance_id}_score", AttrType.NUMBER),
            (f"{instance_id}_segment", AttrType.BOOLEAN),
        ]
    if kind == "pcltv":
        return [(f"{instance_id}_{h}m", AttrType.NUMBER) for h in _horizons(entry)]
    if kind == "rfm":
        return [(f"{instance_id}_cluster", AttrType.TEXT)] + [
            (f"{instance_id}_{part}_score", AttrType.INTEGER)
            for part in ("recency", "frequency", "monetary")
        ]
    if kind in _INTEREST_TYPES:
        return [(instance_id, AttrType.LIST)]
    if kind == "byom":
        output = entry.get("output")
        if isinstance(output, Mapping) and isinstance(output.get("name"), str):
            typ = _BYOM_TYPES.get(str(output.get("type")))
            if typ is not None and _ID.match(output["name"]):
                return [(output["name"], typ)]
    return []


def read_instance_entries(instances_file: str | Path) -> list[dict[str, Any]]:
    """The well-formed, non-draft entries of an instances file (id and type valid)."""
    try:
        document = yaml.safe_load(Path(instances_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read instances file {instances_file}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise ValueError(f"{instances_file} must be a mapping with a list under 'instances'")
    out, seen = [], set()
    for entry in document["instances"]:
        if not isinstance(entry, dict):
            continue
        instance_id, status = entry.get("id"), entry.get("status", "ready")
        if not isinstance(instance_id, str) or not _ID.match(instance_id) or instance_id in seen:
            continue
        if status == "draft" or not isinstance(entry.get("type"), str):
            continue
        seen.add(instance_id)
        out.append(entry)
    return out


def account_schema(profile: Mapping[str, AttrType], instance_types: Mapping[str, str]) -> Schema:
    """``account_profile``'s schema for a ``customer_profile`` schema; ``instance_types`` maps
    each predictive attribute to the type of the instance that produces it."""
    out: Schema = dict(ACCOUNT_BASE)
    for column, _, name, typ in FEATURE_ROLLUPS:
        if column in profile:
            out[name] = typ
    for column, typ in profile.items():
        kind = instance_types.get(column)
        if kind is None:
            continue
        if typ in NUMERIC_TYPES and kind == "pcltv":
            out[f"{column}_sum"] = AttrType.NUMBER
        elif typ in NUMERIC_TYPES:
            out[f"{column}_max"] = typ
            out[f"{column}_mean"] = AttrType.NUMBER
        elif typ is AttrType.BOOLEAN:
            out[f"{column}_members"] = AttrType.INTEGER
    out["as_of"] = AttrType.DATE
    return out


def expected_schemas(instances_file: str | Path) -> dict[str, Schema]:
    """``{"customer": ..., "account": ...}`` as a run with this instances file would build them."""
    customer: Schema = dict(BASE_PROFILE)
    instance_types: dict[str, str] = {}
    for entry in read_instance_entries(instances_file):
        for name, typ in instance_attributes(entry):
            customer[name] = typ
            instance_types[name] = entry["type"]
    return {"customer": customer, "account": account_schema(customer, instance_types)}
