"""Type checking against a schema and SQL emission (DuckDB, or Spark SQL: see :data:`DIALECTS`).

Emitted SQL only ever contains: column names taken from the schema as quoted identifiers, values
as escaped literals re-rendered from their parsed form, and a fixed set of keywords, operators and
functions.  The filter text itself is never pasted into SQL.

Semantics:

* Comparisons follow SQL: a comparison with a missing (null) value is not true, so
  ``rfm_cluster != Champions`` does not select customers with no cluster.
* ``not X`` selects every row where ``X`` is not true (``NOT COALESCE(X, FALSE)``), so
  ``not interest_product contains Shoes`` includes customers with no product interest.
* ``is null`` on a list also matches an empty list, and on text also matches the empty string
  (an empty string is a missing value); ``is not null`` is its exact complement.
* Text ``=``/``!=``/``in`` are exact (case-sensitive).
* ``L contains V`` (lists only) is true when some label of ``L``, ignoring case, has ``V`` as
  its leading words, or as the leading words of one of its `` > ``-separated segments (labels
  such as product categories are paths like ``Apparel > Shoes > Running``).  "Leading words"
  means the label (or segment) starts with ``V`` followed by the end or by a character that is
  not a letter or digit (space, ``>``, ``&``, ``/``, ``-``, ...).  ``V`` is trimmed first, and
  a ``>`` in ``V`` matches a ``>`` in the label with any spacing around it.  So
  ``contains Technology`` matches ``Technology & Computing``; ``contains Shoes`` matches
  ``Shoes``, ``Shoes > Running`` and ``Apparel > Shoes``; ``contains "Shoes > Running"``
  matches ``Apparel > Shoes > Running``; ``contains Tech`` matches none of them and
  ``contains Computing`` does not match ``Technology & Computing`` (whole leading words only).
* The whole compiled expression is wrapped in ``COALESCE(..., FALSE)``: it is never null.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import FilterError
from .grammar import (
    And,
    Attribute,
    Comparison,
    Contains,
    InList,
    IsNull,
    Node,
    Not,
    Or,
    Value,
    parse_filter,
)
from .schema import NUMERIC_TYPES, AttrType, Schema, normalize_schema

NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z")
MAX_DIGITS = 38
LAMBDA_VAR = "__pcdp_label"

_SQL_OPS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_ALLOWED_OPS: dict[AttrType, tuple[str, ...]] = {
    AttrType.NUMBER: ("=", "!=", ">", ">=", "<", "<=", "in", "is null"),
    AttrType.INTEGER: ("=", "!=", ">", ">=", "<", "<=", "in", "is null"),
    AttrType.DATE: ("=", "!=", ">", ">=", "<", "<=", "in", "is null"),
    AttrType.TIMESTAMP: ("=", "!=", ">", ">=", "<", "<=", "in", "is null"),
    AttrType.TEXT: ("=", "!=", "in", "is null"),
    AttrType.BOOLEAN: ("=", "!=", "is null"),
    AttrType.LIST: ("contains", "is null"),
}
_EXAMPLES = {
    AttrType.TEXT: "e.g. rfm_cluster in (Champions, Loyal Customers)",
    AttrType.LIST: "e.g. interest_iab contains Technology",
    AttrType.BOOLEAN: "e.g. action_prediction_segment = true",
}


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A single-quoted SQL string literal with quotes doubled."""
    if "\x00" in value:
        raise ValueError("NUL character in literal")
    return "'" + value.replace("'", "''") + "'"


def _spark_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _spark_literal(value: str) -> str:
    # Spark reads a backslash in a string literal as an escape character.
    if "\x00" in value:
        raise ValueError("NUL character in literal")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Dialect:
    """What differs between warehouses in the SQL a filter compiles to."""

    name: str
    ident: Callable[[str], str]
    literal: Callable[[str], str]
    list_length: str  # the function giving a list's length
    regex_flags: str  # inline flags of the case-insensitive ``contains`` pattern
    # True when some label of a list matches a pattern: formatted with column, label (the
    # lambda variable) and pattern (a literal).
    any_label_matches: str


DIALECTS = {
    # RE2: (?i) folds case over Unicode.
    "duckdb": Dialect(
        "duckdb",
        quote_ident,
        quote_literal,
        "len",
        "(?i)",
        "(len(list_filter({column}, lambda {label}: regexp_matches({label}, {pattern}))) > 0)",
    ),
    # Java regular expressions: (?i) alone folds ASCII only, (?u) extends it to Unicode.
    "spark": Dialect(
        "spark",
        _spark_ident,
        _spark_literal,
        "size",
        "(?iu)",
        "(exists({column}, {label} -> {label} rlike {pattern}))",
    ),
}


