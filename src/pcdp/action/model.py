"""Training, calibration, thresholding and scoring of an ``action_prediction`` instance.

Input is a training frame (pyarrow Table or pandas DataFrame) with one row per customer and
cutoff: ``customer_id``, ``cutoff_at`` (the as-of date the features were computed at),
``label`` (1 = the instance's outcome happened in the future window after the cutoff, 0 = it
did not; a null label - neither positive nor negative when ``negative`` is configured - is left
out) and numeric feature columns (nulls allowed).

The procedure (all of it deterministic for a given frame and ``seed``):

1. **Temporal split.** The most recent cutoff is the *validation* cutoff; every earlier cutoff is
   training data. Rows are never split at random. One cutoff only is a :class:`TrainingError`.
2. **Bounded sample.** At most ``max_training_rows`` training rows are kept. Rows are ranked by
   a seeded hash of ``(customer_id, cutoff_at)`` (so the choice does not depend on input order)
   and, when the budget is exceeded, the minority class is kept whole up to half the budget and
   the rest is filled with the majority class. The sample is not re-weighted: the raw models see
   the re-balanced sample and calibration (step 4) maps their scores back to true probabilities,
   because the validation cutoff is sampled uniformly (same hash, same bound) so its base rate
   stays honest.
   Kept rows are sorted by ``(cutoff_at, customer_id)`` before fitting.
3. **Candidates.** ``HistGradientBoostingClassifier`` (fixed ``random_state``; with two or more
   training cutoffs the number of boosting iterations is chosen by early stopping on the most
   recent *training* cutoff - a temporal holdout - and the model is then refitted on all
   training rows with that many iterations) and a regularised ``LogisticRegression`` pipeline
   (signed ``log1p`` of non-negative heavy-tailed columns, median imputation with missing
   indicators, standardisation).
4. **Validation halves.** The validation cutoff's rows are split by a seeded hash of
   ``customer_id`` into a *calibration* half and an *evaluation* half. The candidate with the
   higher PR-AUC (average precision) on the calibration half is chosen; the calibrator is fitted
   on the calibration half (isotonic when it holds at least :data:`ISOTONIC_MIN_CLASS_COUNT`
   positives and negatives - interpolated linearly between the centres of its blocks, so the
   scores keep the model's ranking instead of a few dozen tied steps -, else sigmoid / Platt
   on the logit of the raw score). Every published
   metric, the threshold, the precision curve and the feature importances come from the
   evaluation half only, which took part in neither fitting, selection nor calibration.
5. **Threshold.** The target precision comes from ``precision_level`` (see
   :mod:`pcdp.action.config`). On the evaluation half the threshold is the lowest score whose
   segment (score >= threshold) is *useful* - at least ``max(20, 1 %)`` of the evaluated
   customers, see :func:`min_useful_segment` - and reaches the target precision. When no useful
   segment reaches it, ``precision_target_reached`` is 0, a note says so, and the threshold is
   the one of maximum precision among useful segments (the largest such segment on ties): the
   segment is never empty.
6. **Metrics.** ``expected_calibration_error`` uses 10 equal-mass bins: evaluation rows sorted
   by score are cut into 10 groups of (as near as possible) equal size and the ECE is the
   size-weighted mean of ``|mean score - positive rate|`` over the groups. ``lift_top_decile`` is
   the positive rate of the 10 % highest scores divided by the base rate. Feature importance is
   the permutation importance (drop in average precision, 3 repeats, seeded) of the raw model on
   at most 5 000 evaluation rows (:mod:`pcdp.action.importance`: scikit-learn's, computed with
   fewer tree predictions).

The fitted model is the one trained on the training cutoffs; it is applied unchanged to the
features at the latest as-of by :func:`score_batches`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from pcdp.action.config import ActionConfig
from pcdp.action.importance import permutation_importance_mean
from pcdp.frames import detached

__all__ = [
    "ISOTONIC_MIN_CLASS_COUNT",
    "MIN_TRAINING_ROWS",
    "MIN_VALIDATION_CLASS_COUNT",
    "ActionModelResult",
    "Calibrator",
    "Threads",
    "TrainingError",
    "calibration_curve",
    "expected_calibration_error",
    "min_useful_segment",
    "precision_curve",
    "score_batches",
    "score_table",
    "select_threshold",
    "train_action_model",
]

KEY_COLUMNS = ("customer_id", "cutoff_at", "label")
#: Fewest training rows accepted.
MIN_TRAINING_ROWS = 200
#: Fewest positives and negatives each validation half (calibration, evaluation) must hold.
MIN_VALIDATION_CLASS_COUNT = 10
#: Isotonic calibration needs at least this many positives and negatives in the calibration half.
ISOTONIC_MIN_CLASS_COUNT = 200
#: Rows of the evaluation half used for permutation importance.
IMPORTANCE_MAX_ROWS = 5_000
#: Scoring works on slices of at most this many rows (memory stays flat).
SCORE_CHUNK_ROWS = 65_536
#: A model predicts blocks of rows of at most this many bytes of features. Gradient boosting
#: walks every row through one tree, then the next: a block that fits in the CPU cache is read
#: from it by every tree. 1 M random rows of 55 features, 200 trees of 31 leaves, one thread:
#: 16.9 s in blocks of 65,536 rows (28 MB), 9.4 s in blocks of 8,192 (3.6 MB), the same
#: numbers; the generated 1 M customers' action_prediction instance: 3.9 -> 3.6 s.
PREDICT_BLOCK_BYTES = 4 * 1024 * 1024

HGB = "hist_gradient_boosting"
LOGREG = "logistic_regression"


class TrainingError(RuntimeError):
    """The training frame cannot give a trustworthy model; the message says why."""


# --------------------------------------------------------------------------------------------
# Small building blocks


class SignedLog1p(TransformerMixin, BaseEstimator):
    """``sign(x) * log1p(|x|)`` on the given column positions; other columns pass through."""

    def __init__(self, columns: tuple[int, ...] = ()):
        self.columns = columns

    def fit(self, X, y=None):  # noqa: N803 - sklearn naming
        return self

    def transform(self, X):  # noqa: N803 - sklearn naming
        X = np.array(X, dtype=np.float64, copy=True)  # noqa: N806
        if self.columns:
            idx = list(self.columns)
            X[:, idx] = np.sign(X[:, idx]) * np.log1p(np.abs(X[:, idx]))
        return X


@dataclass(frozen=True, eq=False)
class Calibrator:
    """Maps raw model probabilities to calibrated ones (``isotonic`` or ``sigmoid``).

    For ``isotonic``, ``model`` is the pair ``(knots_x, knots_y)`` of the interpolated isotonic
    fit (see :func:`_fit_calibrator`); for ``sigmoid`` a fitted logistic regression on the logit
    of the raw score."""

    method: str
    model: Any

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            knots_x, knots_y = self.model
            out = np.interp(raw, knots_x, knots_y)
        else:
            out = self.model.predict_proba(_logit(raw).reshape(-1, 1))[:, 1]
        return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)


#: A thread count, or a function that gives one each time it is called: predictions ask again
#: for each scoring slice, so a caller can hand over cores as they come free.
Threads = int | Callable[[], int] | None


def _threads(n_threads: Threads):
    """Limit OpenMP/BLAS threads (HistGradientBoosting is OpenMP) when asked; on a busy
    machine one thread per process avoids the spin-wait slowdown of oversubscription. More
    than one thread raises the OpenMP limit only: BLAS limits are process-wide."""
    if n_threads is None:
        return contextlib.nullcontext()
    count = int(n_threads() if callable(n_threads) else n_threads)
    return threadpool_limits(limits=count, user_api=None if count == 1 else "openmp")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _isotonic_knots(iso: IsotonicRegression, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots of the *interpolated* isotonic map: one per block of the step function, at the
    block's mean raw score with the block's value. Interpolating linearly between them keeps
    the calibration of the blocks but not their ties: a plain isotonic fit maps every customer
    to one of a few dozen values, so segments (score >= threshold) could only grow in large
    jumps and the precision level was met only coarsely."""
    xs = np.sort(np.asarray(raw, dtype=np.float64))
    fitted = iso.predict(xs)
    starts = np.flatnonzero(np.r_[True, fitted[1:] != fitted[:-1]])
    sums = np.add.reduceat(xs, starts)
    sizes = np.diff(np.r_[starts, len(xs)])
    return sums / sizes, fitted[starts]


