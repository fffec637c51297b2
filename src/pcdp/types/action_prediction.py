"""Action-prediction instances: will an eligible customer do (or stop doing) something in the
next ``future_window_days``? Configuration keys: CONTRACT.md section 2 and
:mod:`pcdp.action.config`; modelling: :mod:`pcdp.action.model`; SQL: :mod:`pcdp.action.sql`.

One run of an instance, all heavy lifting in DuckDB:

1. **Checks** that say which key to change: every event named in ``positive``, ``negative`` or
   ``eligible`` must occur in the events; ``past_window_days + future_window_days`` must fit in
   the history (first event or order to the as-of cutoff); at least two snapshot cutoffs of
   ``customer_feature_snapshots`` must have a complete future window (``cutoff +
   future_window_days <= as-of cutoff``, the end of the as-of day) and a past window inside the
   history; the eligible population must be non-empty and hold both outcomes.
2. **Training frame**, built in SQL: for each usable snapshot cutoff, the eligible customers,
   their label from the future window only, and their features = every numeric column of the
   snapshot (ids and timestamps excluded) plus the outcome features of
   :func:`pcdp.action.sql.cutoff_rows_sql`. When there are more labelled rows than
   ``max_training_rows``, the bounded, class-balanced sample of the modelling core is drawn in
   SQL (same rule, seeded hash) so only that sample is loaded into Python.
3. **Model**: :func:`pcdp.action.train_action_model` (temporal split - the most recent usable
   cutoff validates -, gradient boosting vs logistic regression, calibration, threshold at the
   precision level).
4. **Scoring**: every customer *eligible at the as-of cutoff* is scored from
   ``customer_features``, streamed from DuckDB as Arrow record batches, so memory stays flat.

Customers who are not eligible at the as-of cutoff get **no** ``<id>_score`` / ``<id>_segment``
(null in ``customer_profile``): the model has only seen eligible customers, and for most
eligibility rules the question does not apply to the others (a cart-abandonment score for
someone with no cart, a churn score for someone already inactive). With ``eligible: all`` (the
default) every customer is scored.

Outputs: ``<id>_score`` (calibrated probability of the outcome - of *not* doing the positive
event for ``outcome: did_not``) and ``<id>_segment`` (score >= the threshold of the precision
level); metrics from the core (``roc_auc``, ``pr_auc``, ``log_loss``, ``brier``,
``expected_calibration_error``, ``base_rate``, ``lift_top_decile``, precision / recall / size at
the threshold, ``threshold``, ``precision_target`` and ``precision_target_reached``, training
rows), ``chosen_model`` and ``calibration_method`` as text, ``feature_importance.<feature>``
for the top features, scoring counts; and the curves ``precision_curve`` (threshold, precision,
recall, false_positive_rate, segment_share, segment_count, lift: ROC, precision-recall, gains
and lift all follow from it) and ``calibration_curve`` (bin, customers, predicted_mean,
observed_rate over 10 equal-mass score bins), measured on the held-out evaluation half.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pcdp.action import (
    ActionConfig,
    Threads,
    parse_action_config,
    score_batches,
    train_action_model,
)
from pcdp.action.sql import cutoff_rows_sql, outcome_feature_columns, quote_text, timestamp_sql
from pcdp.instances import InstanceSpec
from pcdp.runtime import InstanceResult, RunContext, register_runner

__all__ = [
    "ActionPredictionError",
    "check_event_names",
    "feature_columns",
    "predictions_table",
    "run",
    "score_customers",
    "training_frame",
    "usable_cutoffs",
]

#: Rows per Arrow record batch streamed from DuckDB for scoring.
SCORE_BATCH_ROWS = 65_536
#: Threads for fitting scikit-learn models inside dbt: the machine (and a nightly run's dbt
#: threads) are shared, and OpenMP spin-waiting under oversubscription makes every model
#: slower. Predictions take RunContext.threads (more only when workers of the pool are idle).
SKLEARN_THREADS = 1
_NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                     "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
                     "DECIMAL", "BOOLEAN", "REAL")  # fmt: skip
_ID_COLUMNS = ("customer_id", "cutoff_at")


class ActionPredictionError(ValueError):
    """The instance cannot run on this data; the message names the instance and the key."""


def _config(spec: InstanceSpec) -> ActionConfig:
    return parse_action_config({**spec.params, "id": spec.id, "type": "action_prediction"})


def _fail(config: ActionConfig, message: str) -> ActionPredictionError:
    return ActionPredictionError(f"instance {config.instance_id!r}: {message}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _describe(filters) -> str:
    parts = []
    for f in filters:
        text = repr(f.event)
        if f.properties:
            text += " with " + ", ".join(f"{k}={v!r}" for k, v in f.properties)
        if f.min_count > 1:
            text += f" at least {f.min_count} times"
        parts.append(text)
    return " or ".join(parts)


def feature_columns(con, snapshots: str, features: str) -> tuple[str, ...]:
    """Numeric columns present in both the snapshots and the as-of features (ids and timestamps
    excluded), in the snapshots' column order."""

    def numeric(relation: str) -> dict[str, str]:
        rows = con.execute(f"describe select * from {relation}").fetchall()
        return {
            name: kind
            for name, kind, *_ in rows
            if name not in _ID_COLUMNS and str(kind).upper().startswith(_NUMERIC_PREFIXES)
        }

    in_features = numeric(features)
    return tuple(name for name in numeric(snapshots) if name in in_features)


