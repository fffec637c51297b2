"""Audience definitions as built by a run: every entry of an audience file, compiled against
the real profile schemas, with its status.

This is what the dbt model ``audience_definitions`` stores and what ``pcdp audience validate``
reports.  An audience is ``ok`` when its filter compiles against the schema of its target
(``customer_profile`` or ``account_profile``) and, when a ``count`` function is given, the
compiled SQL runs there; otherwise it is ``error`` with a message naming the problem, and no
view is made for it.  One bad audience never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .compiler import compile_filter
from .errors import FilterError
from .files import TARGET_RELATIONS, load_audience_entries
from .schema import attr_type_for_db_type

STATUS_OK = "ok"
STATUS_ERROR = "error"

DEFINITION_SCHEMA = pa.schema(
    [
        ("entry", pa.int64()),
        ("audience_name", pa.string()),
        ("target", pa.string()),
        ("source_relation", pa.string()),
        ("view_name", pa.string()),
        ("description", pa.string()),
        ("owner", pa.string()),
        ("filter", pa.string()),
        ("filter_sql", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("member_count", pa.int64()),
        ("audiences_file", pa.string()),
    ]
)

# (target, compiled SQL) -> number of members; raises when the SQL does not run.
Counter = Callable[[str, str], int]


def build_definitions(
    path: str | Path,
    schemas: Mapping[str, Mapping[str, Any] | None],
    count: Counter | None = None,
    dialect: str = "duckdb",
) -> list[dict[str, Any]]:
    """One row per entry of the audience file at ``path`` (see :data:`DEFINITION_SCHEMA`).

    ``schemas`` maps each target (``customer``, ``account``) to the attribute schema of its
    relation (``None`` when the relation is not available); filters compile to the SQL of
    ``dialect`` (see :data:`pcdp.audience.compiler.DIALECTS`).
    """
    rows: list[dict[str, Any]] = []
    names: set[str] = set()
    for entry in load_audience_entries(path):
        audience = entry.audience
        name = entry.name if entry.name not in names else None
        if name:
            names.add(name)
        target = audience.target if audience else entry.fields.get("target", "customer")
        row: dict[str, Any] = {
            "entry": entry.entry,
            "audience_name": name,
            "target": target,
            "source_relation": TARGET_RELATIONS.get(target),
            "view_name": f"audience_{name}" if name else None,
            "description": entry.fields.get("description"),
            "owner": entry.fields.get("owner"),
            "filter": entry.fields.get("filter"),
            "filter_sql": None,
            "status": STATUS_ERROR,
            "error": entry.error,
            "member_count": None,
            "audiences_file": str(path),
        }
        rows.append(row)
        if audience is None:
            continue
        schema = schemas.get(audience.target)
        if schema is None:
            row["error"] = (
                f"audience '{audience.name}': target {audience.target} needs "
                f"{audience.relation}, which is not available"
            )
            continue
        try:
            sql = compile_filter(audience.filter, dict(schema), dialect)
        except FilterError as exc:
            row["error"] = f"audience '{audience.name}': filter refused: {exc}"
            continue
        if count is not None:
            try:
                row["member_count"] = int(count(audience.target, sql))
            except Exception as exc:  # noqa: BLE001 - recorded as the audience's error
                row["error"] = (
                    f"audience '{audience.name}': the compiled filter does not run on "
                    f"{audience.relation}: {exc}"
                )
                continue
        row.update(filter_sql=sql, status=STATUS_OK, error=None)
    return rows


def definitions_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=DEFINITION_SCHEMA)


def problems(rows: list[dict[str, Any]]) -> list[str]:
    """The error message of every refused entry, in file order."""
    return [row["error"] for row in rows if row["status"] != STATUS_OK]


def resolve_audiences_file(value: str | Path | None) -> Path:
    """The audience file a run uses: ``value`` (default ``audiences.yml``); a relative path is
    looked up in the working directory, then in the dbt project directory."""
    path = Path(str(value)) if value not in (None, "", "None", "none") else Path("audiences.yml")
    if path.is_absolute() or path.exists():
        return path.resolve()
    from pcdp.project import project_dir

    try:
        in_project = project_dir() / path
    except RuntimeError:
        return path
    return in_project if in_project.exists() else path


def definitions_from_relations(
    audiences_file: str | Path | None, con: Any, relations: Mapping[str, Any]
) -> pa.Table:
    """The ``audience_definitions`` table inside a dbt Python model.

    ``relations`` maps each target to its relation (customer_profile, account_profile) as the
    adapter hands it over: a DuckDB relation of connection ``con``, or a Spark DataFrame
    (Spark, Databricks). Filters are compiled to that warehouse's SQL against the relation's
    real columns and counted on it, so an audience is ``ok`` only when its SQL runs there.
    """
    dialects = set()
    schemas: dict[str, dict[str, Any]] = {}
    counters: dict[str, Callable[[str], int]] = {}
    for target, relation in relations.items():
        if isinstance(relation, duckdb.DuckDBPyRelation):
            dialects.add("duckdb")
            view = f"pcdp_audience_input__{target}"
            relation.create_view(view, replace=True)
            columns = zip(relation.columns, relation.types, strict=True)
            counters[target] = lambda sql, view=view: con.execute(
                f"select count(*) from {view} where {sql}"
            ).fetchone()[0]
        elif hasattr(relation, "sparkSession"):
            dialects.add("spark")
            columns = relation.dtypes  # [(name, Spark type such as "array<string>"), ...]
            counters[target] = lambda sql, frame=relation: frame.where(sql).count()
        else:
            raise TypeError(
                f"audience target {target}: a {type(relation).__name__} is neither a DuckDB "
                "relation nor a Spark DataFrame"
            )
        schemas[target] = {
            name: typ
            for name, db_type in columns
            if (typ := attr_type_for_db_type(str(db_type))) is not None
        }
    if len(dialects) > 1:
        raise TypeError("audience targets come from different warehouses")

    def count(target: str, sql: str) -> int:
        return counters[target](sql)

    path = resolve_audiences_file(audiences_file)
    return definitions_table(
        build_definitions(path, schemas, count, dialects.pop() if dialects else "duckdb")
    )
