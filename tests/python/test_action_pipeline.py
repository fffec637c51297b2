"""Action prediction wired into the nightly run (pcdp.types.action_prediction, pcdp.action.sql).

SQL-level tests (labels, eligibility, outcome features, leakage) run on small hand-made
relations in an in-memory DuckDB. End-to-end tests read the session `warehouse` (default
instances.yml on 1,500 generated customers) and compare scores with the generator's truth;
one extra `pcdp run` checks a broken instance next to working ones (and that the same
configuration gives the same scores). At 1,500 customers the calibration and segment-precision
figures carry a sampling error comparable to their targets, so the strict targets are asserted
by the opt-in test_truth_targets_at_20k_customers (PCDP_LARGE_TESTS=1, ~5 minutes).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import yaml
from conftest import AS_OF, build
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from pcdp.action import EventFilter, expected_calibration_error, parse_action_config
from pcdp.action.sql import cutoff_rows_sql, event_filter_sql, timestamp_sql
from pcdp.generate import generate
from pcdp.instances import InstanceConfigError, InstanceSpec, parse_instances
from pcdp.project import instance_model_inputs, project_dir
from pcdp.runtime import RunContext, run_instance_types
from pcdp.types import action_prediction as ap
from pcdp.types import validation

ACTION_IDS = ("action_prediction", "cart_abandonment", "churn_30d", "engagement")
AS_OF_CUTOFF = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time())
WAREHOUSE_RELATIONS = instance_model_inputs("instance_outputs__action_prediction")[1]


# ------------------------------------------------------------------ SQL on hand-made data

EVENTS_DDL = """create or replace table {name} (
    customer_id varchar, event_id varchar, event_name varchar, occurred_at timestamp,
    product_id varchar, product_category varchar, page_url varchar, revenue decimal(18, 2),
    properties varchar, customer_key bigint)"""
ORDERS_DDL = """create or replace table {name} (
    customer_id varchar, order_id varchar, ordered_at timestamp, status varchar,
    is_completed boolean, amount_reporting decimal(18, 2), customer_key bigint)"""
# customers c00 .. c39 with keys 1 .. 40, as the warehouse's customers table keys them
CUSTOMERS_SQL = """create or replace table cust as
    select 'c' || lpad(i::varchar, 2, '0') as customer_id, i + 1 as customer_key
    from range(40) as r (i)"""
KEY_OF_ID = "cast(substr(customer_id, 2) as bigint) + 1"
CUTOFFS = (dt.datetime(2025, 3, 1), dt.datetime(2025, 3, 31))
PAST, FUTURE = 30, 20
NAMES = ("buy", "app", "view", "cart")
PROPS = (None, '{"v": "5"}', '{"v": 5}', '{"v": "4"}', "{not json", '{"w": 1}')
SQL_CONFIG = {
    "id": "t",
    "positive": ["buy", {"event": "app", "properties": {"v": "5"}, "min_count": 2}],
    "negative": {"event": "view"},
    "eligible": "active_in_past_window",
    "past_window_days": PAST,
    "future_window_days": FUTURE,
}


def random_events(rng: np.random.Generator, n: int, start: dt.datetime, days: float, tag: str):
    return [
        (
            f"c{int(rng.integers(0, 40)):02d}",
            f"{tag}{i}",
            NAMES[int(rng.integers(0, len(NAMES)))],
            start + dt.timedelta(seconds=int(rng.integers(0, int(days * 86400)))),
            None,
            None,
            None,
            None,
            PROPS[int(rng.integers(0, len(PROPS)))],
        )
        for i in range(n)
    ]


def random_orders(rng: np.random.Generator, n: int, start: dt.datetime, days: float, tag: str):
    return [
        (
            f"c{int(rng.integers(0, 40)):02d}",
            f"{tag}{i}",
            start + dt.timedelta(seconds=int(rng.integers(0, int(days * 86400)))),
            "completed" if rng.random() < 0.8 else "cancelled",
            None,
            10,
        )
        for i in range(n)
    ]


def load(con, events: list, orders: list, seed: int = 0) -> None:
    """(Re)create tables ev / ord with the rows inserted in a shuffled order."""
    rng = np.random.default_rng(seed)
    con.execute(EVENTS_DDL.format(name="ev"))
    con.execute(ORDERS_DDL.format(name="ord"))
    ev_cols = ("customer_id", "event_id", "event_name", "occurred_at", "product_id")
    ev_cols += ("product_category", "page_url", "revenue", "properties")
    rows = [events[i] for i in rng.permutation(len(events))]
    batch = pa.table({c: [r[j] for r in rows] for j, c in enumerate(ev_cols)})  # noqa: F841
    con.execute(f"insert into ev select *, {KEY_OF_ID} from batch")
    rows = [orders[i] for i in rng.permutation(len(orders))]
    rows = [(*r[:4], r[3] == "completed", r[5]) for r in rows]
    or_cols = ("customer_id", "order_id", "ordered_at", "status", "is_completed", "amount")
    batch = pa.table({c: [r[j] for r in rows] for j, c in enumerate(or_cols)})  # noqa: F841
    con.execute(f"insert into ord select *, {KEY_OF_ID} from batch")
    con.execute(CUSTOMERS_SQL)


def frame(con, config, with_label: bool = True) -> dict[tuple, tuple]:
    spine = (
        "(select 'c' || lpad(i::varchar, 2, '0') as customer_id, c as cutoff_at"
        f" from range(40) as r (i), (values ({timestamp_sql(CUTOFFS[0])}),"
        f" ({timestamp_sql(CUTOFFS[1])})) as k (c))"
    )
    sql = cutoff_rows_sql(
        config, spine=spine, events="ev", orders="ord", customers="cust", with_label=with_label
    )
    rows = con.sql(sql).fetchall()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


@pytest.fixture(scope="module")
def history():
    rng = np.random.default_rng(3)
    start = CUTOFFS[0] - dt.timedelta(days=45)
    events = random_events(rng, 1500, start, 130, "e")
    orders = random_orders(rng, 120, start, 130, "o")
    return events, orders


def reference(events, orders, config) -> dict[tuple, tuple]:
    """Brute-force Python reading of the rules (pcdp.action.sql docstring)."""

    def props(text):
        try:
            value = json.loads(text) if text is not None else {}
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def hits(f: EventFilter, rows) -> int:
        count = 0
        for r in rows:
            if f.properties:
                parsed = props(r[8])
                if parsed is None:
                    continue
                count += f.matches(r[2], parsed)
            else:
                count += r[2] == f.event
        return count

    out = {}
    for cutoff in CUTOFFS:
        lo, hi = cutoff - dt.timedelta(days=PAST), cutoff + dt.timedelta(days=FUTURE)
        for i in range(40):
            cid = f"c{i:02d}"
            mine = [r for r in events if r[0] == cid]
            past = [r for r in mine if lo <= r[3] < cutoff]
            future = [r for r in mine if cutoff <= r[3] < hi]
            active = past or any(
                r[0] == cid and r[3] == "completed" and lo <= r[2] < cutoff for r in orders
            )
            if not active:
                continue
            pos_past = [r for r in past if any(hits(f, [r]) for f in config.positive)]
            did = any(hits(f, future) >= f.min_count for f in config.positive)
            neg = any(hits(f, future) >= f.min_count for f in config.negative)
            out[(cid, cutoff)] = (
                len(pos_past),
                min(((cutoff.date() - r[3].date()).days for r in pos_past), default=None),
                sum(1 for r in past if hits(config.negative[0], [r])),
                1 if did else (0 if neg else None),
            )
    return out


def test_labels_features_and_eligibility_follow_the_rules(history):
    events, orders = history
    config = parse_action_config(SQL_CONFIG)
    con = duckdb.connect()
    load(con, events, orders)
    got = frame(con, config)
    want = reference(events, orders, config)
    assert got == want
    labels = [v[-1] for v in got.values()]
    assert {0, 1, None} <= set(labels), "the data should exercise every label value"


def test_events_after_a_cutoffs_future_window_change_nothing_for_it(history):
    """Leakage: adding and shuffling events (and orders) after a cutoff's future window leaves
    that cutoff's labels, features and eligibility unchanged; events inside the future window
    may change the label only."""
    events, orders = history
    config = parse_action_config(SQL_CONFIG)
    con = duckdb.connect()
    load(con, events, orders)
    before = frame(con, config)
    rng = np.random.default_rng(11)
    for cutoff in CUTOFFS:
        end = cutoff + dt.timedelta(days=FUTURE)
        later = random_events(rng, 600, end, 90, "late")
        later_orders = random_orders(rng, 60, end, 90, "late")
        load(con, events + later, orders + later_orders, seed=5)
        after = frame(con, config)
        for key, value in before.items():
            if key[1] <= cutoff:
                assert after.get(key) == value, key
        assert {k for k in after if k[1] <= cutoff} == {k for k in before if k[1] <= cutoff}
    # inside the future window: features and eligibility stay, labels may move
    cutoff = CUTOFFS[1]
    inside = random_events(rng, 400, cutoff, FUTURE - 0.001, "in")
    load(con, events + inside, orders, seed=9)
    after = frame(con, config)
    mine = {k: v for k, v in before.items() if k[1] == cutoff}
    assert {k: v[:-1] for k, v in after.items() if k[1] == cutoff} == {
        k: v[:-1] for k, v in mine.items()
    }
    assert any(after[k][-1] != v[-1] for k, v in mine.items())


def test_other_eligibility_rules_in_sql(history):
    events, orders = history
    con = duckdb.connect()
    load(con, events, orders)
    base = {"id": "t", "positive": "buy", "past_window_days": PAST, "future_window_days": FUTURE}
    everyone = frame(con, parse_action_config(base), with_label=False)
    assert len(everyone) == 80
    ordered = frame(con, parse_action_config({**base, "eligible": "has_ordered"}), False)
    for cid, cutoff in everyone:
        expected = any(o[0] == cid and o[3] == "completed" and o[2] < cutoff for o in orders)
        assert ((cid, cutoff) in ordered) is expected
    rule = {"event": "cart", "min_count": 3}
    carts = frame(con, parse_action_config({**base, "eligible": rule}), False)
    for cid, cutoff in everyone:
        lo = cutoff - dt.timedelta(days=PAST)
        n = sum(1 for r in events if r[0] == cid and r[2] == "cart" and lo <= r[3] < cutoff)
        assert ((cid, cutoff) in carts) is (n >= 3)
    assert 0 < len(carts) < len(everyone)


def test_property_filter_sql_agrees_with_python():
    con = duckdb.connect()
    docs = [
        '{"v": 5}',
        '{"v": "5"}',
        '{"v": 5.0}',
        '{"v": true}',
        '{"v": false}',
        '{"v": null}',
        '{"v": "pro"}',
        '{"v": [5]}',
        '{"a/b~c": "x", "it\'s": 1}',
        "{}",
        "[1]",
        "not json",
    ]
    values = ["5", 5, 5.0, True, False, None, "pro", "true", "x", 1]
    for key in ("v", "a/b~c", "it's"):
        for value in values:
            f = EventFilter("e", ((key, value),))
            for doc in docs:
                try:
                    parsed = json.loads(doc)
                except ValueError:
                    parsed = None
                want = isinstance(parsed, dict) and f.matches("e", parsed)
                got = con.execute(
                    f"select {event_filter_sql(f)} from (select 'e' as event_name, ?"
                    " as properties)",
                    [doc],
                ).fetchall()[0][0]
                assert got is want, (key, value, doc)


# ------------------------------------------------------------------ validation and checks


def test_validator_is_registered_and_names_the_key():
    specs = parse_instances(
        {
            "instances": [
                {"id": "ok", "type": "action_prediction", "positive": "order_completed"},
                {"id": "bad", "type": "action_prediction", "positive": "x", "outcome": "maybe"},
                {"id": "typo", "type": "action_prediction", "positive": "x", "past_window": 9},
            ]
        }
    )
    by_id = {s.id: s for s in specs}
    assert by_id["ok"].error is None and by_id["ok"].params["positive"] == "order_completed"
    assert by_id["bad"].error == "instance 'bad': outcome must be did or did_not, got 'maybe'"
    assert "unknown key(s) past_window" in by_id["typo"].error
    with pytest.raises(InstanceConfigError, match="instance 'z': positive is required"):
        validation.validate_action_prediction("z", {})


@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "fragments"),
    [
        (
            {"positive": "never_happens"},
            ["positive event 'never_happens' never occurs", "known event names: add_to_cart"],
        ),
        (
            {"positive": "order_completed", "negative": ["page_view", "nope"]},
            ["negative event 'nope' never occurs"],
        ),
        ({"positive": "login", "eligible": {"event": "nope"}}, ["eligible event 'nope'"]),
        (
            {"positive": "login", "past_window_days": 700, "future_window_days": 60},
            ["past_window_days (700) + future_window_days (60) = 760 days", "history"],
        ),
        ({"positive": "login", "future_window_days": 170}, ["future_window_days (170) is too"]),
        ({"positive": "login", "past_window_days": 690}, ["past_window_days (690) is too long"]),
        (
            {"positive": {"event": "login", "properties": {"method": "carrier_pigeon"}}},
            ["positive: no eligible customer did 'login' with method='carrier_pigeon'"],
        ),
    ],
)
def test_configurations_that_cannot_work_are_refused(con, params, fragments):
    spec = InstanceSpec(
        "x", "action_prediction", "ready", validation.validate_action_prediction("x", params)
    )
    context = RunContext(con, AS_OF, dict(WAREHOUSE_RELATIONS))
    with pytest.raises(ap.ActionPredictionError) as err:
        ap.run(spec, context)
    assert str(err.value).startswith("instance 'x': ")
    for fragment in fragments:
        assert fragment in str(err.value)


@pytest.mark.slow
def test_only_complete_future_windows_train(con):
    config = parse_action_config({"id": "x", "positive": "login", "future_window_days": 45})
    cutoffs = ap.usable_cutoffs(
        config,
        con,
        "customer_feature_snapshots",
        "int_customer_events",
        "int_customer_orders",
        AS_OF,
    )
    assert len(cutoffs) == 5  # 30 days before the as-of cutoff is too late for a 45-day window
    assert all(c + dt.timedelta(days=45) <= AS_OF_CUTOFF for c in cutoffs)


# ------------------------------------------------------------------ the nightly run


@pytest.mark.slow
def test_every_example_instance_completes_with_profile_columns(con):
    status = dict(
        con.execute(
            "select instance_id, status from model_instances where type = 'action_prediction'"
        ).fetchall()
    )
    assert status == dict.fromkeys(ACTION_IDS, "Complete")
    columns = {row[0]: row[1] for row in con.execute("describe customer_profile").fetchall()}
    for iid in ACTION_IDS:
        assert columns[f"{iid}_score"] == "DOUBLE"
        assert columns[f"{iid}_segment"] == "BOOLEAN"
        bad, scored, segment = con.execute(
            f"""select
                count(*) filter (where not {iid}_score between 0 and 1
                    or ({iid}_score is null) != ({iid}_segment is null)),
                count({iid}_score), count(*) filter (where {iid}_segment)
            from customer_profile"""
        ).fetchall()[0]
        assert bad == 0
        assert 0 < segment < scored
    everyone, scored, carts = con.execute(
        """select count(*), count(action_prediction_score), count(cart_abandonment_score)
        from customer_profile"""
    ).fetchall()[0]
    assert scored == everyone  # eligible: all
    eligible = con.execute(
        f"""select count(distinct customer_key) from int_customer_events
        where event_name = 'add_to_cart' and occurred_at >= {timestamp_sql(AS_OF_CUTOFF)}
            - to_days(30)"""
    ).fetchall()[0][0]
    assert carts == eligible  # only eligible customers are scored


def test_instances_trained_side_by_side_give_the_records_of_one_at_a_time(con):
    # The run built instance_outputs__action_prediction with the project's instance_workers
    # (2); one worker must give the same records, bit for bit, but the status timings. That
    # worker reads the training snapshots in another row order (the model does not sort them).
    project = yaml.safe_load((project_dir() / "dbt_project.yml").read_text())
    assert project["vars"]["instance_workers"] == 2
    inputs = {name: con.table(table) for name, table in WAREHOUSE_RELATIONS.items()}
    con.execute(
        "create temp table shuffled_snapshots as select * from customer_feature_snapshots"
        " order by hash(customer_id, cutoff_at)"
    )
    first_rows = "select customer_id, cutoff_at from {} limit 50"
    assert con.execute(first_rows.format("shuffled_snapshots")).fetchall() != (
        con.execute(first_rows.format("customer_feature_snapshots")).fetchall()
    )
    inputs["customer_feature_snapshots"] = con.table("shuffled_snapshots")
    one_at_a_time = run_instance_types(
        ["action_prediction"], project_dir() / "instances.yml", AS_OF, con, inputs, workers=1
    )
    built = con.table("instance_outputs__action_prediction").arrow().read_all()

    def records(table: pa.Table) -> list[tuple]:
        rows = table.to_pylist()
        for row in rows:
            if row["record_type"] == "status":
                row["value"] = json.loads(row["value"])["status"]
        return sorted(tuple(row.values()) for row in rows)

    assert one_at_a_time.num_rows == built.num_rows > 4 * 1000
    assert records(one_at_a_time) == records(built)


@pytest.mark.slow
def test_metrics_precision_and_calibration_curves_are_published(con):
    wanted = {
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "expected_calibration_error",
        "base_rate",
        "lift_top_decile",
        "precision_at_threshold",
        "recall_at_threshold",
        "segment_share_at_threshold",
        "segment_count_at_threshold",
        "threshold",
        "training_rows",
        "precision_target",
        "precision_target_reached",
    }
    for iid in ACTION_IDS:
        rows = con.execute(
            "select metric, value, value_text from model_metrics where instance_id = ?", [iid]
        ).fetchall()
        numbers = {m: v for m, v, _ in rows if v is not None}
        texts = {m: t for m, _, t in rows if t is not None}
        assert wanted <= set(numbers), wanted - set(numbers)
        assert texts["chosen_model"] in ("hist_gradient_boosting", "logistic_regression")
        assert sum(m.startswith("feature_importance.") for m in numbers) >= 5
        assert 0.5 < numbers["roc_auc"] <= 1 and 0 < numbers["base_rate"] < 1
        curve = [
            json.loads(v)
            for (v,) in con.execute(
                "select value from model_curves where instance_id = ? and curve ="
                " 'precision_curve' order by point",
                [iid],
            ).fetchall()
        ]
        assert len(curve) >= 20
        assert set(curve[0]) == {
            "threshold",
            "precision",
            "recall",
            "false_positive_rate",
            "segment_share",
            "segment_count",
            "lift",
        }
        thresholds = [p["threshold"] for p in curve]
        assert thresholds == sorted(thresholds, reverse=True)
        assert curve[-1]["segment_share"] == pytest.approx(1.0)
        bins = [
            json.loads(v)
            for (v,) in con.execute(
                "select value from model_curves where instance_id = ? and curve ="
                " 'calibration_curve' order by point",
                [iid],
            ).fetchall()
        ]
        assert [b["bin"] for b in bins] == list(range(1, 11))
        assert sum(b["customers"] for b in bins) == numbers["evaluation_rows"]


def truth_outcomes(raw: Path) -> dict[str, str]:
    """SQL conditions on person_id: each instance's outcome in the true future window."""
    fut = f"{timestamp_sql(AS_OF_CUTOFF)} + to_days(30)"
    events = (
        f"(select person_id, event_name from read_parquet('{raw}/_truth/future_events.parquet')"
        f" where occurred_at::timestamp < {fut})"
    )
    orders = (
        f"(select person_id from read_parquet('{raw}/_truth/future_orders.parquet')"
        f" where ordered_at::timestamp >= {timestamp_sql(AS_OF_CUTOFF)}"
        f" and ordered_at::timestamp < {fut})"
    )
    return {
        "action_prediction": f"person_id in (select person_id from {orders})",
        "churn_30d": f"person_id not in (select person_id from {events})",
        "cart_abandonment": (
            f"person_id not in (select person_id from {events}"
            " where event_name = 'order_completed')"
        ),
        "engagement": (
            f"person_id in (select person_id from {events} where event_name = 'app_open'"
            " group by person_id having count(*) >= 3)"
        ),
    }


