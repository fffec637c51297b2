"""Property tests for the audience filter language.

(a) arbitrary text is either compiled or refused with FilterError, never anything else;
(b) grammar-generated filters always compile, the SQL holds only whitelisted tokens, runs in
    DuckDB, and selects exactly the rows a small Python reference evaluator selects.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcdp.audience import (
    And,
    Comparison,
    Contains,
    FilterError,
    InList,
    IsNull,
    Not,
    Or,
    compile_filter,
    format_filter,
    parse_filter,
)

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

SCHEMA = {
    "score": "number",
    "n": "integer",
    "flag": "boolean",
    "seg": "text",
    "tags": "list",
    "day": "date",
}
SEGMENTS = ["Champions", "Loyal Customers", "Kid's", "Lost", "AND or OR", ""]
LABELS = [
    "Technology & Computing",
    "Technology",
    "Tech Gadgets",
    "Shoes > Running",
    "Shoes",
    "Apparel > Shoes > Running",
    "Sports>Shoes",
]
ROWS = [
    ("r1", 0.9, 5, True, "Champions", ["Technology & Computing", "Sports"], "2024-01-10"),
    ("r2", 0.5, 1, False, "Loyal Customers", ["Tech Gadgets"], "2023-05-01"),
    ("r3", None, None, None, None, None, None),
    ("r4", -5.0, 0, True, "Kid's", [], "2024-02-29"),
    ("r5", 100.0, 3, False, "", ["Shoes > Running", None], "2022-12-31"),
    ("r6", 0.0, -2, None, "AND or OR", ["shoes", "technology"], None),
    ("r7", 1.0, 2, False, "Lost", ["Apparel > Shoes > Running", "Sports>Shoes"], "2024-01-01"),
    ("r8", 2.0, 4, True, "Lost", ["Apparel > Shoesies", "A.b (c) > [d]*"], "2024-01-02"),
]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute(
        "create table customer_profile (id varchar, score double, n integer, flag boolean, "
        "seg varchar, tags varchar[], day date)"
    )
    for row in ROWS:
        c.execute("insert into customer_profile values (?, ?, ?, ?, ?, ?, ?)", row)
    yield c
    c.close()


# ------------------------------------------------------------------ SQL token whitelist
SQL_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<ident>"(?:[^"]|"")*")
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|>=|<=|[=<>(),:+\-])
    """,
    re.VERBOSE,
)
ALLOWED_WORDS = {
    "coalesce", "false", "true", "and", "or", "not", "is", "null", "in", "len", "list_filter",
    "lambda", "__pcdp_label", "regexp_matches", "date", "timestamp",
}  # fmt: skip
ALLOWED_IDENTS = {'"' + name + '"' for name in SCHEMA}


def assert_whitelisted(sql: str) -> None:
    pos = 0
    previous = None
    while pos < len(sql):
        m = SQL_TOKEN.match(sql, pos)
        assert m, f"unexpected SQL text at {pos}: {sql[pos : pos + 20]!r} in {sql}"
        kind, text = m.lastgroup, m.group()
        if kind == "ident":
            assert text in ALLOWED_IDENTS, text
        elif kind == "word":
            assert text.lower() in ALLOWED_WORDS, text
        elif kind == "op":
            assert not (text == "-" and previous == "-"), "comment marker in SQL"
        if kind != "ws":
            previous = text
        pos = m.end()
    kinds = {str(t) for _, t in duckdb.tokenize(sql)}
    assert not any("comment" in k for k in kinds), sql


# --------------------------------------------------------------------- (a) arbitrary text
GRAMMAR_ALPHABET = "()=!<>,'\" \n\tandortisnulcnai_x0123456789.-&>scoreflagtagsdaysegn"
TOKENS = [
    "(", ")", ",", "=", "!=", "<>", ">", ">=", "<", "<=", "and", "or", "not", "in", "contains",
    "is", "null", "true", "false", "score", "n", "flag", "seg", "tags", "day", "Champions",
    "'x''y'", '"a""b"', "'", '"', "1", "-2.5", "2024-01-01", "Technology & Computing", "!",
    "nope", "\x00", "é",
]  # fmt: skip


def compiles_or_refuses(text: str) -> None:
    try:
        sql = compile_filter(text, SCHEMA)
    except FilterError as exc:
        assert str(exc)
        assert exc.column >= 1
        return
    assert_whitelisted(sql)


@FUZZ
@given(st.text(max_size=120))
def test_random_text_only_raises_filter_error(text):
    compiles_or_refuses(text)


@FUZZ
@given(st.text(alphabet=GRAMMAR_ALPHABET, max_size=80))
def test_grammar_alphabet_only_raises_filter_error(text):
    compiles_or_refuses(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.sampled_from([" ", "", "  "]))
def test_token_soup_only_raises_filter_error(tokens, sep):
    compiles_or_refuses(sep.join(tokens))


# ------------------------------------------------------------- (b) generated filters
def quoted(s: str) -> str:
    q = "'" if "'" not in s or '"' in s else '"'
    return q + s.replace(q, q + q) + q


SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=0, max_size=12
)
NUMBERS = st.one_of(
    st.sampled_from(["0", "0.5", "-5", "100", "3", "-2", "0.9", "1.25", "007", ".5", "+1"]),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False).map(str),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)
