"""Column mapping: from `customer_features` (per customer, or aggregated per account) to the
model's input columns.

Each model column is mapped to a feature column by name, or to a small arithmetic expression
over numeric feature columns:

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | primary
    primary    := number | column | function "(" expression ("," expression)* ")"
                | "(" expression ")"

with the functions in FUNCTIONS. The text is tokenised and parsed, and the SQL is written from
the parse tree: column names are checked against the features table and quoted, numbers are
re-written from their parsed value, so no text of the mapping reaches SQL as it was given.

For `level: account`, customers belong to accounts through `stg_raw__accounts` (user_id →
account_id) joined to `customer_identifiers` (identifier_type 'user_id'); each mapped value is
computed per customer and aggregated over the account's customers with the instance's
`aggregation` (default: mean for numbers, `any` for booleans, `min` for text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pcdp.byom.format import PackageError
from pcdp.duckdb_types import INTEGER_TYPES

FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "ceil": (1, 1),
    "coalesce": (1, None),
    "exp": (1, 1),
    "floor": (1, 1),
    "greatest": (2, None),
    "least": (2, None),
    "ln": (1, 1),
    "log10": (1, 1),
    "nullif": (2, 2),
    "round": (1, 2),
    "sign": (1, 1),
    "sqrt": (1, 1),
}
AGGREGATIONS = {
    "sum": "sum",
    "mean": "avg",
    "min": "min",
    "max": "max",
    "median": "median",
    "any": "bool_or",
    "all": "bool_and",
}
AGGREGATIONS_BY_KIND = {
    "number": ("sum", "mean", "min", "max", "median"),
    "integer": ("sum", "mean", "min", "max", "median"),
    "boolean": ("any", "all"),
    "string": ("min", "max"),
}
DEFAULT_AGGREGATION = {"number": "mean", "integer": "mean", "boolean": "any", "string": "min"}
MAX_EXPRESSION_LENGTH = 1000
_MAX_DEPTH = 40
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),]))"
)
_CAST = {"number": "DOUBLE", "integer": "BIGINT", "boolean": "BOOLEAN", "string": "VARCHAR"}


class MappingError(PackageError):
    """The column mapping does not fit the model or the features."""


# --- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float | int


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Number | Column | Call | Unary | Binary


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise MappingError(f"unexpected {text[position:].lstrip()[:1]!r} in {text!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def fail(self, what: str) -> MappingError:
        return MappingError(f"expression {self.text!r}: {what}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("ends too early")
        if value is not None and token[1] != value:
            raise self.fail(f"expected {value!r}, got {token[1]!r}")
        self.position += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise self.fail("is empty")
        node = self.expression(0)
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    def expression(self, depth: int) -> Node:
        node = self.term(depth)
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.take()
            node = Binary(token[1], node, self.term(depth))
        return node

    def term(self, depth: int) -> Node:
        node = self.unary(depth)
        while (token := self.peek()) is not None and token[1] in ("*", "/"):
            self.take()
            node = Binary(token[1], node, self.unary(depth))
        return node

    def unary(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise self.fail("is nested too deeply")
        token = self.peek()
        if token is not None and token[1] in ("-", "+"):
            self.take()
            return Unary(token[1], self.unary(depth + 1))
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        kind, value = self.take()
        if kind == "number":
            number = float(value)
            if number != number or abs(number) == float("inf"):
                raise self.fail(f"number {value} is out of range")
            is_integer = re.fullmatch(r"\d+", value) is not None and abs(number) < 2**53
            return Number(int(value) if is_integer else number)
        if kind == "name":
            token = self.peek()
            if token is not None and token[1] == "(":
                function = value.lower()
                if function not in FUNCTIONS:
                    raise self.fail(
                        f"unknown function {value!r}; functions are {', '.join(sorted(FUNCTIONS))}"
                    )
                self.take("(")
                args = [self.expression(depth + 1)]
                while (token := self.peek()) is not None and token[1] == ",":
                    self.take()
                    args.append(self.expression(depth + 1))
                self.take(")")
                low, high = FUNCTIONS[function]
                if len(args) < low or (high is not None and len(args) > high):
                    raise self.fail(f"{function} takes {_arity(low, high)}, got {len(args)}")
                return Call(function, tuple(args))
            return Column(value)
        if value == "(":
            node = self.expression(depth + 1)
            self.take(")")
            return node
        raise self.fail(f"unexpected {value!r}")


def _arity(low: int, high: int | None) -> str:
    if high == low:
        return f"{low} argument(s)"
    return f"{low} or more arguments" if high is None else f"{low} to {high} arguments"


def parse_expression(text: str) -> Node:
    """Parse a mapping value; raises MappingError naming the problem."""
    if not isinstance(text, str):
        raise MappingError(f"a column mapping must be text, got {text!r}")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise MappingError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    return _Parser(text).parse()


def columns_of(node: Node) -> list[str]:
    if isinstance(node, Column):
        return [node.name]
    if isinstance(node, Unary):
        return columns_of(node.operand)
    if isinstance(node, Binary):
        return columns_of(node.left) + columns_of(node.right)
    if isinstance(node, Call):
        return [name for arg in node.args for name in columns_of(arg)]
    return []


def to_sql(node: Node, table: str) -> str:
    """SQL for a parse tree whose column names were checked against the features table."""
    if isinstance(node, Number):
        return repr(node.value) if isinstance(node.value, int) else repr(float(node.value))
    if isinstance(node, Column):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node.name):
            raise MappingError(f"invalid column name {node.name!r}")
        return f'{table}."{node.name}"'
    if isinstance(node, Unary):
        return f"({node.op}{to_sql(node.operand, table)})"
    if isinstance(node, Binary):
        left = f"cast({to_sql(node.left, table)} as double)"
        return f"({left} {node.op} {to_sql(node.right, table)})"
    return f"{node.function}({', '.join(to_sql(arg, table) for arg in node.args)})"


# --- the mapping ---------------------------------------------------------------------------


def feature_kind(duckdb_type: str) -> str | None:
    """The kind of a DuckDB column type (None for types a model cannot take)."""
    upper = duckdb_type.upper()
    if upper == "BOOLEAN":
        return "boolean"
    if upper in INTEGER_TYPES:
        return "integer"
    if upper in ("FLOAT", "DOUBLE", "REAL") or upper.startswith("DECIMAL"):
        return "number"
    if upper == "VARCHAR":
        return "string"
    return None


def _fits(model_kind: str, kind: str | None) -> bool:
    if model_kind == "number":
        return kind in ("number", "integer")
    return kind == model_kind


def check_mapping_config(mapping: object) -> dict[str, str]:
    """The `columns` key of an instance: model column → feature column or expression (syntax
    checked here; names and types are checked against the package and the features)."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise MappingError("columns must map each model column to a customer_features column")
    checked = {}
    for model_column, value in mapping.items():
        if not isinstance(model_column, str) or not isinstance(value, str):
            raise MappingError(f"columns: {model_column!r} → {value!r} must be text → text")
        parse_expression(value)
        checked[model_column] = value
    return checked