def check_event_names(config: ActionConfig, con, events: str) -> None:
    known = {row[0] for row in con.execute(f"select distinct event_name from {events}").fetchall()}
    checks = [("positive", config.positive), ("negative", config.negative or ())]
    if config.eligible.kind == "event":
        checks.append(("eligible", (config.eligible.event_filter,)))
    for key, filters in checks:
        for f in filters:
            if f.event not in known:
                listed = sorted(k for k in known if k is not None)
                shown = ", ".join(listed[:50]) + (" ..." if len(listed) > 50 else "")
                raise _fail(
                    config,
                    f"{key} event {f.event!r} never occurs in the events "
                    f"(known event names: {shown or 'none'})",
                )


def usable_cutoffs(
    config: ActionConfig, con, snapshots: str, events: str, orders: str, as_of: dt.date
) -> list[dt.datetime]:
    """Snapshot cutoffs with a complete future window and a past window inside the history;
    raises :class:`ActionPredictionError` naming the window key when fewer than two remain."""
    as_of_cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    first = con.execute(
        f"select least((select min(occurred_at) from {events}),"
        f" (select min(ordered_at) from {orders}))"
    ).fetchall()[0][0]
    if first is None:
        raise _fail(config, "there are no events or orders to learn from")
    first = first.replace(tzinfo=None)
    history_days = (as_of_cutoff - first).total_seconds() / 86400
    past, future = config.past_window_days, config.future_window_days
    if past + future > history_days:
        raise _fail(
            config,
            f"past_window_days ({past}) + future_window_days ({future}) = {past + future} days "
            f"is longer than the history ({history_days:.0f} days, from {first:%Y-%m-%d} to the "
            f"as-of cutoff {as_of_cutoff:%Y-%m-%d})",
        )
    cutoffs = [
        row[0].replace(tzinfo=None)
        for row in con.execute(
            f"select distinct cutoff_at from {snapshots} order by cutoff_at"
        ).fetchall()
    ]
    complete = [c for c in cutoffs if c + dt.timedelta(days=future) <= as_of_cutoff]
    if len(complete) < 2:
        raise _fail(
            config,
            f"future_window_days ({future}) is too long: {len(complete)} of the "
            f"{len(cutoffs)} training cutoffs ({', '.join(f'{c:%Y-%m-%d}' for c in cutoffs)}) "
            f"have a complete future window before the as-of cutoff {as_of_cutoff:%Y-%m-%d}; "
            "at least 2 are needed (shorten future_window_days, or raise the dbt vars "
            "training_cutoff_count / training_cutoff_step_days)",
        )
    inside = [c for c in complete if c - dt.timedelta(days=past) >= first]
    if len(inside) < 2:
        raise _fail(
            config,
            f"past_window_days ({past}) is too long: only {len(inside)} of the training cutoffs "
            f"have their past window after the first recorded activity ({first:%Y-%m-%d}); at "
            "least 2 are needed",
        )
    return inside