def rfm_baseline_scores(con, customer_ids) -> np.ndarray:
    """A plain HistGradientBoosting on recency / frequency / monetary, trained on the same
    snapshots and labels as the purchase instance, scored at the as-of."""
    config = parse_action_config({"id": "action_prediction", "positive": "order_completed"})
    cutoffs = ap.usable_cutoffs(
        config,
        con,
        "customer_feature_snapshots",
        "int_customer_events",
        "int_customer_orders",
        AS_OF,
    )
    spine = (
        "(select customer_id, cutoff_at from customer_feature_snapshots where cutoff_at in ("
        + ", ".join(timestamp_sql(c) for c in cutoffs)
        + "))"
    )
    rows = cutoff_rows_sql(
        config, spine=spine, events="int_customer_events", orders="int_customer_orders",
        customers="customers", with_label=True,
    )  # fmt: skip
    rfm = "s.recency_days::double, s.frequency::double, s.monetary::double"
    train = con.sql(
        f"""select {rfm}, r.label_did from ({rows}) as r
        inner join customer_feature_snapshots as s using (customer_id, cutoff_at)
        order by s.cutoff_at, s.customer_id"""
    ).fetchall()
    x = np.array([r[:3] for r in train], dtype=float)
    y = np.array([r[3] for r in train])
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(random_state=0).fit(x, y)
        rows = {
            r[0]: r[1:]
            for r in con.execute(
                f"select customer_id, {rfm} from customer_features as s"
            ).fetchall()
        }
        return model.predict_proba(np.array([rows[c] for c in customer_ids], dtype=float))[:, 1]


