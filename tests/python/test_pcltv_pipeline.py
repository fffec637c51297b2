"""pcLTV instances: configuration, the runner on a small warehouse, the CDNOW reference through
the project's own ingest, and accuracy on generated data against its planted truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from conftest import build

from pcdp.clv import BetaGeoModel, simulate_transactions
from pcdp.clv.evaluation import normalized_gini
from pcdp.instances import InstanceConfigError, InstanceSpec, parse_instances
from pcdp.runtime import InstanceResult, RunContext
from pcdp.types import pcltv, validation

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


def test_validator_defaults_and_sorting():
    assert validation.validate_pcltv("ltv", {}) == {"horizons_months": [3, 6, 12], "model": "auto"}
    out = validation.validate_pcltv(
        "ltv", {"horizons_months": [12, 1], "model": "btyd", "description": "x"}
    )
    assert out == {"horizons_months": [1, 12], "model": "btyd", "description": "x"}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"horizon": [3]}, "instance 'ltv'.*unknown key.*horizon"),
        ({"horizons_months": []}, "horizons_months"),
        ({"horizons_months": 12}, "horizons_months"),
        ({"horizons_months": [0]}, "horizons_months"),
        ({"horizons_months": [-3]}, "horizons_months"),
        ({"horizons_months": [1.5]}, "horizons_months"),
        ({"horizons_months": ["3"]}, "horizons_months"),
        ({"horizons_months": [True]}, "horizons_months"),
        ({"horizons_months": [3, 3]}, "twice"),
        ({"model": "pareto"}, "model must be one of auto, btyd, ml"),
    ],
)
def test_validator_refuses(params, match):
    with pytest.raises(InstanceConfigError, match=match):
        validation.validate_pcltv("ltv", params)


def test_bad_instance_is_refused_alone():
    specs = parse_instances(
        {
            "instances": [
                {"id": "good", "type": "pcltv", "status": "ready"},
                {"id": "bad", "type": "pcltv", "status": "ready", "horizon_months": [3]},
            ]
        }
    )
    good, bad = specs
    assert good.runnable and good.params["horizons_months"] == [3, 6, 12]
    assert not bad.runnable and "'bad'" in bad.error and "horizon_months" in bad.error


def test_add_months_clamps_and_horizon_periods():
    assert pcltv.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert pcltv.add_months(dt.date(2026, 1, 1), -12) == dt.date(2025, 1, 1)
    assert pcltv.add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert pcltv.add_months(dt.date(2025, 11, 15), 2) == dt.date(2026, 1, 15)
    assert pcltv.horizon_periods(dt.date(2026, 1, 1), 12) == pytest.approx(365 / 7)
    assert pcltv.horizon_periods(dt.date(2026, 1, 1), 3) == pytest.approx(90 / 7)


# ------------------------------------------------------------------------------------------
# the runner on a small hand-made warehouse (real DuckDB, no dbt)
# ------------------------------------------------------------------------------------------

SIM_START = dt.date(2023, 1, 2)
SIM_AS_OF = dt.date(2024, 12, 31)


def _small_warehouse(extra_orders: list[tuple] = ()) -> duckdb.DuckDBPyConnection:
    """Customer orders simulated by BG/NBD + Gamma-Gamma over two years (first purchases over
    the first year), 150 prospects without an order (tenures 1..600 days), optional extra
    orders (customer, day, amount, status)."""
    tx = simulate_transactions(
        800,
        0.5,
        6.0,
        0.7,
        3.0,
        5.0,
        4.0,
        40.0,
        start=SIM_START,
        acquisition_days=365,
        observation_days=(SIM_AS_OF - SIM_START).days + 1,
        seed=3,
    )
    con = duckdb.connect()
    con.register("sim", tx)
    con.execute(
        """
        create table customer_orders as
        select 'c' || lpad(cast(customer_id as varchar), 4, '0') as customer_id,
            'o' || cast(row_number() over (order by customer_id, occurred_at) as varchar)
                as order_id,
            occurred_at as ordered_at, 'completed' as status, true as is_completed,
            cast(round(amount, 2) as decimal(18, 4)) as amount_reporting
        from sim
        """
    )
    for i, (customer, day, amount, status) in enumerate(extra_orders):
        con.execute(
            "insert into customer_orders values (?, ?, ?, ?, ?, ?)",
            [customer, f"x{i}", dt.datetime.combine(day, dt.time(12)), status,
             status == "completed", amount],
        )  # fmt: skip
    cutoff = SIM_AS_OF + dt.timedelta(days=1)
    con.execute(
        """
        create table customer_features as
        select customer_id, date_diff('day', min(ordered_at), ?::timestamp) as tenure_days
        from customer_orders where is_completed group by customer_id
        union all
        select 'p' || lpad(cast(i as varchar), 4, '0'), 1 + (i * 4) % 600 from range(150) t(i)
        """,
        [cutoff],
    )
    return con


def _run(con, model: str = "auto", horizons=(3, 6, 12)) -> InstanceResult:
    params = validation.validate_pcltv("ltv", {"horizons_months": list(horizons), "model": model})
    spec = InstanceSpec("ltv", "pcltv", "ready", params)
    names = ("customer_orders", "customer_features")
    context = RunContext(con, SIM_AS_OF, {name: name for name in names})
    return pcltv.run(spec, context)


def _values(result) -> dict[tuple[str, str], float]:
    rows = result.predictions.to_pylist()
    assert {r["value_type"] for r in rows} == {"number"}
    return {(r["customer_id"], r["attribute"]): float(r["value"]) for r in rows}


@pytest.fixture(scope="module")
def small_btyd():
    con = _small_warehouse()
    yield con, _run(con, "btyd")
    con.close()


def test_runner_scores_everyone_monotone(small_btyd):
    con, result = small_btyd
    values = _values(result)
    customers = {c for (c,) in con.execute("select customer_id from customer_features").fetchall()}
    assert {c for c, _ in values} == customers
    for c in customers:
        v3, v6, v12 = (values[(c, f"ltv_{h}m")] for h in (3, 6, 12))
        assert 0 <= v3 <= v6 <= v12
    m = result.metrics
    assert m["customers_scored"] == len(customers) and m["customers_without_orders"] == 150
    assert m["model_choice"] in pcltv.BTYD_CANDIDATES and m["model_family"] == "btyd"
    for name in ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "gg_p", "gg_q", "gg_gamma"):
        assert m[name] > 0, name
    for h in (3, 6, 12):
        for key in ("mae", "spearman", "gini", "aggregate_ratio", "predicted_total"):
            assert np.isfinite(m[f"backtest_{h}m_{key}"]), (h, key)
        curve = result.curves[f"decile_calibration_{h}m"].to_pylist()
        assert [p["decile"] for p in curve] == list(range(1, 11))
        assert sum(p["customers"] for p in curve) == m[f"backtest_{h}m_customers"]
        assert sum(p["actual_total"] for p in curve) == pytest.approx(
            m[f"backtest_{h}m_actual_total"]
        )
    # the 3-month backtest of a correctly specified model is calibrated and ranks well
    assert 0.8 < m["backtest_3m_aggregate_ratio"] < 1.25
    assert m["backtest_3m_gini"] > m["backtest_3m_baseline_gini"]
    assert m["backtest_12m_cutoff"] == "2024-01-01"
    assert result.headline == "backtest_12m_gini"


def test_prospects_get_the_first_seen_bgnbd_prediction(small_btyd):
    _, result = small_btyd
    m, values = result.metrics, _values(result)
    prospect = BetaGeoModel()
    prospect.params_ = {k: m[f"bgnbd_first_seen_{k}"] for k in ("r", "alpha", "a", "b")}
    prospect.r_, prospect.alpha_, prospect.a_, prospect.b_ = prospect.params_.values()
    spend = m["gg_p"] * m["gg_gamma"] / (m["gg_q"] - 1)
    for i in (0, 10, 100):  # tenure 1 + 4 i days, first seen that many days before the cutoff
        tenure = 1 + (i * 4) % 600
        for h in (3, 12):
            periods = pcltv.horizon_periods(SIM_AS_OF + dt.timedelta(days=1), h)
            expected = prospect.expected_purchases(periods, 0, 0, (tenure - 1) / 7) * spend
            assert values[(f"p{i:04d}", f"ltv_{h}m")] == pytest.approx(expected, abs=0.006)
    # never NULL, positive, and lower the longer someone has been around without buying
    new, old = values[("p0000", "ltv_12m")], values[("p0100", "ltv_12m")]
    assert new > old > 0


def test_refunds_and_cancellations_do_not_count(small_btyd):
    _, before = small_btyd
    extra = [
        ("c0001", dt.date(2024, 6, 1), 500, "refunded"),
        ("c0002", dt.date(2024, 11, 30), 900, "cancelled"),
        ("p0003", dt.date(2024, 12, 1), 250, "refunded"),  # a prospect's refunded order
    ]
    con = _small_warehouse(extra)
    after = _run(con, "btyd")
    con.close()
    assert _values(after) == _values(before)


def test_ml_model_and_short_history():
    con = _small_warehouse()
    result = _run(con, "ml", horizons=(3, 12))
    con.close()
    m, values = result.metrics, _values(result)
    assert m["model_choice"] == "ml" and m["model_family"] == "ml"
    assert "bgnbd_r" not in m
    assert np.isfinite(m["backtest_3m_gini"]) and m["backtest_3m_gini"] > 0.2
    # 12-month labels need 12 months + 90 days of history before the backtest cutoff
    assert "not enough history" in m["backtest_12m_note"]
    assert "backtest_12m_gini" not in m
    assert result.headline == "backtest_3m_gini"
    customers = {c for c, _ in values}
    assert all(0 <= values[(c, "ltv_3m")] <= values[(c, "ltv_12m")] for c in customers)
    assert m["predicted_total_12m"] > m["predicted_total_3m"] > 0


def test_no_completed_order_fails_the_instance_plainly():
    con = duckdb.connect()
    con.execute(
        "create table customer_orders as select 'a' as customer_id, 'o' as order_id,"
        " timestamp '2024-05-01' as ordered_at, 'refunded' as status, false as is_completed,"
        " 10.0 as amount_reporting"
    )
    con.execute("create table customer_features as select 'a' as customer_id, 200 as tenure_days")
    with pytest.raises(ValueError, match="needs customers with a completed order"):
        _run(con)
    con.close()


# ------------------------------------------------------------------------------------------
# CDNOW through the project's own ingest: the published estimates
# ------------------------------------------------------------------------------------------


def _cdnow_raw(out: Path) -> Path:
    """CDNOW_sample.txt as a contract raw directory: one completed USD order per row (user_id =
    the sample's customer id, ordered_at = the purchase date, amount = the dollar value) and
    header-only events and identifies files (required datasets, no rows)."""
    out.mkdir(parents=True)
    con = duckdb.connect()
    rows = con.execute(
        r"""
        select p[2] as user_id, strptime(p[3], '%Y%m%d') as day, p[5] as amount
        from (
            select string_split_regex(trim(line), '\s+') as p
            from (select unnest(string_split(content, chr(10))) as line from read_text(?))
            where trim(line) <> ''
        )
        """,
        [str(CDNOW)],
    ).fetchall()
    con.close()
    orders = pa.table(
        {
            "order_id": [f"o{i:05d}" for i in range(len(rows))],
            "user_id": [r[0] for r in rows],
            "ordered_at": [r[1].date().isoformat() for r in rows],
            "amount": [r[2] for r in rows],
            "currency": ["USD"] * len(rows),
            "status": ["completed"] * len(rows),
        }
    )
    pacsv.write_csv(orders, out / "orders.csv")
    (out / "events.csv").write_text("event_id,event_name,occurred_at,user_id\n")
    (out / "identifies.csv").write_text("user_id,observed_at\n")
    return out


@pytest.mark.slow
def test_cdnow_published_estimates_through_ingest(tmp_path):
    raw = _cdnow_raw(tmp_path / "raw")
    instances = tmp_path / "instances.yml"
    instances.write_text(
        "instances:\n  - id: cdnow_ltv\n    type: pcltv\n    status: ready\n    model: btyd\n"
    )
    db = build(raw, tmp_path / "cdnow.duckdb", instances, as_of=dt.date(1997, 9, 30))
    with duckdb.connect(str(db), read_only=True) as con:
        metrics = dict(
            con.execute(
                "select metric, coalesce(cast(value as varchar), value_text) from model_metrics"
                " where instance_id = 'cdnow_ltv'"
            ).fetchall()
        )
        status = con.execute(
            "select status from model_runs where instance_id = 'cdnow_ltv'"
        ).fetchone()[0]
        quarantined = con.execute(
            "select count(*) from quarantine where reason = 'future_timestamp:ordered_at'"
        ).fetchone()[0]
        profile = con.execute(
            "select count(*), count(cdnow_ltv_3m), count(cdnow_ltv_12m),"
            " min(cdnow_ltv_12m - cdnow_ltv_6m) from customer_profile"
        ).fetchone()
    assert status == "Complete"
    assert quarantined == 1954  # the rows after 1997-09-30 (the holdout) are not used
    published = {
        "bgnbd_r": 0.243,
        "bgnbd_alpha": 4.414,
        "bgnbd_a": 0.793,
        "bgnbd_b": 2.426,
        "gg_p": 6.25,
        "gg_q": 3.74,
        "gg_gamma": 15.44,
    }
    for name, value in published.items():
        assert round(float(metrics[name]), 2) == round(value, 2), (name, metrics[name])
    assert float(metrics["bgnbd_log_likelihood"]) == pytest.approx(-9582.4, abs=0.05)
    assert float(metrics["bgnbd_customers"]) == 2357 and float(metrics["gg_customers"]) == 946
    assert metrics["model_choice"] in ("bgnbd", "mbgnbd")
    assert profile[0] == profile[1] == profile[2] == 2357 and profile[3] >= 0


# ------------------------------------------------------------------------------------------
# generated data: the default instance against the planted truth
# ------------------------------------------------------------------------------------------


def test_every_customer_has_monotone_pcltv(con):
    row = con.execute(
        """
        select count(*), count(pcltv_3m), count(pcltv_6m), count(pcltv_12m),
            count(*) filter (where pcltv_3m < 0),
            count(*) filter (where pcltv_3m > pcltv_6m or pcltv_6m > pcltv_12m)
        from customer_profile
        """
    ).fetchone()
    features = con.execute("select count(*) from customer_features").fetchone()[0]
    assert row[:4] == (features,) * 4
    assert row[4:] == (0, 0)


def _metrics(con, instance_id: str = "pcltv") -> dict:
    return dict(
        con.execute(
            "select metric, coalesce(cast(value as varchar), value_text) from model_metrics"
            " where instance_id = ?",
            [instance_id],
        ).fetchall()
    )


def test_backtest_metrics_and_curves_published(con):
    m = _metrics(con)
    assert m["model_choice"] in pcltv.CANDIDATES
    for h in (3, 6, 12):
        for key in ("mae", "spearman", "gini", "aggregate_ratio", "actual_total", "customers"):
            assert m[f"backtest_{h}m_{key}"] is not None, (h, key)
    for name in ("bgnbd_r", "bgnbd_first_seen_alpha", "mbgnbd_b", "gg_gamma"):
        assert float(m[name]) > 0
    points = con.execute(
        "select count(*) from model_curves"
        " where instance_id = 'pcltv' and curve = 'decile_calibration_12m'"
    ).fetchone()[0]
    assert points == 10


@pytest.fixture(scope="module")
def truth_12m(con, raw_dir) -> dict[str, np.ndarray]:
    """Per customer: pcltv_12m, last 12 months' revenue and the true next 12 months' revenue
    (completed future orders of the person each customer resolves to, via the identifiers)."""
    truth = raw_dir / "_truth"
    rows = con.execute(
        f"""
        with person_of as (
            select customer_id, person_id from (
                select ci.customer_id, t.person_id, count(*) as n
                from customer_identifiers as ci
                inner join read_parquet('{truth / "identifiers.parquet"}') as t
                    on t.identifier_type = ci.identifier_type
                    and t.identifier_value = ci.identifier_value
                group by all
            )
            qualify row_number() over (partition by customer_id order by n desc, person_id) = 1
        ),
        future as (
            select person_id, sum(amount_usd) as revenue
            from read_parquet('{truth / "future_orders.parquet"}')
            where status = 'completed'
            group by person_id
        )
        select p.pcltv_12m, f.revenue_365d, coalesce(future.revenue, 0)
        from customer_profile as p
        inner join customer_features as f on f.customer_id = p.customer_id
        left join person_of on person_of.customer_id = p.customer_id
        left join future on future.person_id = person_of.person_id
        order by p.customer_id
        """
    ).fetchall()
    pred, last, actual = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    return {"pred": pred, "last": last, "actual": actual}


@pytest.fixture(scope="module")
def con(warehouse):  # module scope: shared by the truth fixture
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()


def test_pcltv_beats_last_year_repeats_on_gini(truth_12m):
    model = normalized_gini(truth_12m["actual"], truth_12m["pred"])
    baseline = normalized_gini(truth_12m["actual"], truth_12m["last"])
    # measured on this fixture (1,500 generated customers, seed 7): see the report in the PR
    assert model > baseline + 0.05, (model, baseline)


def test_aggregate_revenue_close_to_truth(truth_12m):
    ratio = truth_12m["pred"].sum() / truth_12m["actual"].sum()
    assert 0.9 <= ratio <= 1.1, ratio