def _sample_quotas(n_pos: int, n_neg: int, budget: int) -> tuple[int, int]:
    """(positives, negatives) kept by the core's class-balanced rule for a training budget."""
    if n_pos + n_neg <= budget:
        return n_pos, n_neg
    minority, majority = sorted((n_pos, n_neg))
    n_min = min(minority, budget // 2)
    n_maj = min(majority, budget - n_min)
    n_min = min(minority, budget - n_maj)
    return (n_min, n_maj) if n_pos <= n_neg else (n_maj, n_min)


def training_frame(
    config: ActionConfig,
    con,
    *,
    snapshots: str,
    events: str,
    orders: str,
    customers: str,
    cutoffs: list[dt.datetime],
    features: tuple[str, ...],
    rows_table: str,
) -> tuple[pa.Table, dict[str, float]]:
    """The (bounded) training frame as an Arrow table plus counts over all labelled rows.

    Eligible rows and labels of the usable ``cutoffs`` go to the temp table ``rows_table``;
    raises :class:`ActionPredictionError` when the population or an outcome is empty."""
    cutoff_list = ", ".join(timestamp_sql(c) for c in cutoffs)
    spine = f"(select customer_id, cutoff_at from {snapshots} where cutoff_at in ({cutoff_list}))"
    rows_sql = cutoff_rows_sql(
        config, spine=spine, events=events, orders=orders, customers=customers, with_label=True
    )
    con.execute(f"create or replace temp table {rows_table} as {rows_sql}")
    stats = con.execute(
        f"select cutoff_at, count(*), count(label_did), coalesce(sum(label_did), 0)"
        f" from {rows_table} group by cutoff_at order by cutoff_at"
    ).fetchall()
    eligible = sum(r[1] for r in stats)
    labelled = sum(r[2] for r in stats)
    did = sum(int(r[3]) for r in stats)
    window = f"the future_window_days ({config.future_window_days}) after the training cutoffs"
    if eligible == 0:
        raise _fail(
            config,
            f"eligible: no customer is eligible ({config.eligible.kind}) at any of the "
            f"{len(cutoffs)} training cutoffs",
        )
    if labelled == 0:
        raise _fail(
            config,
            f"negative: no eligible customer did {_describe(config.negative or ())} or "
            f"{_describe(config.positive)} in {window}",
        )
    if did == 0:
        raise _fail(
            config,
            f"positive: no eligible customer did {_describe(config.positive)} in {window} "
            f"({eligible} eligible customer-cutoffs): there are no positives to learn from",
        )
    if did == labelled:
        raise _fail(
            config,
            f"positive: every labelled customer did {_describe(config.positive)} in {window}; "
            "there is nothing to predict (use negative, or a narrower positive)",
        )
    validation = max(r[0] for r in stats if r[2] > 0)
    train_did = sum(int(r[3]) for r in stats if r[0] != validation)
    train_rows = sum(r[2] for r in stats if r[0] != validation)
    pos_quota, neg_quota = _sample_quotas(
        train_did, train_rows - train_did, config.max_training_rows
    )
    budget = config.max_training_rows
    columns = ", ".join(f"snapshots.{_ident(c)}" for c in features)
    extra = ", ".join(f"rows.{c}" for c in outcome_feature_columns(config))
    key = f"hash(rows.customer_id, rows.cutoff_at, {int(config.seed)})"
    val = timestamp_sql(validation)
    frame = con.sql(
        f"""
        with ranked as (
            select
                rows.*,
                row_number() over (
                    partition by rows.cutoff_at = {val}, rows.label_did
                    order by {key}, rows.customer_id
                ) as class_rank,
                row_number() over (
                    partition by rows.cutoff_at = {val} order by {key}, rows.customer_id
                ) as uniform_rank
            from {rows_table} as rows
            where rows.label_did is not null
        ),
        sampled as (
            select * from ranked as rows
            where
                case
                    when rows.cutoff_at = {val} then rows.uniform_rank <= {budget}
                    when rows.label_did = 1 then rows.class_rank <= {pos_quota}
                    else rows.class_rank <= {neg_quota}
                end
        )
        select rows.customer_id, rows.cutoff_at, rows.label_did as label, {extra}, {columns}
        from sampled as rows
        inner join {snapshots} as snapshots
            on rows.customer_id = snapshots.customer_id and rows.cutoff_at = snapshots.cutoff_at
        order by rows.cutoff_at, rows.customer_id
        """
    ).to_arrow_table()
    counts = {
        "eligible_rows_training": float(eligible),
        "unlabelled_rows_training": float(eligible - labelled),
        "training_rows_available": float(train_rows),
        "validation_rows_available": float(labelled - train_rows),
    }
    return frame, counts


def score_customers(
    config: ActionConfig,
    result,
    con,
    *,
    features_relation: str,
    events: str,
    orders: str,
    customers: str,
    as_of: dt.date,
    threads: Threads = SKLEARN_THREADS,
) -> pa.Table:
    """(customer_id, score, segment) of every customer eligible at the as-of cutoff, predicted
    with `threads` (a count, or a function asked for each slice)."""
    as_of_cutoff = timestamp_sql(as_of + dt.timedelta(days=1))
    spine = f"(select customer_id, {as_of_cutoff} as cutoff_at from {features_relation})"
    rows_sql = cutoff_rows_sql(
        config, spine=spine, events=events, orders=orders, customers=customers, with_label=False
    )
    extra = ", ".join(f"rows.{c}" for c in outcome_feature_columns(config))
    snap_cols = [c for c in result.feature_columns if c not in outcome_feature_columns(config)]
    columns = ", ".join(f"features.{_ident(c)}" for c in snap_cols)
    query = f"""
        select features.customer_id, {extra}, {columns}
        from {features_relation} as features
        inner join ({rows_sql}) as rows on features.customer_id = rows.customer_id
    """
    # Streams: DuckDB hands over one record batch at a time; nothing else may run on the
    # connection until the reader is drained.
    reader = con.sql(query).to_arrow_reader(SCORE_BATCH_ROWS)
    out = list(score_batches(result, reader, n_threads=threads))
    if not out:
        return pa.table(
            {
                "customer_id": pa.array([], pa.string()),
                "score": pa.array([], pa.float64()),
                "segment": pa.array([], pa.bool_()),
            }
        )
    return pa.Table.from_batches(out)


def predictions_table(con, instance_id: str, scores: pa.Table) -> tuple[pa.Table, tuple]:
    """Long predictions (``<id>_score`` number, ``<id>_segment`` boolean, JSON values) of a
    score table, and (customers scored, in the segment, mean score)."""
    view = f"pcdp_action_scores__{instance_id}"
    con.register(view, scores)
    try:
        predictions = con.sql(
            f"""
            select customer_id, {quote_text(instance_id + "_score")} as attribute,
                to_json(score)::varchar as value, 'number' as value_type
            from {view}
            union all
            select customer_id, {quote_text(instance_id + "_segment")} as attribute,
                to_json(segment)::varchar as value, 'boolean' as value_type
            from {view}
            order by customer_id, attribute
            """
        ).to_arrow_table()
        summary = con.execute(
            f"select count(*), count(*) filter (where segment), avg(score) from {view}"
        ).fetchall()[0]
    finally:
        con.unregister(view)
    return predictions, summary


def run(spec: InstanceSpec, context: RunContext) -> InstanceResult:
    config = _config(spec)
    con = context.con
    snapshots = context.relation("customer_feature_snapshots")
    features_relation = context.relation("customer_features")
    events = context.relation("customer_events")
    orders = context.relation("customer_orders")
    customers = context.relation("customers")

    check_event_names(config, con, events)
    cutoffs = usable_cutoffs(config, con, snapshots, events, orders, context.as_of)
    snapshot_features = feature_columns(con, snapshots, features_relation)
    extra = outcome_feature_columns(config)
    snapshot_features = tuple(c for c in snapshot_features if c not in extra)

    rows_table = f"pcdp_action_rows__{spec.id}"
    try:
        frame, counts = training_frame(
            config,
            con,
            snapshots=snapshots,
            events=events,
            orders=orders,
            customers=customers,
            cutoffs=cutoffs,
            features=snapshot_features,
            rows_table=rows_table,
        )
    finally:
        con.execute(f"drop table if exists {rows_table}")
    result = train_action_model(
        frame,
        (*extra, *snapshot_features),
        config,
        label_is_did=True,
        n_threads=SKLEARN_THREADS,
        predict_threads=context.threads,
    )
    del frame
    scores = score_customers(
        config,
        result,
        con,
        features_relation=features_relation,
        events=events,
        orders=orders,
        customers=customers,
        as_of=context.as_of,
        threads=context.threads,
    )
    predictions, (scored, in_segment, mean_score) = predictions_table(con, spec.id, scores)
    metrics: dict[str, float | int | str] = dict(result.metrics)
    metrics.update(counts)
    metrics["chosen_model"] = result.chosen_model
    metrics["calibration_method"] = result.calibration_method
    metrics["validation_cutoff"] = f"{result.validation_cutoff:%Y-%m-%d}"
    metrics["customers_scored"] = int(scored)
    metrics["segment_count"] = int(in_segment)
    metrics["segment_share"] = in_segment / scored if scored else 0.0
    metrics["score_mean"] = float(mean_score) if mean_score is not None else float("nan")
    if result.notes:
        metrics["note"] = " ".join(result.notes)
    for name, importance in result.top_features:
        metrics[f"feature_importance.{name}"] = importance
    return InstanceResult(
        predictions=predictions,
        metrics=metrics,
        curves={
            "precision_curve": result.precision_curve,
            "calibration_curve": result.calibration_curve,
        },
    )


register_runner("action_prediction", run)
