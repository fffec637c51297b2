"""Monitoring of every example instance over a real backfill (issue #6).

The project's example instances (`instances.yml`, the ones `make demo` runs: four
action_prediction instances, pcltv, rfm and the three interest types) plus the `byom` example
(examples/byom/train_churn.py, packaged here) run with `pcdp backfill` at two month-end as-of
dates over the shared generated data (two, not more, to keep the test near two minutes; the
choice of the latest earlier baseline among several dates is checked in test_lifecycle). The
dates are 31 days apart, at least the action instances' 30-day future window, so at the second
date the first date's prediction windows have matured. Checked:

* first date: no drift and no matured metric at all (nothing to compare with);
* second date, every instance: `psi_max`, `drift_baseline_as_of` = the first date, and
  `psi_<attribute>` for every attribute it published, recomputed here (numbers binned at the
  baseline's deciles; a record's strongest field is its category), each with its drift check in
  `model_monitoring`;
* action_prediction: the matured backtest of the first date's predictions (customers as scored,
  positives, base rate, segment, precision, recall, AUC) and its checks against what the
  scoring run claimed;
* pcltv: the elapsed (partial) window since the first date: actual against pro-rated expected
  revenue; no horizon has fully passed (the shortest is 3 months), so no `matured_*_<h>m`;
* rfm, interest_* and byom: no matured metric (descriptive types have no outcome; a byom
  instance declares none to score against).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from pcdp.cli import main
from pcdp.instances import INSTANCE_TYPES
from pcdp.project import project_dir

pytestmark = pytest.mark.slow

FIRST, SECOND = dt.date(2025, 11, 30), dt.date(2025, 12, 31)
BYOM = """
  - id: churn_model
    type: byom
    status: ready
    package: {package}
    sha256: {sha256}
    output: {{name: churn_model_probability, type: number}}
    columns: {{recency_days: recency_days, frequency: frequency, monetary: monetary,
              tenure_days: tenure_days, events_30d: events_30d, events_90d: events_90d}}
