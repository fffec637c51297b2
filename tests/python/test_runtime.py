"""The instance runtime's worker pool, with a stand-in runner (the real ones are exercised by
the pipeline tests, which also compare a run's records with one worker and with two)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import duckdb
import pyarrow as pa
import pytest

from pcdp import runtime
from pcdp.runtime import PREDICTION_COLUMNS, InstanceResult, PoolThreads, run_instance_types


def test_workers_run_instances_in_their_own_connections_in_instance_order(tmp_path, monkeypatch):
    seen = []

    def runner(spec, context):
        # each worker reads the registered inputs in its own connection, in the session time
        # zone of the model's connection
        (rows, zone) = context.con.execute(
            f"select count(*), current_setting('TimeZone') from {context.relation('customers')}"
        ).fetchall()[0]
        if spec.id == "broken":
            raise ValueError("this one fails")
        seen.append((spec.id, threading.current_thread().name, id(context.con)))
        predictions = pa.table(
            {
                "customer_id": ["c1"],
                "attribute": [f"{spec.id}_rows"],
                "value": [f'"{rows} {zone}"'],
                "value_type": ["string"],
            }
        )
        return InstanceResult(predictions, metrics={"rows": rows})

    import pcdp.types.rfm  # noqa: F401 - registers the real runner first, so the stand-in stays

    monkeypatch.setitem(runtime._RUNNERS, "rfm", runner)
    instances = tmp_path / "instances.yml"
    ids = ["e", "b", "broken", "d", "a", "c"]
    instances.write_text(
        "instances:\n" + "".join(f"  - {{id: {i}, type: rfm, status: ready}}\n" for i in ids)
    )
    con = duckdb.connect()
    con.execute("set TimeZone = 'America/New_York'")
    con.execute("create table customers as select range as n from range(7)")
    records = run_instance_types(
        ["rfm"], instances, "2025-12-31", con, {"customers": con.table("customers")}, workers=2
    )
    predictions = [r for r in records.to_pylist() if r["record_type"] == "prediction"]
    assert [r["attribute"] for r in predictions] == [f"{i}_rows" for i in "abcde"]
    assert {r["value"] for r in predictions} == {'"7 America/New_York"'}
    statuses = [r for r in records.to_pylist() if r["record_type"] == "status"]
    assert [r["instance_id"] for r in statuses] == sorted(ids)
    assert [r["message"] is not None for r in statuses] == [False, False, True, False, False, False]
    assert {name for _, name, _ in seen} <= {"pcdp-instance_0", "pcdp-instance_1"}
    assert id(con) not in {connection for *_, connection in seen}
    # the cursors are closed afterwards; the model's own connection is not
    assert con.execute("select count(*) from customers").fetchall() == [(7,)]


def test_a_worker_count_that_is_not_a_whole_number_is_refused_by_name(tmp_path):
    instances = tmp_path / "instances.yml"
    instances.write_text("instances: []\n")
    con = duckdb.connect()
    for bad in ("two", "0", -1, True, "1.5", ""):
        with pytest.raises(ValueError, match="instance_workers must be a whole number"):
            run_instance_types(["rfm"], instances, "2025-12-31", con, {}, workers=bad)
    # a dbt config hands the var over as text
    records = run_instance_types(["rfm"], instances, "2025-12-31", con, {}, workers=" 2 ")
    assert records.num_rows == 0


def test_the_last_instance_of_a_pool_takes_the_idle_workers_threads(tmp_path, monkeypatch):
    seen = {}
    both_started = threading.Barrier(2, timeout=10)
    pooled = True

    def runner(spec, context):
        seen[spec.id] = [context.threads()]
        if pooled:
            both_started.wait()  # each holds one thread while the other runs
        if spec.id == "b":
            # "a" is reported finished right after its runner returns
            for _ in range(1000):
                if not pooled or context.threads() == 2:
                    break
                threading.Event().wait(0.01)
            seen[spec.id].append(context.threads())
        predictions = pa.table(
            {"customer_id": [], "attribute": [], "value": [], "value_type": []},
            schema=pa.schema([(name, pa.string()) for name in runtime.PREDICTION_COLUMNS]),
        )
        return InstanceResult(predictions)

    import pcdp.types.rfm  # noqa: F401 - registers the real runner first, so the stand-in stays

    monkeypatch.setitem(runtime._RUNNERS, "rfm", runner)
    instances = tmp_path / "instances.yml"
    instances.write_text(
        "instances:\n" + "".join(f"  - {{id: {i}, type: rfm, status: ready}}\n" for i in "ab")
    )
    con = duckdb.connect()
    run_instance_types(["rfm"], instances, "2025-12-31", con, {}, workers=2)
    assert seen == {"a": [1], "b": [1, 2]}
    # one worker: always one thread
    pooled = False
    run_instance_types(["rfm"], instances, "2025-12-31", con, {}, workers=1)
    assert seen == {"a": [1], "b": [1, 1]}


def test_pool_threads_share_the_workers_among_the_unfinished_instances():
    threads = PoolThreads(workers=4, instances=6)
    counts = []
    for _ in range(6):
        counts.append(threads())
        threads.finished()
    assert counts == [1, 1, 1, 1, 2, 4]  # 4 // 3 left = 1: a thread is not split
    assert threads() == 4  # nothing left: never below one thread nor above the workers


def test_an_empty_as_of_is_taken_from_pcdp_as_of(tmp_path, monkeypatch):
    # `pcdp run` passes the as-of date in the environment; the models' config is then empty
    seen = []

    def runner(spec, context):
        seen.append(context.as_of)
        empty = {name: pa.array([], pa.string()) for name in PREDICTION_COLUMNS}
        return InstanceResult(pa.table(empty))

    import pcdp.types.rfm  # noqa: F401 - registers the real runner first, so the stand-in stays

    monkeypatch.setitem(runtime._RUNNERS, "rfm", runner)
    instances = tmp_path / "instances.yml"
    instances.write_text("instances:\n  - {id: r, type: rfm, status: ready}\n")
    monkeypatch.setenv("PCDP_AS_OF", "2025-11-30")
    run_instance_types(["rfm"], instances, "", duckdb.connect(), {})
    run_instance_types(["rfm"], instances, "2025-10-31", duckdb.connect(), {})
    assert seen == [dt.date(2025, 11, 30), dt.date(2025, 10, 31)]


def test_checking_an_instances_file_loads_no_modelling_library():
    # `pcdp run` checks the instances file before dbt starts; the runners' scikit-learn and
    # SciPy took about 1 s and 96 MB of that process. A new interpreter, so that no other test's
    # imports count.
    check = (
        "import sys; from pcdp.instances import load_instances; from pcdp.project import"
        " project_dir; specs = load_instances(project_dir() / 'instances.yml');"
        " assert specs and all(s.error is None for s in specs), specs;"
        " print(sorted(m for m in ('sklearn', 'scipy', 'pcdp.action.model') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
