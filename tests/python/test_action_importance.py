"""pcdp.action.importance gives scikit-learn's permutation importance to the bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pcdp.action.importance import permutation_importance_mean


def _data(seed: int, rows: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6))
    x[:, 1] = np.round(x[:, 1] * 3)  # few distinct values: ties among the scores
    x[rng.random(rows) < 0.2, 2] = np.nan  # missing values take their own branch
    x[:, 5] = 7.0  # constant: no tree splits on it
    logit = 1.5 * x[:, 0] - x[:, 1] + np.nan_to_num(x[:, 2]) * 0.8 + 0.3 * x[:, 3]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y


def _sklearn(model, x, y, repeats, seed) -> np.ndarray:
    return permutation_importance(
        model,
        x,
        y,
        scoring="average_precision",
        n_repeats=repeats,
        random_state=seed,
        n_jobs=1,
    ).importances_mean


@pytest.mark.parametrize(("seed", "repeats"), [(0, 3), (11, 1), (2024, 4)])
def test_gradient_boosting_matches_sklearn_exactly(seed, repeats):
    x, y = _data(seed)
    model = HistGradientBoostingClassifier(max_iter=60, random_state=seed).fit(x[:2000], y[:2000])
    held_out_x, held_out_y = x[2000:], y[2000:]

    ours = permutation_importance_mean(model, held_out_x, held_out_y, repeats, seed)

    expected = _sklearn(model, held_out_x, held_out_y, repeats, seed)
    assert ours.dtype == expected.dtype
    assert np.array_equal(ours, expected)  # bit for bit, not approximately
    assert ours[0] > 0.05  # the strongest feature matters
    assert ours[5] == 0.0  # no tree reads the constant column


def test_input_is_not_changed():
    x, y = _data(3)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=3).fit(x, y)
    before = x.copy()
    permutation_importance_mean(model, x, y, 2, 3)
    assert np.array_equal(x, before, equal_nan=True)


def test_other_models_go_to_sklearn():
    x, y = _data(5)
    x = np.nan_to_num(x)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    ours = permutation_importance_mean(model, x, y, 2, 5)
    assert np.array_equal(ours, _sklearn(model, x, y, 2, 5))
