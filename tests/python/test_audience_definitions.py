"""Audience files read leniently, audience definitions compiled against real schemas, the
profile schema derived from an instances file, and `pcdp audience validate` without a warehouse.
No dbt run: small hand-made DuckDB tables."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from pcdp.audience import AttrType, AudienceFileError, audience_view_sql, parse_audiences_file
from pcdp.audience.definitions import (
    DEFINITION_SCHEMA,
    build_definitions,
    definitions_from_relations,
    problems,
    resolve_audiences_file,
)
from pcdp.audience.files import load_audience_entries
from pcdp.audience.profile_schema import BASE_PROFILE, account_schema, expected_schemas
from pcdp.cli import main
from pcdp.project import project_dir

CONTRACT_FILTERS = {
    "likely": "action_prediction_score >= 0.75",
    "high_value": "pcltv_6m >= 100",
    "champions": "rfm_cluster = Champions",
    "tech": "interest_iab contains Technology",
    "loyal_no_shoes": (
        "rfm_cluster in (Champions, Loyal Customers) and not interest_product contains Shoes"
    ),
}

PROFILE = """
create table customer_profile as
select * from (values
    ('c1', 0.9, true, 250.0, 'Champions', ['Technology & Computing'], ['Apparel > Shoes'], 100.0),
    ('c2', 0.8, false, 50.0, 'Loyal Customers', ['Sports'], ['Home > Kitchen'], 40.0),
    ('c3', 0.1, false, 120.0, 'Champions', ['Technology'], cast([] as varchar[]), 10.0),
    ('c4', null, null, null, null, null, null, null)
) as t(customer_id, action_prediction_score, action_prediction_segment, pcltv_6m,
       rfm_cluster, interest_iab, interest_product, monetary)
"""
ACCOUNTS = """
create table account_profile as
select * from (values ('a1', 'Acme', 3, 500.0), ('a2', 'Beta', 1, 20.0))
    as t(account_id, account_name, member_count, monetary_sum)