def evaluate_on_truth(db: Path, raw: Path) -> dict[str, dict]:
    """Per instance, over the scored customers that map to exactly one planted person: the
    true-outcome ROC-AUC, ECE, base rate and mean score, the realised precision of the segment
    against its target (and the binomial standard error of that realised precision), and for
    the purchase instance the ROC-AUC of the RFM-only baseline."""
    con = duckdb.connect(str(db), read_only=True)
    con.execute(
        f"""create temp table person_of as
        select ci.customer_id, min(t.person_id) as person_id
        from customer_identifiers as ci
        inner join read_parquet('{raw}/_truth/identifiers.parquet') as t
            on ci.identifier_type = t.identifier_type
            and ci.identifier_value = t.identifier_value
        group by ci.customer_id having count(distinct t.person_id) = 1"""
    )
    out = {}
    for iid, outcome in truth_outcomes(raw).items():
        got = con.sql(
            f"""select p.{iid}_score as s, p.{iid}_segment as seg, ({outcome})::int as y,
                p.customer_id, f.days_since_last_event
            from customer_profile as p inner join person_of using (customer_id)
            inner join customer_features as f using (customer_id)
            where p.{iid}_score is not null order by p.customer_id"""
        ).fetchnumpy()
        s, seg, y = got["s"], got["seg"], got["y"]
        metrics = dict(
            con.execute(
                "select metric, value from model_metrics where instance_id = ?", [iid]
            ).fetchall()
        )
        target = metrics["precision_target"]
        out[iid] = {
            "n": len(y),
            "auc": roc_auc_score(y, s),
            "ece": expected_calibration_error(y, s),
            "base_rate": float(y.mean()),
            "mean_score": float(s.mean()),
            "segment": int(seg.sum()),
            "realised_precision": float(y[seg].mean()),
            "precision_se": float(np.sqrt(target * (1 - target) / max(int(seg.sum()), 1))),
            "quiet_days_corr": float(
                np.corrcoef(np.nan_to_num(got["days_since_last_event"], nan=9999.0), s)[0, 1]
            ),
            "metrics": metrics,
        }
        if iid == "action_prediction":
            out[iid]["rfm_auc"] = roc_auc_score(y, rfm_baseline_scores(con, got["customer_id"]))
    con.close()
    return out


