"""End-to-end: generated data through `pcdp run` (dbt build with its data tests)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import AS_OF, build

from pcdp.cli import main
from pcdp.project import run_dbt

pytestmark = pytest.mark.slow


def _pairwise_identity_scores(con: duckdb.DuckDBPyConnection, raw: Path) -> tuple[float, float]:
    """Pairwise precision and recall of identifier pairs against the planted persons."""
    truth = raw / "_truth" / "identifiers.parquet"
    return con.execute(
        """
        with truth as (select * from read_parquet(?)),
        joined as (
            select truth.identifier_type || ':' || truth.identifier_value as node,
                truth.person_id, ci.customer_id
            from truth
            left join customer_identifiers as ci
                on truth.identifier_type = ci.identifier_type
                and truth.identifier_value = ci.identifier_value
        ),
        pairs as (
            select a.person_id = b.person_id as same_person,
                a.customer_id = b.customer_id as same_customer
            from joined as a inner join joined as b
                on a.node < b.node
                and (a.person_id = b.person_id or a.customer_id = b.customer_id)
        )
        select
            count(*) filter (where same_person and same_customer)
                / count(*) filter (where same_customer),
            count(*) filter (where same_person and same_customer)
                / count(*) filter (where same_person)
        from pairs
        """,
        [str(truth)],
    ).fetchone()


def test_identity_matches_planted_persons(con, raw_dir):
    precision, recall = _pairwise_identity_scores(con, raw_dir)
    assert precision >= 0.999
    assert recall >= 0.99


def test_every_truth_identifier_is_resolved(con, raw_dir):
    missing = con.execute(
        """
        select count(*) from read_parquet(?) as truth
        anti join customer_identifiers as ci
            on truth.identifier_type = ci.identifier_type
            and truth.identifier_value = ci.identifier_value
        """,
        [str(raw_dir / "_truth" / "identifiers.parquet")],
    ).fetchone()[0]
    assert missing == 0


def test_shared_identifiers_are_guarded_and_merge_nobody(con, raw_dir):
    shared = pq.read_table(raw_dir / "_truth" / "shared_identifiers.parquet").to_pylist()
    guarded = set(
        con.execute(
            "select identifier_type, identifier_value from identity_guarded_identifiers"
        ).fetchall()
    )
    assert {(row["identifier_type"], row["identifier_value"]) for row in shared} <= guarded
    in_customers = con.execute(
        """
        select count(*) from identity_guarded_identifiers as g
        inner join customer_identifiers as ci
            on g.identifier_type = ci.identifier_type and g.identifier_value = ci.identifier_value
        """
    ).fetchone()[0]
    assert in_customers == 0
    # No customer holds identifiers of two planted persons.
    merged = con.execute(
        """
        select count(*) from (
            select ci.customer_id from customer_identifiers as ci
            inner join read_parquet(?) as truth
                on truth.identifier_type = ci.identifier_type
                and truth.identifier_value = ci.identifier_value
            group by ci.customer_id having count(distinct truth.person_id) > 1
        )
        """,
        [str(raw_dir / "_truth" / "identifiers.parquet")],
    ).fetchone()[0]
    assert merged == 0


def test_every_planted_bad_row_is_quarantined_with_its_reason(con, raw_dir):
    with open(raw_dir / "_truth" / "bad_rows.csv", newline="") as handle:
        planted = list(csv.DictReader(handle))
    assert planted, "the generator planted no bad rows"
    expected: dict[tuple[str, str], int] = {}
    for row in planted:
        expected[(row["dataset"], row["reason"])] = (
            expected.get((row["dataset"], row["reason"]), 0) + 1
        )
    found = dict(
        ((dataset, reason), count)
        for dataset, reason, count in con.execute(
            "select dataset, reason, count(*) from quarantine group by 1, 2"
        ).fetchall()
    )
    assert found == expected
    keyed = {(r["dataset"], r["reason"], r["key"]) for r in planted if r["key"]}
    quarantined_keys = set(
        con.execute("select dataset, reason, record_key from quarantine").fetchall()
    )
    assert keyed <= quarantined_keys


def test_rows_read_equal_rows_used_plus_quarantined(con):
    for dataset in (
        "events",
        "identifies",
        "orders",
        "products",
        "content",
        "accounts",
        "fx_rates",
    ):
        read = con.execute(f"select count(*) from raw.{dataset}").fetchone()[0]
        used = con.execute(f"select count(*) from stg_raw__{dataset}").fetchone()[0]
        quarantined = con.execute(
            "select count(*) from quarantine where dataset = ?", [dataset]
        ).fetchone()[0]
        assert read == used + quarantined, dataset
        assert read > 0, dataset


def test_quarantine_keeps_original_values(con):
    raw_values = con.execute(
        "select raw from quarantine where reason = 'unparseable:occurred_at' limit 1"
    ).fetchone()[0]
    assert '"occurred_at"' in raw_values
    assert "event_id" in raw_values


def test_features_headline_columns(con):
    columns = {row[0] for row in con.execute("describe customer_features").fetchall()}
    for required in (
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "tenure_days",
        "events_30d",
        "events_90d",
    ):
        assert required in columns
    customers, features = con.execute(
        "select (select count(*) from customers), (select count(*) from customer_features)"
    ).fetchone()
    assert customers == features
    # frequency counts completed orders only; monetary is their net revenue.
    mismatches = con.execute(
        """
        select count(*) from customer_features as f
        left join (
            select customer_id, count(*) as n, sum(amount_reporting) as revenue
            from int_customer_orders where is_completed group by 1
        ) as o on f.customer_id = o.customer_id
        where f.frequency != coalesce(o.n, 0) or abs(f.monetary - coalesce(o.revenue, 0)) > 0.01
        """
    ).fetchone()[0]
    assert mismatches == 0


def _table_rows(db: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as connection:
        return connection.execute(query).fetchall()


def test_rerun_gives_identical_outputs(warehouse, raw_dir, tmp_path):
    second = build(raw_dir, tmp_path / "again.duckdb")
    for table, key in (
        ("customers", "customer_id"),
        ("customer_identifiers", "identifier_type, identifier_value"),
        ("customer_features", "customer_id"),
        ("quarantine", "dataset, reason, raw"),
        ("identity_guarded_identifiers", "identifier_type, identifier_value"),
        ("customer_profile", "customer_id"),
    ):
        query = f"select * from {table} order by {key}"
        assert _table_rows(warehouse, query) == _table_rows(second, query), table
    query = "select customer_id, instance_id, attribute, value from predictions order by all"
    assert _table_rows(warehouse, query) == _table_rows(second, query)


def _append_events(raw: Path, rows: list[dict]) -> None:
    part = pq.read_table(next((raw / "events").glob("*.parquet")))
    extra = pa.Table.from_pylist(rows, schema=part.schema)
    pq.write_table(extra, raw / "events" / "part-99999.parquet")


@pytest.mark.parametrize("threads", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_count_fails_the_run_with_a_clear_message(tmp_path, monkeypatch, threads):
    monkeypatch.setenv("PCDP_THREADS", threads)
    outcome = run_dbt(["run"], tmp_path / "never.duckdb", {})
    assert not outcome.success
    assert outcome.failures == [
        f"PCDP_THREADS must be a whole number of at least 1, got {threads!r}"
    ]
    assert not (tmp_path / "never.duckdb").exists()


def test_training_snapshots_of_a_customer_sample(warehouse, raw_dir, tmp_path):
    """With var training_max_customers, the snapshots hold the customers with the lowest md5
    of their id, with the very rows they have in the full snapshots."""
    db = tmp_path / "sample.duckdb"
    shutil.copy(warehouse, db)
    vars_ = {"raw_path": str(raw_dir), "as_of": AS_OF.isoformat()}
    refused = run_dbt(
        ["run", "--select", "customer_feature_snapshots"],
        db,
        {**vars_, "training_max_customers": "250k"},
    )
    assert not refused.success
    assert "var training_max_customers must be a whole number" in " ".join(refused.failures)
    outcome = run_dbt(
        ["run", "--select", "customer_feature_snapshots"],
        db,
        {**vars_, "training_max_customers": 300},
    )
    assert outcome.success, outcome.failures
    snapshots = "select * from customer_feature_snapshots order by customer_id, cutoff_at"
    full, sample = _table_rows(warehouse, snapshots), _table_rows(db, snapshots)
    chosen = {
        row[0]
        for row in _table_rows(
            warehouse, "select customer_id from customers order by md5(customer_id) limit 300"
        )
    }
    assert 0 < len(sample) < len(full) / 3
    assert {row[0] for row in sample} <= chosen
    assert sample == [row for row in full if row[0] in chosen]


def test_events_after_cutoffs_do_not_change_features(warehouse, raw_dir, tmp_path):
    """Events after a cutoff reach neither the as-of features nor any training snapshot."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        devices = connection.execute(
            """
            select identifier_value from customer_identifiers
            where identifier_type = 'anonymous_id' order by identifier_value limit 50
            """
        ).fetchall()
        latest_snapshot = connection.execute(
            "select max(cutoff_at) from customer_feature_snapshots"
        ).fetchone()[0]
    assert devices and latest_snapshot is not None
    after_snapshot = latest_snapshot + dt.timedelta(hours=1)
    after_as_of = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time(12))
    rows = []
    for number, (device,) in enumerate(devices):
        for when in (after_snapshot, after_as_of):
            rows.append(
                {
                    "event_id": f"leak-{number}-{when:%Y%m%d}",
                    "event_name": "page_view",
                    "occurred_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "anonymous_id": device,
                    "page_url": "https://shop.example.com/blog/leak",
                }
            )
    changed = tmp_path / "raw"
    shutil.copytree(raw_dir, changed)
    _append_events(changed, rows)
    second = build(changed, tmp_path / "leak.duckdb")

    snapshots = "select * from customer_feature_snapshots order by customer_id, cutoff_at"
    assert _table_rows(warehouse, snapshots) == _table_rows(second, snapshots)
    # The as-of features see the events before the as-of cutoff, never those after it.
    query = "select customer_id, events_total from customer_features order by customer_id"
    before, after = _table_rows(warehouse, query), _table_rows(second, query)
    grew = sum(1 for old, new in zip(before, after, strict=True) if new[1] == old[1] + 1)
    unchanged = sum(1 for old, new in zip(before, after, strict=True) if new == old)
    assert grew > 0
    assert grew + unchanged == len(before)
    assert all(new[1] - old[1] in (0, 1) for old, new in zip(before, after, strict=True))


