"""Model-instance lifecycle end to end: four real runs on one warehouse.

1-3. `pcdp backfill` of three month-end as-of dates (2025-10-31, 2025-11-30, 2025-12-31); as
     the third date starts, the segment map of `rfm_custom` disappears, so it fails there
     next to healthy instances;
4.   after fixing it, `instances activate` / `suspend` and hand-built predictions of
     (suspended) action_prediction and pcltv instances: a rerun of 2025-12-31, with a reader
     process looping over the serving file and `pcdp status` throughout (and trying a second
     run meanwhile).

The module fixture performs the runs and keeps what each step showed; the tests check it.
Matured backtests and drift of the hand-built instances are checked against values computed
here in Python, independently of the SQL models.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import math
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

from pcdp import runstate
from pcdp.cli import main
from pcdp.project import project_dir

pytestmark = pytest.mark.slow

D1, D2, D3 = dt.date(2025, 10, 31), dt.date(2025, 11, 30), dt.date(2025, 12, 31)
LTV_OLD = dt.date(2025, 8, 31)

INSTANCES = """\
# Instances of the lifecycle test.
instances:
  - id: rfm
    type: rfm
    status: ready
  - id: rfm_custom   # fails in run 4 (its segment map is removed), recovers in run 5
    type: rfm
    status: ready
    segment_map: {segment_map}
  - id: rfm_later
    type: rfm
    status: draft
  - id: rfm_paused
    type: rfm
    status: ready
  # Suspended: never run here; their predictions are written by the test.
  - id: buy_30d
    type: action_prediction
    status: suspended
    positive: order_completed
    future_window_days: 30
  - id: quiet_30d
    type: action_prediction
    status: suspended
    positive:
      - {{event: login, properties: {{method: apple}}}}
      - {{event: app_open, min_count: 3}}
    outcome: did_not
    future_window_days: 30
  - id: ltv
    type: pcltv
    status: suspended
    horizons_months: [1, 3]
