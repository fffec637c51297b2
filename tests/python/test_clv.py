"""Tests for pcdp.clv: SQL summaries, BG/NBD, MBG/NBD, Gamma-Gamma and CLV."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import approx_fprime
from sklearn.base import clone

from pcdp.clv import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    customer_lifetime_value,
    rfm_summary,
    rfm_summary_sql,
    simulate_customers,
    simulate_transactions,
)
from pcdp.clv._special import hyp2f1_series, hyp2f1_stable
from pcdp.clv.evaluation import backtest_metrics, decile_calibration, normalized_gini

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"


# ------------------------------------------------------------------------------------------
# summary SQL
# ------------------------------------------------------------------------------------------


@pytest.fixture()
def con():
    c = duckdb.connect()
    yield c
    c.close()


def _tx_table(rows):
    cust, ts, amount = zip(*rows, strict=True)
    return pa.table(
        {
            "cust": pa.array(cust, pa.string()),
            "ts": pa.array(ts, pa.timestamp("us")),
            "amt": pa.array(amount, pa.float64()),
        }
    )


HAND = [
    # customer a: two purchases on day 1 (one purchase), then day 3, day 10; one after the end
    ("a", dt.datetime(2024, 1, 1, 9), 10.0),
    ("a", dt.datetime(2024, 1, 1, 17), 5.0),
    ("a", dt.datetime(2024, 1, 3, 12), 20.0),
    ("a", dt.datetime(2024, 1, 10, 8), 40.0),
    ("a", dt.datetime(2024, 1, 20, 8), 1000.0),
    # customer b: a single purchase
    ("b", dt.datetime(2024, 1, 5, 23, 59), 7.0),
    # customer c: first purchase after the end -> absent
    ("c", dt.datetime(2024, 1, 16, 0, 0), 3.0),
    # customer d: two purchases on the end day itself (kept: the whole day is in)
    ("d", dt.datetime(2024, 1, 2), 1.0),
    ("d", dt.datetime(2024, 1, 15, 22), 2.0),
]


def test_summary_daily_conventions(con):
    con.register("tx", _tx_table(HAND))
    out = rfm_summary(con, "tx", "cust", "ts", "amt", observation_end="2024-01-15").to_pylist()
    assert [r["customer_id"] for r in out] == ["a", "b", "d"]
    a, b, d = out
    assert (a["frequency"], a["recency"], a["T"]) == (2, 9.0, 14.0)
    assert a["monetary_value"] == pytest.approx((20 + 40) / 2)
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0.0, 10.0, 0.0)
    assert (d["frequency"], d["recency"], d["T"], d["monetary_value"]) == (1, 13.0, 13.0, 2.0)


def test_summary_units_and_weeks(con):
    con.register("tx", _tx_table(HAND))
    days7 = rfm_summary(con, "tx", "cust", "ts", None, "2024-01-15", "D", 7).to_pylist()
    assert days7[0]["recency"] == pytest.approx(9 / 7) and days7[0]["T"] == pytest.approx(2.0)
    assert "monetary_value" not in days7[0]
    # weeks: ISO weeks starting Monday; 2024-01-01 is a Monday
    weeks = rfm_summary(con, "tx", "cust", "ts", "amt", dt.date(2024, 1, 15), "W").to_pylist()
    a = weeks[0]
    # a: weeks of Jan 1 (Jan 1 + Jan 3: one purchase, 35 summed), Jan 8 (40) and Jan 15: the
    # Jan 20 purchase lies in the week of the observation end, so the whole week is kept
    assert (a["frequency"], a["recency"], a["T"]) == (2, 2.0, 2.0)
    assert a["monetary_value"] == pytest.approx((40 + 1000) / 2)
    c = [r for r in weeks if r["customer_id"] == "c"][0]
    assert (c["frequency"], c["T"]) == (0, 0.0)


def test_summary_default_observation_end_is_last_timestamp(con):
    con.register("tx", _tx_table(HAND))
    out = {r["customer_id"]: r for r in rfm_summary(con, "tx", "cust", "ts").to_pylist()}
    assert out["a"]["T"] == 19.0 and out["a"]["frequency"] == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"transactions_relation": "tx; drop table x"},
        {"transactions_relation": "a.b.c.d"},
        {"transactions_relation": "Tx"},
        {"customer_col": "cust--"},
        {"datetime_col": "1ts"},
        {"monetary_col": "amt)"},
        {"observation_end": "2024-01-15'; drop table tx; --"},
        {"observation_end": 20240115},
        {"time_unit": "M"},
        {"freq_unit_days": 0},
        {"freq_unit_days": float("nan")},
    ],
)
def test_summary_sql_rejects_bad_input(kwargs):
    args = {
        "transactions_relation": "tx",
        "customer_col": "cust",
        "datetime_col": "ts",
        "monetary_col": "amt",
        "observation_end": "2024-01-15",
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        rfm_summary_sql(**args)


def test_summary_sql_is_one_statement():
    sql = rfm_summary_sql("main.tx", "cust", "ts", "amt", "2024-01-15T00:00:00+02:00")
    assert sql.lstrip().startswith("WITH") and ";" not in sql
    assert "TIMESTAMP '2024-01-14 22:00:00'" in sql  # aware timestamps are normalised to UTC


# ------------------------------------------------------------------------------------------
# CDNOW: published estimates from the raw transactions
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow():
    c = duckdb.connect()
    c.execute(
        """
        CREATE TABLE cdnow AS
        SELECT p[2]::INTEGER AS customer_id,
               strptime(p[3], '%Y%m%d') AS purchased_at,
               p[4]::INTEGER AS n_cds,
               p[5]::DOUBLE AS amount
        FROM (
            SELECT string_split_regex(trim(line), '\\s+') AS p
            FROM (SELECT unnest(string_split(content, chr(10))) AS line FROM read_text(?))
            WHERE trim(line) <> ''
        )
        """,
        [str(CDNOW)],
    )
    summary = rfm_summary(
        c,
        "cdnow",
        customer_col="customer_id",
        datetime_col="purchased_at",
        monetary_col="amount",
        observation_end="1997-09-30",
        time_unit="D",
        freq_unit_days=7,
    )
    c.close()
    return {k: summary[k].to_numpy() for k in summary.column_names}


def test_cdnow_summary_shape(cdnow):
    assert len(cdnow["customer_id"]) == 2357
    assert int(cdnow["frequency"].sum()) == 2457  # repeat transactions in the calibration period
    assert int((cdnow["frequency"] > 0).sum()) == 946
    # customer 1: 1997-01-01, 01-18, 08-02 in calibration: x = 2, t_x = 30.43, T = 38.86
    i = int(np.flatnonzero(cdnow["customer_id"] == 1)[0])
    assert cdnow["frequency"][i] == 2
    assert round(cdnow["recency"][i], 2) == 30.43 and round(cdnow["T"][i], 2) == 38.86
    assert cdnow["monetary_value"][i] == pytest.approx((29.73 + 14.96) / 2)


def test_cdnow_bgnbd_published(cdnow):
    m = BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert round(m.params_[k], 2) == round(v, 2), (k, m.params_[k])
        assert m.params_[k] == pytest.approx(v, abs=5e-4)
    assert m.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert m.converged_ and m.n_iter_ > 0
    assert (m.r_, m.alpha_, m.a_, m.b_) == tuple(m.params_.values())


def test_cdnow_gamma_gamma_published(cdnow):
    m = GammaGammaModel().fit(cdnow["frequency"], cdnow["monetary_value"])
    for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert round(m.params_[k], 2) == v, (k, m.params_[k])
    assert m.n_customers_ == 946
    assert m.expected_average_profit_new_customer() == pytest.approx(m.p_ * m.gamma_ / (m.q_ - 1))


def test_cdnow_mbgnbd_matches_lifetimes(cdnow):
    # lifetimes 0.11.3's ModifiedBetaGeoFitter on the same data: 0.525, 6.183, 0.891, 1.614
    m = ModifiedBetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for k, v in {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}.items():
        assert m.params_[k] == pytest.approx(v, abs=1e-3), k


# ------------------------------------------------------------------------------------------
# predictions
# ------------------------------------------------------------------------------------------


def _with_params(model, **params):
    model.params_ = dict(params)
    for k, v in params.items():
        setattr(model, f"{k}_", v)
    return model


X = np.array([0, 1, 2, 5, 20, 60, 2])
TX = np.array([0, 1.71, 30.43, 35.0, 38.0, 38.5, 5.0])
TT = np.full(7, 38.86)


def test_bgnbd_predictions_reference_values():
    # reference values: closed forms evaluated by lifetimes 0.11.3 with the same parameters
    bg = _with_params(BetaGeoModel(), r=0.243, alpha=4.414, a=0.793, b=2.426)
    np.testing.assert_allclose(
        bg.expected_purchases(13, X, TX, TT),
        [0.0699265946, 0.0746761650, 0.4572097865, 1.2067388099, 5.2202490191, 15.971097431,
         0.0778267020],
        rtol=1e-8,
    )  # fmt: skip
    np.testing.assert_allclose(
        bg.expected_purchases(200, X, TX, TT)[[0, 5]], [0.7559129066, 124.12533455], rtol=1e-8
    )
    np.testing.assert_allclose(
        bg.probability_alive(X, TX, TT),
        [1.0, 0.2121009854, 0.7265785701, 0.8323571873, 0.9473593281, 0.9790921787, 0.1236789227],
        rtol=1e-8,
    )
    np.testing.assert_allclose(
        bg.expected_purchases_new_customer([1.0, 10, 52]),
        [0.0532678912, 0.4324133622, 1.4460505954],
        rtol=1e-8,
    )
    assert bg.expected_purchases(0, 3, 10, 20) == 0.0


def test_mbgnbd_predictions_reference_values():
    mbg = _with_params(ModifiedBetaGeoModel(), r=0.525, alpha=6.183, a=0.891, b=1.614)
    np.testing.assert_allclose(
        mbg.expected_purchases(52, X, TX, TT)[[0, 2, 5]],
        [0.1977058174, 1.5972166308, 47.749826684],
        rtol=1e-8,
    )
    np.testing.assert_allclose(
        mbg.probability_alive(X, TX, TT)[:3], [0.3897350809, 0.1708364843, 0.7062022651], rtol=1e-8
    )
    np.testing.assert_allclose(
        mbg.expected_purchases_new_customer([1.0, 52]), [0.0530847953, 1.4197237577], rtol=1e-8
    )


def test_hyp2f1_matches_series():
    rng = np.random.default_rng(0)
    r, a, b = rng.uniform(0.1, 3, 200), rng.uniform(0.2, 3, 200), rng.uniform(0.2, 5, 200)
    x = rng.integers(0, 300, 200)
    z = rng.uniform(0, 0.97, 200)
    c = a + b + x - 1 + 1  # MBG-style c, always > 0
    args = (c - r - x, a - 1, c, z)
    np.testing.assert_allclose(hyp2f1_stable(*args), hyp2f1_series(*args), rtol=1e-9)
    assert math.isclose(
        float(hyp2f1_series(1.0, 1.0, 2.0, 0.5)), -math.log(0.5) / 0.5, rel_tol=1e-14
    )


def test_expected_purchases_large_history_is_finite():
    bg = _with_params(BetaGeoModel(), r=0.243, alpha=4.414, a=0.793, b=2.426)
    out = bg.expected_purchases([1, 52, 1e4], 2000, 38.8, 38.86)
    assert np.all(np.isfinite(out)) and np.all(np.diff(out) > 0)
    assert bg.probability_alive(2000, 1.0, 38.86) < 1e-100


def test_predictions_calibrated_on_simulated_holdout():
    sim = simulate_customers(40_000, 39.0, 0.4, 5.0, 0.8, 2.5, holdout=39.0, seed=7)
    bg = BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    pred = bg.expected_purchases(39.0, sim["frequency"], sim["recency"], sim["T"])
    assert pred.sum() == pytest.approx(sim["frequency_holdout"].sum(), rel=0.04)
    # and by calibration frequency (0, 1, 2+)
    for sel in (sim["frequency"] == 0, sim["frequency"] == 1, sim["frequency"] >= 2):
        assert pred[sel].sum() == pytest.approx(sim["frequency_holdout"][sel].sum(), rel=0.08)
    new = bg.expected_purchases_new_customer(39.0)[()]
    assert new == pytest.approx(sim["frequency"].mean(), rel=0.04)


def test_gamma_gamma_conditional_profit_and_clv():
    gg = _with_params(GammaGammaModel(), p=6.25, q=3.74, gamma=15.44)
    pop = 6.25 * 15.44 / 2.74
    assert gg.expected_average_profit_new_customer() == pytest.approx(pop)
    out = gg.conditional_expected_average_profit([0, 1, 10], [0.0, 30.0, 30.0])
    assert out[0] == pytest.approx(pop)
    assert out[1] == pytest.approx((15.44 + 30) * 6.25 / (6.25 + 2.74))
    assert abs(out[2] - 30) < abs(out[1] - 30)  # shrinks less towards the mean with more data
    bg = _with_params(BetaGeoModel(), r=0.243, alpha=4.414, a=0.793, b=2.426)
    clv = customer_lifetime_value(bg, gg, [0, 2], [0, 30.43], [38.86, 38.86], [0, 22.35], 52)
    expected = bg.expected_purchases(52, [0, 2], [0, 30.43], [38.86, 38.86]) * (
        gg.conditional_expected_average_profit([0, 2], [0, 22.35])
    )
    np.testing.assert_allclose(clv, expected)
    disc = customer_lifetime_value(bg, gg, [0, 2], [0, 30.43], [38.86] * 2, [0, 22.35], 52, 0.01)
    assert np.all(disc < clv) and np.all(disc > clv / 1.01**52)
    tiny = customer_lifetime_value(bg, gg, [2], [30.43], [38.86], [22.35], 52, 1e-12)
    np.testing.assert_allclose(tiny, clv[1:], rtol=1e-9)


# ------------------------------------------------------------------------------------------
# fitting on simulated data, gradients, sklearn conventions
# ------------------------------------------------------------------------------------------


def test_recovers_simulated_parameters():
    ages = np.random.default_rng(3).uniform(20, 40, 25_000)
    truth = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
    sim = simulate_customers(25_000, ages, **truth, p=6.0, q=4.0, gamma=15.0, seed=11)
    bg = BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    for k, v in truth.items():
        assert bg.params_[k] == pytest.approx(v, rel=0.1), k
    gg = GammaGammaModel().fit(sim["frequency"], sim["monetary_value"])
    for k, v in {"p": 6.0, "q": 4.0, "gamma": 15.0}.items():
        assert gg.params_[k] == pytest.approx(v, rel=0.1), k
    msim = simulate_customers(40_000, 30.0, **truth, modified=True, seed=12)
    mbg = ModifiedBetaGeoModel().fit(msim["frequency"], msim["recency"], msim["T"])
    for k, v in truth.items():
        assert mbg.params_[k] == pytest.approx(v, rel=0.2), k


def test_weights_equal_repeated_rows():
    sim = simulate_customers(3000, 30.0, 0.5, 5.0, 0.8, 2.5, seed=5)
    f, r, t = sim["frequency"], sim["recency"], sim["T"]
    w = np.random.default_rng(0).integers(1, 4, f.size)
    a = BetaGeoModel().fit(f, r, t, weights=w)
    b = BetaGeoModel().fit(np.repeat(f, w), np.repeat(r, w), np.repeat(t, w))
    for k in a.params_:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-5)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)
    assert a.log_likelihood_ == pytest.approx(a.log_likelihood(f, r, t) @ w, rel=1e-9)


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel])
def test_gradient_matches_finite_differences(cls):
    sim = simulate_customers(2000, 30.0, 0.5, 5.0, 0.8, 2.5, seed=1)
    m = cls(penalizer=0.01)
    d = m._compress(sim["frequency"], sim["recency"], sim["T"])
    fun = m._objective(d, 2000.0)
    for x0 in (np.log([0.3, 5, 0.8, 2.0]), np.log([1.5, 0.5, 3, 0.7])):
        num = approx_fprime(x0, lambda z: fun(z)[0], 1e-7)
        np.testing.assert_allclose(fun(x0)[1], num, rtol=1e-4, atol=1e-6)


def test_gamma_gamma_gradient():
    sim = simulate_customers(2000, 30.0, 0.5, 5.0, 0.8, 2.5, p=6.0, q=4.0, gamma=15.0, seed=2)
    d = GammaGammaModel._prepare(sim["frequency"], sim["monetary_value"])
    for params in ([6.0, 4.0, 15.0], [1.0, 1.5, 3.0]):
        p = np.array(params)
        num = approx_fprime(p, lambda z: GammaGammaModel._loglik(z, d, False)[0], 1e-6)
        np.testing.assert_allclose(GammaGammaModel._loglik(p, d, True)[1], num, rtol=1e-4)


def test_sklearn_conventions():
    m = BetaGeoModel(penalizer=0.1, max_iter=50)
    assert m.get_params() == {"penalizer": 0.1, "max_iter": 50, "tol": 1e-8, "initial_params": None}
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "params_")
    sim = simulate_customers(2000, 30.0, 0.5, 5.0, 0.8, 2.5, seed=3)
    assert m.fit(sim["frequency"], sim["recency"], sim["T"]) is m
    unpen = BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    assert sum(v**2 for v in m.params_.values()) < sum(v**2 for v in unpen.params_.values())
    with pytest.raises(ValueError, match="not fitted"):
        BetaGeoModel().probability_alive([1], [1], [2])
    with pytest.raises(ValueError, match="not fitted"):
        GammaGammaModel().conditional_expected_average_profit([1], [2.0])


# ------------------------------------------------------------------------------------------
# validation and convergence errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "r", "t", "match"),
    [
        ([-1, 2], [0, 1], [3, 3], "negative"),
        ([1, 2], [-1, 1], [3, 3], "negative"),
        ([1, 2], [1, 1], [3, -3], "negative"),
        ([1, 2], [4, 1], [3, 3], "greater than T"),
        ([1.5, 2], [1, 1], [3, 3], "whole numbers"),
        ([0, 2], [1, 1], [3, 3], "recency must be 0"),
        ([1, 2], [1, np.nan], [3, 3], "NaN"),
        ([1, 2, 3], [1, 1], [3, 3], "same length"),
        ([], [], [], "no customers"),
    ],
)
def test_bgnbd_value_errors(f, r, t, match):
    with pytest.raises(ValueError, match=match):
        BetaGeoModel().fit(f, r, t)


def test_gamma_gamma_value_errors():
    with pytest.raises(ValueError, match="monetary_value must be > 0"):
        GammaGammaModel().fit([1, 2], [10.0, 0.0])
    with pytest.raises(ValueError, match="monetary_value must be > 0"):
        GammaGammaModel().fit([1, 2], [10.0, -3.0])
    with pytest.raises(ValueError, match="whole numbers"):
        GammaGammaModel().fit([1.2, 2], [10.0, 3.0])
    with pytest.raises(ValueError, match="frequency > 0"):
        GammaGammaModel().fit([0, 0], [0.0, 0.0])
    # customers without repeat purchases may carry any monetary value: they are ignored
    sim = simulate_customers(3000, 30.0, 0.5, 5.0, 0.8, 2.5, p=6.0, q=4.0, gamma=15.0, seed=4)
    money = np.where(sim["frequency"] > 0, sim["monetary_value"], -1.0)
    a = GammaGammaModel().fit(sim["frequency"], money)
    b = GammaGammaModel().fit(sim["frequency"], sim["monetary_value"])
    assert a.params_ == b.params_


def test_prediction_value_errors():
    bg = _with_params(BetaGeoModel(), r=0.243, alpha=4.414, a=0.793, b=2.426)
    with pytest.raises(ValueError, match="t must be >= 0"):
        bg.expected_purchases(-1, 1, 1, 2)
    with pytest.raises(ValueError, match="greater than T"):
        bg.expected_purchases(1, 1, 3, 2)
    gg = _with_params(GammaGammaModel(), p=6.25, q=3.74, gamma=15.44)
    with pytest.raises(ValueError, match="horizon_periods"):
        customer_lifetime_value(bg, gg, [1], [1], [2], [3.0], -1)


def test_convergence_error_on_iteration_limit():
    sim = simulate_customers(2000, 30.0, 0.5, 5.0, 0.8, 2.5, seed=6)
    with pytest.raises(ConvergenceError, match="L-BFGS-B") as err:
        BetaGeoModel(max_iter=1).fit(sim["frequency"], sim["recency"], sim["T"])
    assert isinstance(err.value, RuntimeError)
    assert "Nelder-Mead" in str(err.value)


def test_convergence_error_when_parameters_run_to_bounds():
    # everybody buys ~10 times and is still active at T: no dropout, no rate heterogeneity,
    # so a -> 0 and r, alpha -> infinity
    f = np.random.default_rng(0).poisson(10, 500).astype(float)
    r = np.where(f > 0, 30.0, 0.0)
    with pytest.raises(ConvergenceError, match="bounds"):
        BetaGeoModel().fit(f, r, np.full(500, 30.0))


def test_no_repeat_buyers_is_a_value_error():
    with pytest.raises(ValueError, match="frequency > 0"):
        BetaGeoModel().fit(np.zeros(50), np.zeros(50), np.linspace(1, 30, 50))


# ------------------------------------------------------------------------------------------
# simulated transactions -> SQL summary -> fit
# ------------------------------------------------------------------------------------------


def test_simulated_transactions_round_trip(con):
    tx = simulate_transactions(5000, 0.5, 5.0, 0.8, 2.5, 6.0, 4.0, 15.0, seed=9)
    assert tx.column_names == ["customer_id", "occurred_at", "amount"]
    con.register("sim_tx", tx)
    s = rfm_summary(
        con, "sim_tx", "customer_id", "occurred_at", "amount", "2024-09-30", "D", 7
    )  # start 2024-01-01 + 273 days = 2024-09-30
    assert s.num_rows == 5000
    f, r, t = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    assert np.all(r <= t) and t.max() <= 39.0 and t.min() >= 27.0
    bg = BetaGeoModel().fit(f, r, t)
    assert bg.r_ == pytest.approx(0.5, rel=0.25)
    gg = GammaGammaModel().fit(f, s["monetary_value"].to_numpy())
    assert gg.p_ * gg.gamma_ / (gg.q_ - 1) == pytest.approx(6.0 * 15.0 / 3.0, rel=0.15)


# ------------------------------------------------------------------------------------------
# backtest metrics
# ------------------------------------------------------------------------------------------


def test_normalized_gini_reference_values():
    actual = np.array([0.0, 0.0, 10.0, 30.0])
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, [4, 3, 2, 1]) < 0  # ranked backwards
    # a hand-computed Lorenz area: order 30, 0, 10, 0 -> cum share .75, .75, 1, 1
    gini_pred = 2 * (np.mean([0.375, 0.75, 0.875, 1.0]) - 0.5)
    gini_best = 2 * (np.mean([0.375, 0.875, 1.0, 1.0]) - 0.5)
    assert normalized_gini(actual, [3, 1, 2, 4]) == pytest.approx(gini_pred / gini_best)
    # a constant prediction is exactly random (ties are one block), whatever the input order
    assert normalized_gini(actual, np.ones(4)) == pytest.approx(0.0, abs=1e-12)
    assert normalized_gini(actual[::-1], np.ones(4)) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(normalized_gini(np.zeros(4), [1, 2, 3, 4]))


def test_normalized_gini_is_invariant_to_monotone_transforms_and_order():
    rng = np.random.default_rng(0)
    actual = rng.gamma(0.3, 50.0, 500) * (rng.random(500) < 0.4)
    pred = actual + rng.normal(0, 20, 500)
    g = normalized_gini(actual, pred)
    assert 0 < g < 1
    assert normalized_gini(actual, np.exp(pred / 50)) == pytest.approx(g)
    perm = rng.permutation(500)
    assert normalized_gini(actual[perm], pred[perm]) == pytest.approx(g)
    rounded = np.round(pred, -1)  # many ties: still order-free
    assert normalized_gini(actual[perm], rounded[perm]) == pytest.approx(
        normalized_gini(actual, rounded)
    )


def test_decile_calibration_and_backtest_metrics():
    actual = np.arange(25, dtype=float)
    pred = actual * 2
    table = decile_calibration(actual, pred, keys=np.arange(25))
    rows = table.to_pylist()
    assert [r["decile"] for r in rows] == list(range(1, 11))
    assert sum(r["customers"] for r in rows) == 25
    assert rows[-1]["actual_mean"] == pytest.approx(23.5)  # the top decile: 23, 24
    assert all(r["predicted_mean"] == pytest.approx(2 * r["actual_mean"]) for r in rows)
    m = backtest_metrics(actual, pred)
    assert m["mae"] == pytest.approx(12.0)
    assert m["spearman"] == pytest.approx(1.0) and m["gini"] == pytest.approx(1.0)
    assert m["aggregate_ratio"] == pytest.approx(2.0)
    assert m["predicted_total"] == pytest.approx(600.0) and m["customers"] == 25
    assert math.isnan(backtest_metrics([1.0, 2.0], [3.0, 3.0])["spearman"])
    with pytest.raises(ValueError, match="same length"):
        backtest_metrics([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        normalized_gini([1.0, np.nan], [1.0, 2.0])
