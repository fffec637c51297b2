"""The audience filter language: parsing, type checking, SQL emission and audience files."""

from __future__ import annotations

import textwrap

import duckdb
import pytest

from pcdp.audience import (
    And,
    AttrType,
    AudienceFileError,
    Comparison,
    Contains,
    FilterError,
    InList,
    IsNull,
    Not,
    Or,
    attr_type_for_db_type,
    audience_view_sql,
    check_filter,
    compile_audiences,
    compile_filter,
    filter_attributes,
    format_filter,
    parse_audiences_file,
    parse_filter,
    schema_from_duckdb,
    validate_audiences,
)

PROFILE_DDL = """
create table customer_profile (
    customer_id varchar,
    action_prediction_score double,
    action_prediction_segment boolean,
    pcltv_3m decimal(18, 2),
    pcltv_6m decimal(18, 2),
    pcltv_12m double,
    rfm_cluster varchar,
    rfm_recency_score integer,
    interest_iab varchar[],
    interest_product varchar[],
    first_order_date date,
    last_seen_at timestamp,
    extra struct(a integer)
)
"""

ROWS = [
    # id, score, segment, 3m, 6m, 12m, cluster, recency, iab, product, first order, last seen
    ("c1", 0.9, True, 50, 250, 400.0, "Champions", 5,
     ["Technology & Computing", "Sports"], ["Shoes > Running", "Apparel"],
     "2024-01-10", "2024-06-01 10:00:00"),
    ("c2", 0.75, True, 40, 100, 150.0, "Loyal Customers", 4,
     ["Tech Gadgets"], ["Shoes"], "2023-05-01", "2024-05-31 23:59:59"),
    ("c3", 0.5, False, 10, 99.99, 120.0, "Lost", 1,
     ["Technology"], [], "2022-12-31", "2023-01-01 00:00:00"),
    ("c4", None, None, None, None, None, None, None, None, None, None, None),
    ("c5", 0.1, False, -3, -5, 0.0, "Champions", 3,
     ["Arts & Entertainment"], ["Apparel > Shoes"], "2024-02-29", "2024-03-01 12:30:00"),
    ("c6", 0.8, False, 0, 0, 10.5, "Kid's", 2,
     ["technology & computing"], ["Shoesies"], None, None),
    ("c7", 0.2, True, 5, 20, 30.0, "Loyal Customers", 2,
     ["Food & Drink", None], None, "2021-07-04", "2024-06-01 00:00:00"),
    ("c8", 0.3, False, 1, 1, 1.0, "", 1, ["Technology"], ["AND or OR"], None, None),
]  # fmt: skip

ALL = {r[0] for r in ROWS}


def make_profile() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(PROFILE_DDL)
    for row in ROWS:
        con.execute(
            "insert into customer_profile values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)", row
        )
    return con


@pytest.fixture(scope="module")
def con():
    c = make_profile()
    yield c
    c.close()


@pytest.fixture(scope="module")
def schema(con):
    return schema_from_duckdb(con)


def select(con, schema, text: str) -> set[str]:
    sql = compile_filter(text, schema)
    rows = con.execute(f"select customer_id from customer_profile where {sql}").fetchall()
    return {r[0] for r in rows}


# ------------------------------------------------------------------------------ the schema
def test_schema_from_duckdb(schema):
    assert schema == {
        "customer_id": AttrType.TEXT,
        "action_prediction_score": AttrType.NUMBER,
        "action_prediction_segment": AttrType.BOOLEAN,
        "pcltv_3m": AttrType.NUMBER,
        "pcltv_6m": AttrType.NUMBER,
        "pcltv_12m": AttrType.NUMBER,
        "rfm_cluster": AttrType.TEXT,
        "rfm_recency_score": AttrType.INTEGER,
        "interest_iab": AttrType.LIST,
        "interest_product": AttrType.LIST,
        "first_order_date": AttrType.DATE,
        "last_seen_at": AttrType.TIMESTAMP,
    }  # the struct column is not filterable and left out


def test_schema_accepts_strings():
    assert compile_filter("x = 1", {"x": "integer"}) == 'COALESCE(("x" = 1), FALSE)'
    with pytest.raises(FilterError, match="invalid schema"):
        compile_filter("x = 1", {"x": "blob"})


