"""Attribute types of profile columns, as the filter language sees them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pcdp.duckdb_types import INTEGER_TYPES


class AttrType(StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TEXT = "text"
    LIST = "list"  # list of text labels
    DATE = "date"
    TIMESTAMP = "timestamp"


Schema = dict[str, AttrType]

_ALIASES = {
    "float": AttrType.NUMBER,
    "double": AttrType.NUMBER,
    "decimal": AttrType.NUMBER,
    "numeric": AttrType.NUMBER,
    "int": AttrType.INTEGER,
    "bigint": AttrType.INTEGER,
    "bool": AttrType.BOOLEAN,
    "string": AttrType.TEXT,
    "varchar": AttrType.TEXT,
    "array": AttrType.LIST,
}

NUMERIC_TYPES = frozenset({AttrType.NUMBER, AttrType.INTEGER})
ORDERED_TYPES = frozenset({AttrType.NUMBER, AttrType.INTEGER, AttrType.DATE, AttrType.TIMESTAMP})


def normalize_schema(schema: dict[str, Any]) -> Schema:
    """Return ``schema`` with every type as an :class:`AttrType` (strings and aliases accepted)."""
    out: Schema = {}
    for name, typ in schema.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"schema attribute names must be non-empty text, got {name!r}")
        if isinstance(typ, AttrType):
            out[name] = typ
            continue
        key = str(typ).strip().lower()
        try:
            out[name] = _ALIASES.get(key) or AttrType(key)
        except ValueError:
            known = ", ".join(t.value for t in AttrType)
            raise ValueError(f"attribute {name!r}: unknown type {typ!r} (one of {known})") from None
    return out


def attr_type_for_db_type(db_type: str) -> AttrType | None:
    """Map a DuckDB column type (``VARCHAR[]``) or a Spark one (``array<string>``, ``int``) to an
    attribute type; ``None`` for types filters cannot use."""
    t = db_type.strip().upper()
    if t.endswith("[]") or (t.startswith("ARRAY<") and t.endswith(">")):
        inner = t[:-2] if t.endswith("[]") else t[6:-1]
        return AttrType.LIST if inner in ("VARCHAR", "TEXT", "STRING") else None
    if t in INTEGER_TYPES or t == "INT":
        return AttrType.INTEGER
    if t.startswith(("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL")):
        return AttrType.NUMBER
    if t in ("BOOLEAN", "BOOL"):
        return AttrType.BOOLEAN
    if t in ("VARCHAR", "TEXT", "STRING") or t.startswith("VARCHAR("):
        return AttrType.TEXT
    if t == "DATE":
        return AttrType.DATE
    if t.startswith("TIMESTAMP"):
        return AttrType.TIMESTAMP
    return None


def schema_from_duckdb(
    con: Any, table: str = "customer_profile", schema: str | None = None
) -> Schema:
    """Read the filterable columns of ``table`` from a DuckDB connection.

    Columns of types filters cannot use (structs, maps, blobs, ...) are left out.  Raises
    ``LookupError`` when the table does not exist.
    """
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_name = ? and table_schema = coalesce(?, current_schema()) "
        "order by ordinal_position",
        [table, schema],
    ).fetchall()
    if not rows:
        raise LookupError(f"table {table!r} not found")
    out: Schema = {}
    for name, db_type in rows:
        typ = attr_type_for_db_type(str(db_type))
        if typ is not None:
            out[str(name)] = typ
    return out
