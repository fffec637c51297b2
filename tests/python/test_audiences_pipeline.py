"""Audiences and accounts in a built warehouse: audience_definitions, the audience_<name>
views made by the on-run-end hook, account_profile rollups, and `pcdp audience
preview | export | validate --db`. Uses the session `warehouse` (default audiences.yml) plus one
cheap `dbt run --select audience_definitions signal_conversion_values` on a copy of it."""

from __future__ import annotations

import csv
import json
import shutil
import textwrap

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import AS_OF, invoke_dbt

from pcdp.audience import filter_attributes, parse_filter, schema_from_duckdb
from pcdp.audience.files import parse_audiences_file
from pcdp.audience.profile_schema import account_schema
from pcdp.cli import main
from pcdp.commands.audience import preview, summary_lines
from pcdp.project import project_dir, run_dbt

pytestmark = pytest.mark.slow

DEFAULT_FILE = project_dir() / "audiences.yml"


def views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables"
            " where table_type = 'VIEW' and starts_with(table_name, 'audience_')"
        ).fetchall()
    }


def definitions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    rows = con.execute(
        "select audience_name, status, error, member_count, target, filter, view_name"
        " from audience_definitions order by entry"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


# ------------------------------------------------------------------------- default file
def test_every_default_audience_is_built_or_refused_by_name(con):
    profile = schema_from_duckdb(con, "customer_profile")
    accounts = schema_from_duckdb(con, "account_profile")
    defs = definitions(con)
    audiences = parse_audiences_file(DEFAULT_FILE)
    assert list(defs) == [a.name for a in audiences]
    for audience in audiences:
        status, error, members, target, text, view = defs[audience.name]
        assert text == audience.filter and target == audience.target
        schema = accounts if audience.target == "account" else profile
        missing = [a for a in filter_attributes(parse_filter(audience.filter)) if a not in schema]
        if missing:  # e.g. an instance type that has not landed yet
            assert status == "error" and f"unknown attribute '{missing[0]}'" in error
            assert view not in views(con)
        else:
            assert status == "ok" and error is None, error
            assert con.execute(f"select count(*) from {view}").fetchone()[0] == members


def test_audience_views_have_the_profile_columns(con):
    built = con.execute(
        "select view_name, source_relation from audience_definitions where status = 'ok'"
    ).fetchall()
    assert built, "the default audience file builds at least champions and key_accounts"
    assert {v for v, _ in built} == views(con)
    for view, source in built:
        assert (
            con.execute(f"describe {view}").fetchall()
            == con.execute(f"describe {source}").fetchall()
        )


def test_champions_preview_matches_direct_sql(con):
    result = preview(con, "champions")
    direct = con.execute(
        "select count(*) from customer_profile where rfm_cluster = 'Champions'"
    ).fetchone()[0]
    assert direct > 0
    assert result["size"] == direct
    assert result["population"] == con.execute("select count(*) from customers").fetchone()[0]
    assert result["segment_column"] == "rfm_cluster"
    assert result["by_segment"] == [("Champions", direct)]


def test_at_risk_preview_by_segment_matches_direct_sql(con):
    result = preview(con, "at_risk_valuable")
    direct = con.execute(
        "select rfm_cluster, count(*) from customer_profile"
        " where rfm_cluster in ('At Risk', 'Cannot Lose Them') and rfm_monetary_score >= 4"
        " group by 1 order by 2 desc, 1"
    ).fetchall()
    assert result["by_segment"] == direct
    assert result["size"] == sum(n for _, n in direct) > 0


def test_preview_of_a_file_audience_matches_direct_sql(con, tmp_path):
    path = tmp_path / "try.yml"
    path.write_text(
        "audiences:\n  - name: recent_buyers\n"
        "    filter: recency_days <= 30 and frequency >= 2 and monetary > 50\n"
    )
    result = preview(con, "recent_buyers", str(path))
    direct = con.execute(
        "select count(*) from customer_profile"
        " where recency_days <= 30 and frequency >= 2 and monetary > 50"
    ).fetchone()[0]
    assert result["size"] == direct
    assert sum(n for _, n in result["by_segment"]) == direct
    assert "audience_recent_buyers" not in views(con)  # nothing written to the warehouse


def test_preview_cli(warehouse, capsys):
    assert main(["audience", "preview", "champions", "--db", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("audience champions: ") and "by rfm_cluster:" in out
    assert main(["audience", "preview", "champions", "--db", str(warehouse), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["segment_column"] == "rfm_cluster"
    assert main(["audience", "preview", "no_such", "--db", str(warehouse)]) == 2
    assert "no audience 'no_such'" in capsys.readouterr().err


def test_export_csv_has_identifiers(con, warehouse, tmp_path):
    out = tmp_path / "champions.csv"
    assert main(["audience", "export", "champions", "--db", str(warehouse), "--out", str(out)]) == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    members = {r[0] for r in con.execute("select customer_id from audience_champions").fetchall()}
    assert {r["customer_id"] for r in rows} == members and len(rows) == len(members)
    assert list(rows[0])[:5] == ["customer_id", "email", "phone", "user_id", "anonymous_id"]
    assert "rfm_cluster" in rows[0]
    latest = dict(
        con.execute(
            "select customer_id, identifier_value from customer_identifiers"
            " where identifier_type = 'email'"
            " qualify row_number() over (partition by customer_id"
            " order by last_seen_at desc, identifier_value) = 1"
        ).fetchall()
    )
    emails = {r["customer_id"]: r["email"] or None for r in rows}
    assert any(emails.values())
    assert emails == {customer_id: latest.get(customer_id) for customer_id in members}


def test_export_parquet_of_an_account_audience(con, warehouse, tmp_path):
    out = tmp_path / "accounts.parquet"
    argv = ["audience", "export", "key_accounts", "--db", str(warehouse), "--out", str(out)]
    assert main(argv) == 0
    table = pq.read_table(out)
    assert table.column_names[:3] == ["account_id", "account_name", "customer_id"]
    accounts = {
        r[0] for r in con.execute("select account_id from audience_key_accounts").fetchall()
    }
    assert set(table.column("account_id").to_pylist()) == accounts
    members = con.execute(
        "select coalesce(sum(member_count), 0) from audience_key_accounts"
    ).fetchone()[0]
    assert table.num_rows == members


def test_validate_against_the_warehouse(warehouse, tmp_path, capsys):
    good = tmp_path / "good.yml"
    good.write_text("audiences:\n  - {name: champs, filter: rfm_cluster = Champions}\n")
    assert main(["audience", "validate", str(good), "--db", str(warehouse)]) == 0
    assert "ok       champs (customer): " in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text("audiences:\n  - {name: champs, filter: rfm_clustr = Champions}\n")
    assert main(["audience", "validate", str(bad), "--db", str(warehouse)]) == 1
    assert "unknown attribute 'rfm_clustr'" in capsys.readouterr().out


def test_run_summary_lines(con, warehouse):
    lines = summary_lines(warehouse)
    built, refused = con.execute(
        "select count(*) filter (where status = 'ok'), count(*) filter (where status = 'error')"
        " from audience_definitions"
    ).fetchone()
    assert f"{built} built, {refused} refused" in lines[0]
    assert len(lines) == 1 + built + refused


# ------------------------------------------------------------------------------- accounts
def test_account_profile_rolls_up_members(con):
    assert con.execute("select count(*) from stg_raw__accounts").fetchone()[0] > 0
    got = con.execute(
        "select account_id, member_count, monetary_sum, frequency_sum, rfm_recency_score_max,"
        " round(rfm_recency_score_mean, 9), as_of from account_profile order by 1"
    ).fetchall()
    expected = con.execute(
        """
        with members as (
            select distinct a.account_id, i.customer_id
            from stg_raw__accounts as a
            inner join customer_identifiers as i
                on i.identifier_type = 'user_id' and i.identifier_value = a.user_id
        )
        select a.account_id, count(distinct m.customer_id), sum(p.monetary), sum(p.frequency),
            max(p.rfm_recency_score), round(avg(p.rfm_recency_score), 9)
        from (select distinct account_id from stg_raw__accounts) as a
        left join members as m on a.account_id = m.account_id
        left join customer_profile as p on m.customer_id = p.customer_id
        group by 1 order by 1
        """
    ).fetchall()
    assert [row[:6] for row in got] == expected
    assert {row[6] for row in got} == {AS_OF}
    assert sum(row[1] for row in got) > 0


def test_account_profile_sums_pcltv_when_present(con):
    columns = set(schema_from_duckdb(con, "customer_profile"))
    horizons = sorted(c for c in columns if c.startswith("pcltv_") and c.endswith("m"))
    if not horizons:
        pytest.skip("no pcltv columns in customer_profile yet")
    for column in horizons:
        got = con.execute(f"select sum({column}_sum) from account_profile").fetchone()[0]
        direct = con.execute(
            f"""select sum(p.{column}) from (select distinct a.account_id, i.customer_id
                from stg_raw__accounts as a inner join customer_identifiers as i
                on i.identifier_type = 'user_id' and i.identifier_value = a.user_id) as m
            inner join customer_profile as p on m.customer_id = p.customer_id"""
        ).fetchone()[0]
        assert got == pytest.approx(direct)


def test_account_schema_rules_match_the_model(con):
    instance_types = dict(
        con.execute(
            "select distinct p.attribute, i.type from predictions as p"
            " inner join int_model_instances as i on p.instance_id = i.instance_id"
        ).fetchall()
    )
    expected = account_schema(schema_from_duckdb(con, "customer_profile"), instance_types)
    assert schema_from_duckdb(con, "account_profile") == expected


# ---------------------------------------------------------- a run with a custom audience file
CUSTOM = """
audiences:
  - name: big_spenders
    filter: monetary >= 500 and frequency >= 2
  - name: typo
    filter: monetry >= 500
  - name: mismatch
    filter: rfm_cluster >= 3
  - name: injection
    filter: "rfm_cluster = x'; drop table customers; --"
  - name: syntax
    filter: (rfm_cluster = Champions
  - name: firms
    target: account
    filter: member_count >= 2
  - name: Not Snake
    filter: monetary > 0
"""


@pytest.fixture(scope="module")
def custom_run(warehouse, raw_dir, tmp_path_factory):
    """A copy of the warehouse rebuilt with a custom audience file (and a signal attribute
    that does not exist): only audience_definitions and signal_conversion_values run."""
    folder = tmp_path_factory.mktemp("custom_audiences")
    db = folder / "pcdp.duckdb"
    shutil.copy(warehouse, db)
    audiences = folder / "audiences.yml"
    audiences.write_text(textwrap.dedent(CUSTOM))
    outcome = run_dbt(
        ["run", "--select", "audience_definitions", "signal_conversion_values"],
        db,
        {
            "raw_path": str(raw_dir),
            "as_of": AS_OF.isoformat(),
            "audiences_file": str(audiences),
            "signal_value_attribute": "not_a_column_yet",
        },
    )
    assert outcome.success, outcome.failures
    return db


def test_refused_audiences_do_not_break_the_run(custom_run):
    with duckdb.connect(str(custom_run), read_only=True) as c:
        defs = c.execute(
            "select entry, audience_name, status, error, member_count from audience_definitions"
            " order by entry"
        ).fetchall()
        built = views(c)
        customers = c.execute("select count(*) from customers").fetchone()[0]
        big = c.execute(
            "select count(*) from customer_profile where monetary >= 500 and frequency >= 2"
        ).fetchone()[0]
        firms = c.execute("select count(*) from account_profile where member_count >= 2")
        firms = firms.fetchone()[0]
    status = {name: (s, error, n) for _, name, s, error, n in defs}
    assert [row[0] for row in defs] == [1, 2, 3, 4, 5, 6, 7]
    assert status["big_spenders"] == ("ok", None, big)
    assert status["firms"] == ("ok", None, firms)
    assert "unknown attribute 'monetry'" in status["typo"][1]
    assert "did you mean monetary" in status["typo"][1]
    assert "operator '>=' does not fit text attribute 'rfm_cluster'" in status["mismatch"][1]
    assert "unterminated quoted value" in status["injection"][1]
    assert "unbalanced parentheses" in status["syntax"][1]
    assert defs[6][1] is None and "lower snake case" in defs[6][3]
    # only the ok audiences have views; the default file's views are gone
    assert built == {"audience_big_spenders", "audience_firms"}
    assert customers > 0


def test_signals_empty_when_the_value_attribute_is_missing(custom_run):
    with duckdb.connect(str(custom_run), read_only=True) as c:
        assert c.execute("select count(*) from signal_conversion_values").fetchone() == (0,)
        columns = [r[0] for r in c.execute("describe signal_conversion_values").fetchall()]
    assert columns[:4] == ["customer_id", "email_sha256", "phone_sha256", "predicted_value"]


def test_export_of_an_audience_from_the_custom_run(custom_run, tmp_path, capsys):
    out = tmp_path / "big.csv"
    argv = ["audience", "export", "big_spenders", "--db", str(custom_run), "--out", str(out)]
    assert main(argv) == 0
    assert "rows of audience big_spenders" in capsys.readouterr().out
    assert out.read_text().startswith("customer_id,email,phone,user_id,anonymous_id,")


def test_publishing_views_before_any_build_says_what_is_missing(tmp_path, monkeypatch):
    # The run-operation behind the on-run-end hook, on a warehouse with nothing built yet.
    monkeypatch.setenv("PCDP_DB", str(tmp_path / "empty.duckdb"))
    result = invoke_dbt(["run-operation", "pcdp_publish_audience_views"], tmp_path)
    assert not result.success
    log = (tmp_path / "logs" / "dbt.log").read_text()
    assert 'audience_definitions" does not exist: build audience_definitions' in log
