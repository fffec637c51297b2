"""pcLTV instances: expected revenue per customer over the next 3, 6, 12 (``horizons_months``)
months, in the reporting currency, published as ``<id>_<h>m``.

Keys: ``horizons_months`` (positive whole months, [3, 6, 12]), ``model`` (``auto``, ``btyd`` or
``ml`` [auto]), ``description`` (free text). Any other key is refused.

Data
----
Revenue is *net* revenue: completed orders of ``int_customer_orders`` (``amount_reporting``);
refunded and cancelled orders count for nothing. A run's cutoff is the end of the as-of day
(as-of + 1 day, 00:00 UTC); only orders strictly before a cutoff are used at that cutoff.
A customer's *first-seen day* is the as-of cutoff date minus ``customer_features.tenure_days``
(first event or order attempt); a customer with no tenure (no event, no order) is taken as first
seen on the as-of day.

Time, horizons and periods
--------------------------
BTYD models run in weeks: the per-customer summaries follow the CDNOW convention of Fader,
Hardie & Lee (see ``tests/data/cdnow/README.md``): purchases are grouped by calendar day (UTC;
several orders on one day are one purchase, values summed), the observation ends with the last
whole day before the cutoff, and recency and T are day differences divided by 7 (not rounded).
A horizon of ``h`` months is calendar months: from the cutoff ``c`` to ``c + h months`` (the same
day of the month, clamped to the month's end), so the horizon in periods is
``days(c, c + h months) / 7``; 12 months after 2026-01-01 is 365 days = 52.14 weeks. The backtest
of horizon ``h`` uses the window ``[c - h months, c)`` and its length in days / 7 the same way.

BTYD candidates
---------------
* ``bgnbd``: BG/NBD on the classic summary of customers with a completed order (time 0 = first
  purchase day, ``frequency`` = repeat purchase days, CDNOW convention), fitted by
  :class:`pcdp.clv.BetaGeoModel`; the published ``bgnbd_*`` parameters are this fit at the cutoff.
* ``mbgnbd``: the same with MBG/NBD (dropout also possible right after the first purchase).
* ``bgnbd_first_seen``: BG/NBD with time 0 = the first-seen day for *every* customer:
  ``frequency`` = purchase days after the first-seen day, ``recency`` = last such day -
  first-seen day, ``T`` = last observed day - first-seen day (weeks). A purchase on the
  first-seen day itself is the acquisition, like the first purchase of the classic summary, and
  is not counted: a Poisson process has no purchase exactly at time 0, and counting those
  would drive ``alpha`` to 0 where people are first seen when they buy (e.g. CDNOW, or a shop
  whose tracking starts at checkout). For such a customer the summary is the classic one.

Spend per purchase is the Gamma-Gamma conditional expectation (``gg_*``, fitted on repeat
purchase days, CDNOW convention); predicted revenue = expected purchases x expected spend.

**Customers with no completed order** get the BG/NBD prediction for a prospect: in the
first-seen frame a customer without purchases is ``frequency = 0, recency = 0, T = tenure``: alive
for sure (BG/NBD only lets people drop out after a purchase), with a purchase rate whose
posterior is ``Gamma(r, alpha + T)`` - the longer someone has been around without buying, the
less they are expected to buy. That needs the parameters of the first-seen fit
(``bgnbd_first_seen_*``), not the classic ones: the classic fit describes buyers after their
first purchase and does not count the first purchase, so plugging ``(0, 0, T)`` into it would
value a prospect like a one-time buyer minus the purchase that makes them a customer. Their
spend per purchase is the Gamma-Gamma population mean ``p gamma / (q - 1)``. So every BTYD
candidate gives non-buyers the same value; the candidates differ for buyers.

Fits use ``penalizer = 0`` (plain maximum likelihood) and, when that does not converge,
``penalizer = 0.001`` (recorded as ``<model>_penalizer``); a model that still does not converge
is not available at that cutoff.

ML candidate
------------
``ml``: one ``HistGradientBoostingRegressor`` (Poisson loss, fixed hyper-parameters and seed,
one thread) per horizon on point-in-time features of each customer at training cutoffs, with the
label = completed revenue in ``[t, t + h months)``. Training cutoffs for a scoring cutoff ``s``
are ``t_k = s - h months - 30 k days`` (``k = 0 .. 5``) with at least 90 days of order history
before ``t_k``, so every label window is complete before ``s``; at most 100,000 (customer,
cutoff) rows are used, a deterministic sample by the md5 of customer and cutoff. The features
are computed in SQL from ``int_customer_orders`` and the first-seen day (``_ML_FEATURES``): the
``customer_feature_snapshots`` cutoffs reach only 6 x 30 days back, which is too short for
complete 6- and 12-month labels, let alone their backtests. Predictions are made monotone in the
horizon (running maximum over the horizons in increasing order). ML needs
``2 h`` months plus 90 days of history to be backtested at horizon ``h``.

Model choice and backtest
-------------------------
Every run backtests each candidate at every horizon ``h``: refit on the data before
``c - h months``, predict the window ``[c - h months, c)`` for the customers first seen before
it, and compare with their realised net revenue: MAE, Spearman, normalised Gini, decile
calibration and aggregate predicted / actual (``pcdp.clv.evaluation``).

``model`` restricts the candidates (``btyd``: the three BTYD ones, ``ml``: only ml, ``auto``:
all). The chosen one has the lowest mean *relative MAE* (MAE / mean actual revenue) over the
horizons, among the candidates whose aggregate predicted / actual lies within [0.75, 1.33] at each
of them (all candidates if none does). Only candidates backtested at every horizon where any
candidate was backtested compete; with ``model: auto`` ``ml`` is not even fitted when the order
history is too short for its backtest at every horizon (two years of orders and a 12-month
horizon: 27 months would be needed), and ``ml_note`` says so. A later candidate in the order
``bgnbd``, ``mbgnbd``, ``bgnbd_first_seen``, ``ml`` must beat the best earlier one by more than
1 % to be chosen. With no common backtest the first available candidate is used. The choice is
the text metric ``model_choice`` (with ``model_choice_reason``).

Metrics: ``bgnbd_{r,alpha,a,b,log_likelihood}``, ``mbgnbd_*``, ``bgnbd_first_seen_*``,
``gg_{p,q,gamma,log_likelihood}`` (fits at the as-of cutoff), ``backtest_<h>m_{mae, spearman,
gini, aggregate_ratio, predicted_total, actual_total, customers}`` of the chosen model,
``backtest_<h>m_<candidate>_{mae,gini,aggregate_ratio}`` of each candidate,
``backtest_<h>m_baseline_gini`` (last ``h`` months' revenue repeats), ``predicted_total_<h>m``;
curves ``decile_calibration_<h>m`` (chosen model).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from pcdp.clv import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    rfm_summary_sql,
)
from pcdp.clv.evaluation import backtest_metrics, decile_calibration
from pcdp.instances import InstanceSpec
from pcdp.runtime import InstanceResult, RunContext, register_runner
from pcdp.types.validation import PCLTV_DEFAULT_HORIZONS

PERIOD_DAYS = 7
BTYD_CANDIDATES = ("bgnbd", "mbgnbd", "bgnbd_first_seen")
CANDIDATES = (*BTYD_CANDIDATES, "ml")
PENALIZERS = (0.0, 0.001)
CALIBRATED_RATIO = (0.75, 1.33)
CHOICE_MARGIN = 0.01
ML_CUTOFFS = 6
ML_CUTOFF_STEP_DAYS = 30
ML_MIN_HISTORY_DAYS = 90
ML_MAX_ROWS = 100_000
ML_MIN_POSITIVE_LABELS = 30


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (negative to go back), clamped to month ends."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return dt.date(year, month, min(day.day, (following - dt.timedelta(days=1)).day))


def horizon_periods(cutoff: dt.date, months: int) -> float:
    """Length in weeks of the ``months`` calendar months starting at ``cutoff``."""
    return (add_months(cutoff, months) - cutoff).days / PERIOD_DAYS


def _ts(day: dt.date) -> str:
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def _date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


# --------------------------------------------------------------------------------------------
# SQL inputs
# --------------------------------------------------------------------------------------------

_ORDERS = "pcdp_pcltv_orders"
_COMPLETED = "pcdp_pcltv_completed"
_CUSTOMERS = "pcdp_pcltv_customers"
_TX = "pcdp_pcltv_tx"


def _prepare(context: RunContext, cutoff: dt.date) -> None:
    """Temp tables: every used order (amount as double), the completed ones, and each customer
    of customer_features with the first-seen day."""
    con = context.con
    orders = context.relation("customer_orders")
    features = context.relation("customer_features")
    con.execute(
        f"""
        create or replace temp table {_ORDERS} as
        select customer_id, ordered_at, is_completed, status,
            cast(amount_reporting as double) as amount
        from {orders}
        where customer_id is not null and ordered_at < {_ts(cutoff)}
        """
    )
    con.execute(
        f"""
        create or replace temp table {_COMPLETED} as
        select customer_id, ordered_at, amount from {_ORDERS} where is_completed
        """
    )
    con.execute(
        f"""
        create or replace temp table {_CUSTOMERS} as
        select
            customer_id,
            {_date(cutoff)} - cast(coalesce(tenure_days, 1) as integer) as first_day
        from {features}
        order by customer_id
        """
    )


@dataclass
class Summary:
    """Per-customer BTYD inputs at one cutoff, for every customer first seen before it (sorted
    by customer_id). ``x``/``tx``/``t`` are the classic summary (NaN ``tx``/``t`` and ``x = -1``
    for non-buyers), ``xs``/``txs``/``ts`` the first-seen one."""

    cutoff: dt.date
    customer_id: np.ndarray
    x: np.ndarray
    tx: np.ndarray
    t: np.ndarray
    m: np.ndarray
    xs: np.ndarray
    txs: np.ndarray
    ts: np.ndarray

    @property
    def buyer(self) -> np.ndarray:
        return self.x >= 0

    def __len__(self) -> int:
        return int(self.customer_id.size)


def summary_sql(cutoff: dt.date, windows: dict[str, tuple[dt.date, dt.date]] | None = None) -> str:
    """One SELECT: classic (``rfm_summary_sql``, CDNOW convention) and first-seen summaries of
    every customer first seen before ``cutoff``, from the completed orders before it; plus, per
    entry ``name: (start, end)`` of ``windows``, the column ``name``: completed revenue in
    ``[start, end)`` (used for the backtest's actual and baseline revenue)."""
    end = cutoff - dt.timedelta(days=1)
    windows = windows or {}
    window_cols = "".join(
        f""",
            coalesce((
                select sum(o.amount) from {_COMPLETED} as o
                where o.customer_id = customers.customer_id
                    and o.ordered_at >= {_ts(start)} and o.ordered_at < {_ts(stop)}
            ), 0) as {name}"""
        for name, (start, stop) in windows.items()
    )
    classic = rfm_summary_sql(
        _TX,
        customer_col="customer_id",
        datetime_col="ordered_at",
        monetary_col="amount",
        observation_end=end,
        time_unit="D",
        freq_unit_days=PERIOD_DAYS,
    )
    return f"""
        with classic as ({classic}),
        purchase_days as (
            select
                tx.customer_id,
                max(cast(tx.ordered_at as date)) as last_day,
                count(distinct cast(tx.ordered_at as date)) as days
            from {_TX} as tx
            inner join {_CUSTOMERS} as seen
                on tx.customer_id = seen.customer_id
                and cast(tx.ordered_at as date) > seen.first_day
            group by tx.customer_id
        )
        select
            customers.customer_id,
            coalesce(classic.frequency, -1) as x,
            classic.recency as tx,
            classic."T" as t,
            coalesce(classic.monetary_value, 0) as m,
            coalesce(purchase_days.days, 0) as xs,
            coalesce(date_diff('day', customers.first_day, purchase_days.last_day), 0)
                / {PERIOD_DAYS}.0 as txs,
            date_diff('day', customers.first_day, {_date(end)}) / {PERIOD_DAYS}.0 as ts{window_cols}
        from {_CUSTOMERS} as customers
        left join classic on customers.customer_id = classic.customer_id
        left join purchase_days on customers.customer_id = purchase_days.customer_id
        where customers.first_day <= {_date(end)}
        order by customers.customer_id
    """


def load_summary(
    context: RunContext,
    cutoff: dt.date,
    windows: dict[str, tuple[dt.date, dt.date]] | None = None,
) -> tuple[Summary, dict[str, np.ndarray]]:
    """The summary at ``cutoff`` and the revenue columns of ``windows`` (see summary_sql)."""
    con = context.con
    con.execute(
        f"create or replace temp view {_TX} as select * from {_COMPLETED}"
        f" where ordered_at < {_ts(cutoff)}"
    )
    table = con.sql(summary_sql(cutoff, windows)).to_arrow_table()
    col = {name: table[name].to_numpy() for name in table.column_names}
    tx = np.asarray(table["tx"].to_numpy(zero_copy_only=False), dtype=float)
    t = np.asarray(table["t"].to_numpy(zero_copy_only=False), dtype=float)
    revenue = {name: table[name].to_numpy().astype(float) for name in windows or {}}
    return Summary(
        cutoff,
        np.asarray(table["customer_id"].to_numpy(zero_copy_only=False), dtype=object),
        col["x"].astype(float),
        tx,
        t,
        col["m"].astype(float),
        col["xs"].astype(float),
        col["txs"].astype(float),
        col["ts"].astype(float),
    ), revenue


# --------------------------------------------------------------------------------------------
# BTYD
# --------------------------------------------------------------------------------------------


def _fit(make: Callable[[float], Any], fit: Callable[[Any], Any]) -> tuple[Any, float, str]:
    """Fit with each penalizer in turn; returns (model or None, penalizer, note)."""
    notes = []
    for penalizer in PENALIZERS:
        try:
            return fit(make(penalizer)), penalizer, ""
        except (ConvergenceError, ValueError) as error:
            notes.append(f"penalizer {penalizer}: {error}")
    return None, float("nan"), "; ".join(notes)


@dataclass
class BtydFit:
    """The BTYD models fitted on one summary; ``None`` where a model is not available."""

    summary: Summary
    models: dict[str, Any] = field(default_factory=dict)
    penalizers: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    gg: GammaGammaModel | None = None
    spend: np.ndarray | None = None
    population_spend: float = float("nan")

    @classmethod
    def fit(cls, summary: Summary) -> BtydFit:
        out = cls(summary)
        buy = summary.buyer
        x, tx, t = summary.x[buy], summary.tx[buy], summary.t[buy]
        for name, model_cls in (("bgnbd", BetaGeoModel), ("mbgnbd", ModifiedBetaGeoModel)):
            model, pen, note = _fit(
                lambda p, c=model_cls: c(penalizer=p),
                lambda m, x=x, tx=tx, t=t: m.fit(x, tx, t),
            )
            out._keep(name, model, pen, note)
        model, pen, note = _fit(
            lambda p: BetaGeoModel(penalizer=p),
            lambda m: m.fit(summary.xs, summary.txs, summary.ts),
        )
        out._keep("bgnbd_first_seen", model, pen, note)
        m = summary.m[buy]
        has_value = (x > 0) & (m > 0)
        gg, pen, note = _fit(
            lambda p: GammaGammaModel(penalizer=p),
            lambda g: g.fit(x[has_value], m[has_value]),
        )
        out._keep("gg", gg, pen, note)
        out.gg = gg
        if gg is not None:
            out.population_spend = gg.expected_average_profit_new_customer()
            x_eff = np.where(summary.m > 0, np.maximum(summary.x, 0), 0)
            out.spend = gg.conditional_expected_average_profit(x_eff, summary.m)
        return out

    def _keep(self, name: str, model: Any, penalizer: float, note: str) -> None:
        self.models[name] = model
        self.penalizers[name] = penalizer
        if note:
            self.notes[name] = note

    def available(self, candidate: str) -> str | None:
        """None when ``candidate`` can predict, else why not."""
        if self.gg is None:
            return f"Gamma-Gamma not available: {self.notes.get('gg', '')}"
        if not math.isfinite(self.population_spend):
            return "Gamma-Gamma q <= 1: the population mean spend does not exist"
        needed = [candidate]
        if candidate != "bgnbd_first_seen" and not np.all(self.summary.buyer):
            needed.append("bgnbd_first_seen")  # prospects (customers without an order)
        for name in needed:
            if self.models.get(name) is None:
                return f"{name} not available: {self.notes.get(name, '')}"
        return None

    def predict(self, candidate: str, periods: float) -> np.ndarray:
        """Expected revenue of every customer of the summary over ``periods`` weeks."""
        s = self.summary
        out = np.empty(len(s))
        buy = s.buyer
        prospect = self.models.get("bgnbd_first_seen")
        if candidate == "bgnbd_first_seen":
            purchases = prospect.expected_purchases(periods, s.xs, s.txs, s.ts)
            out[:] = purchases * np.where(buy, self.spend, self.population_spend)
            return out
        model = self.models[candidate]
        purchases = model.expected_purchases(periods, s.x[buy], s.tx[buy], s.t[buy])
        out[buy] = purchases * self.spend[buy]
        if not np.all(buy):
            new = ~buy
            out[new] = (
                prospect.expected_purchases(periods, 0.0, 0.0, s.ts[new]) * self.population_spend
            )
        return out


# --------------------------------------------------------------------------------------------
# ML
# --------------------------------------------------------------------------------------------

_ML_FEATURES = (
    "tenure_days",
    "days_since_first_order",
    "recency_days",
    "frequency",
    "purchase_days",
    "monetary",
    "avg_order_value",
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "revenue_30d",
    "revenue_90d",
    "revenue_365d",
    "orders_refunded",
    "orders_cancelled",
    "refunded_amount",
)


def ml_frame_sql(
    cutoffs: Sequence[dt.date], label_months: int | None, sample_rows: int | None = None
) -> str:
    """Point-in-time order features of every customer first seen before each cutoff (from
    orders strictly before it) and, with ``label_months``, the label: completed revenue in
    ``[cutoff, cutoff + label_months)``. With ``sample_rows``, at most that many (customer,
    cutoff) rows, chosen by the md5 of customer and cutoff (a deterministic sample, taken
    before any order is read) and returned in that order; otherwise every row, by customer."""
    if sample_rows is None:
        order_by, limit = "spine.customer_id, spine.cutoff_at", ""
    else:
        order_by, limit = "spine.sample_key", f"order by sample_key limit {int(sample_rows)}"
    values = ", ".join(f"({_ts(c)})" for c in cutoffs)
    label = ""
    label_join = ""
    if label_months is not None:
        label = ", coalesce(labels.label, 0) as label"
        label_join = f"""
        left join (
            select spine.customer_id, spine.cutoff_at, sum(o.amount) as label
            from spine
            inner join {_COMPLETED} as o
                on o.customer_id = spine.customer_id
                and o.ordered_at >= spine.cutoff_at
                and o.ordered_at < spine.cutoff_at + interval {int(label_months)} month
            group by all
        ) as labels
            on labels.customer_id = spine.customer_id and labels.cutoff_at = spine.cutoff_at"""

    def since(ts: str) -> str:
        return f"date_diff('day', {ts}, spine.cutoff_at)"

    def window(days: int, what: str) -> str:
        return (
            f"{what} filter (where o.is_completed"
            f" and o.ordered_at >= spine.cutoff_at - interval {days} day)"
        )

    return f"""
        with cutoffs (cutoff_at) as (values {values}),
        spine as (
            select
                customers.customer_id,
                customers.first_day,
                cutoffs.cutoff_at,
                md5(customers.customer_id || cast(cutoffs.cutoff_at as varchar)) as sample_key
            from {_CUSTOMERS} as customers
            cross join cutoffs
            where customers.first_day < cast(cutoffs.cutoff_at as date)
            {limit}
        ),
        past as (
            select
                spine.customer_id,
                spine.cutoff_at,
                count(*) filter (where o.is_completed) as frequency,
                count(distinct cast(o.ordered_at as date)) filter (where o.is_completed)
                    as purchase_days,
                coalesce(sum(o.amount) filter (where o.is_completed), 0) as monetary,
                avg(o.amount) filter (where o.is_completed) as avg_order_value,
                min(o.ordered_at) filter (where o.is_completed) as first_order_at,
                max(o.ordered_at) filter (where o.is_completed) as last_order_at,
                count(*) filter (where o.status = 'refunded') as orders_refunded,
                count(*) filter (where o.status = 'cancelled') as orders_cancelled,
                coalesce(sum(o.amount) filter (where o.status = 'refunded'), 0)
                    as refunded_amount,
                {window(30, "count(*)")} as orders_30d,
                {window(90, "count(*)")} as orders_90d,
                {window(365, "count(*)")} as orders_365d,
                coalesce({window(30, "sum(o.amount)")}, 0) as revenue_30d,
                coalesce({window(90, "sum(o.amount)")}, 0) as revenue_90d,
                coalesce({window(365, "sum(o.amount)")}, 0) as revenue_365d
            from spine
            inner join {_ORDERS} as o
                on o.customer_id = spine.customer_id and o.ordered_at < spine.cutoff_at
            group by all
        )
        select
            spine.customer_id,
            spine.cutoff_at,
            date_diff('day', spine.first_day, cast(spine.cutoff_at as date)) as tenure_days,
            {since("past.first_order_at")} as days_since_first_order,
            {since("past.last_order_at")} as recency_days,
            coalesce(past.frequency, 0) as frequency,
            coalesce(past.purchase_days, 0) as purchase_days,
            coalesce(past.monetary, 0) as monetary,
            past.avg_order_value,
            coalesce(past.orders_30d, 0) as orders_30d,
            coalesce(past.orders_90d, 0) as orders_90d,
            coalesce(past.orders_365d, 0) as orders_365d,
            coalesce(past.revenue_30d, 0) as revenue_30d,
            coalesce(past.revenue_90d, 0) as revenue_90d,
            coalesce(past.revenue_365d, 0) as revenue_365d,
            coalesce(past.orders_refunded, 0) as orders_refunded,
            coalesce(past.orders_cancelled, 0) as orders_cancelled,
            coalesce(past.refunded_amount, 0) as refunded_amount{label}
        from spine
        left join past
            on past.customer_id = spine.customer_id and past.cutoff_at = spine.cutoff_at{label_join}
        order by {order_by}
    """


def _matrix(table: pa.Table) -> np.ndarray:
    return np.column_stack(
        [
            np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=float)
            for name in _ML_FEATURES
        ]
    )


