"""Safe publishing, the run lock, the run state and `pcdp status` merging them, the instances
file editor and backfill dates. No dbt run: small hand-made DuckDB warehouses.
(The end-to-end checks with real runs are in test_lifecycle.py.)"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pcdp import publish, runstate, warehouse
from pcdp.cli import main
from pcdp.commands.instances import backfill_dates
from pcdp.instances import load_instances, set_configured_status

INTERNAL = ("base_raw__events", "stg_raw__x", "int_customer_events", "customer_feature_snapshots")
KEPT_INTERNAL = "stg_raw__accounts"


def _make_warehouse(path: Path, version: int) -> Path:
    """A warehouse with every public table holding `version` rows, some internal tables and an
    audience view; `version` is also each table's `version` column."""
    with duckdb.connect(str(path)) as con:
        for name in (*publish.PUBLIC_TABLES, *INTERNAL, KEPT_INTERNAL):
            con.execute(
                f"create or replace table {name} as"
                f" select range as customer_id, {version} as version from range({version})"
            )
        con.execute(
            f"create or replace table model_runs as select 'run-{version}' as run_id,"
            f" date '2025-12-31' as as_of, timestamp '2026-01-01 02:00:00' as finished_at,"
            f" {version} as version from range({version})"
        )
        con.execute(
            "create or replace view audience_everyone as"
            " select * from customer_profile where customer_id >= 0"
        )
        con.execute(f"create or replace view model_instances_view as select * from {INTERNAL[0]}")
    return path


@pytest.mark.parametrize("rebuild", [False, True])
def test_publish_copies_public_relations_only(tmp_path, rebuild):
    db = _make_warehouse(tmp_path / "pcdp.duckdb", 5)
    with duckdb.connect(str(db)) as con:
        con.execute("create schema dbt_test__audit")
        con.execute("create table dbt_test__audit.failures as select 1 as failure")
    publication = publish.publish(db, run_id="r1", as_of="2025-12-31", rebuild=rebuild)
    assert publication.path == tmp_path / "pcdp.serving.duckdb"
    with duckdb.connect(str(publication.path), read_only=True) as con:
        tables = {
            row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()
        }
        views = {row[0] for row in con.execute("select view_name from duckdb_views()").fetchall()}
        assert set(publish.PUBLIC_TABLES) <= tables
        # the audience reads only customer_profile, published: it stays a view over the copy
        assert "audience_everyone" in views
        # a view over an internal relation is published as a table
        assert "model_instances_view" in tables
        assert not (tables | views) & set(INTERNAL)
        assert KEPT_INTERNAL in tables
        schemas = con.execute(
            "select schema_name from duckdb_schemas() where database_name = current_database()"
        )
        assert "dbt_test__audit" not in {row[0] for row in schemas.fetchall()}
        assert con.execute("select count(*) from audience_everyone").fetchone()[0] == 5
        assert con.execute("select count(*) from model_instances_view").fetchone()[0] == 5
    record = publish.read_publication(publication.path)
    assert record["run_id"] == "r1" and record["as_of"] == "2025-12-31"
    assert record["row_counts"]["customer_profile"] == 5
    # no temporary file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pcdp.duckdb", "pcdp.serving.duckdb"]


@pytest.mark.parametrize(("env", "expected"), [(None, "1.8 GiB"), ("700MB", "667.5 MiB")])
def test_publishing_keeps_to_the_run_memory_limit(tmp_path, monkeypatch, env, expected):
    # unset, DuckDB would take 80 % of the machine (6.9 GiB copying 130 M prediction rows)
    if env is None:
        monkeypatch.delenv("PCDP_MEMORY_LIMIT", raising=False)
    else:
        monkeypatch.setenv("PCDP_MEMORY_LIMIT", env)
    with publish._connect(tmp_path / "serving.duckdb") as con:
        assert con.execute("select current_setting('memory_limit')").fetchall()[0][0] == expected


