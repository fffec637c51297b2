"""The optional Dagster integration (extra `dagster`, which `make test` installs): the
definitions load, the schedule is daily, and materialising one partition in process is a full
pcdp run - lock, run state, publication."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from pcdp import publish, runstate
from pcdp.dagster_defs import JOB_NAME, build_definitions
from pcdp.generate import generate

AS_OF = "2025-12-31"


def test_definitions_load_and_a_partition_materialises(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, customers=300, seed=3, as_of=dt.date(2025, 12, 31), days=400)
    instances = tmp_path / "instances.yml"
    instances.write_text(
        "instances:\n  - {id: rfm, type: rfm, status: ready}\n"
        "  - {id: rfm_draft, type: rfm, status: draft}\n"
    )
    db = tmp_path / "pcdp.duckdb"
    defs = build_definitions(raw, db, instances, start_date="2025-12-01")

    job = defs.resolve_job_def(JOB_NAME)
    schedule = defs.resolve_schedule_def(f"{JOB_NAME}_schedule")
    assert schedule.cron_schedule == "30 2 * * *"
    assert AS_OF in job.partitions_def.get_partition_keys()
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {"customer_profile", "predictions", "model_runs", "model_metrics"} <= keys

    result = job.execute_in_process(partition_key=AS_OF)
    assert result.success
    materialised = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert {"customer_profile", "predictions", "model_instances"} <= materialised

    state = runstate.read_state(db)
    assert state["state"] == "complete" and state["as_of"] == AS_OF
    assert not runstate.run_in_progress(db)
    serving = publish.serving_path(db)
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute(
            "select status from model_instances where instance_id = 'rfm'"
        ).fetchone() == ("Complete",)
        assert con.execute("select any_value(run_id) from _pcdp_publication").fetchone() == (
            state["run_id"],
        )