@pytest.fixture(scope="module")
def truth(warehouse, raw_dir):
    return evaluate_on_truth(warehouse, raw_dir)


@pytest.mark.slow
def test_purchase_auc_on_true_future_beats_rfm_baseline(truth):
    purchase = truth["action_prediction"]
    assert 0.03 < purchase["base_rate"] < 0.5
    assert purchase["auc"] >= purchase["rfm_auc"], purchase
    assert purchase["auc"] >= 0.7


@pytest.mark.slow
def test_purchase_scores_are_calibrated_on_the_true_outcome(truth):
    """At 1,500 customers (~110 true buyers) ten equal-mass bins of 150 customers carry a
    binomial error of ~0.02 each, so the ECE of perfectly calibrated scores is already ~0.017;
    the contract target (0.03) is asserted at 20,000 customers by
    test_truth_targets_at_20k_customers. Here: within 0.04, and the mean score within 0.02 of
    the true purchase rate."""
    purchase = truth["action_prediction"]
    assert purchase["ece"] <= 0.04, purchase
    assert abs(purchase["mean_score"] - purchase["base_rate"]) <= 0.02, purchase


@pytest.mark.slow
def test_medium_segment_precision_is_realised_on_the_truth(truth):
    """The medium segment's true precision is near its target. At 1,500 customers the segment
    holds ~120 customers (binomial error ~0.04), so the tolerance here is the larger of 0.05
    and 2.5 standard errors; the strict 0.05 is asserted at 20,000 customers."""
    default = yaml.safe_load(Path("instances.yml").read_text(encoding="utf-8"))["instances"]
    assert next(i for i in default if i["id"] == "action_prediction")["precision_level"] == "medium"
    purchase = truth["action_prediction"]
    assert purchase["metrics"]["precision_target_reached"] == 1
    gap = abs(purchase["realised_precision"] - purchase["metrics"]["precision_target"])
    assert gap <= max(0.05, 2.5 * purchase["precision_se"]), purchase
    assert purchase["realised_precision"] >= 2 * purchase["base_rate"]