def _run_on_broken_copy(raw_dir: Path, tmp_path: Path, damage) -> int:
    """Copy the raw directory, damage the copy, and return `pcdp run`'s exit code on it."""
    broken = tmp_path / "raw"
    shutil.copytree(raw_dir, broken)
    damage(broken)
    db = tmp_path / "x.duckdb"
    return main(["run", "--raw", str(broken), "--db", str(db), "--as-of", "2025-12-31"])


def test_missing_required_column_fails_with_a_plain_message(raw_dir, tmp_path, capsys):
    def rename_order_id(raw: Path) -> None:
        orders = (raw / "orders.csv").read_text().replace("order_id", "order_number", 1)
        (raw / "orders.csv").write_text(orders)

    assert _run_on_broken_copy(raw_dir, tmp_path, rename_order_id) == 1
    output = capsys.readouterr().out
    assert "raw dataset 'orders'" in output
    assert "lacks required column(s): order_id" in output


def test_missing_required_dataset_fails_with_a_plain_message(raw_dir, tmp_path, capsys):
    def remove_identifies(raw: Path) -> None:
        (raw / "identifies.parquet").unlink()

    assert _run_on_broken_copy(raw_dir, tmp_path, remove_identifies) == 1
    assert "raw dataset 'identifies' is required" in capsys.readouterr().out