"""


def write(tmp_path: Path, body: str, name: str = "audiences.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture()
def con():
    connection = duckdb.connect()
    connection.execute(PROFILE)
    connection.execute(ACCOUNTS)
    yield connection
    connection.close()


def test_target_key(tmp_path):
    path = write(
        tmp_path,
        """
        audiences:
          - name: people
            filter: monetary > 1
          - name: firms
            target: account
            filter: member_count >= 2
        """,
    )
    people, firms = parse_audiences_file(path)
    assert (people.target, people.relation) == ("customer", "customer_profile")
    assert (firms.target, firms.relation) == ("account", "account_profile")
    bad = write(tmp_path, "audiences:\n  - name: x\n    target: team\n    filter: a = 1\n")
    with pytest.raises(AudienceFileError, match="'target' must be one of customer, account"):
        parse_audiences_file(bad)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (None, "cannot read the audience file"),
        ("audiences: [\n", "not valid YAML"),
        ("other: 1\n", "missing the key 'audiences'"),
    ],
)
def test_lenient_file_level_problems(tmp_path, body, fragment):
    path = tmp_path / "missing.yml" if body is None else write(tmp_path, body)
    entries = load_audience_entries(path)
    assert len(entries) == 1
    assert entries[0].entry == 0 and entries[0].audience is None and fragment in entries[0].error


def test_lenient_entries_keep_going(tmp_path):
    path = write(
        tmp_path,
        """
        audiences:
          - name: good
            filter: monetary > 1
          - name: Bad Name
            filter: monetary > 1
          - name: broken
            filter: (monetary > 1
          - name: good
            filter: monetary > 2
          - just text
          - name: last
            filter: monetary > 3
            owner: me
        """,
    )
    entries = load_audience_entries(path)
    assert [e.entry for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e.audience is not None for e in entries] == [True, False, False, False, False, True]
    assert "lower snake case" in entries[1].error
    assert "unbalanced parentheses" in entries[2].error and entries[2].name == "broken"
    assert "duplicate name" in entries[3].error
    assert "must be a mapping" in entries[4].error
    assert entries[5].fields["owner"] == "me"


def test_definitions_compile_every_contract_example(tmp_path, con):
    body = "audiences:\n" + "".join(
        f"  - name: {name}\n    filter: {text}\n" for name, text in CONTRACT_FILTERS.items()
    )
    path = write(tmp_path, body)
    table = definitions_from_relations(
        str(path),
        con,
        {"customer": con.table("customer_profile"), "account": con.table("account_profile")},
    )
    assert table.schema == DEFINITION_SCHEMA
    rows = {row["audience_name"]: row for row in table.to_pylist()}
    assert all(row["status"] == "ok" for row in rows.values()), problems(list(rows.values()))
    expected = {
        "likely": {"c1", "c2"},
        "high_value": {"c1", "c3"},
        "champions": {"c1", "c3"},
        "tech": {"c1", "c3"},
        "loyal_no_shoes": {"c2", "c3"},  # c1's "Apparel > Shoes" contains Shoes
    }
    for name, members in expected.items():
        row = rows[name]
        assert row["member_count"] == len(members)
        con.execute(audience_view_sql(name, row["filter_sql"]))
        got = {r[0] for r in con.execute(f"select customer_id from audience_{name}").fetchall()}
        assert got == members, name
        assert row["filter"] == CONTRACT_FILTERS[name]
        assert row["view_name"] == f"audience_{name}" and row["target"] == "customer"


def test_definitions_refuse_frames_of_an_unknown_warehouse(tmp_path, con):
    # DuckDB relations and Spark DataFrames (tests/spark) are compiled for; a pandas frame, say,
    # has no SQL dialect to compile to.
    path = write(tmp_path, "audiences:\n  - name: champions\n    filter: rfm_cluster = x\n")
    frame = con.table("customer_profile").df()
    with pytest.raises(TypeError, match="customer: a DataFrame is neither a DuckDB relation"):
        definitions_from_relations(str(path), con, {"customer": frame})


def test_definitions_record_refusals_without_stopping(tmp_path, con):
    path = write(
        tmp_path,
        """
        audiences:
          - name: unknown_attribute
            filter: pcltv_7m >= 100
          - name: type_mismatch
            filter: rfm_cluster > 3
          - name: injection
            filter: "rfm_cluster = x'; drop table customers; --"
          - name: injection_quoted
            filter: "rfm_cluster = \\"x'; drop table customer_profile; --\\""
          - name: injection_bare_sql
            filter: "pcltv_6m >= 1; drop table customer_profile"
          - name: firms
            target: account
            filter: member_count >= 2 and monetary_sum > 100
          - name: firms_wrong_schema
            target: account
            filter: rfm_cluster = Champions
          - name: champions
            filter: rfm_cluster = Champions
        """,
    )
    con.execute("create table customers as select 1 as x")
    table = definitions_from_relations(
        path,
        con,
        {"customer": con.table("customer_profile"), "account": con.table("account_profile")},
    )
    rows = {row["audience_name"]: row for row in table.to_pylist()}
    assert rows["unknown_attribute"]["status"] == "error"
    assert "unknown attribute 'pcltv_7m'" in rows["unknown_attribute"]["error"]
    assert "did you mean pcltv_6m" in rows["unknown_attribute"]["error"]
    assert "operator '>' does not fit text attribute" in rows["type_mismatch"]["error"]
    assert "expected a number for pcltv_6m" in rows["injection_bare_sql"]["error"]
    assert "unknown attribute 'rfm_cluster'" in rows["firms_wrong_schema"]["error"]
    assert "unterminated quoted value at column 16" in rows["injection"]["error"]
    # a fully quoted injection is just an odd value: it compiles, is inert, matches nobody
    row = rows["injection_quoted"]
    assert row["status"] == "ok" and row["member_count"] == 0, row
    assert "'x''; drop table customer_profile; --'" in row["filter_sql"]
    assert rows["firms"]["status"] == "ok" and rows["firms"]["member_count"] == 1
    assert rows["firms"]["source_relation"] == "account_profile"
    assert rows["champions"]["member_count"] == 2
    for row in rows.values():
        assert (row["status"] == "ok") == (row["error"] is None) == (row["filter_sql"] is not None)
    assert con.execute("select count(*) from customers").fetchone() == (1,)
    assert con.execute("select count(*) from customer_profile").fetchone() == (4,)


def test_definitions_file_problem_is_one_row(tmp_path, con):
    rows = build_definitions(tmp_path / "nope.yml", {"customer": {"x": "integer"}})
    assert len(rows) == 1 and rows[0]["entry"] == 0 and rows[0]["audience_name"] is None
    assert "cannot read" in rows[0]["error"] and problems(rows) == [rows[0]["error"]]


def test_duplicate_names_keep_the_first(tmp_path):
    path = write(
        tmp_path, "audiences:\n  - {name: a, filter: x = 1}\n  - {name: a, filter: x = 2}\n"
    )
    rows = build_definitions(path, {"customer": {"x": "integer"}})
    assert [r["audience_name"] for r in rows] == ["a", None]
    assert [r["status"] for r in rows] == ["ok", "error"]


def test_resolve_audiences_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_audiences_file(None) == project_dir() / "audiences.yml"
    assert resolve_audiences_file("") == project_dir() / "audiences.yml"
    local = write(tmp_path, "audiences: []\n", "mine.yml")
    assert resolve_audiences_file("mine.yml") == local
    assert resolve_audiences_file(str(local)) == local


# ------------------------------------------------------------------ schema from instances
def test_expected_schemas_of_the_default_instances():
    schemas = expected_schemas(project_dir() / "instances.yml")
    customer, account = schemas["customer"], schemas["account"]
    assert set(BASE_PROFILE) <= set(customer)
    assert customer["action_prediction_score"] is AttrType.NUMBER
    assert customer["action_prediction_segment"] is AttrType.BOOLEAN
    assert customer["churn_30d_score"] is AttrType.NUMBER
    assert [customer[f"pcltv_{h}m"] for h in (3, 6, 12)] == [AttrType.NUMBER] * 3
    assert customer["rfm_cluster"] is AttrType.TEXT
    assert customer["rfm_recency_score"] is AttrType.INTEGER
    assert customer["interest_iab"] is AttrType.LIST
    assert customer["interest_product"] is AttrType.LIST
    assert account["member_count"] is AttrType.INTEGER
    assert account["monetary_sum"] is AttrType.NUMBER
    assert account["pcltv_12m_sum"] is AttrType.NUMBER
    assert "pcltv_12m_max" not in account
    assert account["action_prediction_score_max"] is AttrType.NUMBER
    assert account["action_prediction_score_mean"] is AttrType.NUMBER
    assert account["rfm_recency_score_max"] is AttrType.INTEGER
    assert account["action_prediction_segment_members"] is AttrType.INTEGER
    assert "rfm_cluster" not in account and "interest_iab" not in account


def test_expected_schemas_follow_the_instances(tmp_path):
    path = write(
        tmp_path,
        """
        instances:
          - {id: ltv, type: pcltv, horizons_months: [1, 24]}
          - {id: later, type: action_prediction, status: draft, positive: x}
          - {id: mine, type: byom, output: {name: my_flag, type: boolean}}
          - {id: Bad Id, type: rfm}
        """,
        "instances.yml",
    )
    customer = expected_schemas(path)["customer"]
    assert customer["ltv_1m"] is AttrType.NUMBER and customer["ltv_24m"] is AttrType.NUMBER
    assert "later_score" not in customer  # drafts produce no columns
    assert customer["my_flag"] is AttrType.BOOLEAN
    assert not any(name.startswith("Bad") for name in customer)
    account = account_schema(customer, {"ltv_1m": "pcltv", "my_flag": "byom"})
    assert "ltv_1m_sum" in account and "my_flag_members" in account and "ltv_24m_sum" not in account


# ------------------------------------------------------------------------- validate CLI
def test_validate_the_default_audience_file_without_a_warehouse(capsys):
    assert main(["audience", "validate", str(project_dir() / "audiences.yml")]) == 0
    out = capsys.readouterr().out
    for filter_text in CONTRACT_FILTERS.values():
        assert filter_text in (project_dir() / "audiences.yml").read_text()
    assert "all 7 audience(s) valid" in out


def test_validate_names_each_problem(tmp_path, capsys):
    path = write(
        tmp_path,
        """
        audiences:
          - name: typo
            filter: pcltv_7m >= 100
          - name: fine
            filter: pcltv_6m >= 100
          - name: mismatch
            filter: interest_iab = Technology
        """,
    )
    assert main(["audience", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "ok       fine (customer)" in out
    assert "refused  audience 'typo': filter refused: unknown attribute 'pcltv_7m'" in out
    assert "refused  audience 'mismatch'" in out and "does not fit list attribute" in out
    assert "2 problem(s)" in out


def test_validate_a_missing_file(tmp_path, capsys):
    assert main(["audience", "validate", str(tmp_path / "none.yml")]) == 1
    assert "cannot read the audience file" in capsys.readouterr().out


def test_validate_with_a_bad_instances_file(tmp_path, capsys):
    path = write(tmp_path, "audiences: []\n")
    assert main(["audience", "validate", str(path), "--instances", str(tmp_path / "x")]) == 2
    assert "cannot read instances file" in capsys.readouterr().err
