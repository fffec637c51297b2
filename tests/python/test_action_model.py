"""Tests of the action-prediction modelling core (pcdp.action) on simulated customers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from pcdp.action import (
    ActionConfig,
    ConfigError,
    EligibleRule,
    EventFilter,
    TrainingError,
    calibration_curve,
    expected_calibration_error,
    min_useful_segment,
    parse_action_config,
    score_batches,
    score_table,
    select_threshold,
    train_action_model,
)

RFM = ("recency_days", "frequency", "monetary")
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def simulate(
    n_customers: int, cutoffs: int = 4, seed: int = 0, id_prefix: str = "c"
) -> tuple[pa.Table, list[str]]:
    """Customers observed at ``cutoffs`` monthly cutoffs. The label depends on RFM, on two
    extra behavioural features (one of them only through an interaction) and on Bernoulli noise;
    ``noise_*`` features carry no signal; some values are null."""
    rng = np.random.default_rng(seed)
    n = n_customers
    engagement = rng.normal(size=n)  # persistent, drives RFM
    affinity = rng.normal(size=n)  # persistent, drives the extra features
    ids = np.array([f"{id_prefix}{i:07d}" for i in range(n)], dtype=object)
    parts = []
    for k in range(cutoffs):
        frequency = rng.poisson(np.exp(0.3 + 0.6 * engagement)).astype(float)
        recency = rng.exponential(40 * np.exp(-0.5 * engagement)).round()
        monetary = frequency * rng.lognormal(3.0, 0.6, n)
        events_30d = rng.poisson(np.exp(1.0 + 0.4 * engagement + 0.3 * rng.normal(size=n)))
        page_depth = affinity + 0.6 * rng.normal(size=n)
        cart_adds = rng.normal(size=n)
        email_clicks = rng.normal(size=n)
        logit = (
            -2.2
            + 0.35 * np.log1p(frequency)
            - 0.006 * recency
            + 0.8 * page_depth
            + 0.9 * cart_adds * (email_clicks > 0)
        )
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        page_depth[rng.random(n) < 0.1] = np.nan
        monetary[rng.random(n) < 0.05] = np.nan
        cols = {
            "customer_id": ids,
            "cutoff_at": np.full(n, pd.Timestamp(START + dt.timedelta(days=30 * k))),
            "label": label,
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
            "events_30d": events_30d,
            "page_depth": page_depth,
            "cart_adds": cart_adds,
            "email_clicks": email_clicks,
        }
        for j in range(4):
            cols[f"noise_{j}"] = rng.normal(size=n)
        parts.append(pd.DataFrame(cols))
    frame = pd.concat(parts, ignore_index=True)
    features = [c for c in frame.columns if c not in ("customer_id", "cutoff_at", "label")]
    return pa.Table.from_pandas(frame, preserve_index=False), features


def config(**overrides) -> ActionConfig:
    raw = {"id": "buy", "type": "action_prediction", "positive": "order_completed"}
    raw.update(overrides)
    return parse_action_config(raw)


def matrix(table: pa.Table, columns) -> np.ndarray:
    return np.column_stack(
        [table.column(c).to_numpy(zero_copy_only=False).astype(float) for c in columns]
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # OpenMP spin-waiting makes HistGradientBoosting crawl on a busy CI box; one thread is
    # fast at this size and immune to other processes.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    table, features = simulate(12_000, cutoffs=4, seed=1)
    fresh, _ = simulate(40_000, cutoffs=1, seed=99, id_prefix="f")
    return table, features, fresh


@pytest.fixture(scope="module")
def small():
    return simulate(4000, cutoffs=3, seed=2)


@pytest.fixture(scope="module")
def result(data):
    table, features, _ = data
    return train_action_model(table, features, config())


# ------------------------------------------------------------------------------- config


def test_config_defaults_and_shapes():
    cfg = parse_action_config(
        {
            "id": "buy_again",
            "type": "action_prediction",
            "status": "ready",
            "positive": [
                "order_completed",
                {"event": "subscribe", "properties": {"plan": "pro", "annual": True}},
            ],
            "negative": {"event": "unsubscribe"},
            "eligible": {"event": "page_view", "properties": {"section": "shop"}},
        }
    )
    assert cfg.instance_id == "buy_again"
    assert cfg.positive == (
        EventFilter("order_completed"),
        EventFilter("subscribe", (("annual", True), ("plan", "pro"))),
    )
    assert cfg.negative == (EventFilter("unsubscribe"),)
    assert cfg.eligible == EligibleRule("event", EventFilter("page_view", (("section", "shop"),)))
    assert cfg.positive[1].matches("subscribe", {"plan": "pro", "annual": True, "x": 1})
    assert not cfg.positive[1].matches("subscribe", {"plan": "basic", "annual": True})
    assert (cfg.outcome, cfg.past_window_days, cfg.future_window_days) == ("did", 90, 30)
    assert (cfg.precision_level, cfg.max_training_rows, cfg.seed) == ("medium", 100_000, 42)
    assert parse_action_config({"id": "a", "positive": "x", "eligible": "has_ordered"}).eligible
    with pytest.raises(AttributeError):
        cfg.seed = 1  # frozen


def test_precision_levels_relative_to_base_rate():
    for base in (0.02, 0.2, 0.6):
        low, med, high = (
            config(precision_level=v).target_precision(base) for v in ("low", "medium", "high")
        )
        assert base < low < med < high < 1
    assert config().target_precision(0.2) == pytest.approx(0.5)  # odds 0.25 * 4 = 1
    assert config(precision_level=0.7).target_precision(0.01) == 0.7


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"future_window_days": -3}, "future_window_days must be a positive integer, got -3"),
        ({"past_window_days": "90"}, "past_window_days must be a positive integer"),
        ({"past_window_days": True}, "past_window_days must be a positive integer"),
        ({"precision_level": 1.0}, "precision_level"),
        ({"precision_level": "very high"}, "precision_level"),
        ({"outcome": "maybe"}, "outcome must be did or did_not"),
        ({"positive": None}, "positive is required"),
        ({"positive": []}, "positive must be"),
        ({"positive": [{"properties": {"a": 1}}]}, "positive filter needs 'event'"),
        ({"positive": [{"event": "x", "properties": {"a": [1]}}]}, "property 'a'"),
        ({"negative": "order_completed"}, "negative repeats a positive"),
        ({"eligible": "sometimes"}, "eligible must be one of"),
        ({"max_training_rows": 10}, "max_training_rows must be at least 1000"),
        ({"seed": -1}, "seed must be"),
        ({"min_positive_count": 0}, "min_positive_count must be a positive integer"),
        ({"precison_level": "high"}, "unknown key(s) precison_level"),
        ({"positive": {"event": "app_open", "min_count": 0}}, "positive filter min_count"),
        ({"eligible": {"event": "app_open", "min_count": "3"}}, "eligible filter min_count"),
        ({"positive": {"event": "x", "count": 3}}, "unknown key(s) ['count']"),
    ],
)
def test_config_refusals_name_instance_and_key(overrides, fragment):
    raw = {"id": "churn", "type": "action_prediction", "positive": "order_completed"}
    raw.update(overrides)
    with pytest.raises(ConfigError) as err:
        parse_action_config(raw)
    assert str(err.value).startswith("instance 'churn': ")
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_min_count_and_property_value_rules():
    cfg = config(positive={"event": "app_open", "min_count": 3}, eligible={"event": "login"})
    assert cfg.positive == (EventFilter("app_open", (), 3),)
    assert cfg.eligible.event_filter.min_count == 1
    assert config(positive=["a", {"event": "a", "min_count": 2}]).positive[1].min_count == 2
    # text matches the value as text, numbers numerically, booleans and null only themselves
    cases = [
        ("5", {"v": 5}, True),
        ("5", {"v": "5"}, True),
        ("5", {"v": 5.0}, True),
        ("true", {"v": True}, True),
        ("pro", {"v": "pro"}, True),
        ("pro", {"v": "Pro"}, False),
        (5, {"v": "5"}, True),
        (5, {"v": 5.0}, True),
        (5, {"v": True}, False),
        (True, {"v": "true"}, False),
        (True, {"v": True}, True),
        (False, {"v": False}, True),
        (None, {"v": None}, True),
        (None, {}, False),
        ("x", {}, False),
        ("x", {"v": None}, False),
    ]
    for expected, props, want in cases:
        got = EventFilter("e", (("v", expected),)).matches("e", props)
        assert got is want, (expected, props)


# ------------------------------------------------------------------------------- training


def test_quality_beats_rfm_baseline(data, result):
    table, features, fresh = data
    m = result.metrics
    assert result.chosen_model in ("hist_gradient_boosting", "logistic_regression")
    assert m["validation_rows"] == 12_000
    assert m["training_rows"] == 36_000
    assert 0.1 < m["base_rate"] < 0.3
    assert m["roc_auc"] > 0.75 and m["lift_top_decile"] > 2.0
    assert {
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "expected_calibration_error",
        "precision_at_threshold",
        "recall_at_threshold",
        "segment_share_at_threshold",
        "threshold",
        "training_positives",
        "precision_target",
        "precision_target_reached",
    } <= set(m)
    assert all(isinstance(v, float) for v in m.values())
    # the extra features carry signal: the model beats an RFM-only gradient boosting baseline
    train = table.filter(
        pa.compute.less(table["cutoff_at"], pa.scalar(pd.Timestamp(START + dt.timedelta(days=90))))
    )
    base = HistGradientBoostingClassifier(random_state=0).fit(
        matrix(train, RFM), train["label"].to_numpy()
    )
    y_fresh = fresh["label"].to_numpy()
    ap_base = average_precision_score(y_fresh, base.predict_proba(matrix(fresh, RFM))[:, 1])
    ap_model = average_precision_score(y_fresh, result.predict(matrix(fresh, features)))
    assert ap_model > ap_base + 0.1
    top = [name for name, _ in result.top_features]
    assert len(top) == 10 and set(top[:3]) <= {"page_depth", "cart_adds", "email_clicks"}


def test_calibration_and_segment_precision_on_fresh_sample(data, result):
    _, features, fresh = data
    y = fresh["label"].to_numpy()
    s = result.predict(matrix(fresh, features))
    assert result.calibration_method == "isotonic"
    assert expected_calibration_error(y, s) <= 0.03
    assert result.metrics["expected_calibration_error"] <= 0.04
    target = result.metrics["precision_target"]
    assert target == pytest.approx(config().target_precision(result.metrics["base_rate"]))
    assert result.metrics["precision_target_reached"] == 1.0
    segment = s >= result.threshold
    assert 0.01 < segment.mean() < 0.9
    assert abs(y[segment].mean() - target) <= 0.05


def test_higher_level_gives_smaller_surer_segment(data, result):
    _, features, fresh = data
    y = fresh["label"].to_numpy()
    s = result.predict(matrix(fresh, features))
    base = y.mean()
    low, med, high = (
        select_threshold(y, s, config(precision_level=v).target_precision(base))
        for v in ("low", "medium", "high")
    )
    assert low.threshold < med.threshold < high.threshold
    assert low.segment_count > med.segment_count > high.segment_count
    assert low.precision < med.precision < high.precision
    assert low.target_reached and med.target_reached


def test_precision_curve(result):
    curve = result.precision_curve.to_pandas()
    assert list(curve.columns) == [
        "threshold",
        "precision",
        "recall",
        "false_positive_rate",
        "segment_share",
        "segment_count",
        "lift",
    ]
    assert 5 <= len(curve) <= 100
    assert curve["threshold"].is_monotonic_decreasing
    assert curve["segment_count"].is_monotonic_increasing
    assert curve["false_positive_rate"].is_monotonic_increasing
    assert curve["recall"].iloc[-1] == pytest.approx(1.0)
    assert curve["false_positive_rate"].iloc[-1] == pytest.approx(1.0)
    assert curve["segment_share"].iloc[-1] == pytest.approx(1.0)
    assert curve["lift"].iloc[-1] == pytest.approx(1.0)
    # the ROC area under the curve's points is close to the published AUC (points are coarse)
    fpr = np.concatenate([[0.0], curve["false_positive_rate"]])
    tpr = np.concatenate([[0.0], curve["recall"]])
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(result.metrics["roc_auc"], abs=0.02)


def test_calibration_curve_matches_the_expected_calibration_error(result):
    curve = result.calibration_curve.to_pandas()
    assert list(curve["bin"]) == list(range(1, 11))
    assert curve["customers"].sum() == result.metrics["evaluation_rows"]
    assert curve["predicted_mean"].is_monotonic_increasing
    gap = (curve["predicted_mean"] - curve["observed_rate"]).abs()
    ece = float((gap * curve["customers"]).sum() / curve["customers"].sum())
    assert ece == pytest.approx(result.metrics["expected_calibration_error"])
    assert calibration_curve(np.array([]), np.array([])).num_rows == 0


def test_unreachable_target_is_recorded_not_empty():
    y = np.array([1] * 30 + [0] * 970)
    s = np.linspace(1, 0, 1000)
    s[:30] = 0.5 + np.arange(30)[::-1] / 1000  # positives interleave with negatives
    s[30:60] = 0.55
    choice = select_threshold(y, s, target=0.99)
    assert not choice.target_reached
    assert choice.segment_count >= min_useful_segment(1000) == 20


def test_unreachable_target_in_training(small):
    table, features = small
    res = train_action_model(table, features, config(precision_level=0.99))
    assert res.metrics["precision_target_reached"] == 0.0
    assert res.metrics["segment_count_at_threshold"] >= 20  # max(20, 1 % of ~2000 evaluated rows)
    assert res.notes and "not reached" in res.notes[0]
    scored = score_table(res, table.slice(0, 5000))
    assert pa.compute.sum(scored["segment"]).as_py() > 0


def test_training_errors(data):
    table, features, _ = data
    zeros = table.set_column(
        table.schema.get_field_index("label"), "label", pa.array(np.zeros(len(table), np.int64))
    )
    with pytest.raises(TrainingError, match="instance 'buy': no positive labels"):
        train_action_model(zeros, features, config())
    ones = zeros.set_column(2, "label", pa.array(np.ones(len(table), np.int64)))
    with pytest.raises(TrainingError, match="no negative labels"):
        train_action_model(ones, features, config())
    one_cutoff, _ = simulate(2000, cutoffs=1, seed=3)
    with pytest.raises(TrainingError, match="single cutoff"):
        train_action_model(one_cutoff, features, config())
    tiny, _ = simulate(60, cutoffs=3, seed=3)
    with pytest.raises(TrainingError, match="too few"):
        train_action_model(tiny, features, config())
    with pytest.raises(TrainingError, match="not in the frame"):
        train_action_model(table, [*features, "nope"], config())


def test_bounded_sample_and_did_not(small):
    table, features = small
    res = train_action_model(
        table, features, config(max_training_rows=3000, outcome="did_not"), label_is_did=True
    )
    assert res.metrics["training_rows"] == 3000
    assert res.metrics["validation_rows"] == 3000
    assert res.metrics["training_rows_available"] == 8000
    assert res.metrics["base_rate"] > 0.6  # did_not: the complement of the buy rate
    assert res.metrics["roc_auc"] > 0.7


def test_determinism_and_order_independence(small):
    table, features = small
    result = train_action_model(table, features, config())
    shuffled = table.take(pa.array(np.random.default_rng(5).permutation(len(table))))
    again = train_action_model(shuffled.to_pandas(), features, config())
    assert again.metrics == result.metrics
    assert again.top_features == result.top_features
    assert again.chosen_model == result.chosen_model
    assert again.precision_curve.equals(result.precision_curve)
    x = matrix(table.slice(0, 3000), features)
    assert np.array_equal(again.predict(x), result.predict(x))


def test_batch_scoring_equals_one_shot(data, result):
    _, features, fresh = data
    expected = result.predict(matrix(fresh, features))
    batches = fresh.drop_columns(["label"]).to_batches(max_chunksize=7777)
    out = list(score_batches(result, iter(batches), chunk_rows=3000))
    assert all(b.num_rows <= 3000 for b in out)
    scored = pa.Table.from_batches(out)
    assert scored.column_names == ["customer_id", "score", "segment"]
    assert scored["customer_id"].to_pylist() == fresh["customer_id"].to_pylist()
    # the ids are copied out of the input batches, which can then be freed
    assert scored["customer_id"].chunk(0).buffers()[2].address != (
        batches[0].column("customer_id").buffers()[2].address
    )
    np.testing.assert_allclose(scored["score"].to_numpy(), expected, rtol=0, atol=1e-12)
    assert np.array_equal(scored["segment"].to_numpy(), expected >= result.threshold)
    assert ((expected >= 0) & (expected <= 1)).all()
    with pytest.raises(ValueError, match="lacks column"):
        list(score_batches(result, [fresh.drop_columns(["page_depth"]).to_batches()[0]]))


def test_scoring_and_importance_are_the_same_with_more_threads(data, result):
    # a pool hands its idle workers' threads to the instances still running (RunContext.threads):
    # that is only allowed for work whose result does not depend on the number of threads
    table, features, fresh = data
    asked = []

    def two_threads() -> int:
        asked.append(2)
        return 2

    batches = fresh.drop_columns(["label"]).to_batches(max_chunksize=7777)
    one = pa.Table.from_batches(list(score_batches(result, batches, n_threads=1)))
    two = pa.Table.from_batches(list(score_batches(result, batches, n_threads=two_threads)))
    assert two.equals(one)
    assert len(asked) == len(batches)  # asked again for every slice
    again = train_action_model(table, features, config(), n_threads=1, predict_threads=2)
    assert again.top_features == result.top_features
    assert again.metrics == result.metrics


@pytest.mark.parametrize("candidate", ["hist_gradient_boosting", "logistic_regression"])
def test_prediction_in_cache_sized_blocks_equals_one_call(data, monkeypatch, candidate):
    from pcdp.action import model as action_model

    table, features, fresh = data
    x = matrix(fresh, features)
    y = fresh["label"].to_numpy()
    cut = np.zeros(len(y))  # one cutoff: no early-stopping probe, a fixed number of trees
    if candidate == "hist_gradient_boosting":
        fitted = action_model._fit_hgb(x, y, cut, seed=0)
    else:
        fitted = action_model._fit_logreg(x, y, seed=0)
    expected = fitted.predict_proba(x)[:, 1]
    # blocks of 3,000 rows and a shorter last one
    monkeypatch.setattr(action_model, "PREDICT_BLOCK_BYTES", 8 * len(features) * 3000)
    assert len(x) > 6000 and len(x) % 3000
    assert np.array_equal(action_model.positive_probability(fitted, x), expected)


def test_small_validation_uses_sigmoid_and_result_pickles():
    import pickle

    table, features = simulate(1500, cutoffs=3, seed=4)
    res = train_action_model(table, features, config(precision_level="high"))
    assert res.calibration_method == "sigmoid"
    assert res.metrics["calibration_isotonic"] == 0.0
    clone = pickle.loads(pickle.dumps(res))
    x = matrix(table.slice(0, 1500), features)
    assert np.array_equal(clone.predict(x), res.predict(x))
    scored = score_table(clone, table.slice(0, 1500))
    assert scored.num_rows == 1500
    assert np.array_equal(scored["score"].to_numpy(), res.predict(x))


def test_logistic_imputer_uses_the_median_of_observed_values():
    """The logistic pipeline fills each column with the median of its observed values, exactly
    as SimpleImputer(strategy="median"), and drops a column that has none."""
    from sklearn.impute import SimpleImputer

    from pcdp.action.model import _fit_logreg

    rng = np.random.default_rng(3)
    x = rng.lognormal(size=(400, 6))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 4] = np.nan
    y = (rng.random(400) < 0.4).astype(np.int64)
    with pytest.warns(UserWarning, match="without any observed values"):
        pipe = _fit_logreg(x, y, seed=0)
        logged = pipe.named_steps["log1p"].transform(x)
        expected = SimpleImputer(strategy="median", add_indicator=True).fit(logged)
    statistics = pipe.named_steps["impute"].statistics_
    assert np.array_equal(statistics, expected.statistics_, equal_nan=True)
    assert np.isnan(statistics[4]) and not np.isnan(statistics[[0, 1, 2, 3, 5]]).any()