@pytest.mark.slow
def test_churn_with_did_not_predicts_absence(truth):
    churn = truth["churn_30d"]
    assert churn["auc"] >= 0.65, churn  # the outcome is *no* activity in the true 30 days
    assert abs(churn["mean_score"] - churn["base_rate"]) <= 0.07, churn
    assert churn["realised_precision"] > churn["base_rate"] + 0.15, churn
    # did_not: the base rate is the share of eligible customers with no activity, and the
    # longer a customer has been quiet, the higher the churn score
    assert 0.2 < churn["metrics"]["base_rate"] < 0.8
    assert churn["quiet_days_corr"] > 0.2, churn
    for iid in ("cart_abandonment", "engagement"):
        assert truth[iid]["auc"] >= 0.65, (iid, truth[iid])


@pytest.mark.slow
@pytest.mark.large
def test_truth_targets_at_20k_customers(tmp_path):
    """The contract's quality targets at a size where they are measurable (opt-in, slow)."""
    raw = tmp_path / "raw"
    generate(raw, customers=20_000, seed=11, as_of=AS_OF)
    result = evaluate_on_truth(build(raw, tmp_path / "pcdp.duckdb"), raw)
    for iid, figures in result.items():
        print(iid, {k: v for k, v in figures.items() if k != "metrics"})
    purchase = result["action_prediction"]
    assert purchase["auc"] >= purchase["rfm_auc"]
    assert purchase["ece"] <= 0.03
    assert abs(purchase["realised_precision"] - purchase["metrics"]["precision_target"]) <= 0.05
    assert result["churn_30d"]["auc"] >= 0.65