# ------------------------------------------------------------------- contract examples
CONTRACT_EXAMPLES = [
    ("action_prediction_score >= 0.75", {"c1", "c2", "c6"}),
    ("pcltv_6m >= 100", {"c1", "c2"}),
    ("rfm_cluster = Champions", {"c1", "c5"}),
    ("interest_iab contains Technology", {"c1", "c3", "c6", "c8"}),
    (
        "rfm_cluster in (Champions, Loyal Customers) and not interest_product contains Shoes",
        {"c7"},  # c5's "Apparel > Shoes" contains Shoes
    ),
]


@pytest.mark.parametrize(("text", "expected"), CONTRACT_EXAMPLES)
def test_contract_examples(con, schema, text, expected):
    check_filter(text, schema)
    assert select(con, schema, text) == expected


# ---------------------------------------------------------------- selection semantics
SELECTIONS = [
    # numbers
    ("pcltv_6m > 99.99", {"c1", "c2"}),
    ("pcltv_6m <= 0", {"c5", "c6"}),
    ("pcltv_6m < -4.5", {"c5"}),
    ("pcltv_6m = -5", {"c5"}),
    ("pcltv_6m != 100", ALL - {"c2", "c4"}),
    ("pcltv_6m in (1, 20, 100.0)", {"c2", "c7", "c8"}),
    ("pcltv_6m >= '100'", {"c1", "c2"}),  # a quoted number is still a number
    ("pcltv_12m > 10.25", {"c1", "c2", "c3", "c6", "c7"}),
    ("pcltv_3m >= +40", {"c1", "c2"}),
    ("pcltv_3m > .5", {"c1", "c2", "c3", "c7", "c8"}),
    ("rfm_recency_score >= 4", {"c1", "c2"}),
    ("rfm_recency_score > 3.5", {"c1", "c2"}),
    ("action_prediction_score is null", {"c4"}),
    ("action_prediction_score is not null", ALL - {"c4"}),
    # booleans
    ("action_prediction_segment = true", {"c1", "c2", "c7"}),
    ("action_prediction_segment = FALSE", {"c3", "c5", "c6", "c8"}),
    ("action_prediction_segment != true", {"c3", "c5", "c6", "c8"}),
    ("not action_prediction_segment = true", {"c3", "c4", "c5", "c6", "c8"}),
    # text
    ("rfm_cluster = Loyal Customers", {"c2", "c7"}),
    ("rfm_cluster = Loyal    Customers", {"c2", "c7"}),  # bare words joined by one space
    ("rfm_cluster = 'Loyal    Customers'", set()),  # quoted: exact
    ("rfm_cluster = champions", set()),  # text equality is exact
    ("rfm_cluster != Champions", {"c2", "c3", "c6", "c7", "c8"}),  # null is not != anything
    ("not rfm_cluster = Champions", ALL - {"c1", "c5"}),
    ("rfm_cluster = 'Kid''s'", {"c6"}),
    ('rfm_cluster = "Kid\'s"', {"c6"}),
    ("rfm_cluster in ('Kid''s', Lost)", {"c3", "c6"}),
    ("rfm_cluster not in (Champions, Lost)", ALL - {"c1", "c3", "c5"}),
    ("rfm_cluster is null", {"c4", "c8"}),  # the empty string is a missing value
    ("rfm_cluster is not null", ALL - {"c4", "c8"}),
    ("customer_id = c3", {"c3"}),
    # lists and contains
    ("interest_iab contains technology", {"c1", "c3", "c6", "c8"}),  # case-insensitive
    ("interest_iab contains Tech", {"c2"}),  # whole words: Tech Gadgets, not Technology
    ("interest_iab contains Tech Gadgets", {"c2"}),
    ("interest_iab contains 'Technology & Computing'", {"c1", "c6"}),
    ("interest_iab contains Technology & Computing", {"c1", "c6"}),
    ("interest_iab contains '  Technology  '", {"c1", "c3", "c6", "c8"}),  # trimmed
    ("interest_iab contains Food", {"c7"}),  # null labels in a list are ignored
    ("interest_iab contains Computing", set()),  # leading words only
    ("interest_product contains Shoes", {"c1", "c2", "c5"}),  # any segment of a path
    ("interest_product contains shoes", {"c1", "c2", "c5"}),
    ("interest_product contains Running", {"c1"}),  # the last segment of "Shoes > Running"
    ("interest_product contains Shoes > Running", {"c1"}),
    ("interest_product contains Shoes>Running", {"c1"}),
    ("interest_product contains 'Shoes>Running'", {"c1"}),  # '>' matches with any spacing
    ("interest_product contains Apparel", {"c1", "c5"}),
    ("interest_product contains Apparel > Shoes", {"c5"}),
    ("interest_product contains 'apparel  >  shoes'", {"c5"}),
    ("interest_product contains Shoes > Apparel", set()),  # order matters
    ("interest_product contains Shoe", set()),  # whole words: not Shoes, not Shoesies
    ("interest_product contains 'AND or OR'", {"c8"}),
    ("interest_product contains 'or OR'", set()),  # 'AND or OR': not its leading words
    ("interest_product not contains Shoes", ALL - {"c1", "c2", "c5"}),
    ("interest_product is null", {"c3", "c4", "c7"}),  # empty list counts as missing
    ("interest_product is not null", ALL - {"c3", "c4", "c7"}),
    # dates and timestamps
    ("first_order_date >= 2024-01-01", {"c1", "c5"}),
    ("first_order_date = 2024-02-29", {"c5"}),
    ("first_order_date in (2021-07-04, 2022-12-31)", {"c3", "c7"}),
    ("last_seen_at >= 2024-06-01", {"c1", "c7"}),
    ("last_seen_at > 2024-06-01 00:00", {"c1"}),
    ("last_seen_at < '2024-03-01T12:30:00+00:00'", {"c3"}),
    ("last_seen_at <= '2024-03-01T13:30:00+01:00'", {"c3", "c5"}),
    # boolean logic, precedence, three-valued logic
    ("rfm_cluster = Champions or rfm_cluster = Lost and pcltv_6m > 1000", {"c1", "c5"}),
    ("(rfm_cluster = Champions or rfm_cluster = Lost) and pcltv_6m > 0", {"c1", "c3"}),
    ("not rfm_cluster = Champions and pcltv_6m > 0", {"c2", "c3", "c7", "c8"}),
    ("not (rfm_cluster = Champions and pcltv_6m > 0)", ALL - {"c1"}),
    ("not not rfm_cluster = Champions", {"c1", "c5"}),
    ("not (pcltv_6m > 0 or rfm_cluster = Lost)", {"c4", "c5", "c6"}),
    ("pcltv_6m > 0 OR NOT pcltv_6m > 0", ALL),  # nulls land on the "not" side
    ("((pcltv_6m >= 100))", {"c1", "c2"}),
    ("RFM_CLUSTER = Champions", {"c1", "c5"}),  # attribute names match case-insensitively
    ("rfm_cluster IN (Champions) AnD interest_iab CONTAINS sports", {"c1"}),
    ("rfm_cluster = Champions\n  and pcltv_6m > 0", {"c1"}),
]