"""

READER = textwrap.dedent(
    """
    import contextlib, io, json, sys, time
    from pathlib import Path
    import duckdb
    from pcdp.cli import main
    from pcdp.warehouse import status_table
    db, serving, raw, instances, stop, out = sys.argv[1:7]
    reads, failures, run_ids, statuses, second_run = 0, [], [], set(), None
    while True:
        stopping = Path(stop).exists()
        try:
            with duckdb.connect(serving, read_only=True) as con:
                run_id = con.execute(
                    "select any_value(run_id) from _pcdp_publication").fetchone()[0]
                counts = con.execute(
                    "select relation, row_count from _pcdp_publication").fetchall()
                for relation, expected in counts:
                    found = con.execute(f'select count(*) from "{relation}"').fetchone()[0]
                    if found != expected:
                        failures.append(f"{run_id} {relation}: {found} != {expected}")
                if not con.execute(
                    "select count(*) from model_runs where run_id = ?", [run_id]
                ).fetchone()[0]:
                    failures.append(f"{run_id}: not in model_runs")
            if not run_ids or run_ids[-1] != run_id:
                run_ids.append(run_id)
            reads += 1
            table = status_table(Path(db))
            statuses.update(
                (line.split()[0], line.split()[2]) for line in table.splitlines()
                if line.startswith("rfm")
            )
            if second_run is None and "run in progress" in table:
                output = io.StringIO()
                with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                    code = main(["run", "--raw", raw, "--db", db, "--as-of", "2025-12-31",
                                 "--instances", instances])
                second_run = [code, output.getvalue()]
        except Exception as error:
            failures.append(repr(error))
        if stopping:
            break
        time.sleep(0.05)
    Path(out).write_text(json.dumps({"reads": reads, "failures": failures,
        "run_ids": run_ids, "statuses": sorted(statuses), "second_run": second_run}))
    """
)


@dataclass
class History:
    db: Path
    serving: Path
    instances: Path
    outputs: dict[str, str] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    status: dict[str, dict[str, str]] = field(default_factory=dict)
    tables: dict[str, dict[str, list]] = field(default_factory=dict)
    reader: dict = field(default_factory=dict)


def _cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue()


def _statuses(db: Path, instances: Path) -> dict[str, str]:
    code, output = _cli(["status", "--db", db, "--instances", instances])
    assert code == 0, output
    return {
        line.split()[0]: line.split()[2]
        for line in output.splitlines()
        if line
        and not line.startswith((" ", "instance", "results", "run ", "the ", "no ", "cannot "))
    }


TABLE_QUERIES = {
    "runs": "select run_id, instance_id, as_of, status, error, rows_scored from model_runs"
    " order by started_at, instance_id",
    "predictions": "select as_of, instance_id, customer_id, attribute, value, run_id"
    " from predictions order by all",
    "metrics": "select run_id, instance_id, as_of, metric, value, value_text from model_metrics"
    " order by all",
    "profile": "select * from customer_profile order by customer_id",
    "instances": "select instance_id, status, last_error from model_instances order by 1",
    "monitoring": "select * from model_monitoring order by all",
}


def _snapshot(path: Path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        snapshot = {name: con.execute(query).fetchall() for name, query in TABLE_QUERIES.items()}
        snapshot["profile_columns"] = [
            row[0] for row in con.execute("describe customer_profile").fetchall()
        ]
    return snapshot


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from its arguments."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _handmade_predictions(db: Path) -> None:
    """Predictions of the suspended instances, as their runners would have written them:
    action scores at D1, D2, D3 (shifted at D3, so they drift) and pcLTV at LTV_OLD and D2.
    The scoring runs claim a precision and AUC the random scores cannot reach."""
    with duckdb.connect(str(db)) as con:
        customers = [row[0] for row in con.execute("select customer_id from customers").fetchall()]
        rows = []

        def add(as_of, instance, attribute, value, value_type):
            rows.append((as_of, instance, attribute, value, value_type))

        for as_of in (D1, D2, D3):
            for instance in ("buy_30d", "quiet_30d"):
                for customer in customers:
                    score = _unit(instance, customer, as_of)
                    if as_of == D3:
                        score = score**0.3
                    add(as_of, instance, f"{instance}_score", (customer, json.dumps(score)), "n")
                    add(
                        as_of,
                        instance,
                        f"{instance}_segment",
                        (customer, json.dumps(score > 0.8)),
                        "b",
                    )
        for as_of in (LTV_OLD, D2):
            for customer in customers:
                value = 80 * _unit("ltv", customer, as_of)
                add(as_of, "ltv", "ltv_1m", (customer, json.dumps(value)), "n")
                add(as_of, "ltv", "ltv_3m", (customer, json.dumps(3 * value)), "n")
        kinds = {"n": "number", "b": "boolean"}
        table = pa.table(
            {
                "customer_id": [r[3][0] for r in rows],
                "instance_id": [r[1] for r in rows],
                "attribute": [r[2] for r in rows],
                "value": [r[3][1] for r in rows],
                "value_type": [kinds[r[4]] for r in rows],
                "run_id": [f"handmade-{r[0]}" for r in rows],
                "as_of": [r[0] for r in rows],
            }
        )
        con.register("handmade", table)
        con.execute(
            "insert into predictions (customer_id, instance_id, attribute, value, value_type,"
            " run_id, as_of) select * from handmade"
        )
        for instance in ("buy_30d", "quiet_30d"):
            for metric in ("precision_at_threshold", "roc_auc"):
                con.execute(
                    "insert into model_metrics (run_id, instance_id, as_of, metric, value)"
                    " values (?, ?, ?, ?, 0.99)",
                    [f"handmade-{D2}", instance, D2, metric],
                )


def _break_on_third_date(db: Path, segment_map: Path, stop: threading.Event) -> None:
    """Move the segment map away as soon as the backfill starts its third date (long before
    dbt reaches the instance's model)."""
    while not stop.is_set():
        state = runstate.read_state(db) or {}
        if state.get("state") == "running" and state.get("backfill", {}).get("position") == 3:
            segment_map.rename(segment_map.with_suffix(".moved"))
            return
        time.sleep(0.02)


@pytest.fixture(scope="module")
def history(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> History:
    work = tmp_path_factory.mktemp("lifecycle")
    segment_map = work / "segment_map.csv"
    shutil.copy(project_dir() / "seeds" / "rfm_segment_map.csv", segment_map)
    instances = work / "instances.yml"
    instances.write_text(INSTANCES.format(segment_map=segment_map))
    db = work / "pcdp.duckdb"
    h = History(db=db, serving=work / "pcdp.serving.duckdb", instances=instances)
    run = ["--raw", raw_dir, "--db", db, "--instances", instances]

    # 1-3: backfill of three as-of dates; rfm_custom breaks at the third
    stop = threading.Event()
    breaker = threading.Thread(target=_break_on_third_date, args=(db, segment_map, stop))
    breaker.start()
    try:
        backfill = ["backfill", *run, "--from", D1, "--to", D3, "--step", "1m"]
        h.codes["backfill"], h.outputs["backfill"] = _cli(backfill)
    finally:
        stop.set()
        breaker.join()
    h.status["backfill"] = _statuses(db, instances)
    h.tables["backfill"] = _snapshot(db)

    # fixed, configuration changes, hand-built predictions
    segment_map.with_suffix(".moved").rename(segment_map)
    for command in (["activate", "rfm_later"], ["suspend", "rfm_paused"]):
        code, output = _cli(["instances", *command, "--instances", instances])
        assert code == 0, output
    _handmade_predictions(db)
    h.status["before_rerun"] = _statuses(db, instances)

    # 4: rerun of the last date, with a reader process throughout
    script, reader_stop, out = work / "reader.py", work / "stop", work / "reader.json"
    script.write_text(READER)
    reader = subprocess.Popen(
        [sys.executable, script, db, h.serving, raw_dir, instances, reader_stop, out],
    )
    try:
        time.sleep(2)  # reads of the previous publication before the run starts
        h.codes["rerun"], h.outputs["rerun"] = _cli(["run", *run, "--as-of", D3])
        time.sleep(1)
    finally:
        reader_stop.touch()
        reader.wait(timeout=120)
    h.reader = json.loads(out.read_text())
    h.status["rerun"] = _statuses(db, instances)
    h.tables["rerun"] = _snapshot(db)
    h.tables["rerun_served"] = _snapshot(h.serving)
    assert _cli(["instances", "activate", "rfm_paused", "--instances", instances])[0] == 0
    h.status["reactivated"] = _statuses(db, instances)
    return h


def _run_ids(snapshot: dict, instance: str) -> list[str]:
    return [row[0] for row in snapshot["runs"] if row[1] == instance]


def _metrics(snapshot: dict, run_id: str) -> dict[tuple[str, str], tuple]:
    return {(row[1], row[3]): (row[4], row[5]) for row in snapshot["metrics"] if row[0] == run_id}


def test_backfill_runs_three_dates_in_order(history):
    assert history.codes["backfill"] == 0, history.outputs["backfill"]
    assert "3 as-of dates: 2025-10-31, 2025-11-30, 2025-12-31" in history.outputs["backfill"]
    runs = history.tables["backfill"]["runs"]
    assert [row[2] for row in runs if row[1] == "rfm"] == [D1, D2, D3]
    assert {row[3] for row in runs if row[1] != "rfm_custom"} == {"Complete"}
    as_ofs = {(row[0], row[1]) for row in history.tables["backfill"]["predictions"]}
    for instance in ("rfm", "rfm_paused"):
        assert {as_of for as_of, name in as_ofs if name == instance} == {D1, D2, D3}
    # published once, after the last date
    assert history.outputs["backfill"].count("published to") == 1


def test_drift_metrics_from_the_second_date_on(history):
    snapshot = history.tables["backfill"]
    run_ids = _run_ids(snapshot, "rfm")
    attributes = ["rfm_cluster", "rfm_frequency_score", "rfm_monetary_score", "rfm_recency_score"]
    assert not [key for key in _metrics(snapshot, run_ids[0]) if key[1].startswith("psi_")]
    for run_id, baseline, instances in (
        (run_ids[1], D1, ("rfm", "rfm_custom", "rfm_paused")),
        (run_ids[2], D2, ("rfm", "rfm_paused")),  # rfm_custom failed: nothing to compare
    ):
        metrics = _metrics(snapshot, run_id)
        for instance in instances:
            for attribute in attributes:
                value = metrics[(instance, f"psi_{attribute.replace('rfm', instance, 1)}")][0]
                assert 0 <= value < 0.25
            assert metrics[(instance, "drift_baseline_as_of")][1] == baseline.isoformat()
            assert metrics[(instance, "psi_max")][0] >= 0
        assert {key[0] for key in metrics if key[1] == "psi_max"} == set(instances)


def test_draft_and_suspended_instances_do_not_run(history):
    assert history.status["backfill"]["rfm_later"] == "Draft"
    assert history.status["backfill"]["buy_30d"] == "Suspended"
    snapshot = history.tables["backfill"]
    assert not [row for row in snapshot["runs"] if row[1] in ("rfm_later", "buy_30d", "ltv")]
    assert "rfm_later_cluster" not in snapshot["profile_columns"]
    assert "rfm_paused_cluster" in snapshot["profile_columns"]


def _column(snapshot: dict, name: str) -> list:
    position = snapshot["profile_columns"].index(name)
    return [row[position] for row in snapshot["profile"]]


def test_activate_and_suspend_show_at_once_and_apply_at_the_next_run(history):
    before, after = history.status["before_rerun"], history.status["rerun"]
    assert before["rfm_later"] == "Ready" and after["rfm_later"] == "Complete"
    assert before["rfm_paused"] == "Suspended" and after["rfm_paused"] == "Suspended"
    assert history.status["reactivated"]["rfm_paused"] == "Ready"
    rerun, backfill = history.tables["rerun"], history.tables["backfill"]
    assert "rfm_later_cluster" in rerun["profile_columns"]
    # suspended: no run, but it keeps its last results in predictions and the profile
    assert len(_run_ids(rerun, "rfm_paused")) == 3
    paused = [row for row in rerun["predictions"] if row[1] == "rfm_paused"]
    assert paused == [row for row in backfill["predictions"] if row[1] == "rfm_paused"]
    assert _column(rerun, "rfm_paused_cluster") == _column(backfill, "rfm_paused_cluster")


def test_a_failing_instance_next_to_healthy_ones_keeps_its_results(history):
    backfill = history.tables["backfill"]
    last_run = _run_ids(backfill, "rfm")[-1]
    outcomes = {row[1]: row for row in backfill["runs"] if row[0] == last_run}
    assert outcomes["rfm_custom"][3] == "Error"
    error = outcomes["rfm_custom"][4]
    assert "segment_map" in error and "does not exist" in error
    assert outcomes["rfm"][3] == "Complete" and outcomes["rfm_paused"][3] == "Complete"
    assert history.status["backfill"]["rfm_custom"] == "Error"
    assert "rfm_custom" in history.outputs["backfill"] and "1 Error" in history.outputs["backfill"]
    # its predictions of the earlier dates stay, and the profile keeps the latest of them
    assert {row[0] for row in backfill["predictions"] if row[1] == "rfm_custom"} == {D1, D2}
    previous = {
        row[2]: json.loads(row[4])
        for row in backfill["predictions"]
        if row[1] == "rfm_custom" and row[0] == D2 and row[3] == "rfm_custom_cluster"
    }
    assert previous
    customers = _column(backfill, "customer_id")
    clusters = dict(zip(customers, _column(backfill, "rfm_custom_cluster"), strict=True))
    assert {c: v for c, v in clusters.items() if v is not None} == previous
    # readers see the same in the serving file
    assert history.tables["rerun_served"]["profile"] == history.tables["rerun"]["profile"]
    # fixed: Complete again at the next run, with values for this date
    assert history.status["rerun"]["rfm_custom"] == "Complete"
    assert D3 in {
        row[0] for row in history.tables["rerun"]["predictions"] if row[1] == "rfm_custom"
    }


def test_the_rerun_serves_the_whole_predictions_history(history):
    # The serving file is a copy of the warehouse: the rerun's publication holds every date's
    # predictions, the backfill's among them, as built.
    built = history.tables["rerun"]["predictions"]
    assert {row[0] for row in built} > {D3}
    assert history.tables["rerun_served"]["predictions"] == built


def test_rerunning_a_date_replaces_its_predictions(history):
    backfill, rerun = history.tables["backfill"], history.tables["rerun"]

    def rfm_rows(snapshot, date):
        return [row[:5] for row in snapshot["predictions"] if row[1] == "rfm" and row[0] == date]

    assert rfm_rows(rerun, D3) == rfm_rows(backfill, D3)
    assert {row[5] for row in rerun["predictions"] if row[1] == "rfm" and row[0] == D3} == {
        _run_ids(rerun, "rfm")[-1]
    }
    keys = [row[:4] for row in rerun["predictions"]]
    assert len(keys) == len(set(keys))
    # history is append-only: every run is kept with its metrics
    assert len(_run_ids(rerun, "rfm")) == 4
    assert {row[0] for row in rerun["metrics"] if row[1] == "rfm"} == set(_run_ids(rerun, "rfm"))
    assert set(backfill["metrics"]) <= set(rerun["metrics"])
    assert set(backfill["runs"]) <= set(rerun["runs"])


def _window_labels(db: Path, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
    """Per customer: did they order, and did they do the quiet_30d events, in [start, end)."""
    with duckdb.connect(str(db), read_only=True) as con:
        events = con.execute(
            "select customers.customer_id, events.event_name, events.properties"
            " from int_customer_events as events"
            " inner join customers on events.customer_key = customers.customer_key"
            " where events.occurred_at >= ? and events.occurred_at < ?",
            [start, end],
        ).fetchall()
    ordered, quiet_positive, app_opens = set(), set(), {}
    for customer, name, properties in events:
        if name == "order_completed":
            ordered.add(customer)
        if name == "login" and json.loads(properties or "{}").get("method") == "apple":
            quiet_positive.add(customer)
        if name == "app_open":
            app_opens[customer] = app_opens.get(customer, 0) + 1
    quiet_positive |= {customer for customer, count in app_opens.items() if count >= 3}
    return {"buy_30d": ordered, "quiet_30d": quiet_positive}


def test_matured_action_metrics_match_an_independent_computation(history):
    rerun = history.tables["rerun"]
    metrics = _metrics(rerun, _run_ids(rerun, "rfm")[-1])
    start = dt.datetime.combine(D2 + dt.timedelta(days=1), dt.time())
    did = _window_labels(history.db, start, start + dt.timedelta(days=30))
    for instance in ("buy_30d", "quiet_30d"):
        scores = {
            row[2]: json.loads(row[4])
            for row in rerun["predictions"]
            if row[0] == D2 and row[3] == f"{instance}_score"
        }
        customers = sorted(scores)
        labels = np.array([customer in did[instance] for customer in customers], dtype=float)
        if instance == "quiet_30d":
            labels = 1 - labels
        values = np.array([scores[customer] for customer in customers])
        segment = values > 0.8
        assert metrics[(instance, "matured_as_of")][1] == D2.isoformat()
        assert metrics[(instance, "matured_customers")][0] == len(customers)
        assert metrics[(instance, "matured_base_rate")][0] == pytest.approx(labels.mean())
        assert metrics[(instance, "matured_precision")][0] == pytest.approx(labels[segment].mean())
        assert metrics[(instance, "matured_auc")][0] == pytest.approx(roc_auc_score(labels, values))
        assert 0 < labels.mean() < 1
    # the scoring runs claimed 0.99: the checks flag it (warn, the run still succeeds)
    failed = {(row[1], row[3]) for row in rerun["monitoring"] if row[8] is False}
    assert {("buy_30d", "matured_precision"), ("buy_30d", "matured_auc")} <= failed
    assert "monitor_matured_precision_within_limit" in history.outputs["rerun"]


def _revenue(db: Path, start: dt.date, end: dt.date) -> dict[str, float]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(
            con.execute(
                "select customer_id, sum(amount_reporting) from int_customer_orders"
                " where is_completed and ordered_at >= ? and ordered_at < ? group by 1",
                [start, end],
            ).fetchall()
        )


def test_matured_pcltv_metrics_match_an_independent_computation(history):
    rerun = history.tables["rerun"]
    metrics = _metrics(rerun, _run_ids(rerun, "rfm")[-1])

    def predicted(as_of, attribute):
        return {
            row[2]: json.loads(row[4])
            for row in rerun["predictions"]
            if row[0] == as_of and row[3] == attribute
        }

    windows = {
        "": (D2, "ltv_1m", dt.date(2025, 12, 1), dt.date(2026, 1, 1)),  # elapsed, 31 of 31 days
        "_1m": (D2, "ltv_1m", dt.date(2025, 12, 1), dt.date(2026, 1, 1)),
        "_3m": (LTV_OLD, "ltv_3m", dt.date(2025, 9, 1), dt.date(2025, 12, 1)),
    }
    for suffix, (as_of, attribute, start, end) in windows.items():
        prediction = predicted(as_of, attribute)
        revenue = _revenue(history.db, start, end)
        actual = sum(float(revenue.get(customer, 0)) for customer in prediction)
        expected = sum(prediction.values())
        assert metrics[("ltv", f"matured_as_of{suffix}")][1] == as_of.isoformat()
        assert metrics[("ltv", f"matured_revenue_actual{suffix}")][0] == pytest.approx(actual)
        assert metrics[("ltv", f"matured_revenue_ratio{suffix}")][0] == pytest.approx(
            actual / expected
        )
        if suffix:
            mae = np.mean([abs(float(revenue.get(c, 0)) - v) for c, v in prediction.items()])
            assert metrics[("ltv", f"matured_revenue_mae{suffix}")][0] == pytest.approx(mae)
    assert metrics[("ltv", "matured_days")][0] == 31
    assert ("ltv", "matured_as_of_12m") not in metrics


def _psi(baseline: list, current: list, numeric: bool) -> float:
    """The population stability index as int_monitor__score_drift defines it."""
    if numeric:
        ordered = np.sort(np.array(baseline, dtype=float))
        tops = sorted({float(part.max()) for part in np.array_split(ordered, 10) if len(part)})
        cuts = [top for top in tops if top < tops[-1]]
        baseline = [sum(value > cut for cut in cuts) for value in baseline]
        current = [sum(value > cut for cut in cuts) for value in current]
    bins = set(baseline) | set(current)
    total = 0.0
    for item in bins:
        a = max(current.count(item) / len(current), 0.0001)
        e = max(baseline.count(item) / len(baseline), 0.0001)
        total += (a - e) * math.log(a / e)
    return total


def test_score_drift_matches_an_independent_computation(history):
    rerun = history.tables["rerun"]
    run_id = _run_ids(rerun, "rfm")[-1]
    metrics = _metrics(rerun, run_id)
    for attribute, numeric in (("buy_30d_score", True), ("buy_30d_segment", False)):
        values = {
            as_of: [
                json.loads(row[4])
                for row in rerun["predictions"]
                if row[0] == as_of and row[3] == attribute
            ]
            for as_of in (D2, D3)
        }
        if not numeric:
            values = {k: [json.dumps(v) for v in vs] for k, vs in values.items()}
        expected = _psi(values[D2], values[D3], numeric)
        assert metrics[("buy_30d", f"psi_{attribute}")][0] == pytest.approx(expected)
    assert metrics[("buy_30d", "psi_max")][0] > 0.25  # the shifted scores drifted ...
    drift = [row for row in rerun["monitoring"] if row[1] == "buy_30d" and row[3] == "score_drift"]
    assert any(row[8] is False for row in drift)  # ... and the check flags it
    assert "monitor_score_drift_within_limit" in history.outputs["rerun"]
    assert ("ltv", "psi_max") not in metrics  # no predictions at this as-of: no drift


def test_readers_never_fail_during_a_run_and_see_running(history):
    assert history.codes["rerun"] == 0, history.outputs["rerun"]
    reader = history.reader
    assert reader["failures"] == []
    rerun_id = _run_ids(history.tables["rerun"], "rfm")[-1]
    backfill_id = _run_ids(history.tables["backfill"], "rfm")[-1]
    # it read the previous publication during the run, then the new one
    assert reader["run_ids"] == [backfill_id, rerun_id]
    assert reader["reads"] > 5
    for seen in (
        ["rfm_custom", "Error"],
        ["rfm_custom", "Running"],
        ["rfm_custom", "Complete"],
        ["rfm_later", "Running"],
        ["rfm_paused", "Suspended"],
    ):
        assert seen in reader["statuses"]
    assert ["rfm_paused", "Running"] not in reader["statuses"]
    assert ["rfm_paused", "Complete"] not in reader["statuses"]  # suspended throughout
    # a second run started meanwhile exits at once with a clear message
    code, output = reader["second_run"]
    assert code == 3
    assert "another pcdp run is in progress" in output and "did not start" in output


def test_runs_after_the_first_reuse_its_parse(history):
    """`pcdp run` gives dbt the as-of date and run id in the environment, not in --vars
    (which make dbt parse the whole project again), so only the first run parses: the
    backfill's later dates and the rerun reuse its parse, and still run their own dates
    (test_backfill_runs_three_dates_in_order)."""
    logs = (history.db.parent / f".{history.db.name}.dbt" / "logs").glob("dbt.log*")
    messages = [
        json.loads(line)["info"]["msg"]
        for path in logs
        for line in path.read_text().splitlines()
        if "partial parsing" in line.lower()
    ]
    assert sum(m.startswith("Unable to do partial parsing") for m in messages) == 1, messages
    assert sum(m.startswith("Partial parsing enabled: ") for m in messages) == 3, messages
