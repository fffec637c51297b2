"""Optional Dagster integration (install the extra: ``pip install 'pcdp[dagster]'``).

Every dbt model, seed and snapshot of the pcdp project becomes a Dagster asset (dagster-dbt),
partitioned by day: a partition is an as-of date. Materialising a partition is one
`pcdp run --as-of` for that date - the same run lock, run-state file (``Running`` in
`pcdp status`), run id and publishing to the serving file as the command line - with dbt
invoked through dagster-dbt so each model is reported as an asset materialisation (and each
dbt test as an asset check). A daily schedule materialises yesterday's partition at 02:30 UTC;
backfills are Dagster partition backfills.

Configure with environment variables and load the module::

    PCDP_RAW=/data/raw PCDP_DB=/data/pcdp/pcdp.duckdb dagster dev -m pcdp.dagster_defs

(``PCDP_INSTANCES``: the instances file, default the project's own; ``PCDP_START_DATE``: the
first partition, default 2025-01-01; ``PCDP_SERVING`` / ``PCDP_PARQUET``: where to publish.)
Or call :func:`build_definitions` from your own code location.
"""

import datetime as dt
import json
import os
import sys
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    DailyPartitionsDefinition,
    Definitions,
    Failure,
    build_schedule_from_partitioned_job,
    define_asset_job,
)
from dagster_dbt import DbtCliResource, dbt_assets

from pcdp import runstate
from pcdp.project import (
    RUN_ENV_VARS,
    DbtOutcome,
    project_dir,
    run_dbt,
    run_once,
    split_run_vars,
)

JOB_NAME = "pcdp_nightly"


def prepare_manifest(db: Path, instances: Path) -> Path:
    """Parse the dbt project (as `pcdp run` would run it) and return its manifest.json."""
    outcome = run_dbt(["parse"], db, {"instances_file": str(instances)})
    if not outcome.success:
        raise RuntimeError(f"dbt parse failed: {'; '.join(outcome.failures)}")
    return Path(db).resolve().parent / f".{Path(db).name}.dbt" / "target" / "manifest.json"


def build_definitions(
    raw: str | Path,
    db: str | Path,
    instances: str | Path | None = None,
    start_date: str = "2025-01-01",
    serving: str | Path | None = None,
    parquet: str | Path | None = None,
    schedule_hour: int = 2,
    schedule_minute: int = 30,
) -> Definitions:
    """Dagster definitions: the dbt assets (daily partitions = as-of dates), the job
    `pcdp_nightly` and its daily schedule."""
    raw, db = Path(raw).resolve(), Path(db).resolve()
    instances = Path(instances or project_dir() / "instances.yml").resolve()
    partitions = DailyPartitionsDefinition(start_date=start_date, timezone="UTC")
    manifest = prepare_manifest(db, instances)
    dbt_target = db.parent / f".{db.name}.dagster"

    @dbt_assets(manifest=manifest, partitions_def=partitions, name="pcdp_dbt_assets")
    def pcdp_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
        as_of = dt.date.fromisoformat(context.partition_key)
        events: list = []

        def dagster_dbt(args, warehouse, dbt_vars, progress=None):
            # dbt reads the DuckDB path (profiles.yml) and the per-run values from the
            # environment, so that each partition's run reuses the previous run's parse
            project_vars, run_env = split_run_vars(dbt_vars)
            for name in RUN_ENV_VARS.values():
                os.environ.pop(name, None)
            os.environ.update(run_env, PCDP_DB=str(warehouse))
            invocation = dbt.cli(
                [*args, "--vars", json.dumps(project_vars)],
                context=context,
                target_path=dbt_target / "target",
                raise_on_error=False,
            )
            events.extend(invocation.stream())
            error = invocation.get_error()
            return DbtOutcome(success=error is None, failures=[str(error)] if error else [])

        with runstate.run_lock(db):
            outcome = run_once(
                raw,
                db,
                as_of,
                instances,
                serving=Path(serving) if serving else None,
                parquet=Path(parquet) if parquet else None,
                progress=context.log.info,
                dbt_runner=dagster_dbt,
            )
        yield from events
        if not outcome.success:
            raise Failure(
                f"pcdp run {outcome.run_id} (as of {as_of}) failed: "
                + "; ".join(outcome.dbt.failures or [outcome.publish_error or "unknown"])
            )
        context.log.info(f"pcdp run {outcome.run_id} (as of {as_of}) published")

    job = define_asset_job(JOB_NAME, selection=[pcdp_dbt_assets])
    schedule = build_schedule_from_partitioned_job(
        job, hour_of_day=schedule_hour, minute_of_hour=schedule_minute
    )
    resource = DbtCliResource(
        project_dir=os.fspath(project_dir()),
        profiles_dir=os.fspath(project_dir()),
        dbt_executable=os.fspath(Path(sys.executable).with_name("dbt")),
    )
    return Definitions(
        assets=[pcdp_dbt_assets], jobs=[job], schedules=[schedule], resources={"dbt": resource}
    )


def _from_environment() -> Definitions | None:
    raw, db = os.environ.get("PCDP_RAW"), os.environ.get("PCDP_DB")
    if not raw or not db:
        return None
    return build_definitions(
        raw,
        db,
        os.environ.get("PCDP_INSTANCES"),
        os.environ.get("PCDP_START_DATE", "2025-01-01"),
        os.environ.get("PCDP_SERVING"),
        os.environ.get("PCDP_PARQUET"),
    )


defs = _from_environment()