@pytest.mark.parametrize(("text", "expected"), SELECTIONS)
def test_selection(con, schema, text, expected):
    assert select(con, schema, text) == expected


def test_compiled_expression_is_never_null(con, schema):
    sql = compile_filter("not pcltv_6m > 0 and rfm_cluster = Champions", schema)
    values = [r[0] for r in con.execute(f"select {sql} from customer_profile").fetchall()]
    assert None not in values
    assert all(isinstance(v, bool) for v in values)


def test_sql_shape(schema):
    assert compile_filter("pcltv_6m >= 100", schema) == 'COALESCE(("pcltv_6m" >= 100), FALSE)'
    assert compile_filter("pcltv_6m >= 007.50", schema) == 'COALESCE(("pcltv_6m" >= 7.50), FALSE)'
    assert compile_filter("pcltv_6m >= -1", schema) == 'COALESCE(("pcltv_6m" >= (-1)), FALSE)'
    assert compile_filter("rfm_cluster = 'a''b'", schema) == (
        "COALESCE((\"rfm_cluster\" = 'a''b'), FALSE)"
    )
    assert compile_filter("first_order_date < 2024-01-05", schema) == (
        "COALESCE((\"first_order_date\" < DATE '2024-01-05'), FALSE)"
    )
    # the column name comes from the schema, not from the filter text
    assert '"rfm_cluster"' in compile_filter("RFM_Cluster = x", schema)