def _fit_calibrator(raw: np.ndarray, y: np.ndarray, seed: int) -> Calibrator:
    n_pos = int(y.sum())
    n_neg = int(len(y) - n_pos)
    if min(n_pos, n_neg) >= ISOTONIC_MIN_CLASS_COUNT:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(raw, y)
        return Calibrator("isotonic", _isotonic_knots(iso, raw))
    platt = LogisticRegression(C=1e4, max_iter=1000, random_state=seed)
    platt.fit(_logit(raw).reshape(-1, 1), y)
    return Calibrator("sigmoid", platt)


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps)."""
    x = np.asarray(x, dtype=np.uint64) + _GOLD
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _hash_text(values: np.ndarray, seed: int) -> np.ndarray:
    key = f"pcdp{seed % 10**12:012d}"
    return pd.util.hash_array(values, hash_key=key, categorize=False)


# --------------------------------------------------------------------------------------------
# Frame handling


def _as_table(frame: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise TypeError(f"expected a pyarrow Table or pandas DataFrame, got {type(frame).__name__}")


def _is_numeric(t: pa.DataType) -> bool:
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    )


def _feature_matrix(data: pa.Table | pa.RecordBatch, columns: Sequence[str]) -> np.ndarray:
    """Float64 matrix of the feature columns; nulls and infinities become NaN."""
    out = np.empty((data.num_rows, len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        col = data.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        col = pc.cast(col, pa.float64())
        out[:, j] = col.to_numpy(zero_copy_only=False)
    out[~np.isfinite(out)] = np.nan
    return out


def positive_probability(model: Any, features: np.ndarray) -> np.ndarray:
    """``model.predict_proba(features)[:, 1]``, predicted in blocks of at most
    ``PREDICT_BLOCK_BYTES`` (each row is predicted alone, so blocks do not change it)."""
    block = max(1, PREDICT_BLOCK_BYTES // (8 * max(1, features.shape[1])))
    if len(features) <= block:
        return model.predict_proba(features)[:, 1]
    return np.concatenate(
        [
            model.predict_proba(features[start : start + block])[:, 1]
            for start in range(0, len(features), block)
        ]
    )


def _cutoff_ints(col: pa.ChunkedArray) -> np.ndarray:
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = pc.cast(col, pa.timestamp("us"))
        t = col.type
    if pa.types.is_timestamp(t):
        col = pc.cast(col, pa.timestamp(t.unit))  # drop the time zone; instants are kept
        col = pc.cast(col, pa.int64())
    elif pa.types.is_date(t):
        col = pc.cast(pc.cast(col, pa.date32()), pa.int32())
    else:
        raise TrainingError(f"cutoff_at must be a timestamp or date, got {t}")
    if col.null_count:
        raise TrainingError("cutoff_at has null values")
    return col.to_numpy(zero_copy_only=False).astype(np.int64)


def _customer_ids(col: pa.ChunkedArray) -> np.ndarray:
    if col.null_count:
        raise TrainingError("customer_id has null values")
    return pc.cast(col, pa.string()).to_numpy(zero_copy_only=False)


def _class_balanced_sample(
    idx: np.ndarray, y: np.ndarray, h: np.ndarray, budget: int
) -> np.ndarray:
    """Row positions (a subset of ``idx``); see the module docstring."""
    if len(idx) <= budget:
        return idx
    pos = idx[y[idx] == 1]
    neg = idx[y[idx] == 0]
    minority, majority = (pos, neg) if len(pos) <= len(neg) else (neg, pos)
    n_min = min(len(minority), budget // 2)
    n_maj = min(len(majority), budget - n_min)
    n_min = min(len(minority), budget - n_maj)
    keep_min = minority[np.argsort(h[minority], kind="stable")[:n_min]]
    keep_maj = majority[np.argsort(h[majority], kind="stable")[:n_maj]]
    return np.concatenate([keep_min, keep_maj])


def _uniform_sample(idx: np.ndarray, h: np.ndarray, budget: int) -> np.ndarray:
    if len(idx) <= budget:
        return idx
    return idx[np.argsort(h[idx], kind="stable")[:budget]]


# --------------------------------------------------------------------------------------------
# Metrics, precision curve, threshold


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pa.Table:
    """Reliability table over ``bins`` equal-mass bins of the score (see the module docstring):
    per bin, its number, size, mean score and observed positive rate, lowest scores first."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, min(bins, len(order))) if len(order) else []
    return pa.table(
        {
            "bin": pa.array(range(1, len(parts) + 1), pa.int64()),
            "customers": pa.array([len(part) for part in parts], pa.int64()),
            "predicted_mean": pa.array([p[part].mean() for part in parts], pa.float64()),
            "observed_rate": pa.array([y[part].mean() for part in parts], pa.float64()),
        }
    )


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE over ``bins`` equal-mass bins of the score (see the module docstring)."""
    table = calibration_curve(y, p, bins)
    if table.num_rows == 0:
        return float("nan")
    size = table["customers"].to_numpy().astype(np.float64)
    gap = np.abs(table["predicted_mean"].to_numpy() - table["observed_rate"].to_numpy())
    return float((size * gap).sum() / size.sum())


def min_useful_segment(n: int) -> int:
    """Smallest *useful* segment among ``n`` evaluated customers: ``max(20, ceil(1 % of n))``,
    but never more than ``n``."""
    return int(min(n, max(20, math.ceil(0.01 * n))))


def _sorted_desc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-s, kind="stable")
    return s[order], np.cumsum(y[order])


def _segment_stats(
    s_desc: np.ndarray, cum_tp: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Segment size and true positives of ``score >= t`` for each threshold ``t``."""
    asc = s_desc[::-1]
    sizes = len(asc) - np.searchsorted(asc, thresholds, side="left")
    tp = np.where(sizes > 0, cum_tp[np.maximum(sizes - 1, 0)], 0)
    return sizes, tp


