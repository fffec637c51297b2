"""signal_conversion_values (value-based bidding) and `pcdp signals export`.

The default value attribute (pcltv_12m) may not exist yet, so one cheap
`dbt run --select signal_conversion_values` on a copy of the session warehouse values customers
by rfm_monetary_score x 2.5 instead."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import AS_OF

from pcdp.cli import main
from pcdp.project import run_dbt

pytestmark = pytest.mark.slow

# SHA-256 test vectors: (normalised identifier, digest) as ad platforms expect them.
KNOWN = [
    ("test@example.com", "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"),
    ("14155550123", "413ba75461ab5f99d36820e561ea97e2bd80f9cb586f7ecea6cf4c496518950a"),
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
]


@pytest.mark.parametrize(("value", "digest"), KNOWN)
def test_duckdb_sha256_gives_the_known_digests(value, digest):
    assert hashlib.sha256(value.encode()).hexdigest() == digest
    assert duckdb.sql("select sha256(?)", params=[value]).fetchall() == [(digest,)]


@pytest.fixture(scope="module")
def signals_db(warehouse, raw_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("signals") / "pcdp.duckdb"
    shutil.copy(warehouse, db)
    outcome = run_dbt(
        ["run", "--select", "signal_conversion_values"],
        db,
        {
            "raw_path": str(raw_dir),
            "as_of": AS_OF.isoformat(),
            "signal_value_attribute": "rfm_monetary_score",
            "signal_value_multiplier": 2.5,
        },
    )
    assert outcome.success, outcome.failures
    return db


def latest(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, str]:
    return dict(
        con.execute(
            "select customer_id, identifier_value from customer_identifiers"
            " where identifier_type = ? qualify row_number() over (partition by customer_id"
            " order by last_seen_at desc, identifier_value) = 1",
            [kind],
        ).fetchall()
    )


def test_signals_hash_the_normalised_identifiers(signals_db):
    with duckdb.connect(str(signals_db), read_only=True) as con:
        rows = con.execute(
            "select customer_id, email_sha256, phone_sha256, predicted_value, currency,"
            " value_attribute, as_of, as_of_time from signal_conversion_values"
        ).fetchall()
        emails, phones = latest(con, "email"), latest(con, "phone")
        scores = dict(
            con.execute(
                "select customer_id, rfm_monetary_score from customer_profile"
                " where rfm_monetary_score is not null"
            ).fetchall()
        )
    assert rows
    contactable = {c for c in scores if c in emails or c in phones}
    assert {r[0] for r in rows} == contactable
    with_phone = 0
    for customer_id, email_hash, phone_hash, value, currency, attribute, as_of, at in rows:
        email, phone = emails.get(customer_id), phones.get(customer_id)
        assert email is None or email == email.strip().lower()
        assert phone is None or phone.isdigit()
        expected_email = hashlib.sha256(email.encode()).hexdigest() if email else None
        expected_phone = hashlib.sha256(phone.encode()).hexdigest() if phone else None
        assert (email_hash, phone_hash) == (expected_email, expected_phone)
        with_phone += phone_hash is not None
        assert value == pytest.approx(scores[customer_id] * 2.5)
        assert (currency, attribute, as_of) == ("USD", "rfm_monetary_score", AS_OF)
        assert at == dt.datetime.combine(AS_OF, dt.time(23, 59, 59))
    assert with_phone > 0


def test_signals_export_csv_and_parquet(signals_db, tmp_path, capsys):
    with duckdb.connect(str(signals_db), read_only=True) as con:
        count = con.execute("select count(*) from signal_conversion_values").fetchone()[0]
    out = tmp_path / "signals.csv"
    assert main(["signals", "export", "--db", str(signals_db), "--out", str(out)]) == 0
    assert f"wrote {count:,} signal rows" in capsys.readouterr().out
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == count
    assert list(rows[0]) == [
        "customer_id",
        "email_sha256",
        "phone_sha256",
        "predicted_value",
        "currency",
        "value_attribute",
        "as_of",
        "as_of_time",
    ]
    out = tmp_path / "signals.out"
    argv = ["signals", "export", "--db", str(signals_db), "--out", str(out), "--format", "parquet"]
    assert main(argv) == 0
    assert pq.read_table(out).num_rows == count


def test_default_signals_follow_pcltv_12m(con, warehouse, tmp_path, capsys):
    columns = {r[0] for r in con.execute("describe customer_profile").fetchall()}
    rows = con.execute("select count(*) from signal_conversion_values").fetchone()[0]
    out = tmp_path / "default.parquet"
    assert main(["signals", "export", "--db", str(warehouse), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert pq.read_table(out).num_rows == rows
    if "pcltv_12m" not in columns:
        assert rows == 0
        assert "customer_profile has no column 'pcltv_12m' yet" in captured.err
    else:
        mismatched = con.execute(
            "select count(*) from signal_conversion_values as s"
            " inner join customer_profile as p on s.customer_id = p.customer_id"
            " where s.predicted_value <> round(p.pcltv_12m, 2)"
        ).fetchone()[0]
        assert rows > 0 and mismatched == 0


def test_signals_export_needs_a_built_warehouse(tmp_path, capsys):
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    assert main(["signals", "export", "--db", str(db), "--out", str(tmp_path / "x.csv")]) == 2
    assert "no signal_conversion_values table" in capsys.readouterr().err
