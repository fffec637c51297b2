"""Backtest metrics for revenue predictions: MAE, Spearman, normalised Gini, decile calibration.

Every function takes the realised values ``actual`` and the predictions ``predicted`` (one per
customer, same order) and is deterministic: ties in the predictions are never broken by the input
order.

* :func:`normalized_gini` - the Gini coefficient of ``actual`` ordered by ``predicted`` divided by
  the Gini of ``actual`` ordered by itself (1 = perfect ranking, 0 = no better than random,
  negative = worse). Customers with tied predictions form one block inside which the Lorenz curve
  is a straight line, i.e. the expected value over every order of the tied customers.
* :func:`decile_calibration` - customers sorted by prediction (ties broken by ``keys``, e.g. the
  customer id) and cut into 10 groups of as near as possible equal size; decile 10 holds the
  highest predictions. Per decile: customers, mean and total predicted and actual.
* :func:`backtest_metrics` - the metrics above plus the totals and their ratio.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.stats import spearmanr

__all__ = ["backtest_metrics", "decile_calibration", "normalized_gini"]


def _pair(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(predicted, dtype=float).ravel()
    if a.shape != p.shape:
        raise ValueError("actual and predicted must have the same length")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(p))):
        raise ValueError("actual and predicted must be finite")
    return a, p


def _gini(actual: np.ndarray, score: np.ndarray) -> float:
    """Twice the area between the Lorenz curve of ``actual`` (highest ``score`` first; tied
    scores as one linear block) and the diagonal."""
    n = actual.size
    order = np.argsort(-score, kind="stable")
    s, a = score[order], actual[order]
    ends = np.append(np.flatnonzero(s[1:] != s[:-1]), n - 1)  # last index of each tie block
    cum_a = np.concatenate([[0.0], np.cumsum(a)[ends]]) / a.sum()
    cum_n = np.concatenate([[0.0], ends + 1.0]) / n
    area = np.sum((cum_a[1:] + cum_a[:-1]) / 2 * np.diff(cum_n))  # trapezoids under the curve
    return float(2 * (area - 0.5))


def normalized_gini(actual, predicted) -> float:
    """Normalised Gini of ``predicted`` against ``actual`` (NaN when ``actual`` sums to <= 0 or
    is constant, where no ranking can be judged)."""
    a, p = _pair(actual, predicted)
    if a.size < 2 or a.sum() <= 0 or np.all(a == a[0]):
        return float("nan")
    return _gini(a, p) / _gini(a, a)


def decile_calibration(actual, predicted, keys=None, groups: int = 10) -> pa.Table:
    """Predicted vs actual per prediction decile (see the module docstring)."""
    a, p = _pair(actual, predicted)
    tiebreak = np.arange(a.size) if keys is None else np.asarray(keys)
    order = np.lexsort((tiebreak, p))  # ascending prediction, ties by key
    parts = [part for part in np.array_split(order, groups) if part.size]
    first = groups - len(parts) + 1
    return pa.table(
        {
            "decile": pa.array(range(first, groups + 1), pa.int32()),
            "customers": pa.array([part.size for part in parts], pa.int64()),
            "predicted_mean": pa.array([float(p[part].mean()) for part in parts]),
            "actual_mean": pa.array([float(a[part].mean()) for part in parts]),
            "predicted_total": pa.array([float(p[part].sum()) for part in parts]),
            "actual_total": pa.array([float(a[part].sum()) for part in parts]),
        }
    )


def backtest_metrics(actual, predicted) -> dict[str, float]:
    """MAE, Spearman, normalised Gini, totals and aggregate predicted / actual."""
    a, p = _pair(actual, predicted)
    if a.size == 0:
        raise ValueError("no customers to evaluate")
    if a.size > 1 and np.ptp(a) > 0 and np.ptp(p) > 0:
        spearman = float(spearmanr(a, p).statistic)
    else:
        spearman = float("nan")
    total_a, total_p = float(a.sum()), float(p.sum())
    return {
        "customers": float(a.size),
        "mae": float(np.mean(np.abs(a - p))),
        "spearman": spearman,
        "gini": normalized_gini(a, p),
        "predicted_total": total_p,
        "actual_total": total_a,
        "aggregate_ratio": total_p / total_a if total_a > 0 else float("nan"),
    }