def ml_training_cutoffs(first_order: dt.date | None, score_cutoff: dt.date, months: int):
    """Training cutoffs for a model scored at ``score_cutoff`` (see the module docstring)."""
    if first_order is None:
        return []
    last = add_months(score_cutoff, -months)
    cutoffs = [last - dt.timedelta(days=ML_CUTOFF_STEP_DAYS * k) for k in range(ML_CUTOFFS)]
    earliest = first_order + dt.timedelta(days=ML_MIN_HISTORY_DAYS)
    return [c for c in cutoffs if c >= earliest]


def ml_backtest_gap(first_order: dt.date | None, cutoff: dt.date, horizons: Sequence[int]) -> str:
    """Why the ML candidate cannot be backtested at every horizon ('' when it can)."""
    for months in horizons:
        if not ml_training_cutoffs(first_order, add_months(cutoff, -months), months):
            return (
                f"ml not considered: its {months}-month backtest needs orders from"
                f" {2 * months} months + {ML_MIN_HISTORY_DAYS} days before the as-of cutoff"
                f" (orders start {first_order})"
            )
    return ""


def fit_ml(
    context: RunContext, first_order: dt.date | None, score_cutoff: dt.date, months: int
) -> tuple[HistGradientBoostingRegressor | None, str]:
    """A revenue regressor for ``months`` months, trained before ``score_cutoff``."""
    cutoffs = ml_training_cutoffs(first_order, score_cutoff, months)
    if not cutoffs:
        return None, (
            f"not enough history for {months}-month labels before {score_cutoff}"
            f" (needs {months} months plus {ML_MIN_HISTORY_DAYS} days of orders)"
        )
    sql = ml_frame_sql(cutoffs, months, sample_rows=ML_MAX_ROWS)
    table = context.con.sql(sql).to_arrow_table()
    y = np.asarray(table["label"].to_numpy(zero_copy_only=False), dtype=float)
    if int((y > 0).sum()) < ML_MIN_POSITIVE_LABELS:
        return None, f"fewer than {ML_MIN_POSITIVE_LABELS} customers with revenue to learn from"
    model = HistGradientBoostingRegressor(
        loss="poisson",
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    )
    with threadpool_limits(limits=1):
        model.fit(_matrix(table), np.maximum(y, 0.0))
    return model, ""