TEXT_VALUES = st.one_of(
    st.sampled_from(SEGMENTS).map(quoted),
    st.sampled_from(["Champions", "Loyal Customers", "Lost", "not in is", "a>b"]),
    SAFE_TEXT.map(quoted),
)
LABEL_VALUES = st.one_of(
    st.sampled_from(
        ["Technology", "Tech", "Shoes", "technology & computing", "Shoes > Running", "Running"]
    ),
    st.sampled_from(LABELS + ["Sports", "x'y", "A.b (c)", "[d]*", "A.b (c) > [d]"]).map(quoted),
    SAFE_TEXT.filter(lambda s: all(part.strip() for part in s.strip().split(">"))).map(quoted),
)
DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)).map(date.isoformat)
OPS = ["=", "!=", ">", ">=", "<", "<="]


def condition() -> st.SearchStrategy[str]:
    def values_in(vals):
        return st.lists(vals, min_size=1, max_size=4).map(lambda v: "(" + ", ".join(v) + ")")

    number_attr = st.sampled_from(["score", "n"])
    return st.one_of(
        st.tuples(number_attr, st.sampled_from(OPS), NUMBERS).map(" ".join),
        st.tuples(number_attr, st.just("in"), values_in(NUMBERS)).map(" ".join),
        st.tuples(st.just("day"), st.sampled_from(OPS), DATES).map(" ".join),
        st.tuples(st.just("day"), st.just("in"), values_in(DATES)).map(" ".join),
        st.tuples(st.just("seg"), st.sampled_from(["=", "!=", "<>"]), TEXT_VALUES).map(" ".join),
        st.tuples(st.just("seg"), st.sampled_from(["in", "not in"]), values_in(TEXT_VALUES)).map(
            " ".join
        ),
        st.tuples(
            st.just("flag"),
            st.sampled_from(["=", "!="]),
            st.sampled_from(["true", "false", "TRUE", "'false'"]),
        ).map(" ".join),
        st.tuples(st.just("tags"), st.sampled_from(["contains", "not contains"]), LABEL_VALUES).map(
            " ".join
        ),
        st.tuples(st.sampled_from(sorted(SCHEMA)), st.sampled_from(["is null", "is not null"])).map(
            " ".join
        ),
    )


FILTERS = st.recursive(
    condition(),
    lambda inner: st.one_of(
        inner.map(lambda f: f"not {f}"),
        inner.map(lambda f: f"({f})"),
        inner.map(lambda f: f"not ({f})"),
        st.tuples(inner, st.sampled_from(["and", "or", "AND", "Or"]), inner).map(" ".join),
    ),
    max_leaves=8,
)


# ---------------------------------------------------------------- reference evaluator
COLUMNS = ["id", "score", "n", "flag", "seg", "tags", "day"]


def _lit(attr: str, text: str):
    kind = SCHEMA[attr]
    if kind in ("number", "integer"):
        return Decimal(text.strip())
    if kind == "boolean":
        return text.strip().lower() == "true"
    if kind == "date":
        return date.fromisoformat(text.strip())
    return text


def _and(values):
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values):
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


ASCII_SPACE = " \t\n\f\r"


def label_contains(label: str, value: str) -> bool:
    """Reference ``contains``: the value's ``>`` parts, in order, at the start of the label or
    of one of its ``>`` segments, ending at a word boundary (ASCII, ignoring case)."""
    parts = [part.strip().lower() for part in value.strip().split(">")]
    low = label.lower()
    starts = [0] + [i + 1 for i, ch in enumerate(low) if ch == ">"]
    for start in starts:
        pos = start
        if start:
            while pos < len(low) and low[pos] in ASCII_SPACE:
                pos += 1
        for k, part in enumerate(parts):
            if not low.startswith(part, pos):
                break
            pos += len(part)
            if k == len(parts) - 1:
                if pos == len(low) or not low[pos].isalnum():
                    return True
                break
            while pos < len(low) and low[pos] in ASCII_SPACE:
                pos += 1
            if not low.startswith(">", pos):
                break
            pos += 1
            while pos < len(low) and low[pos] in ASCII_SPACE:
                pos += 1
    return False


def evaluate(node, row: dict):
    """SQL three-valued result of ``node`` on ``row`` (True / False / None)."""
    if isinstance(node, Not):
        return evaluate(node.operand, row) is not True
    if isinstance(node, And):
        return _and([evaluate(o, row) for o in node.operands])
    if isinstance(node, Or):
        return _or([evaluate(o, row) for o in node.operands])
    col = row[node.attr.name]
    if isinstance(node, IsNull):
        missing = col is None or col in ("", [])
        return missing != node.negated
    if col is None:
        return None
    if isinstance(node, Contains):
        return any(label is not None and label_contains(label, node.value.text) for label in col)
    if isinstance(node, InList):
        return any(col == _lit(node.attr.name, v.text) for v in node.values)
    assert isinstance(node, Comparison)
    if isinstance(col, float):
        col = Decimal(repr(col))
    lit = _lit(node.attr.name, node.value.text)
    return {
        "=": col == lit,
        "!=": col != lit,
        ">": col > lit,
        ">=": col >= lit,
        "<": col < lit,
        "<=": col <= lit,
    }[node.op]


def ascii_only(text: str) -> bool:
    return text.isascii()


@FUZZ
@given(FILTERS)
def test_generated_filters_compile_whitelist_and_run(con, text):
    sql = compile_filter(text, SCHEMA)
    assert_whitelisted(sql)
    got = con.execute(f"select id, {sql} from customer_profile order by id").fetchall()
    assert all(isinstance(v, bool) for _, v in got)
    node = parse_filter(text)
    assert parse_filter(format_filter(node)) == node
    if ascii_only(text):  # Python and DuckDB agree on lower() for ASCII
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]
        for row in rows:
            if isinstance(row["day"], str):
                row["day"] = date.fromisoformat(row["day"])
        expected = [(row["id"], evaluate(node, row) is True) for row in rows]
        assert got == expected, text
