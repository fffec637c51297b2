"""Simulate customers from the BG/NBD (or MBG/NBD) and Gamma-Gamma models.

Useful for tests (parameter recovery, calibration of predictions) and benchmarks.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

__all__ = ["simulate_customers", "simulate_transactions"]


def _purchase_times(rng, big_t, r, alpha, a, b, modified):
    """Repeat purchase times (customer index, time since first purchase) up to ``big_t``.

    ``lambda ~ Gamma(r, rate alpha)``, ``p ~ Beta(a, b)``; exponential gaps; after each repeat
    purchase (and, for MBG/NBD, also after the first one) the customer drops out with prob. ``p``.
    """
    n = big_t.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    idx = np.arange(n)
    if modified:
        idx = idx[rng.random(n) >= p]
    t = np.zeros(idx.shape[0])
    cust_parts, time_parts = [], []
    while idx.size:
        with np.errstate(divide="ignore"):
            t = t + rng.exponential(1.0, size=idx.size) / lam[idx]
        inside = t <= big_t[idx]
        idx, t = idx[inside], t[inside]
        cust_parts.append(idx)
        time_parts.append(t)
        alive = rng.random(idx.size) >= p[idx]
        idx, t = idx[alive], t[alive]
    if cust_parts:
        cust = np.concatenate(cust_parts)
        times = np.concatenate(time_parts)
    else:
        cust, times = np.zeros(0, dtype=np.int64), np.zeros(0)
    order = np.lexsort((times, cust))
    return cust[order], times[order], lam, p


def _spend(rng, n, p, q, gamma):
    # per-customer rate nu ~ Gamma(q, rate gamma); transaction value ~ Gamma(p, rate nu)
    return rng.gamma(q, 1.0 / gamma, size=n)


def simulate_customers(
    n_customers: int,
    T: float | np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    p: float | None = None,
    q: float | None = None,
    gamma: float | None = None,
    holdout: float = 0.0,
    modified: bool = False,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """Simulate per-customer summaries in continuous time.

    ``T`` (scalar or one value per customer) is each customer's age at the end of calibration.
    Returns numpy arrays ``frequency``, ``recency``, ``T``, ``frequency_holdout`` (repeat
    purchases in ``(T, T + holdout]``) and, when ``p``, ``q``, ``gamma`` are given,
    ``monetary_value`` (mean of the calibration repeat purchases, Gamma-Gamma; 0 when
    ``frequency = 0``) and ``mean_spend`` (each customer's true mean spend ``p / nu``).
    """
    rng = np.random.default_rng(seed)
    big_t = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    cust, times, _, _ = _purchase_times(rng, big_t + holdout, r, alpha, a, b, modified)
    calib = times <= big_t[cust]
    freq = np.bincount(cust[calib], minlength=n_customers).astype(float)
    recency = np.zeros(n_customers)
    np.maximum.at(recency, cust[calib], times[calib])
    out = {
        "frequency": freq,
        "recency": recency,
        "T": big_t,
        "frequency_holdout": np.bincount(cust[~calib], minlength=n_customers).astype(float),
    }
    if p is not None and q is not None and gamma is not None:
        nu = _spend(rng, n_customers, p, q, gamma)
        # the mean of x Gamma(p, nu) values is Gamma(p x, x nu)
        pos = freq > 0
        money = np.zeros(n_customers)
        money[pos] = rng.gamma(p * freq[pos], 1.0 / (freq[pos] * nu[pos]))
        out["monetary_value"] = money
        out["mean_spend"] = p / nu
    return out


def simulate_transactions(
    n_customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    gamma: float,
    *,
    start: str | dt.date = "2024-01-01",
    acquisition_days: int = 84,
    observation_days: int = 273,
    period_days: float = 7.0,
    modified: bool = False,
    seed: int | None = None,
) -> pa.Table:
    """Simulate a transaction log: columns ``customer_id`` (int64), ``occurred_at`` (timestamp),
    ``amount`` (double).

    Customers make their first purchase uniformly over the first ``acquisition_days`` days from
    ``start`` and are observed until ``start + observation_days``; model parameters are per
    ``period_days`` days (7: weekly, like CDNOW). Repeat purchases follow BG/NBD (MBG/NBD when
    ``modified``), amounts Gamma-Gamma.
    """
    if not 0 < acquisition_days <= observation_days:
        raise ValueError("need 0 < acquisition_days <= observation_days")
    rng = np.random.default_rng(seed)
    start_d = dt.date.fromisoformat(start) if isinstance(start, str) else start
    birth_s = rng.integers(0, acquisition_days * 86400, size=n_customers)
    big_t = (observation_days * 86400 - birth_s) / 86400.0 / period_days
    cust, times, _, _ = _purchase_times(rng, big_t, r, alpha, a, b, modified)
    all_cust = np.concatenate([np.arange(n_customers), cust])
    offs = np.concatenate([birth_s, birth_s[cust] + np.floor(times * period_days * 86400)])
    nu = _spend(rng, n_customers, p, q, gamma)
    amount = np.round(rng.gamma(p, 1.0 / nu[all_cust]), 2)
    amount = np.maximum(amount, 0.01)
    order = np.lexsort((offs, all_cust))
    epoch0 = np.datetime64(start_d.isoformat(), "s")
    occurred = epoch0 + offs[order].astype("timedelta64[s]")
    return pa.table(
        {
            "customer_id": pa.array(all_cust[order].astype(np.int64)),
            "occurred_at": pa.array(occurred.astype("datetime64[us]")),
            "amount": pa.array(amount[order]),
        }
    )