def check_aggregation_config(aggregation: object) -> str | dict[str, str] | None:
    if aggregation is None:
        return None
    values = [aggregation] if isinstance(aggregation, str) else None
    if isinstance(aggregation, Mapping):
        values = list(aggregation.values())
    if values is None or not all(isinstance(value, str) for value in values):
        raise MappingError("aggregation must be a function name or a mapping column → function")
    unknown = sorted(set(values) - set(AGGREGATIONS))
    if unknown:
        raise MappingError(
            f"unknown aggregation(s) {', '.join(unknown)}; use {', '.join(AGGREGATIONS)}"
        )
    return aggregation if isinstance(aggregation, str) else dict(aggregation)


@dataclass(frozen=True)
class InputPlan:
    """The SQL that reads the model's inputs: a key column (customer_id or account_id) then
    one column per model column, aliased c0, c1, ...; and, for accounts, the SQL mapping each
    customer to the account whose prediction it gets."""

    sql: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    level: str
    members_sql: str | None = None


def describe(con, relation: str) -> dict[str, str]:
    return {
        name: kind
        for name, kind, *_ in con.execute(f"describe select * from {relation}").fetchall()
    }


def plan_inputs(
    con,
    columns: Mapping[str, str],
    mapping: Mapping[str, str],
    features: str,
    level: str = "customer",
    aggregation: str | Mapping[str, str] | None = None,
    accounts: str | None = None,
    identifiers: str | None = None,
) -> InputPlan:
    """Check the mapping against the model's columns and the features; raises MappingError
    listing every missing or ill-typed column at once."""
    schema = describe(con, features)
    problems: list[str] = []
    unknown = sorted(set(mapping) - set(columns))
    if unknown:
        problems.append(f"the model has no input column(s) {', '.join(unknown)}")
    aggregation_map = aggregation if isinstance(aggregation, Mapping) else {}
    unknown = sorted(set(aggregation_map) - set(columns))
    if unknown:
        problems.append(f"aggregation names no model column(s) {', '.join(unknown)}")
    missing, ill_typed, selects = [], [], []
    for position, (model_column, model_kind) in enumerate(columns.items()):
        text = mapping.get(model_column, model_column)
        try:
            node = parse_expression(text) if model_column in mapping else Column(text)
        except MappingError as error:
            problems.append(f"{model_column}: {error}")
            continue
        absent = [name for name in dict.fromkeys(columns_of(node)) if name not in schema]
        if absent:
            missing.append(f"{model_column} (→ {', '.join(absent)})")
            continue
        if isinstance(node, Column):
            kind = feature_kind(schema[node.name])
            if not _fits(model_kind, kind):
                ill_typed.append(
                    f"{model_column} (→ {node.name} is {schema[node.name]}, the model expects "
                    f"{model_kind})"
                )
                continue
        else:
            wrong = [
                f"{name} is {schema[name]}"
                for name in dict.fromkeys(columns_of(node))
                if feature_kind(schema[name]) not in ("number", "integer")
            ]
            if wrong or model_kind not in ("number", "integer"):
                reason = ", ".join(wrong) or f"the model expects {model_kind}"
                ill_typed.append(f"{model_column} (expression over numbers only: {reason})")
                continue
        value = f"cast({to_sql(node, 'f')} as {_CAST[model_kind]})"
        if level == "account":
            function = (
                aggregation_map.get(model_column)
                if isinstance(aggregation, Mapping)
                else aggregation
            ) or DEFAULT_AGGREGATION[model_kind]
            if function not in AGGREGATIONS_BY_KIND[model_kind]:
                ill_typed.append(
                    f"{model_column} (aggregation {function} does not fit {model_kind}; use "
                    f"{', '.join(AGGREGATIONS_BY_KIND[model_kind])})"
                )
                continue
            aggregate = f"{AGGREGATIONS[function]}({value})"
            if model_kind == "integer" and function in ("mean", "median"):
                aggregate = f"round({aggregate})"
            value = f"cast({aggregate} as {_CAST[model_kind]})"
        selects.append(f'{value} as "c{position}"')
    if missing:
        problems.append(f"missing column(s): {'; '.join(missing)}")
    if ill_typed:
        problems.append(f"ill-typed column(s): {'; '.join(ill_typed)}")
    if problems:
        raise MappingError(f"column mapping refused — {' | '.join(problems)}")
    names, kinds = tuple(columns), tuple(columns.values())
    if level != "account":
        sql = (
            f"select f.customer_id as pcdp_key, {', '.join(selects)}\n"
            f"from {features} as f\norder by f.customer_id"
        )
        return InputPlan(sql, names, kinds, level)
    if accounts is None or identifiers is None:
        raise MappingError("level account needs the accounts and customer_identifiers inputs")
    members = (
        "select distinct a.account_id, i.customer_id\n"
        f"from {accounts} as a\ninner join {identifiers} as i\n"
        "    on i.identifier_type = 'user_id' and i.identifier_value = a.user_id"
    )
    sql = (
        f"with members as ({members})\n"
        f"select m.account_id as pcdp_key, {', '.join(selects)}\n"
        f"from members as m\ninner join {features} as f on f.customer_id = m.customer_id\n"
        "group by m.account_id\norder by m.account_id"
    )
    members_sql = (
        f"with members as ({members})\n"
        "select customer_id, min(account_id) as pcdp_key from members group by customer_id"
    )
    return InputPlan(sql, names, kinds, level, members_sql)