"""
ACTION_METRICS = {
    "matured_as_of",
    "matured_customers",
    "matured_positives",
    "matured_base_rate",
    "matured_segment_count",
    "matured_precision",
    "matured_recall",
    "matured_auc",
}
PCLTV_METRICS = {
    "matured_as_of",
    "matured_days",
    "matured_revenue_actual",
    "matured_revenue_expected",
    "matured_revenue_ratio",
}


def _cli(argv: list) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def backfill(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("monitoring")
    package = work / "churn.zip"
    script = project_dir() / "examples" / "byom" / "train_churn.py"
    code, output = _cli(["byom", "package", "--script", script, "--out", package])
    assert code == 0, output
    sha256 = re.search(r"sha256: ([0-9a-f]{64})", output).group(1)
    instances = work / "instances.yml"
    instances.write_text(
        (project_dir() / "instances.yml").read_text() + BYOM.format(package=package, sha256=sha256)
    )
    db = work / "pcdp.duckdb"
    argv = ["backfill", "--raw", raw_dir, "--db", db, "--instances", instances]
    code, output = _cli([*argv, "--from", FIRST, "--to", SECOND, "--step", "1m"])
    assert code == 0, output
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute("select instance_id, as_of, status, error from model_runs").fetchall()
        metrics = con.execute(
            "select as_of, instance_id, metric, value, value_text from model_metrics"
        ).fetchall()
        predictions = con.execute(
            "select as_of, instance_id, attribute, value_type, customer_id, value from predictions"
        ).fetchall()
        monitoring = con.execute(
            "select as_of, instance_id, check_name, metric, value, expected, passed"
            " from model_monitoring"
        ).fetchall()
    by_date: dict = {}
    for as_of, instance, metric, value, text in metrics:
        by_date.setdefault(as_of, {}).setdefault(instance, {})[metric] = (value, text)
    published: dict = {}
    for as_of, instance, attribute, value_type, customer, value in predictions:
        values = published.setdefault((as_of, instance), {}).setdefault(attribute, {})
        values[customer] = (value_type, value)
    return {
        "output": output,
        "config": {item["id"]: item for item in yaml.safe_load(instances.read_text())["instances"]},
        "runs": {(row[0], row[1]): row[2:] for row in runs},
        "metrics": by_date,
        "published": published,
        "monitoring": monitoring,
    }


def _types(backfill: dict) -> dict[str, str]:
    return {instance: item["type"] for instance, item in backfill["config"].items()}


def test_every_example_instance_runs_at_both_dates(backfill):
    assert set(_types(backfill).values()) == set(INSTANCE_TYPES)
    assert "2 as-of dates: 2025-11-30, 2025-12-31" in backfill["output"]
    for instance in backfill["config"]:
        for as_of in (FIRST, SECOND):
            assert backfill["runs"][(instance, as_of)] == ("Complete", None), (instance, as_of)
            assert backfill["published"][(as_of, instance)], (instance, as_of)


def test_no_drift_and_no_matured_metric_at_the_first_date(backfill):
    first = backfill["metrics"][FIRST]
    assert set(first) == set(backfill["config"])  # each instance's own metrics are there
    monitored = [
        (instance, metric)
        for instance, metrics in first.items()
        for metric in metrics
        if metric.startswith(("psi_", "drift_", "matured_"))
    ]
    assert monitored == []


def _category(value_type: str, value: str) -> str:
    """The drift category of a non-numeric value, as int_monitor__score_drift defines it."""
    parsed = json.loads(value)
    if value_type == "record":
        numbers = {
            k: v
            for k, v in parsed.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        return max(numbers, key=lambda k: numbers[k]) if numbers else "(none)"  # first on ties
    if value_type == "array":
        return parsed[0] if parsed else "(none)"
    return value if value_type == "boolean" else parsed


def _number(value: str | None) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _decile_bins(baseline: list[float | None], current: list[float | None]) -> tuple[list, list]:
    """Both sides' bins, as int_monitor__score_drift defines them: the tops of the baseline's
    ntile(10) tiles but the largest are the cuts, a value's bin is the number of cuts below it."""
    ordered = sorted(value for value in baseline if value is not None)
    size, extra = divmod(len(ordered), 10)
    tops, end = [], 0
    for tile in range(min(10, len(ordered))):
        end += size + (tile < extra)  # SQL's ntile: the first `extra` tiles hold one more
        tops.append(ordered[end - 1])
    cuts = {top for top in tops if top < max(tops)}

    def binned(values: list[float | None]) -> list[str]:
        return ["null" if v is None else str(sum(v > cut for cut in cuts)) for v in values]

    return binned(baseline), binned(current)


def _categorical_psi(baseline: list[str], current: list[str]) -> float:
    total = 0.0
    for item in set(baseline) | set(current):
        a = max(current.count(item) / len(current), 0.0001)
        e = max(baseline.count(item) / len(baseline), 0.0001)
        total += (a - e) * math.log(a / e)
    return total


def test_drift_of_every_published_attribute_at_the_second_date(backfill):
    metrics = backfill["metrics"][SECOND]
    checks = {
        (row[1], row[3]): row[4]
        for row in backfill["monitoring"]
        if row[0] == SECOND and row[2] == "score_drift"
    }
    record_attributes = number_attributes = 0
    for instance in backfill["config"]:
        mine = metrics[instance]
        assert mine["drift_baseline_as_of"] == (None, FIRST.isoformat()), instance
        current = backfill["published"][(SECOND, instance)]
        baseline = backfill["published"][(FIRST, instance)]
        assert set(current) == set(baseline), instance
        psi = {name[4:]: value for name, (value, _) in mine.items() if name.startswith("psi_")}
        assert set(psi) == set(current) | {"max"}, instance
        for attribute in current:
            assert psi[attribute] >= 0, (instance, attribute)
            assert checks[(instance, f"psi_{attribute}")] == psi[attribute]
            value_type = next(iter(current[attribute].values()))[0]
            if value_type in ("number", "integer"):
                expected = _categorical_psi(
                    *_decile_bins(
                        [_number(value) for _, value in baseline[attribute].values()],
                        [_number(value) for _, value in current[attribute].values()],
                    )
                )
                number_attributes += 1
            else:
                expected = _categorical_psi(
                    [_category(*pair) for pair in baseline[attribute].values()],
                    [_category(*pair) for pair in current[attribute].values()],
                )
                record_attributes += value_type == "record"
            assert psi[attribute] == pytest.approx(expected), (instance, attribute)
        assert psi["max"] == max(psi[attribute] for attribute in current)
    assert record_attributes == 3  # the interest instances' <id>_affinity
    assert number_attributes >= 10  # probabilities, pcLTV horizons, RFM scores, ...


