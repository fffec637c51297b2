"""Permutation importance of an action model: the drop in average precision when one feature's
values are shuffled among the rows.

:func:`permutation_importance_mean` returns exactly what scikit-learn's
``permutation_importance(model, X, y, scoring="average_precision", n_repeats=n_repeats,
random_state=seed).importances_mean`` returns, to the bit. For a binary
``HistGradientBoostingClassifier`` on numeric features it gets there with less work: shuffling
feature ``j`` changes the output only of the trees that split on ``j`` (about 30 % of the trees
per feature in the example instances), so only those trees predict the shuffled rows again and
the others keep their predictions of the unshuffled ones. The trees' outputs are then added up
in scikit-learn's order (baseline, then tree by tree), which gives the same floating-point
sums as its ``decision_function``. The four example action instances' models at 1 M
customers (5,000 rows, 56 features, 3 repeats, one thread): 14.5 s with scikit-learn's
function, 5.5 s here, the same numbers. Any other model (the logistic regression pipeline)
goes to scikit-learn's function.

It reads fitted attributes that scikit-learn does not document (``_predictors``,
``_baseline_prediction``, ``_bin_mapper``): ``tests/python/test_action_importance.py`` checks
the result against scikit-learn's own for the pinned version.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

__all__ = ["permutation_importance_mean"]


def _is_binary_numeric_hgb(model: object) -> bool:
    return (
        isinstance(model, HistGradientBoostingClassifier)
        and model.n_trees_per_iteration_ == 1
        and model.is_categorical_ is None
    )


def permutation_importance_mean(
    model: object, x: np.ndarray, y: np.ndarray, n_repeats: int, seed: int
) -> np.ndarray:
    """Mean drop in average precision per column of `x` over `n_repeats` shuffles (seeded)."""
    if not _is_binary_numeric_hgb(model):
        return permutation_importance(
            model,
            x,
            y,
            scoring="average_precision",
            n_repeats=n_repeats,
            random_state=seed,
            n_jobs=1,
        ).importances_mean
    x = np.asarray(x, dtype=np.float64)
    trees = [iteration[0] for iteration in model._predictors]
    known_categories, feature_map = model._bin_mapper.make_known_categories_bitsets()
    threads = _openmp_effective_n_threads()

    def tree_output(tree, rows: np.ndarray) -> np.ndarray:
        return tree.predict(rows, known_categories, feature_map, threads)

    def average_precision(outputs: list[np.ndarray]) -> float:
        # scikit-learn's _raw_predict: zeros, plus the baseline, plus each tree in turn
        raw = np.zeros(len(x), dtype=model._baseline_prediction.dtype)
        raw += model._baseline_prediction[0, 0]
        for output in outputs:
            raw += output
        return float(average_precision_score(y, raw))

    unshuffled = [tree_output(tree, x) for tree in trees]
    baseline = average_precision(unshuffled)
    split_features = [
        set(np.unique(tree.nodes["feature_idx"][tree.nodes["is_leaf"] == 0]).tolist())
        for tree in trees
    ]
    # scikit-learn draws one seed for all columns; each column shuffles with its own
    # generator of that seed, in place, repeat after repeat
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    scores = np.empty((x.shape[1], n_repeats))
    for column in range(x.shape[1]):
        generator = np.random.RandomState(column_seed)
        order = np.arange(len(x))
        shuffled = x.copy()
        affected = [i for i, features in enumerate(split_features) if column in features]
        for repeat in range(n_repeats):
            generator.shuffle(order)
            shuffled[:, column] = shuffled[order, column]
            outputs = list(unshuffled)
            for i in affected:
                outputs[i] = tree_output(trees[i], shuffled)
            scores[column, repeat] = average_precision(outputs)
    return np.mean(baseline - scores, axis=1)