# ------------------------------------------------------------------ a broken instance


@pytest.mark.slow
def test_broken_instance_errors_and_the_others_still_score(raw_dir, warehouse, tmp_path):
    default = yaml.safe_load(Path("instances.yml").read_text(encoding="utf-8"))["instances"]
    purchase = next(i for i in default if i["id"] == "action_prediction")
    instances = {
        "instances": [
            purchase,
            {
                "id": "broken",
                "type": "action_prediction",
                "status": "ready",
                "positive": "subscription_renewed",
            },
            {
                "id": "app_v5",
                "type": "action_prediction",
                "status": "ready",
                "description": "Opens the app on version 5 rather than an older one",
                "positive": {"event": "app_open", "properties": {"app_version": "5.0.0"}},
                "negative": "app_open",
                "eligible": "has_ordered",
                "precision_level": 0.5,
            },
        ]
    }
    path = tmp_path / "instances.yml"
    path.write_text(yaml.safe_dump(instances), encoding="utf-8")
    db = build(raw_dir, tmp_path / "broken.duckdb", instances=path)
    con = duckdb.connect(str(db), read_only=True)
    status = {
        r[0]: (r[1], r[2])
        for r in con.execute(
            "select instance_id, status, last_error from model_instances"
        ).fetchall()
    }
    assert status["broken"][0] == "Error"
    assert "positive event 'subscription_renewed' never occurs" in status["broken"][1]
    assert "known event names:" in status["broken"][1]
    assert status["action_prediction"] == ("Complete", None)
    assert status["app_v5"] == ("Complete", None)
    scored = con.execute(
        "select count(action_prediction_score), count(app_v5_score), count(*)"
        " filter (where app_v5_score is not null and frequency = 0) from customer_profile"
    ).fetchall()[0]
    assert scored[0] > 0 and scored[1] > 0
    assert scored[2] == 0  # has_ordered: customers without an order get no score
    assert "broken_score" not in {r[0] for r in con.execute("describe customer_profile").fetchall()}
    unlabelled = con.execute(
        "select value from model_metrics where instance_id = 'app_v5'"
        " and metric = 'unlabelled_rows_training'"
    ).fetchall()[0][0]
    assert unlabelled > 0  # customers with neither outcome are left out of training
    # same inputs, same configuration: the same scores as the default run
    first = duckdb.connect(str(warehouse), read_only=True)
    query = (
        "select customer_id, action_prediction_score, action_prediction_segment"
        " from customer_profile order by customer_id"
    )
    assert first.execute(query).fetchall() == con.execute(query).fetchall()
    first.close()
    con.close()