def test_unreadable_file_fails_naming_the_file(raw_dir, tmp_path, capsys):
    def corrupt_identifies(raw: Path) -> None:
        (raw / "identifies.parquet").write_bytes(b"this is not parquet")

    assert _run_on_broken_copy(raw_dir, tmp_path, corrupt_identifies) == 1
    assert "identifies.parquet" in capsys.readouterr().out


def test_profile_lookup_by_every_identifier_type(warehouse, capsys):
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        customer_id = connection.execute(
            """
            select customer_id from customer_identifiers group by 1
            having count(distinct identifier_type) = 4 order by 1 limit 1
            """
        ).fetchone()[0]
        identifiers = connection.execute(
            "select identifier_type, identifier_value from customer_identifiers"
            " where customer_id = ?",
            [customer_id],
        ).fetchall()
    for kind, value in identifiers:
        typed = f"  {value.upper()} " if kind == "email" else value
        if kind == "phone":
            typed = f"+{value[:1]} ({value[1:4]}) {value[4:7]}-{value[7:]}"
        assert main(["profile", "--db", str(warehouse), typed]) == 0, (kind, typed)
        assert f"customer {customer_id}" in capsys.readouterr().out
    assert main(["profile", "--db", str(warehouse), "nobody@nowhere.example"]) == 1