def precision_curve(y: np.ndarray, s: np.ndarray, points: int = 100) -> pa.Table:
    """Precision, recall (true positive rate), false positive rate, segment size and lift of
    ``score >= threshold`` at the score
    quantiles that give the top 1 %, 2 %, ... 100 % (``points`` steps); duplicate thresholds
    (tied scores) appear once."""
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    n = len(y)
    s_desc, cum_tp = _sorted_desc(y, s)
    ks = np.unique(np.ceil(np.arange(1, points + 1) / points * n).astype(np.int64).clip(1, n))
    thresholds = np.unique(s_desc[ks - 1])[::-1]
    sizes, tp = _segment_stats(s_desc, cum_tp, thresholds)
    positives = max(float(cum_tp[-1]), 1e-12)
    negatives = max(n - float(cum_tp[-1]), 1e-12)
    base = positives / n
    precision = tp / sizes
    return pa.table(
        {
            "threshold": thresholds,
            "precision": precision,
            "recall": tp / positives,
            "false_positive_rate": (sizes - tp) / negatives,
            "segment_share": sizes / n,
            "segment_count": sizes.astype(np.int64),
            "lift": precision / base,
        }
    )


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    precision: float
    recall: float
    segment_count: int
    segment_share: float
    target_reached: bool


def select_threshold(y: np.ndarray, s: np.ndarray, target: float) -> ThresholdChoice:
    """The lowest score whose useful segment reaches ``target`` precision, else the threshold
    of maximum precision among useful segments (see the module docstring)."""
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    n = len(y)
    s_desc, cum_tp = _sorted_desc(y, s)
    ends = np.flatnonzero(np.append(s_desc[1:] != s_desc[:-1], True))  # last row of tie groups
    sizes = ends + 1
    precision = cum_tp[ends] / sizes
    useful = sizes >= min_useful_segment(n)
    reached = useful & (precision >= target - 1e-12)
    if reached.any():
        i = int(np.flatnonzero(reached)[-1])
    else:
        cand = np.flatnonzero(useful)
        best = precision[cand].max()
        i = int(cand[precision[cand] >= best - 1e-12][-1])
    positives = max(float(cum_tp[-1]), 1e-12)
    return ThresholdChoice(
        threshold=float(s_desc[ends[i]]),
        precision=float(precision[i]),
        recall=float(cum_tp[ends[i]] / positives),
        segment_count=int(sizes[i]),
        segment_share=float(sizes[i] / n),
        target_reached=bool(reached.any()),
    )