class _Compiler:
    def __init__(self, text: str, schema: Schema, dialect: Dialect) -> None:
        self.text = text
        self.schema = schema
        self.dialect = dialect
        self._lower = {}
        for name in schema:
            self._lower.setdefault(name.lower(), []).append(name)

    def fail(self, problem: str, pos: int, end: int, hint: str | None = None) -> FilterError:
        return FilterError(problem, self.text, pos, end - pos, hint)

    # ------------------------------------------------------------------ attributes and types
    def resolve(self, attr: Attribute) -> tuple[str, AttrType]:
        if attr.name in self.schema:
            return attr.name, self.schema[attr.name]
        same = self._lower.get(attr.name.lower(), [])
        if len(same) == 1:
            return same[0], self.schema[same[0]]
        names = sorted(self.schema)
        close = difflib.get_close_matches(attr.name, names, n=3, cutoff=0.6)
        if not close:
            lowered = {n.lower(): n for n in names}
            close = [
                lowered[c]
                for c in difflib.get_close_matches(attr.name.lower(), list(lowered), 3, 0.6)
            ]
        if close:
            hint = (
                "did you mean "
                + (close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1])
                + "?"
            )
        elif names:
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            hint = f"known attributes: {shown}"
        else:
            hint = "the schema has no attributes"
        raise self.fail(f"unknown attribute '{attr.name}'", attr.pos, attr.end, hint)

    def check_op(self, name: str, typ: AttrType, op: str, pos: int, end: int) -> None:
        allowed = _ALLOWED_OPS[typ]
        if op in allowed:
            return
        hint = f"{typ.value} attributes take {', '.join(allowed)}"
        if typ in _EXAMPLES:
            hint += f"; {_EXAMPLES[typ]}"
        raise self.fail(
            f"operator '{op}' does not fit {typ.value} attribute '{name}'",
            pos,
            end,
            hint,
        )

    # ---------------------------------------------------------------------------- literals
    def literal(self, name: str, typ: AttrType, v: Value) -> str:
        if not v.quoted and v.text.lower() == "null":
            raise self.fail(
                "null is not a value", v.pos, v.end, hint=f"write {name} is null or is not null"
            )
        raw = v.text.strip()
        if typ in NUMERIC_TYPES:
            return self.number(name, typ, raw, v)
        if typ is AttrType.BOOLEAN:
            if raw.lower() in ("true", "false"):
                return raw.upper()
            raise self.fail(
                f"expected true or false for boolean attribute {name}, got {_show(v.text)}",
                v.pos,
                v.end,
            )
        if typ is AttrType.DATE:
            try:
                d = date.fromisoformat(raw)
            except ValueError:
                raise self.fail(
                    f"expected a date (YYYY-MM-DD) for {name}, got {_show(v.text)}", v.pos, v.end
                ) from None
            return f"DATE '{d.isoformat()}'"
        if typ is AttrType.TIMESTAMP:
            try:
                ts = datetime.fromisoformat(raw)
            except ValueError:
                raise self.fail(
                    f"expected a timestamp (YYYY-MM-DD[ HH:MM[:SS]]) for {name}, "
                    f"got {_show(v.text)}",
                    v.pos,
                    v.end,
                ) from None
            if ts.tzinfo is not None:
                ts = ts.astimezone(UTC).replace(tzinfo=None)
            return f"TIMESTAMP '{ts.isoformat(sep=' ')}'"
        # text (and list labels)
        return self.dialect.literal(v.text)

    def number(self, name: str, typ: AttrType, raw: str, v: Value) -> str:
        if not NUMBER_RE.match(raw):
            raise self.fail(
                f"expected a number for {name}, got {_show(v.text)}",
                v.pos,
                v.end,
                hint=f"{name} is {'an integer' if typ is AttrType.INTEGER else 'a number'} "
                "attribute",
            )
        digits = sum(ch.isdigit() for ch in raw)
        if digits > MAX_DIGITS:
            raise self.fail(f"number has more than {MAX_DIGITS} digits", v.pos, v.end)
        try:
            d = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - NUMBER_RE only lets numbers through
            raise self.fail(f"expected a number for {name}", v.pos, v.end) from None
        integral = d == d.to_integral_value() and "." not in raw
        text = str(int(d)) if integral else format(d, "f")
        if not re.fullmatch(r"-?\d+(?:\.\d+)?", text):  # pragma: no cover - defensive
            raise self.fail(f"cannot render number {_show(v.text)}", v.pos, v.end)
        if text.startswith("-"):
            return f"({text})"
        return text

    # ------------------------------------------------------------------------------- nodes
    def emit(self, node: Node) -> str:
        if isinstance(node, Comparison):
            name, typ = self.resolve(node.attr)
            self.check_op(name, typ, node.op, node.op_pos, node.op_pos + len(node.op))
            lit = self.literal(name, typ, node.value)
            return f"({self.dialect.ident(name)} {_SQL_OPS[node.op]} {lit})"
        if isinstance(node, InList):
            name, typ = self.resolve(node.attr)
            self.check_op(name, typ, "in", node.op_pos, node.op_pos + 2)
            lits = ", ".join(self.literal(name, typ, v) for v in node.values)
            return f"({self.dialect.ident(name)} IN ({lits}))"
        if isinstance(node, Contains):
            name, typ = self.resolve(node.attr)
            self.check_op(name, typ, "contains", node.op_pos, node.op_pos + 8)
            v = node.value
            if not v.quoted and v.text.lower() == "null":
                raise self.fail("null is not a value", v.pos, v.end, hint=f"write {name} is null")
            label = v.text.strip()
            if not label:
                raise self.fail("contains needs a non-empty value", v.pos, v.end)
            parts = [part.strip() for part in label.split(">")]
            if not all(parts):
                raise self.fail(
                    f"contains value {_show(label)} has an empty part around '>'",
                    v.pos,
                    v.end,
                    hint="write a path such as Apparel > Shoes",
                )
            pattern = contains_pattern(parts, self.dialect.regex_flags)
            return self.dialect.any_label_matches.format(
                column=self.dialect.ident(name),
                label=LAMBDA_VAR,
                pattern=self.dialect.literal(pattern),
            )
        if isinstance(node, IsNull):
            name, typ = self.resolve(node.attr)
            col = self.dialect.ident(name)
            length = self.dialect.list_length
            if typ is AttrType.LIST:
                if node.negated:
                    return f"({length}({col}) > 0)"
                return f"({col} IS NULL OR {length}({col}) = 0)"
            if typ is AttrType.TEXT:
                if node.negated:
                    return f"({col} <> '')"
                return f"({col} IS NULL OR {col} = '')"
            return f"({col} IS {'NOT ' if node.negated else ''}NULL)"
        if isinstance(node, Not):
            return f"(NOT COALESCE({self.emit(node.operand)}, FALSE))"
        if isinstance(node, And):
            return "(" + " AND ".join(self.emit(o) for o in node.operands) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.emit(o) for o in node.operands) + ")"
        raise TypeError(f"not a filter node: {node!r}")  # pragma: no cover