def predict_ml(
    context: RunContext,
    models: dict[int, HistGradientBoostingRegressor],
    cutoff: dt.date,
    customer_id: np.ndarray,
) -> dict[int, np.ndarray]:
    """Predictions of each horizon's model for ``customer_id`` at ``cutoff``, made monotone."""
    table = context.con.sql(ml_frame_sql([cutoff], None)).to_arrow_table()
    ids = np.asarray(table["customer_id"].to_numpy(zero_copy_only=False), dtype=object)
    if not np.array_equal(ids, customer_id):
        raise RuntimeError("ML features and BTYD summary disagree on the customers")
    x = _matrix(table)
    out: dict[int, np.ndarray] = {}
    running = np.zeros(len(customer_id))
    with threadpool_limits(limits=1):
        for months in sorted(models):
            pred = np.maximum(models[months].predict(x), 0.0) if ids.size else running
            running = np.maximum(running, pred)
            out[months] = running.copy()
    return out


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


@dataclass
class Backtest:
    months: int
    cutoff: dt.date
    customer_id: np.ndarray
    actual: np.ndarray
    baseline: np.ndarray
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def _first_order_day(context: RunContext) -> dt.date | None:
    value = context.con.execute(f"select min(ordered_at) from {_COMPLETED}").fetchone()[0]
    return None if value is None else value.date()