def test_spark_sql_shape(schema):
    # Spark SQL (tests/spark runs these filters on Spark): backquoted columns, backslashes
    # escaped in literals, exists/rlike for contains, size() for list length.
    def spark(text: str) -> str:
        return compile_filter(text, schema, dialect="spark")

    assert spark("pcltv_6m >= 100") == "COALESCE((`pcltv_6m` >= 100), FALSE)"
    assert spark("rfm_cluster = 'a''b\\c'") == "COALESCE((`rfm_cluster` = 'a\\'b\\\\c'), FALSE)"
    assert spark("interest_iab contains Tech") == (
        "COALESCE((exists(`interest_iab`, __pcdp_label -> __pcdp_label rlike "
        "'(?iu)(?:^|>\\\\s*)Tech(?:$|[^\\\\p{L}\\\\p{N}])')), FALSE)"
    )
    assert spark("interest_iab is null") == (
        "COALESCE((`interest_iab` IS NULL OR size(`interest_iab`) = 0), FALSE)"
    )
    with pytest.raises(
        ValueError, match="unknown SQL dialect 'snowflake' \\(one of duckdb, spark\\)"
    ):
        compile_filter("pcltv_6m >= 100", schema, dialect="snowflake")


def test_spark_column_types():
    for spark_type, attr_type in {
        "array<string>": AttrType.LIST,
        "string": AttrType.TEXT,
        "int": AttrType.INTEGER,
        "bigint": AttrType.INTEGER,
        "double": AttrType.NUMBER,
        "decimal(28,4)": AttrType.NUMBER,
        "boolean": AttrType.BOOLEAN,
        "date": AttrType.DATE,
        "timestamp": AttrType.TIMESTAMP,
        "timestamp_ntz": AttrType.TIMESTAMP,
    }.items():
        assert attr_type_for_db_type(spark_type) is attr_type, spark_type
    # Not filterable: a record (VARIANT, Spark's JSON), a map, a list of numbers.
    for spark_type in ("variant", "map<string,double>", "array<double>", "struct<a:int>"):
        assert attr_type_for_db_type(spark_type) is None, spark_type


# ------------------------------------------------------------------------------- parsing
def test_ast_and_precedence():
    node = parse_filter("a = 1 or not b = 2 and c is not null")
    assert isinstance(node, Or)
    left, right = node.operands
    assert isinstance(left, Comparison)
    assert left.attr.name == "a" and left.op == "=" and left.value.text == "1"
    assert isinstance(right, And)
    assert isinstance(right.operands[0], Not)
    assert isinstance(right.operands[1], IsNull) and right.operands[1].negated


def test_flat_chains():
    node = parse_filter("a = 1 and b = 2 and c = 3 or d = 4")
    assert isinstance(node, Or) and isinstance(node.operands[0], And)
    assert len(node.operands[0].operands) == 3


def test_bare_values():
    def value(text):
        node = parse_filter(text)
        return node.value.text if not isinstance(node, InList) else [v.text for v in node.values]

    assert value("x = Loyal Customers") == "Loyal Customers"
    assert value("x = Technology & Computing") == "Technology & Computing"
    assert value("x = Apparel>Shoes") == "Apparel > Shoes"
    assert value("x = Pets in Space") == "Pets in Space"  # only and/or end a bare value
    assert value("x = not interested") == "not interested"
    assert value("x = 2024-01-01 10:00:00") == "2024-01-01 10:00:00"
    assert value("x in (a b,  c ,d)") == ["a b", "c", "d"]
    assert value("x = 'Rock and Roll'") == "Rock and Roll"
    assert value('x = "say ""hi"""') == 'say "hi"'
    assert value("x = 'back\\slash'") == "back\\slash"
    assert value("x = ''") == ""
    node = parse_filter("x = Rock and y = Roll")
    assert isinstance(node, And)
    assert node.operands[0].value.text == "Rock"


def test_not_in_and_not_contains_are_sugar():
    assert parse_filter("a not in (1)") == Not(parse_filter("a in (1)"))
    assert parse_filter("a not contains x") == Not(parse_filter("a contains x"))
    assert parse_filter("a <> 1") == parse_filter("a != 1")


