"""Action prediction: will a customer do (or not do) something in the next window?

:mod:`pcdp.action.config` validates an ``action_prediction`` instance; :mod:`pcdp.action.model`
trains, calibrates, thresholds and scores it. See their docstrings for the rules.
"""

from pcdp.action.config import (
    PRECISION_ODDS_MULTIPLIERS,
    ActionConfig,
    ConfigError,
    EligibleRule,
    EventFilter,
    parse_action_config,
)
from pcdp.action.model import (
    ActionModelResult,
    Calibrator,
    Threads,
    TrainingError,
    calibration_curve,
    expected_calibration_error,
    min_useful_segment,
    precision_curve,
    score_batches,
    score_table,
    select_threshold,
    train_action_model,
)

__all__ = [
    "PRECISION_ODDS_MULTIPLIERS",
    "ActionConfig",
    "ActionModelResult",
    "Calibrator",
    "ConfigError",
    "EligibleRule",
    "EventFilter",
    "Threads",
    "TrainingError",
    "calibration_curve",
    "expected_calibration_error",
    "min_useful_segment",
    "parse_action_config",
    "precision_curve",
    "score_batches",
    "score_table",
    "select_threshold",
    "train_action_model",
]