def _write_predictions(con: duckdb.DuckDBPyConnection, slices: dict) -> None:
    """Replace the warehouse's predictions: `slices` maps (as_of, instance_id) to (run_id,
    customers)."""
    con.execute(
        "create or replace table predictions (customer_id bigint, instance_id varchar,"
        " attribute varchar, value varchar, value_type varchar, run_id varchar, as_of date)"
    )
    for (as_of, instance), (run_id, customers) in slices.items():
        con.execute(
            "insert into predictions select range, ?, 'score', cast(range as varchar),"
            " 'integer', ?, cast(? as date) from range(?)",
            [instance, run_id, as_of, customers],
        )


def _published_predictions(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select * from predictions order by all").fetchall()


@pytest.mark.parametrize("rebuild", [False, True])
def test_each_publication_serves_the_warehouse_as_it_is_now(tmp_path, rebuild):
    db = _make_warehouse(tmp_path / "pcdp.duckdb", 5)
    history = {
        ("2025-11-30", "churn"): ("run-1", 40),
        ("2025-11-30", "pcltv"): ("run-1", 30),
        ("2025-12-31", "churn"): ("run-2", 40),
    }
    with duckdb.connect(str(db)) as con:
        _write_predictions(con, history)
    first = publish.publish(db, rebuild=rebuild)
    assert first.row_counts["predictions"] == 110
    assert publish.read_publication(first.path)["source"] == str(db.resolve())
    # the next night: a new date, a rerun of one slice with fewer customers, a slice gone,
    # left in the warehouse's write-ahead log (as by a connection that did not checkpoint)
    history[("2026-01-31", "churn")] = ("run-3", 25)
    history[("2025-12-31", "churn")] = ("run-3b", 10)
    del history[("2025-11-30", "pcltv")]
    with duckdb.connect(str(db)) as con:
        con.execute("pragma disable_checkpoint_on_shutdown")
        _write_predictions(con, history)
        expected = con.execute("select * from predictions order by all").fetchall()
    assert db.with_name(db.name + ".wal").is_file()
    second = publish.publish(db, rebuild=rebuild)
    assert _published_predictions(second.path) == expected
    assert second.row_counts["predictions"] == 75
    # a damaged serving file is replaced
    second.path.chmod(0o644)
    second.path.write_bytes(b"not a database")
    replaced = publish.publish(db, rebuild=rebuild)
    assert _published_predictions(replaced.path) == expected
    # another warehouse published to the same serving file replaces it whole
    other = _make_warehouse(tmp_path / "other.duckdb", 3)
    from_other = publish.publish(other, serving=replaced.path, rebuild=rebuild)
    assert _published_predictions(from_other.path) == [(row, 3) for row in range(3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other.duckdb",
        "pcdp.duckdb",
        "pcdp.duckdb.wal",
        "pcdp.serving.duckdb",
    ]


def test_publish_refuses_a_warehouse_without_the_contract_tables(tmp_path):
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(publish.PublishError, match="lacks customer_features"):
        publish.publish(db)
    assert not publish.serving_path(db).exists()


def test_parquet_versions_switch_atomically_and_old_ones_are_pruned(tmp_path):
    db = tmp_path / "pcdp.duckdb"
    versions = []
    for version in (1, 2, 3, 4):
        _make_warehouse(db, version)
        publication = publish.publish(db, parquet=tmp_path / "parquet", keep_versions=2)
        versions.append(publication.parquet)
    current = tmp_path / "parquet" / "current"
    assert current.is_symlink() and current.resolve() == versions[-1]
    with duckdb.connect() as con:
        rows = con.execute(f"select count(*) from '{current}/customer_profile.parquet'").fetchone()
    assert rows[0] == 4
    meta = json.loads((current / "_publication.json").read_text())
    assert meta["run_id"] == "run-4"
    kept = sorted(p.name for p in (tmp_path / "parquet" / "versions").iterdir())
    assert [v.name for v in versions[-2:]] == kept


READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import duckdb
    serving, stop, out = sys.argv[1:4]
    reads, failures, versions = 0, [], set()
    while True:
        stopping = Path(stop).exists()
        try:
            with duckdb.connect(serving, read_only=True) as con:
                counts = dict(con.execute(
                    "select relation, row_count from _pcdp_publication").fetchall())
                for relation, expected in counts.items():
                    found, version = con.execute(
                        f'select count(*), max(version) from "{relation}"').fetchone()
                    if found != expected or found != version:
                        failures.append(f"{relation}: {found} rows, version {version}")
                versions.add(counts["customer_profile"])
            reads += 1
        except Exception as error:
            failures.append(repr(error))
        if stopping:
            break
        time.sleep(0.01)
    Path(out).write_text(json.dumps(
        {"reads": reads, "failures": failures, "versions": sorted(versions)}))
    """
)


def test_reader_never_sees_a_failed_or_half_written_serving_file(tmp_path):
    db = _make_warehouse(tmp_path / "pcdp.duckdb", 1)
    serving = publish.publish(db).path
    script, stop, out = tmp_path / "reader.py", tmp_path / "stop", tmp_path / "out.json"
    script.write_text(READER)
    reader = subprocess.Popen([sys.executable, str(script), str(serving), str(stop), str(out)])
    try:
        for version in range(2, 8):
            _make_warehouse(db, version * 100)
            publish.publish(db)
    finally:
        stop.touch()
        assert reader.wait(timeout=60) == 0
    result = json.loads(out.read_text())
    assert result["failures"] == []
    assert result["reads"] > 10
    assert len(result["versions"]) >= 3  # it read while the file was being replaced
    assert result["versions"][-1] == 700


def _cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(argv)
    return code, out.getvalue()


def test_a_second_run_exits_while_the_lock_is_held(tmp_path, raw_dir):
    db = tmp_path / "pcdp.duckdb"
    runstate.write_state(
        db, {"state": "running", "run_id": "r-first", "pid": 1, "as_of": "2025-12-31"}
    )
    assert not runstate.run_in_progress(db)
    with runstate.run_lock(db):
        assert runstate.run_in_progress(db)
        code, output = _cli(["run", "--raw", str(raw_dir), "--db", str(db)])
        assert code == 3
        assert "another pcdp run is in progress" in output and "r-first" in output
        with pytest.raises(runstate.RunInProgressError), runstate.run_lock(db):
            pass
    assert not runstate.run_in_progress(db)
    assert not db.exists()  # the refused run touched nothing


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("instances: [unclosed", "is not valid YAML"),
        ("- just a list", "must be a mapping with a list under 'instances'"),
    ],
)
def test_a_bad_instances_file_fails_the_run_plainly(tmp_path, raw_dir, content, message):
    bad = tmp_path / "instances.yml"
    bad.write_text(content)
    db = tmp_path / "pcdp.duckdb"
    code, output = _cli(["run", "--raw", str(raw_dir), "--db", str(db), "--instances", str(bad)])
    assert code == 2
    assert message in output and "Traceback" not in output
    assert not db.exists()


STATUS_INSTANCES = """\
create table model_instances as select * from (values
    ('rfm', 'rfm', 'Complete', 'ready', timestamp '2026-01-01 02:00:00', date '2025-12-31',
        100, null),
    ('broken', 'rfm', 'Error', 'ready', timestamp '2026-01-01 02:00:00', date '2025-12-31',
        0, 'FileNotFoundError: segment_map /x.csv does not exist'),
    ('later', 'rfm', 'Draft', 'draft', null, null, null, null)
) as t(instance_id, type, status, configured_status, last_run_at, last_as_of,
    last_rows_scored, last_error);
create table model_runs as select 'run-1' as run_id, 'rfm' as instance_id,
    timestamp '2026-01-01 02:00:00' as finished_at;
create table model_metrics as select * from (values
    ('run-1', 'rfm', 'customers_scored', 100.0, null),
    ('run-1', 'rfm', 'psi_max', 0.0123, null)
) as t(run_id, instance_id, metric, value, value_text);
"""


def test_status_merges_the_run_in_progress_and_configuration_changes(tmp_path):
    db = tmp_path / "pcdp.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(STATUS_INSTANCES)
    instances = tmp_path / "instances.yml"
    instances.write_text(
        "instances:\n"
        "  - {id: rfm, type: rfm, status: ready}\n"
        "  - {id: broken, type: rfm, status: ready}\n"
        "  - {id: later, type: rfm, status: draft}\n"
    )
    table = warehouse.status_table(db, instances)
    assert "customers_scored 100  psi_max 0.012" in table
    assert "error: FileNotFoundError: segment_map /x.csv does not exist" in table
    set_configured_status(instances, "later", "ready")
    set_configured_status(instances, "rfm", "suspended")
    lines = {line.split()[0]: line for line in warehouse.status_table(db, instances).splitlines()}
    assert lines["later"].split()[2] == "Ready"
    assert lines["rfm"].split()[2] == "Suspended"
    # a run in progress: every instance it runs shows Running, from another "process"
    runstate.write_state(
        db,
        {
            "state": "running",
            "run_id": "run-2",
            "as_of": "2026-01-01",
            "pid": 1,
            "started_at": "2026-01-02T02:00:00",
            "instances_file": str(instances),
            "instances": [
                {"instance_id": spec.id, "type": spec.type, "runs": spec.runnable}
                for spec in load_instances(instances)
            ],
        },
    )
    with runstate.run_lock(db):
        table = warehouse.status_table(db)
    assert "run in progress: run-2 as of 2026-01-01" in table
    lines = {line.split()[0]: line for line in table.splitlines()}
    assert lines["later"].split()[2] == "Running"
    assert lines["broken"].split()[2] == "Running"
    assert lines["rfm"].split()[2] == "Complete"  # suspended: not in this run
    # the lock is gone but the state says running: the run died
    assert "did not finish" in warehouse.status_table(db)


def test_activate_and_suspend_edit_only_the_status_value(tmp_path):
    path = tmp_path / "instances.yml"
    original = textwrap.dedent(
        """\
        # Our instances.
        instances:
          - id: rfm   # the classic
            type: rfm
            status: draft  # not yet
          - id: other
            type: rfm
          - {id: flow, type: rfm, status: ready}
        """
    )
    path.write_text(original)
    assert _cli(["instances", "activate", "rfm", "--instances", str(path)])[0] == 0
    assert _cli(["instances", "suspend", "other", "--instances", str(path)])[0] == 0
    assert _cli(["instances", "suspend", "flow", "--instances", str(path)])[0] == 0
    assert path.read_text() == original.replace(
        "status: draft  # not yet", "status: ready  # not yet"
    ).replace("  - id: other\n", "  - id: other\n    status: suspended\n").replace(
        "status: ready}", "status: suspended}"
    )
    code, output = _cli(["instances", "suspend", "nope", "--instances", str(path)])
    assert code == 2 and "no instance 'nope'" in output and "rfm, other, flow" in output
    code, output = _cli(["instances", "list", "--instances", str(path)])
    assert code == 0 and "flow" in output


def test_backfill_dates():
    day = dt.date.fromisoformat
    assert backfill_dates(day("2025-10-31"), day("2025-12-31"), "1m") == [
        day("2025-10-31"),
        day("2025-11-30"),
        day("2025-12-31"),
    ]
    assert backfill_dates(day("2025-12-01"), day("2025-12-20"), "1w") == [
        day("2025-12-01"),
        day("2025-12-08"),
        day("2025-12-15"),
    ]
    assert backfill_dates(day("2025-01-15"), day("2025-03-15"), "1m")[-1] == day("2025-03-15")