def test_format_roundtrip():
    for text, _ in CONTRACT_EXAMPLES + SELECTIONS:
        node = parse_filter(text)
        assert parse_filter(format_filter(node)) == node


def test_filter_attributes():
    node = parse_filter("b = 1 and (a = 2 or not b is null) and c contains x")
    assert filter_attributes(node) == ["b", "a", "c"]
    assert isinstance(parse_filter("c contains x"), Contains)


# ------------------------------------------------------------------------------ refusals
REFUSALS = [
    ("pcltv_7m >= 100", "unknown attribute 'pcltv_7m' at column 1 (did you mean pcltv_6m", 1),
    ("rfm_clustr = Champions", "unknown attribute 'rfm_clustr'", 1),
    ("zzz = 1", "known attributes: action_prediction_score", 1),
    ("rfm_cluster > 3", "operator '>' does not fit text attribute 'rfm_cluster'", 13),
    ("pcltv_6m contains x", "operator 'contains' does not fit number attribute 'pcltv_6m'", 10),
    ("interest_iab = Technology", "does not fit list attribute 'interest_iab'", 14),
    ("interest_iab in (a)", "operator 'in' does not fit list attribute", 14),
    ("action_prediction_segment > true", "does not fit boolean attribute", 27),
    ("action_prediction_segment in (true)", "does not fit boolean attribute", 27),
    ("action_prediction_segment = yes", "expected true or false", 29),
    ("rfm_cluster contains Champ", "does not fit text attribute", 13),
    ("pcltv_6m >= abc", "expected a number for pcltv_6m, got 'abc'", 13),
    ("pcltv_6m >= 1e5", "expected a number", 13),
    ("pcltv_6m >= 1 000", "expected a number for pcltv_6m, got '1 000'", 13),
    ("pcltv_6m in (1, x)", "expected a number", 17),
    ("pcltv_6m >= " + "9" * 39, "more than 38 digits", 13),
    ("first_order_date > yesterday", "expected a date (YYYY-MM-DD)", 20),
    ("last_seen_at > 2024-13-01", "expected a timestamp", 16),
    ("rfm_cluster = null", "null is not a value", 15),
    ("interest_iab contains null", "null is not a value", 23),
    ("interest_iab contains '  '", "contains needs a non-empty value", 23),
    ("interest_product contains '> Shoes'", "has an empty part around '>'", 27),
    ("interest_product contains 'Shoes >'", "has an empty part around '>'", 27),
    ("interest_product contains 'a >> b'", "has an empty part around '>'", 27),
    ("(pcltv_6m >= 100", "unbalanced parentheses: expected ')'", 17),
    ("pcltv_6m >= 100)", "unbalanced parentheses: ')' has no matching '('", 16),
    ("((pcltv_6m >= 100)", "the '(' at column 1 is never closed", 19),
    ("pcltv_6m >= 100 and", "expected a condition after keyword 'and', but the filter ends", 20),
    ("pcltv_6m >= 100 or or pcltv_6m < 1", "expected a condition before keyword 'or'", 20),
    ("pcltv_6m >=", "expected a value after '>=', but the filter ends here", 12),
    ("pcltv_6m", "expected an operator after attribute 'pcltv_6m', the filter ends", 9),
    ("not", "expected a condition after keyword 'not'", 4),
    ("", "empty filter", 1),
    ("   ", "empty filter", 1),
    ("pcltv_6m >= 100 pcltv_3m >= 1", "unexpected '>=' after a complete condition", 26),
    ("rfm_cluster = Champions )", "')' has no matching '('", 25),
    ("rfm_cluster = Champions (x)", "unexpected '(' after a complete condition", 25),
    ("rfm_cluster = a = b", "unexpected '=' after a complete condition", 17),
    ("pcltv_6m >= 100 'x'", "unexpected quoted value 'x' after a complete condition", 17),
    ("rfm_cluster == Champions", "expected a value after '=', found '='", 14),
    ("rfm_cluster ! Champions", "unexpected character '!'", 13),
    ("rfm_cluster = 'Champions", "unterminated quoted value", 15),
    ("rfm_cluster in Champions", "expected '(' after 'in'", 16),
    ("rfm_cluster in ()", "expected a value in the 'in' list, found ')'", 17),
    ("rfm_cluster in (a,)", "expected a value in the 'in' list", 19),
    ("rfm_cluster in (a b c", "expected ',' or ')' in the 'in' list", 22),
    ("rfm_cluster in (Rock and Roll)", "expected ',' or ')' in the 'in' list, found keyword", 22),
    ("rfm_cluster is Champions", "expected 'null' after 'is'", 16),
    ("rfm_cluster is not", "expected 'null' after 'is not'", 19),
    ("'rfm_cluster' = x", "expected an attribute name", 1),
    ("1 = pcltv_6m", "expected an attribute name, found '1'", 1),
    ("rfm cluster = x", "expected an operator after attribute 'rfm'", 5),
    ("rfm_cluster = and", "expected a value after '=', found keyword 'and'", 15),
    ("()", "expected a condition, found ')'", 2),
    ("rfm_cluster = x\x00", "control character", 16),
    ("rfm_cluster = 'x\ny'", "control character", 17),
    ("(" * 100 + "pcltv_6m > 1" + ")" * 100, "nested too deeply", 65),
    ("not " * 100 + "pcltv_6m > 1", "nested too deeply", 257),
]