def _backtest(
    context: RunContext,
    cutoff: dt.date,
    months: int,
    candidates: Sequence[str],
    first_order: dt.date | None,
) -> Backtest:
    start = add_months(cutoff, -months)
    windows = {"actual": (start, cutoff), "baseline": (add_months(start, -months), start)}
    summary, revenue = load_summary(context, start, windows)
    bt = Backtest(months, start, summary.customer_id, revenue["actual"], revenue["baseline"])
    if len(summary) == 0 or not np.any(summary.buyer):
        for c in candidates:
            bt.failures[c] = f"no customer with a completed order before {start}"
        return bt
    periods = (cutoff - start).days / PERIOD_DAYS
    btyd = [c for c in candidates if c in BTYD_CANDIDATES]
    if btyd:
        fit = BtydFit.fit(summary)
        for c in btyd:
            reason = fit.available(c)
            if reason is None:
                bt.predictions[c] = fit.predict(c, periods)
            else:
                bt.failures[c] = reason
    if "ml" in candidates:
        model, reason = fit_ml(context, first_order, start, months)
        if model is None:
            bt.failures["ml"] = reason
        else:
            bt.predictions["ml"] = predict_ml(context, {months: model}, start, summary.customer_id)[
                months
            ]
    if bt.actual.sum() <= 0:
        for c in list(bt.predictions):
            bt.failures[c] = f"no revenue in the backtest window from {start}"
            del bt.predictions[c]
    for c, pred in bt.predictions.items():
        bt.metrics[c] = backtest_metrics(bt.actual, pred)
    return bt


