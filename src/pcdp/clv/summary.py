"""Frequency / recency / T / monetary summaries computed in DuckDB SQL.

This is the SQL counterpart of lifetimes' ``summary_data_from_transaction_data`` and follows its
conventions exactly:

* every timestamp is first truncated to the start of its period (``time_unit``: ``'D'`` = calendar
  day, ``'W'`` = ISO week starting on Monday, which is what pandas' ``to_period('W')`` does);
* the observation end is truncated the same way, and every transaction whose period starts on or
  before it is kept (so a whole day / week is in or out, never half of it);
* all transactions of a customer in one period count as one purchase and their values are summed;
* ``frequency`` = number of distinct purchase periods - 1 (repeat purchases);
* ``recency`` = last purchase period - first purchase period, ``T`` = observation end period -
  first purchase period, both expressed in units of ``freq_unit_days`` days (lifetimes'
  ``freq_multiplier``; by default the length of ``time_unit``, i.e. 1 for days and 7 for weeks);
* ``monetary_value`` = mean of the per-period sums of the repeat periods (the first period is left
  out), 0 for customers with ``frequency = 0``.

Customers whose first purchase falls after the observation end do not appear. Rows with a null
customer or timestamp are ignored; a null value inside a period counts as 0.

The statement is one ``SELECT`` (CTEs only) so the same shape can be used as a dbt model.
Identifiers are validated against ``^[a-z_][a-z0-9_]*$`` and the only values written into the
text (observation end, unit length) are re-formatted from parsed Python objects, never pasted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Literal

import duckdb
import pyarrow as pa

__all__ = ["rfm_summary", "rfm_summary_sql"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_UNIT_DAYS = {"D": 1, "W": 7}
_TRUNC = {"D": "day", "W": "week"}


def _ident(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a valid identifier (expected ^[a-z_][a-z0-9_]*$)")
    return name


def _relation(name: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"relation name {name!r} must be a string")
    parts = name.split(".")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"relation name {name!r} must be [catalog.][schema.]name")
    return ".".join(_ident(p, "relation name part") for p in parts)


def _timestamp_literal(value: str | dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, dt.date):
        ts = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            ts = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"observation_end {value!r} is not an ISO 8601 date/time") from exc
    else:
        raise ValueError(f"observation_end must be a date, datetime or ISO string, not {value!r}")
    if ts.tzinfo is not None:  # contract: naive means UTC; normalise aware values to naive UTC
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    return f"TIMESTAMP '{ts.isoformat(sep=' ')}'"


def rfm_summary_sql(
    transactions_relation: str,
    customer_col: str = "customer_id",
    datetime_col: str = "occurred_at",
    monetary_col: str | None = None,
    observation_end: str | dt.date | dt.datetime | None = None,
    time_unit: Literal["D", "W"] = "D",
    freq_unit_days: float | None = None,
) -> str:
    """Return one DuckDB ``SELECT`` computing the BTYD summary of ``transactions_relation``.

    Output columns: ``customer_id``, ``frequency`` (BIGINT), ``recency``, ``T`` and, when
    ``monetary_col`` is given, ``monetary_value`` (DOUBLE); one row per customer, ordered by
    ``customer_id``.

    ``observation_end`` defaults to the latest timestamp in the relation (as in lifetimes).
    ``freq_unit_days`` is the length of the output time unit in days (lifetimes'
    ``freq_multiplier`` times the length of ``time_unit``); e.g. ``time_unit='D',
    freq_unit_days=7`` groups purchases by day and measures recency and T in weeks of 7 days,
    which is how the CDNOW summaries of Fader, Hardie & Lee (2005) are made.
    """
    rel = _relation(transactions_relation)
    cust = _ident(customer_col, "customer_col")
    ts_col = _ident(datetime_col, "datetime_col")
    money = _ident(monetary_col, "monetary_col") if monetary_col is not None else None
    if time_unit not in _TRUNC:
        raise ValueError(f"time_unit must be 'D' or 'W', not {time_unit!r}")
    unit = float(_UNIT_DAYS[time_unit] if freq_unit_days is None else freq_unit_days)
    if not (math.isfinite(unit) and unit > 0):
        raise ValueError(f"freq_unit_days must be a positive finite number, not {freq_unit_days!r}")
    trunc = _TRUNC[time_unit]
    end_lit = _timestamp_literal(observation_end)
    end_expr = end_lit if end_lit is not None else f"(SELECT max({ts_col}) FROM {rel})"
    value_sel = f", coalesce(sum({money}), 0)::DOUBLE AS period_value" if money else ""
    money_out = (
        ",\n    coalesce(avg(period_value) FILTER (WHERE period_start > first_period), 0)::DOUBLE"
        " AS monetary_value"
        if money
        else ""
    )
    return f"""WITH obs AS (
  SELECT date_trunc('{trunc}', CAST({end_expr} AS TIMESTAMP)) AS end_period
),
periods AS (
  SELECT
    {cust} AS customer_id,
    date_trunc('{trunc}', CAST({ts_col} AS TIMESTAMP)) AS period_start{value_sel}
  FROM {rel}
  WHERE {cust} IS NOT NULL
    AND {ts_col} IS NOT NULL
    AND date_trunc('{trunc}', CAST({ts_col} AS TIMESTAMP)) <= (SELECT end_period FROM obs)
  GROUP BY 1, 2
),
firsts AS (
  SELECT *, min(period_start) OVER (PARTITION BY customer_id) AS first_period
  FROM periods
)
SELECT
  customer_id,
  (count(*) - 1)::BIGINT AS frequency,
  (epoch(max(period_start)) - epoch(min(period_start))) / 86400.0 / {unit!r} AS recency,
  (epoch((SELECT end_period FROM obs)) - epoch(min(period_start))) / 86400.0 / {unit!r} AS "T"{
        money_out
    }
FROM firsts
GROUP BY customer_id
ORDER BY customer_id"""


def rfm_summary(
    con: duckdb.DuckDBPyConnection,
    transactions_relation: str,
    customer_col: str = "customer_id",
    datetime_col: str = "occurred_at",
    monetary_col: str | None = None,
    observation_end: str | dt.date | dt.datetime | None = None,
    time_unit: Literal["D", "W"] = "D",
    freq_unit_days: float | None = None,
) -> pa.Table:
    """Run :func:`rfm_summary_sql` on ``con`` and return the result as a ``pyarrow.Table``."""
    sql = rfm_summary_sql(
        transactions_relation,
        customer_col=customer_col,
        datetime_col=datetime_col,
        monetary_col=monetary_col,
        observation_end=observation_end,
        time_unit=time_unit,
        freq_unit_days=freq_unit_days,
    )
    return con.sql(sql).to_arrow_table()