# ASCII characters that are not letters, digits, "_" or space: escaped in regular expressions.
_REGEX_SPECIAL = frozenset(chr(c) for c in range(0x21, 0x7F) if not (chr(c).isalnum() or c == 0x5F))


def _regex_literal(text: str) -> str:
    """``text`` as an RE2 pattern matching itself (non-ASCII characters are never special)."""
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)


def contains_pattern(parts: list[str], flags: str = "(?i)") -> str:
    """The pattern ``contains`` uses for a value already split into its ``>`` parts (RE2 and
    Java syntax alike; ``flags`` make it case-insensitive in the warehouse's engine).

    Matches at the start of the label or of a ``>``-separated segment, and ends at the end of
    the label or before a character that is not a letter or digit.
    """
    body = r"\s*>\s*".join(_regex_literal(part) for part in parts)
    return flags + r"(?:^|>\s*)" + body + r"(?:$|[^\p{L}\p{N}])"


def _show(text: str) -> str:
    return "'" + text + "'"


def _prepare(text: str, schema: dict[str, Any], dialect: str = "duckdb") -> tuple[Node, _Compiler]:
    node = parse_filter(text)
    try:
        norm = normalize_schema(schema)
    except ValueError as exc:
        raise FilterError(f"invalid schema: {exc}") from None
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r} (one of {', '.join(DIALECTS)})")
    return node, _Compiler(text, norm, DIALECTS[dialect])


def compile_filter(text: str, schema: dict[str, Any], dialect: str = "duckdb") -> str:
    """Compile filter ``text`` to a boolean SQL expression over the schema's columns, in the
    SQL of ``dialect`` (a key of :data:`DIALECTS`).

    The expression is never null.  Raises :class:`FilterError` when the filter is refused.
    """
    node, compiler = _prepare(text, schema, dialect)
    return f"COALESCE({compiler.emit(node)}, FALSE)"


def check_filter(text: str, schema: dict[str, Any]) -> Node:
    """Parse and type-check ``text`` against ``schema``; return the AST or raise FilterError."""
    node, compiler = _prepare(text, schema)
    compiler.emit(node)
    return node


def filter_attributes(node: Node) -> list[str]:
    """The attribute names a parsed filter mentions, in order of first appearance."""
    seen: dict[str, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Not):
            walk(n.operand)
        elif isinstance(n, And | Or):
            for o in n.operands:
                walk(o)
        else:
            seen.setdefault(n.attr.name, None)

    walk(node)
    return list(seen)