@pytest.mark.parametrize(("text", "fragment", "column"), REFUSALS)
def test_refusals(schema, text, fragment, column):
    with pytest.raises(FilterError) as info:
        compile_filter(text, schema)
    err = info.value
    assert isinstance(err, ValueError)
    assert fragment in str(err)
    assert err.column == column
    assert f"at column {column}" in str(err) or "line" in str(err)


def test_caret_points_at_the_token(schema):
    with pytest.raises(FilterError) as info:
        compile_filter("rfm_cluster = Champions and pcltv_7m > 3", schema)
    lines = str(info.value).splitlines()
    assert lines[0] == (
        "unknown attribute 'pcltv_7m' at column 29 (did you mean pcltv_6m, pcltv_3m or pcltv_12m?)"
    )
    assert lines[1] == "  rfm_cluster = Champions and pcltv_7m > 3"
    assert lines[2] == "  " + " " * 28 + "^" * 8


def test_multiline_error_names_the_line(schema):
    with pytest.raises(FilterError) as info:
        compile_filter("rfm_cluster = Champions\nand pcltv_6m > x", schema)
    err = info.value
    assert (err.line, err.column) == (2, 16)
    first = str(err).splitlines()[0]
    assert first.endswith("at line 2, column 16 (pcltv_6m is a number attribute)")
    assert str(err).splitlines()[1:] == ["  and pcltv_6m > x", "                 ^"]


def test_non_text_filter_is_refused(schema):
    with pytest.raises(FilterError, match="must be text"):
        compile_filter(None, schema)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- injection