def choose(candidates: Sequence[str], backtests: Sequence[Backtest]) -> tuple[str, str]:
    """The candidate to publish and why (rule in the module docstring)."""
    covered = {c: {b.months for b in backtests if c in b.metrics} for c in candidates}
    every = set().union(*covered.values()) if covered else set()
    if not every:
        return "", "no backtest could be made"
    # candidates backtested at every horizon that any candidate was backtested at
    tried = [c for c in candidates if covered[c] == every]
    if not tried:  # each missed some horizon: compare where they all were backtested
        tried = [c for c in candidates if covered[c]]
    common = [b for b in backtests if all(c in b.metrics for c in tried)]
    if not common:
        return "", "the candidates were backtested at different horizons only"
    score = {
        c: float(np.mean([b.metrics[c]["mae"] / (b.actual.mean() or 1.0) for b in common]))
        for c in tried
    }
    lo, hi = CALIBRATED_RATIO
    calibrated = [
        c for c in tried if all(lo <= b.metrics[c]["aggregate_ratio"] <= hi for b in common)
    ]
    pool = calibrated or tried
    best = pool[0]
    for c in pool[1:]:
        if score[c] < score[best] * (1 - CHOICE_MARGIN):
            best = c
    horizons = ", ".join(f"{b.months}m" for b in common)
    scores = ", ".join(f"{c} {score[c]:.4f}" for c in tried)
    note = "" if calibrated else "; no candidate within the aggregate ratio bounds"
    return best, f"lowest relative backtest MAE over {horizons}: {scores}{note}"


