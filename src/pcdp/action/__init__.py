"""Action prediction: will a customer do (or not do) something in the next window?

:mod:`pcdp.action.config` validates an ``action_prediction`` instance; :mod:`pcdp.action.model`
trains, calibrates, thresholds and scores it. See their docstrings for the rules. The model's
names load on first use (PEP 562), so that validating an instances file, which imports the
configuration, does not import scikit-learn.
"""

from importlib import import_module

from pcdp.action.config import (
    PRECISION_ODDS_MULTIPLIERS,
    ActionConfig,
    ConfigError,
    EligibleRule,
    EventFilter,
    parse_action_config,
)

_MODEL_NAMES = frozenset(
    {
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
    }
)

__all__ = [
    "PRECISION_ODDS_MULTIPLIERS",
    "ActionConfig",
    "ConfigError",
    "EligibleRule",
    "EventFilter",
    "parse_action_config",
    *sorted(_MODEL_NAMES),
]


def __getattr__(name: str) -> object:
    if name in _MODEL_NAMES:
        return getattr(import_module("pcdp.action.model"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
