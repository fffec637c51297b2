"""A `byom` instance: its configuration, every check before scoring, and the scoring itself.

Used by the instance runner (pcdp.types.byom) and by `pcdp byom validate`, so both apply the
same checks in the same order: configuration → digest → zip and members → manifest →
requirements → loading → output declaration → column mapping → (scoring).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcdp.byom.build import check_output
from pcdp.byom.format import METHODS, SHA256_PATTERN, PackageError
from pcdp.byom.loader import ModelPackage, load_package
from pcdp.byom.mapping import InputPlan, check_aggregation_config, check_mapping_config, plan_inputs
from pcdp.byom.scoring import (
    DEFAULT_BATCH_SIZE,
    OutputSpec,
    check_declared_output,
    predictions_table,
    resolve_method,
    score,
)

LEVELS = ("customer", "account")
KEYS = {
    "package",
    "sha256",
    "columns",
    "level",
    "output",
    "method",
    "positive_class",
    "aggregation",
    "trusted_types",
    "batch_size",
    "description",
}


class ByomConfigError(ValueError):
    """An instance's byom keys are invalid."""


# Columns customer_profile always has: an output may not take one of these names.
RESERVED_NAMES = {
    "customer_id",
    "first_seen_at",
    "last_seen_at",
    "is_known",
    "identifier_count",
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "days_since_last_event",
    "events_30d",
    "events_90d",
    "predictive_attribute_count",
}


def validate_params(instance_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The byom keys of one instance, checked without opening the package."""
    unknown = set(params) - KEYS
    if unknown:
        raise ByomConfigError(f"unknown key(s) for byom: {', '.join(sorted(map(str, unknown)))}")
    package = params.get("package")
    if not isinstance(package, str) or not package.strip():
        raise ByomConfigError("package (the path of the model package .zip) is required")
    sha256 = params.get("sha256")
    if not isinstance(sha256, str) or not SHA256_PATTERN.fullmatch(sha256.strip().lower()):
        raise ByomConfigError(
            "sha256 (the package's SHA-256, 64 hexadecimal digits, as printed by "
            "`pcdp byom package`) is required"
        )
    level = params.get("level", "customer")
    if level not in LEVELS:
        raise ByomConfigError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if "output" not in params:
        raise ByomConfigError("output (name and type) is required")
    try:
        output = check_output(params["output"])
        columns = check_mapping_config(params.get("columns"))
        aggregation = check_aggregation_config(params.get("aggregation"))
    except PackageError as error:
        raise ByomConfigError(str(error)) from error
    if output["name"] in RESERVED_NAMES:
        raise ByomConfigError(
            f"output.name {output['name']} is a column customer_profile already has; "
            f"name it after the instance, e.g. {instance_id}_{output['name']}"
        )
    if aggregation is not None and level != "account":
        raise ByomConfigError("aggregation is only for level account")
    method = params.get("method")
    if method is not None and method not in METHODS:
        raise ByomConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    positive_class = params.get("positive_class")
    if positive_class is not None and not isinstance(positive_class, str | int | bool):
        raise ByomConfigError("positive_class must be a class label (text, number or boolean)")
    trusted = params.get("trusted_types", [])
    if not isinstance(trusted, list) or not all(isinstance(item, str) for item in trusted):
        raise ByomConfigError("trusted_types must be a list of type names")
    batch_size = params.get("batch_size", DEFAULT_BATCH_SIZE)
    if (
        not isinstance(batch_size, int)
        or isinstance(batch_size, bool)
        or not (1 <= batch_size <= 10_000_000)
    ):
        raise ByomConfigError("batch_size must be a whole number from 1 to 10000000")
    checked: dict[str, Any] = {
        "package": package,
        "sha256": sha256.strip().lower(),
        "columns": columns,
        "level": level,
        "output": output,
        "attribute": output["name"],
        "trusted_types": list(trusted),
        "batch_size": batch_size,
    }
    for key, value in (
        ("method", method),
        ("positive_class", positive_class),
        ("aggregation", aggregation),
        ("description", params.get("description")),
    ):
        if value is not None:
            checked[key] = value
    return checked


def package_path(path: str, base: Path | None = None) -> Path:
    """A relative package path is relative to `base`, by default the dbt project directory
    (where `pcdp run` runs dbt, and where the project's own instances.yml is)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    if base is None:
        from pcdp.project import project_dir

        base = project_dir()
    return base / candidate


def output_spec(params: Mapping[str, Any]) -> OutputSpec:
    fields = params["output"].get("fields")
    return OutputSpec(
        attribute=params["attribute"],
        type=params["output"]["type"],
        fields=tuple(fields) if fields else None,
        method=params.get("method"),
        positive_class=params.get("positive_class"),
    )


@dataclass
class Prepared:
    package: ModelPackage
    plan: InputPlan | None
    output: OutputSpec


def prepare(
    params: Mapping[str, Any],
    con: Any,
    relations: Mapping[str, str],
    base: Path | None = None,
    mapping: bool = True,
) -> Prepared:
    """Every check before scoring; raises PackageError (or a subclass) naming the problem.
    With mapping=False (no warehouse at hand) the column mapping is not checked."""
    package = load_package(
        package_path(params["package"], base), params["sha256"], params["trusted_types"]
    )
    output = output_spec(params)
    check_declared_output(package, output)
    output = OutputSpec(
        output.attribute,
        output.type,
        output.fields,
        resolve_method(package, output),
        output.positive_class,
    )
    if not mapping:
        return Prepared(package, None, output)
    plan = plan_inputs(
        con,
        package.columns,
        params["columns"],
        relations["customer_features"],
        level=params["level"],
        aggregation=params.get("aggregation"),
        accounts=relations.get("accounts"),
        identifiers=relations.get("customer_identifiers"),
    )
    return Prepared(package, plan, output)


def score_instance(
    params: Mapping[str, Any], con: Any, relations: Mapping[str, str], base: Path | None = None
) -> tuple[Any, dict[str, float | int | str]]:
    """Check and score; returns (long predictions Arrow table, metrics)."""
    prepared = prepare(params, con, relations, base)
    scores, summary = score(
        con, prepared.package, prepared.plan, prepared.output, params["batch_size"]
    )
    predictions = predictions_table(con, prepared.plan, scores, prepared.output)
    metrics: dict[str, float | int | str] = {
        "customers_scored": predictions.num_rows,
        "package_sha256": prepared.package.sha256,
        "package_format": prepared.package.format,
        "method": prepared.output.method or "predict",
    }
    if prepared.plan.level == "account":
        metrics["accounts_scored"] = summary.rows
    name = prepared.package.manifest.get("name")
    if name:
        metrics["package_name"] = name
    metrics.update(summary.metrics(prepared.output.type))
    return predictions, metrics


def sample_check(
    params: Mapping[str, Any],
    con: Any,
    relations: Mapping[str, str],
    base: Path | None = None,
    rows: int = 1000,
) -> int:
    """Every check, then the output type on the first `rows` inputs (nothing is written);
    returns how many rows were checked."""
    prepared = prepare(params, con, relations, base)
    _, summary = score(
        con, prepared.package, prepared.plan, prepared.output, min(rows, 10_000), limit=rows
    )
    return summary.rows