def run(spec: InstanceSpec, context: RunContext) -> InstanceResult:
    horizons: list[int] = list(spec.params.get("horizons_months", PCLTV_DEFAULT_HORIZONS))
    mode = spec.params.get("model", "auto")
    candidates = {"auto": CANDIDATES, "btyd": BTYD_CANDIDATES, "ml": ("ml",)}[mode]
    cutoff = context.as_of + dt.timedelta(days=1)
    _prepare(context, cutoff)
    first_order = _first_order_day(context)
    metrics: dict[str, float | int | str] = {
        "time_unit_days": PERIOD_DAYS,
        "cutoff": cutoff.isoformat(),
    }
    if mode == "auto":
        gap = ml_backtest_gap(first_order, cutoff, horizons)
        if gap:  # a model that cannot be backtested at every horizon is not offered
            candidates = BTYD_CANDIDATES
            metrics["ml_note"] = gap
    curves: dict[str, pa.Table] = {}

    summary, _ = load_summary(context, cutoff)
    if not np.any(summary.buyer):
        raise ValueError("pcltv needs customers with a completed order before the as-of cutoff")
    fit = BtydFit.fit(summary) if set(candidates) & set(BTYD_CANDIDATES) else None
    if fit is not None:
        metrics.update(_parameter_metrics(fit))

    backtests = [_backtest(context, cutoff, h, candidates, first_order) for h in horizons]
    available = []
    for c in candidates:
        reason = fit.available(c) if c != "ml" else None
        if reason is None:
            available.append(c)
        else:
            metrics[f"{c}_note"] = reason
    ml_models: dict[int, HistGradientBoostingRegressor] = {}
    while True:
        if not available:
            raise ValueError(
                f"no pcltv model could be fitted for '{spec.id}': "
                + "; ".join(f"{k}: {v}" for k, v in metrics.items() if k.endswith("_note"))
            )
        chosen, reason = choose(available, backtests)
        chosen = chosen or available[0]
        if chosen != "ml":
            break
        for h in horizons:  # the ML models for the published predictions, once chosen
            model, note = fit_ml(context, first_order, cutoff, h)
            if model is None:
                metrics["ml_note"] = note
                available.remove("ml")
                break
            ml_models[h] = model
        else:
            break
    metrics["model_choice"] = chosen
    metrics["model_choice_reason"] = reason
    metrics["model_family"] = "ml" if chosen == "ml" else "btyd"

    for bt in backtests:
        metrics.update(_backtest_metrics(bt, chosen, curves))

    if chosen == "ml":
        values = predict_ml(context, ml_models, cutoff, summary.customer_id)
    else:
        values = {h: fit.predict(chosen, horizon_periods(cutoff, h)) for h in horizons}
        running = np.zeros(len(summary))
        for h in horizons:  # expected revenue grows with the horizon; guards rounding only
            running = np.maximum(running, values[h])
            values[h] = running.copy()
    for h in horizons:
        metrics[f"horizon_{h}m_periods"] = horizon_periods(cutoff, h)
        metrics[f"predicted_total_{h}m"] = float(values[h].sum())
    metrics["customers_scored"] = len(summary)
    metrics["customers_without_orders"] = int((~summary.buyer).sum())
    predictions = _predictions(context, spec.id, summary, horizons, values)
    backtested = [h for h in horizons if f"backtest_{h}m_gini" in metrics]
    return InstanceResult(
        predictions=predictions,
        metrics=metrics,
        curves=curves,
        headline=f"backtest_{backtested[-1]}m_gini" if backtested else "model_choice",
    )