def _lift_top_decile(y: np.ndarray, s: np.ndarray) -> float:
    k = max(1, math.ceil(0.1 * len(y)))
    top = np.argsort(-s, kind="stable")[:k]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


# --------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True, eq=False)
class ActionModelResult:
    """A trained action-prediction instance: model, calibrator, threshold and evaluation."""

    config: ActionConfig
    feature_columns: tuple[str, ...]
    chosen_model: str  # "hist_gradient_boosting" | "logistic_regression"
    model: Any  # fitted sklearn estimator on the feature matrix (columns in feature_columns order)
    calibrator: Calibrator
    threshold: float
    metrics: dict[str, float]
    precision_curve: pa.Table
    calibration_curve: pa.Table
    top_features: tuple[tuple[str, float], ...]
    candidate_pr_auc: dict[str, float]
    training_cutoffs: tuple[Any, ...]
    validation_cutoff: Any
    notes: tuple[str, ...] = field(default=())

    @property
    def instance_id(self) -> str:
        return self.config.instance_id

    @property
    def calibration_method(self) -> str:
        return self.calibrator.method

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for a feature matrix (columns in ``feature_columns`` order)."""
        features = np.asarray(features, dtype=np.float64)
        if len(features) == 0:
            return np.empty(0)
        return self.calibrator.transform(positive_probability(self.model, features))

    def metric_rows(self) -> list[tuple[str, float]]:
        """``(metric, value)`` pairs sorted by name, for the ``model_metrics`` table."""
        return sorted(self.metrics.items())


# --------------------------------------------------------------------------------------------
# Training


def _fit_hgb(
    x: np.ndarray,
    y: np.ndarray,
    cut: np.ndarray,
    seed: int,
) -> HistGradientBoostingClassifier:
    params = dict(
        learning_rate=0.08,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        max_bins=255,
        random_state=seed,
    )
    holdout = cut == cut.max()
    y_hold = y[holdout]
    usable = (
        len(np.unique(cut)) >= 2
        and min(int(y_hold.sum()), int((1 - y_hold).sum())) >= MIN_VALIDATION_CLASS_COUNT
        and min(int(y[~holdout].sum()), int((1 - y[~holdout]).sum())) >= MIN_VALIDATION_CLASS_COUNT
    )
    if not usable:
        model = HistGradientBoostingClassifier(max_iter=150, early_stopping=False, **params)
        return model.fit(x, y)
    probe = HistGradientBoostingClassifier(
        max_iter=400, early_stopping=True, n_iter_no_change=15, tol=1e-6, **params
    )
    probe.fit(
        x[~holdout],
        y[~holdout],
        X_val=x[holdout],
        y_val=y_hold,
    )
    best = max(10, int(probe.n_iter_) - probe.n_iter_no_change)
    model = HistGradientBoostingClassifier(max_iter=best, early_stopping=False, **params)
    return model.fit(x, y)


def _heavy_tailed(x: np.ndarray) -> tuple[int, ...]:
    cols = []
    for j in range(x.shape[1]):
        v = x[:, j]
        v = v[~np.isnan(v)]
        if len(v) < 10 or v.min() < 0:
            continue
        sd = v.std()
        if sd == 0:
            continue
        skew = float(np.mean(((v - v.mean()) / sd) ** 3))
        if skew > 2.0 and v.max() > 1.0:
            cols.append(j)
    return tuple(cols)


def _median_of_present(values: np.ndarray) -> float:
    """The median of a column's observed values (NaN for none): SimpleImputer's "median",
    without its masked-array median, which takes twice as long on 200 k rows."""
    return float(np.median(values)) if len(values) else math.nan


def _fit_logreg(x: np.ndarray, y: np.ndarray, seed: int) -> Pipeline:
    pipe = Pipeline(
        [
            ("log1p", SignedLog1p(_heavy_tailed(x))),
            ("impute", SimpleImputer(strategy=_median_of_present, add_indicator=True)),
            ("scale", StandardScaler()),
            ("logreg", LogisticRegression(C=0.5, max_iter=2000, random_state=seed)),
        ]
    )
    return pipe.fit(x, y)


def _cutoff_value(table: pa.Table, ints: np.ndarray, value: int) -> Any:
    i = int(np.flatnonzero(ints == value)[0])
    return table.column("cutoff_at")[i].as_py()


def _validate_columns(table: pa.Table, feature_columns: Sequence[str]) -> tuple[str, ...]:
    missing = [c for c in KEY_COLUMNS if c not in table.column_names]
    if missing:
        raise TrainingError(f"the training frame lacks column(s) {', '.join(missing)}")
    feats = tuple(feature_columns)
    if not feats:
        raise TrainingError("no feature columns given")
    if len(set(feats)) != len(feats):
        raise TrainingError("feature_columns lists a column twice")
    bad = [c for c in feats if c in KEY_COLUMNS]
    if bad:
        raise TrainingError(f"{', '.join(bad)} cannot be a feature column")
    absent = [c for c in feats if c not in table.column_names]
    if absent:
        raise TrainingError(f"feature column(s) not in the frame: {', '.join(absent)}")
    non_numeric = [c for c in feats if not _is_numeric(table.schema.field(c).type)]
    if non_numeric:
        raise TrainingError(f"feature column(s) are not numeric: {', '.join(non_numeric)}")
    return feats


def train_action_model(
    frame: pa.Table | pd.DataFrame,
    feature_columns: Sequence[str],
    config: ActionConfig,
    *,
    label_is_did: bool = False,
    n_threads: int | None = None,
    predict_threads: Threads = None,
) -> ActionModelResult:
    """Train, select, calibrate and evaluate one instance (see the module docstring).

    ``label`` is the outcome the score is the probability of. With ``label_is_did=True`` the
    label says whether the positive event happened and is flipped here for ``outcome: did_not``.
    ``n_threads`` limits the OpenMP/BLAS threads used (default: the libraries' own default).
    ``predict_threads`` (default ``n_threads``) is the limit while the permutation importance
    predicts: predictions are the same with any number of threads, fits are not (the gradient
    boosting sums its root gradients in parallel), so only predictions may take more.
    Raises :class:`TrainingError` when the frame cannot give a trustworthy model.
    """
    with _threads(n_threads):
        return _train(
            frame,
            feature_columns,
            config,
            label_is_did,
            n_threads if predict_threads is None else predict_threads,
        )


def _train(
    frame: pa.Table | pd.DataFrame,
    feature_columns: Sequence[str],
    config: ActionConfig,
    label_is_did: bool,
    predict_threads: Threads,
) -> ActionModelResult:
    iid = config.instance_id
    seed = config.seed
    table = _as_table(frame)
    try:
        feats = _validate_columns(table, feature_columns)
    except TrainingError as exc:
        raise TrainingError(f"instance {iid!r}: {exc}") from None

    def fail(message: str) -> TrainingError:
        return TrainingError(f"instance {iid!r}: {message}")

    try:
        label = pc.cast(table.column("label"), pa.float64()).to_numpy(zero_copy_only=False)
        cut_all = _cutoff_ints(table.column("cutoff_at"))
        cust_all = _customer_ids(table.column("customer_id"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TrainingError) as exc:
        raise fail(str(exc)) from None
    labelled = np.flatnonzero(~np.isnan(label))
    y_all = np.full(len(label), -1.0)
    y_all[labelled] = label[labelled]
    if not np.isin(y_all[labelled], (0.0, 1.0)).all():
        raise fail("label must be 0 or 1 (or null for rows left out)")
    if label_is_did and config.outcome == "did_not":
        y_all[labelled] = 1.0 - y_all[labelled]
    if len(labelled) == 0:
        raise fail("the training frame has no labelled rows")

    h_cust = _hash_text(cust_all, seed)
    h_row = _mix64(h_cust ^ _mix64(cut_all.astype(np.uint64) ^ np.uint64(seed)))
    if len(np.unique(h_row[labelled])) != len(labelled):
        raise fail("the training frame repeats a (customer_id, cutoff_at) pair")

    cutoffs = np.unique(cut_all[labelled])
    if len(cutoffs) < 2:
        raise fail(
            "the training frame has a single cutoff; at least two are needed (earlier cutoffs "
            "train the model, the most recent one validates it)"
        )
    last = cutoffs[-1]
    is_val = cut_all == last
    train_idx = labelled[~is_val[labelled]]
    val_idx = labelled[is_val[labelled]]

    n_pos = int(y_all[train_idx].sum())
    n_neg = len(train_idx) - n_pos
    if n_pos == 0:
        raise fail(f"no positive labels in the {len(train_idx)} training rows")
    if n_neg == 0:
        raise fail(f"no negative labels in the {len(train_idx)} training rows")
    if len(train_idx) < MIN_TRAINING_ROWS:
        raise fail(f"too few training rows: {len(train_idx)} < {MIN_TRAINING_ROWS}")
    if n_pos < config.min_positive_count or n_neg < config.min_positive_count:
        raise fail(
            f"too few training examples: {n_pos} positive and {n_neg} negative, "
            f"min_positive_count is {config.min_positive_count}"
        )

    budget = config.max_training_rows
    tr_rows = _class_balanced_sample(train_idx, y_all, h_row, budget)
    va_rows = _uniform_sample(val_idx, h_row, budget)

    def ordered(rows: np.ndarray) -> np.ndarray:
        key = pd.DataFrame({"c": cut_all[rows], "id": cust_all[rows]})
        return rows[key.sort_values(["c", "id"], kind="mergesort").index.to_numpy()]

    tr_rows = ordered(tr_rows)
    va_rows = ordered(va_rows)
    x_tr = _feature_matrix(table.take(pa.array(tr_rows)), feats)
    y_tr = y_all[tr_rows].astype(np.int64)
    x_va = _feature_matrix(table.take(pa.array(va_rows)), feats)
    y_va = y_all[va_rows].astype(np.int64)

    in_cal = (_mix64(h_cust[va_rows] ^ np.uint64(seed)) & np.uint64(1)) == 0
    for name, part in (("calibration", in_cal), ("evaluation", ~in_cal)):
        p, n = int(y_va[part].sum()), int(part.sum() - y_va[part].sum())
        if min(p, n) < MIN_VALIDATION_CLASS_COUNT:
            raise fail(
                f"the validation cutoff's {name} half has {p} positive and {n} negative rows; "
                f"at least {MIN_VALIDATION_CLASS_COUNT} of each are needed"
            )

    hgb = _fit_hgb(x_tr, y_tr, cut_all[tr_rows], seed)
    lr = _fit_logreg(x_tr, y_tr, seed)
    raw = {HGB: positive_probability(hgb, x_va), LOGREG: positive_probability(lr, x_va)}
    cand_ap = {k: float(average_precision_score(y_va[in_cal], v[in_cal])) for k, v in raw.items()}
    chosen = HGB if cand_ap[HGB] > cand_ap[LOGREG] else LOGREG
    model = hgb if chosen == HGB else lr

    calibrator = _fit_calibrator(raw[chosen][in_cal], y_va[in_cal], seed)
    x_ev, y_ev = x_va[~in_cal], y_va[~in_cal]
    s_ev = calibrator.transform(raw[chosen][~in_cal])

    base_rate = float(y_ev.mean())
    target = config.target_precision(base_rate)
    choice = select_threshold(y_ev, s_ev, target)
    notes = []
    if not choice.target_reached:
        notes.append(
            f"target precision {target:.3f} is not reached by any segment of at least "
            f"{min_useful_segment(len(y_ev))} evaluated customers; the segment uses the "
            f"threshold of maximum precision ({choice.precision:.3f}, "
            f"{choice.segment_count} customers)"
        )

    imp_rows = np.flatnonzero(~in_cal)
    imp_rows = np.sort(np.argsort(h_row[va_rows][imp_rows], kind="stable")[:IMPORTANCE_MAX_ROWS])
    x_imp, y_imp = x_ev[imp_rows], y_ev[imp_rows]
    if 0 < y_imp.sum() < len(y_imp):
        with _threads(predict_threads):
            imp = permutation_importance_mean(model, x_imp, y_imp, n_repeats=3, seed=seed)
    else:
        imp = np.zeros(len(feats))
    ranking = sorted(zip(feats, imp.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    top_features = tuple((k, float(v)) for k, v in ranking[:10])

    metrics = {
        "roc_auc": float(roc_auc_score(y_ev, s_ev)),
        "pr_auc": float(average_precision_score(y_ev, s_ev)),
        "log_loss": float(log_loss(y_ev, np.clip(s_ev, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "brier": float(brier_score_loss(y_ev, s_ev)),
        "expected_calibration_error": expected_calibration_error(y_ev, s_ev),
        "base_rate": base_rate,
        "lift_top_decile": _lift_top_decile(y_ev.astype(np.float64), s_ev),
        "precision_at_threshold": choice.precision,
        "recall_at_threshold": choice.recall,
        "segment_share_at_threshold": choice.segment_share,
        "segment_count_at_threshold": float(choice.segment_count),
        "threshold": choice.threshold,
        "precision_target": float(target),
        "precision_target_reached": float(choice.target_reached),
        "training_rows": float(len(tr_rows)),
        "training_positives": float(y_tr.sum()),
        "training_rows_available": float(len(train_idx)),
        "training_cutoffs": float(len(cutoffs) - 1),
        "validation_rows": float(len(va_rows)),
        "calibration_rows": float(in_cal.sum()),
        "evaluation_rows": float(len(y_ev)),
        "evaluation_positives": float(y_ev.sum()),
        "pr_auc_hist_gradient_boosting": cand_ap[HGB],
        "pr_auc_logistic_regression": cand_ap[LOGREG],
        "calibration_isotonic": float(calibrator.method == "isotonic"),
    }
    return ActionModelResult(
        config=config,
        feature_columns=feats,
        chosen_model=chosen,
        model=model,
        calibrator=calibrator,
        threshold=choice.threshold,
        metrics=metrics,
        precision_curve=precision_curve(y_ev, s_ev),
        calibration_curve=calibration_curve(y_ev, s_ev),
        top_features=top_features,
        candidate_pr_auc=cand_ap,
        training_cutoffs=tuple(_cutoff_value(table, cut_all, c) for c in cutoffs[:-1]),
        validation_cutoff=_cutoff_value(table, cut_all, last),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Scoring

SCORE_SCHEMA_FIELDS = ("customer_id", "score", "segment")


def score_batches(
    result: ActionModelResult,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    chunk_rows: int = SCORE_CHUNK_ROWS,
    n_threads: Threads = None,
) -> Iterator[pa.RecordBatch]:
    """Score feature batches lazily: one output batch (``customer_id``, ``score`` - calibrated
    probability, ``segment`` - ``score >= threshold``) per input slice of at most ``chunk_rows``
    rows, so memory stays flat in the number of rows. Extra input columns are ignored;
    ``n_threads`` as in :func:`train_action_model`; a function is asked again for each slice."""
    needed = ("customer_id", *result.feature_columns)
    for item in batches:
        parts = item.to_batches() if isinstance(item, pa.Table) else (item,)
        for batch in parts:
            missing = [c for c in needed if c not in batch.schema.names]
            if missing:
                raise ValueError(
                    f"instance {result.instance_id!r}: scoring batch lacks column(s) "
                    f"{', '.join(missing)}"
                )
            for start in range(0, batch.num_rows, chunk_rows):
                part = batch.slice(start, chunk_rows)
                with _threads(n_threads):
                    score = result.predict(_feature_matrix(part, result.feature_columns))
                yield pa.RecordBatch.from_arrays(
                    [
                        detached(part.column("customer_id")),
                        pa.array(score),
                        pa.array(score >= result.threshold),
                    ],
                    names=list(SCORE_SCHEMA_FIELDS),
                )


def score_table(result: ActionModelResult, frame: pa.Table | pd.DataFrame) -> pa.Table:
    """One-shot scoring of a whole table (convenience over :func:`score_batches`)."""
    table = _as_table(frame)
    out = list(score_batches(result, [table]))
    if not out:
        return pa.table(
            {
                "customer_id": pa.array([], table.schema.field("customer_id").type),
                "score": pa.array([], pa.float64()),
                "segment": pa.array([], pa.bool_()),
            }
        )
    return pa.Table.from_batches(out)
