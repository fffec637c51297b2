"""Running model instances inside dbt Python models.

Each instance type has a runner; `run_instance_types` runs every ready, valid instance of some
types and returns one long Arrow table of records (predictions, metrics and one status record
per instance). An exception in one instance becomes that instance's Error status; the others
still run. The SQL models downstream turn these records into `predictions`, `model_metrics`,
`model_runs` and the profile columns.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from pcdp.frames import local_connection, register_inputs, to_arrow
from pcdp.instances import InstanceSpec, load_instances
from pcdp.project import RUN_ENV_VARS

VALUE_TYPES = ("number", "integer", "boolean", "string", "array", "record")

# Columns with a few distinct values are dictionary-encoded (DuckDB reads them as VARCHAR):
# as plain text, the interest records alone (5.4 M rows at 1 M customers) held 983 MiB.
_FEW_VALUES = pa.dictionary(pa.int32(), pa.string())
RECORD_SCHEMA = pa.schema(
    [
        ("instance_id", _FEW_VALUES),
        ("record_type", _FEW_VALUES),
        ("customer_id", pa.string()),
        ("attribute", _FEW_VALUES),
        ("value", pa.string()),
        ("value_type", _FEW_VALUES),
        ("message", pa.string()),
    ]
)
PREDICTION_COLUMNS = ("customer_id", "attribute", "value", "value_type")


@dataclass
class RunContext:
    """What a runner may read: a DuckDB connection, the as-of date, the dbt inputs of its
    model as views in that connection (logical name → view name), and `threads`: how many
    threads the runner's work that gives the same result with any number of threads (model
    predictions) may use right now (one, unless workers of a pool sit idle; see
    `PoolThreads`)."""

    con: duckdb.DuckDBPyConnection
    as_of: dt.date
    relations: dict[str, str]
    threads: Callable[[], int] = lambda: 1

    def relation(self, name: str) -> str:
        try:
            return self.relations[name]
        except KeyError as error:
            raise KeyError(f"this model has no input named {name!r}") from error


class PoolThreads:
    """The threads an instance of a pool of `workers` may use: one each while at least as many
    instances are unfinished as there are workers; when fewer are left, the idle workers'
    share goes to the instances still running (the last one of two workers gets two threads).
    The pool never uses more threads than it has workers, so the rest of the machine's share
    is unchanged; without it, the last instance of a run ran alone on one of two cores."""

    def __init__(self, workers: int, instances: int) -> None:
        self.workers = workers
        self.unfinished = instances
        self._lock = threading.Lock()

    def finished(self) -> None:
        with self._lock:
            self.unfinished -= 1

    def __call__(self) -> int:
        return max(1, self.workers // max(1, min(self.workers, self.unfinished)))


@dataclass
class InstanceResult:
    """A runner's output: long predictions (customer_id, attribute, value as JSON text,
    value_type), metrics (name → number or text) and curves (name → a small table, e.g. a
    precision curve or a decile calibration; each row is published as one JSON point).

    `headline` optionally names the metric `pcdp status` shows for the instance (it is
    recorded as the text metric `headline_metric`). Metric names starting with `psi_`,
    `matured_` or `drift_` are reserved for the monitoring models (models/instances)."""

    predictions: pa.Table
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    curves: dict[str, pa.Table] = field(default_factory=dict)
    headline: str | None = None


Runner = Callable[[InstanceSpec, RunContext], InstanceResult]
_RUNNERS: dict[str, Runner] = {}


def register_runner(instance_type: str, runner: Runner) -> None:
    _RUNNERS[instance_type] = runner


def run_instance_types(
    instance_types: Iterable[str],
    instances_file: str | Path,
    as_of: str | dt.date,
    con: object,
    inputs: Mapping[str, object],
    workers: int | str = 1,
) -> pa.Table:
    """Run every ready, valid instance of `instance_types`; see the module docstring.

    With `workers` > 1, that many instances run at a time, each worker in its own DuckDB
    connection to the same database (DuckDB and scikit-learn's fitting release the GIL). The
    records come out in instance order either way, and an instance computes the same numbers:
    runners are seeded and one-threaded in scikit-learn (BLAS is held at one thread here).
    `workers` may come as text from a dbt config; anything but a whole number >= 1 is a
    ValueError that says so."""
    # importing the type modules registers the runners
    from pcdp.types import action_prediction, byom, interest, pcltv, rfm  # noqa: F401

    wanted = set(instance_types)
    worker_count = _worker_count(workers)
    # dbt var as_of left empty: PCDP_AS_OF (how `pcdp run` passes it), else the run's UTC
    # date, as in macro pcdp_as_of_date
    as_of = as_of or os.environ.get(RUN_ENV_VARS["as_of"], "").strip()
    if isinstance(as_of, dt.date):
        as_of_date = as_of
    elif as_of:
        as_of_date = dt.date.fromisoformat(str(as_of))
    else:
        as_of_date = dt.datetime.now(dt.UTC).date()
    # Temporary views live in this model's own connection (Python models running in parallel
    # threads would otherwise conflict creating the same view in the warehouse); on another
    # adapter (a Spark DataFrame, a Snowpark one) the inputs are fetched once as Arrow into an
    # in-memory DuckDB, where the package computes the same way.
    con = local_connection(con)
    # Fetched once, whichever connection registers them.
    frames = {
        name: frame if isinstance(frame, duckdb.DuckDBPyRelation) else to_arrow(frame)
        for name, frame in inputs.items()
    }
    specs = [
        spec
        for spec in sorted(load_instances(instances_file), key=lambda s: s.id)
        if spec.type in wanted and spec.runnable
    ]
    if worker_count > 1 and len(specs) > 1:
        outputs = _run_parallel(specs, con, as_of_date, frames, worker_count)
    else:
        context = RunContext(con, as_of_date, register_inputs(con, frames))
        outputs = [_run_one(spec, context) for spec in specs]
    batches = [pa.Table.from_pylist([], schema=RECORD_SCHEMA)]
    for output in outputs:
        batches.extend(output)
    return pa.concat_tables(batches)


def _worker_count(workers: int | str) -> int:
    text = str(workers).strip()
    if not text.isdigit() or int(text) < 1:  # True reads "True": refused too
        raise ValueError(f"instance_workers must be a whole number of at least 1, got {workers!r}")
    return int(text)


def _run_parallel(
    specs: list[InstanceSpec],
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    frames: Mapping[str, object],
    workers: int,
) -> list[list[pa.Table]]:
    """`_run_one` for every spec, `workers` at a time; results in the order of `specs`."""
    # A cursor is a new connection: temp views and tables stay its own, but the session
    # time zone must be carried over (timestamps without an offset are UTC by the profile).
    (time_zone,) = con.execute("select current_setting('TimeZone')").fetchall()[0]
    local = threading.local()
    cursors = []
    threads = PoolThreads(workers, len(specs))

    def context() -> RunContext:
        if not hasattr(local, "context"):
            cursor = con.cursor()
            cursors.append(cursor)
            cursor.execute("set TimeZone = $1", [time_zone])
            local.context = RunContext(cursor, as_of, register_inputs(cursor, frames), threads)
        return local.context

    def run(spec: InstanceSpec) -> list[pa.Table]:
        try:
            return _run_one(spec, context())
        finally:
            threads.finished()

    try:
        # BLAS thread counts are process-wide: held at one for the whole pool, so a worker
        # leaving its own limit cannot change another's (OpenMP limits are per thread).
        with (
            threadpool_limits(limits=1, user_api="blas"),
            ThreadPoolExecutor(workers, thread_name_prefix="pcdp-instance") as pool,
        ):
            return list(pool.map(run, specs))
    finally:
        for cursor in cursors:
            cursor.close()


def _run_one(spec: InstanceSpec, context: RunContext) -> list[pa.Table]:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clock = time.perf_counter()
    try:
        result = _RUNNERS[spec.type](spec, context)
        predictions = _check_predictions(spec, result.predictions)
    except Exception as error:  # noqa: BLE001 - an instance's failure is recorded, not raised
        message = f"{type(error).__name__}: {error}"
        detail = traceback.format_exc(limit=3)
        return [_status(spec, started, clock, "Error", 0, f"{message}\n{detail}".strip())]
    # DuckDB counts a million distinct ids in parallel, about three times faster than Arrow.
    (customers,) = (
        context.con.from_arrow(predictions).aggregate("count(distinct customer_id)").fetchall()[0]
    )
    metrics = dict(result.metrics)
    if result.headline:
        metrics["headline_metric"] = result.headline
    return [
        _records(spec.id, "prediction", predictions),
        _metrics(spec.id, metrics),
        _curves(spec.id, result.curves),
        _status(spec, started, clock, "Complete", customers, None),
    ]


def _check_predictions(spec: InstanceSpec, predictions: pa.Table) -> pa.Table:
    missing = [name for name in PREDICTION_COLUMNS if name not in predictions.column_names]
    if missing:
        raise ValueError(f"runner for {spec.type} returned no {', '.join(missing)} column")
    kinds = set(pc.unique(predictions["value_type"]).to_pylist()) - {None}
    unknown = kinds - set(VALUE_TYPES)
    if unknown:
        raise ValueError(f"unknown value types {sorted(unknown)}")
    return predictions.select(list(PREDICTION_COLUMNS)).cast(
        pa.schema([(name, pa.string()) for name in PREDICTION_COLUMNS])
    )


def _records(instance_id: str, record_type: str, predictions: pa.Table) -> pa.Table:
    rows = predictions.num_rows
    return pa.table(
        {
            "instance_id": _repeated(instance_id, rows),
            "record_type": _repeated(record_type, rows),
            "customer_id": predictions["customer_id"],
            "attribute": pc.dictionary_encode(predictions["attribute"]),
            "value": predictions["value"],
            "value_type": pc.dictionary_encode(predictions["value_type"]),
            "message": pa.nulls(rows, pa.string()),
        },
        schema=RECORD_SCHEMA,
    )


def _repeated(text: str, rows: int) -> pa.DictionaryArray:
    """`text` `rows` times, as one dictionary entry and `rows` indices."""
    return pa.DictionaryArray.from_arrays(pa.repeat(pa.scalar(0, pa.int32()), rows), [text])


def _metrics(instance_id: str, metrics: Mapping[str, float | int | str]) -> pa.Table:
    rows = [
        {
            "instance_id": instance_id,
            "record_type": "metric",
            "customer_id": None,
            "attribute": name,
            "value": json.dumps(value if _finite(value) else None),
            "value_type": "string" if isinstance(value, str) else "number",
            "message": None,
        }
        for name, value in sorted(metrics.items())
    ]
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def _curves(instance_id: str, curves: Mapping[str, pa.Table]) -> pa.Table:
    """One record per curve point: attribute = curve name, message = the point's position,
    value = the point as a JSON object (non-finite numbers become null)."""
    rows = [
        {
            "instance_id": instance_id,
            "record_type": "curve",
            "customer_id": None,
            "attribute": name,
            "value": json.dumps(
                {key: (item if _finite(item) else None) for key, item in point.items()},
                default=str,
            ),
            "value_type": "record",
            "message": str(position),
        }
        for name, table in sorted(curves.items())
        for position, point in enumerate(table.to_pylist())
    ]
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def _finite(value: object) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == value and abs(value) != float("inf")
    return True


def _status(
    spec: InstanceSpec,
    started: dt.datetime,
    clock: float,
    status: str,
    rows_scored: int,
    error: str | None,
) -> pa.Table:
    finished = started + dt.timedelta(seconds=time.perf_counter() - clock)
    value = {
        "status": status,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "rows_scored": rows_scored,
    }
    row = {
        "instance_id": spec.id,
        "record_type": "status",
        "customer_id": None,
        "attribute": "status",
        "value": json.dumps(value),
        "value_type": "record",
        "message": error,
    }
    return pa.Table.from_pylist([row], schema=RECORD_SCHEMA)


def instances_table(instances_file: str | Path) -> pa.Table:
    """Every configured instance with its validation error, for the model_instances table."""
    rows = [
        {
            "instance_id": spec.id,
            "type": spec.type,
            "configured_status": spec.status,
            "config_error": spec.error,
            "params": json.dumps(spec.params, sort_keys=True, default=str),
            "config": json.dumps(spec.config, sort_keys=True, default=str),
        }
        for spec in sorted(load_instances(instances_file), key=lambda s: s.id)
    ]
    schema = pa.schema(
        [
            ("instance_id", pa.string()),
            ("type", pa.string()),
            ("configured_status", pa.string()),
            ("config_error", pa.string()),
            ("params", pa.string()),
            ("config", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