def _parameter_metrics(fit: BtydFit) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for name in (*BTYD_CANDIDATES, "gg"):
        model = fit.models.get(name)
        if model is None:
            out[f"{name}_note"] = fit.notes.get(name, "not fitted")
            continue
        for key, value in model.params_.items():
            out[f"{name}_{key}"] = value
        out[f"{name}_log_likelihood"] = float(model.log_likelihood_)
        out[f"{name}_penalizer"] = fit.penalizers[name]
        out[f"{name}_customers"] = float(model.n_customers_)
    return out


def _backtest_metrics(bt: Backtest, chosen: str, curves: dict[str, pa.Table]) -> dict:
    prefix = f"backtest_{bt.months}m"
    out: dict[str, float | str] = {f"{prefix}_cutoff": bt.cutoff.isoformat()}
    for c, values in bt.metrics.items():
        for key in ("mae", "gini", "aggregate_ratio"):
            out[f"{prefix}_{c}_{key}"] = values[key]
    for c, reason in bt.failures.items():
        out[f"{prefix}_{c}_note"] = reason
    if bt.customer_id.size and bt.actual.sum() > 0:
        out[f"{prefix}_baseline_gini"] = backtest_metrics(bt.actual, bt.baseline)["gini"]
    if chosen in bt.metrics:
        for key, value in bt.metrics[chosen].items():
            out[f"{prefix}_{key}"] = value
        curves[f"decile_calibration_{bt.months}m"] = decile_calibration(
            bt.actual, bt.predictions[chosen], keys=bt.customer_id
        )
    else:
        out[f"{prefix}_note"] = bt.failures.get(chosen, "not backtested")
    return out


def _predictions(
    context: RunContext,
    instance_id: str,
    summary: Summary,
    horizons: Sequence[int],
    values: dict[int, np.ndarray],
) -> pa.Table:
    n = len(summary)
    long = pa.table(
        {
            "customer_id": pa.array(np.tile(summary.customer_id, len(horizons)), pa.string()),
            "attribute": pa.array(
                np.repeat([f"{instance_id}_{h}m" for h in horizons], n), pa.string()
            ),
            "amount": pa.array(np.concatenate([values[h] for h in horizons]), pa.float64()),
        }
    )
    context.con.register("pcdp_pcltv_values", long)
    try:
        return context.con.sql(
            """
            select customer_id, attribute,
                cast(to_json(round(greatest(amount, 0), 2)) as varchar) as value,
                'number' as value_type
            from pcdp_pcltv_values
            order by customer_id, attribute
            """
        ).to_arrow_table()
    finally:
        context.con.unregister("pcdp_pcltv_values")


register_runner("pcltv", run)