def test_matured_backtests_of_predictive_instances_only(backfill):
    metrics = backfill["metrics"][SECOND]
    for instance, config in backfill["config"].items():
        matured = {name: value for name, value in metrics[instance].items() if "matured" in name}
        scored = backfill["published"][(FIRST, instance)]
        if config["type"] == "action_prediction":
            # the first date's window [FIRST + 1 day, + future_window_days) has passed
            assert FIRST + dt.timedelta(days=config["future_window_days"]) <= SECOND
            assert set(matured) == ACTION_METRICS, instance
            assert matured["matured_as_of"] == (None, FIRST.isoformat())
            customers = matured["matured_customers"][0]
            assert customers == len(scored[f"{instance}_score"]) > 0, instance
            positives = matured["matured_positives"][0]
            assert 0 < positives < customers, instance
            assert matured["matured_base_rate"][0] == pytest.approx(positives / customers)
            segment = sum(value == "true" for _, value in scored[f"{instance}_segment"].values())
            assert matured["matured_segment_count"][0] == segment > 0, instance
            for name in ("matured_precision", "matured_recall", "matured_auc"):
                assert 0 <= matured[name][0] <= 1, (instance, name)
        elif config["type"] == "pcltv":
            # partial window: the days since the first date, against the shortest horizon
            # pro-rated; no horizon (3 months at least) has fully passed
            assert min(config["horizons_months"]) >= 3
            assert set(matured) == PCLTV_METRICS, instance
            assert matured["matured_as_of"] == (None, FIRST.isoformat())
            assert matured["matured_days"][0] == (SECOND - FIRST).days
            actual = matured["matured_revenue_actual"][0]
            expected = matured["matured_revenue_expected"][0]
            assert actual > 0 and expected > 0
            assert matured["matured_revenue_ratio"][0] == pytest.approx(actual / expected)
        else:
            # descriptive types have no outcome to mature; a byom instance declares none
            assert matured == {}, instance


def test_matured_checks_against_what_the_scoring_run_claimed(backfill):
    checks: dict = {}
    for as_of, instance, check, metric, value, expected, passed in backfill["monitoring"]:
        assert as_of == SECOND  # model_monitoring holds the last run's checks
        checks.setdefault(instance, {})[check] = (metric, value, expected, passed)
    metrics = backfill["metrics"][SECOND]
    for instance, config in backfill["config"].items():
        mine = checks.get(instance, {})
        if config["type"] == "action_prediction":
            claimed = backfill["metrics"][FIRST][instance]
            for check, claim in (
                ("matured_precision", "precision_at_threshold"),
                ("matured_auc", "roc_auc"),
            ):
                metric, value, expected, passed = mine[check]
                assert (metric, value) == (check, metrics[instance][check][0])
                assert expected == claimed[claim][0]
                assert passed in (True, False)
            assert set(mine) == {"score_drift", "matured_precision", "matured_auc"}
        elif config["type"] == "pcltv":
            metric, value, expected, passed = mine["matured_revenue"]
            assert (metric, value) == ("matured_revenue_ratio", metrics[instance][metric][0])
            assert set(mine) == {"score_drift", "matured_revenue"}
        else:
            assert set(mine) == {"score_drift"}, instance