INJECTIONS = [
    "rfm_cluster = x'; drop table customer_profile; --",
    'rfm_cluster = "x\'; drop table customer_profile; --"',
    "rfm_cluster = x; drop table customer_profile",
    "rfm_cluster = Champions' or '1'='1",
    "rfm_cluster = \"Champions' or '1'='1\"",
    "rfm_cluster = x -- comment",
    "rfm_cluster = x /* comment */",
    "rfm_cluster = \\' or 1=1 --",
    "rfm_cluster = '' or 1=1",
    "interest_iab contains \"x'))) > 0 or true or ((('\"",
    "interest_iab contains x'); drop table customer_profile; --",
    "pcltv_6m >= 1; drop table customer_profile",
    "pcltv_6m >= 1 or 1=1",
    '"rfm_cluster" = x',
    'rfm_cluster" = x or "pcltv_6m = 1',
    "customer_profile.rfm_cluster = x",
    "rfm_cluster = x) or (1=1",
    "first_order_date > '2024-01-01'' or 1=1 --'",
    "rfm_cluster in (x'), ('y)",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_is_refused_or_inert(schema, text):
    con = make_profile()
    try:
        sql = compile_filter(text, schema)
    except FilterError:
        pass
    else:
        rows = con.execute(f"select customer_id from customer_profile where {sql}").fetchall()
        assert rows == []
    tables = con.execute("select table_name from information_schema.tables").fetchall()
    assert ("customer_profile",) in tables
    assert con.execute("select count(*) from customer_profile").fetchone() == (len(ROWS),)
    con.close()


# -------------------------------------------------------------------------- audience files
def write(tmp_path, body: str):
    path = tmp_path / "audiences.yml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_audience_file_roundtrip(tmp_path, con, schema):
    path = write(
        tmp_path,
        """
        audiences:
          - name: likely_buyers
            filter: action_prediction_score >= 0.75
            description: Likely to buy in the next 30 days
            owner: growth@example.com
          - name: loyal_non_shoe
            filter: >-
              rfm_cluster in (Champions, Loyal Customers)
              and not interest_product contains Shoes
        """,
    )
    auds = parse_audiences_file(path)
    assert [a.name for a in auds] == ["likely_buyers", "loyal_non_shoe"]
    assert auds[0].owner == "growth@example.com"
    assert auds[1].description is None
    assert auds[0].view_name == "audience_likely_buyers"
    assert validate_audiences(auds, schema) == []
    compiled = compile_audiences(auds, schema)
    for name, sql in compiled.items():
        con.execute(audience_view_sql(name, sql))
    members = con.execute("select customer_id from audience_loyal_non_shoe order by 1").fetchall()
    assert members == [("c7",)]
    assert con.execute("select count(*) from audience_likely_buyers").fetchone() == (3,)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping with the key 'audiences', got list"),
        ("other: 1\n", "missing the key 'audiences'"),
        ("audiences: x\n", "'audiences' must be a list, got str"),
        ("audiences:\n  - just text\n", "audience entry 1 must be a mapping"),
        ("audiences:\n  - filter: x = 1\n", "audience entry 1: missing 'name'"),
        ("audiences:\n  - name: Big Spenders\n    filter: x = 1\n", "'name' must be lower snake"),
        ("audiences:\n  - name: 1abc\n    filter: x = 1\n", "'name' must be lower snake"),
        ("audiences:\n  - name: 12\n    filter: x = 1\n", "'name' must be lower snake"),
        ("audiences:\n  - name: a" + "b" * 60 + "\n    filter: x = 1\n", "longer than 54"),
        ("audiences:\n  - name: big\n", "audience 'big' (entry 1): missing 'filter'"),
        ("audiences:\n  - name: big\n    filter: 3\n", "'filter' must be text, got int"),
        ("audiences:\n  - name: big\n    filter: x = 1\n    owner: [a]\n", "'owner' must be text"),
        ("audiences:\n  - name: big\n    fitler: x = 1\n", "unknown key 'fitler'"),
        (
            "audiences:\n  - name: big\n    filter: x = 1\n  - name: big\n    filter: x = 2\n",
            "audience 'big' (entry 2): duplicate name (also entry 1)",
        ),
        (
            "audiences:\n  - name: big\n    filter: (x >= 1\n",
            "audience 'big' (entry 1): filter refused: unbalanced parentheses",
        ),
        ("audiences: [\n", "not valid YAML"),
    ],
)
def test_audience_file_errors(tmp_path, body, fragment):
    with pytest.raises(AudienceFileError) as info:
        parse_audiences_file(write(tmp_path, body))
    assert fragment in str(info.value)


def test_audience_file_missing(tmp_path):
    with pytest.raises(AudienceFileError, match="cannot read"):
        parse_audiences_file(tmp_path / "nope.yml")


def test_audience_file_schema_errors_name_the_audience(tmp_path, schema):
    path = write(
        tmp_path,
        """
        audiences:
          - name: ok
            filter: pcltv_6m >= 100
          - name: typo
            filter: pcltv_7m >= 100
          - name: wrong_type
            filter: rfm_cluster > 3
        """,
    )
    auds = parse_audiences_file(path)
    problems = validate_audiences(auds, schema)
    assert len(problems) == 2
    assert problems[0].startswith("audience 'typo': filter refused: unknown attribute 'pcltv_7m'")
    assert "audience 'wrong_type'" in problems[1]
    with pytest.raises(AudienceFileError) as info:
        compile_audiences(auds, schema)
    assert info.value.audience == "typo" and info.value.key == "filter"


def test_empty_audience_list(tmp_path):
    assert parse_audiences_file(write(tmp_path, "audiences:\n")) == []
    assert parse_audiences_file(write(tmp_path, "audiences: []\n")) == []


def test_view_sql_refuses_bad_names():
    with pytest.raises(ValueError):
        audience_view_sql("x; drop", "TRUE")
