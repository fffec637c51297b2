"""Action prediction: will a customer do (or not do) something in the next window?

:mod:`pcdp.action.config` validates an ``action_prediction`` instance; :mod:`pcdp.action.model`
trains, calibrates, thresholds and scores it. See their docstrings for the rules. The model's
names (``pcdp.action.model.__all__``) are loaded on first use (PEP 562), so that validating an
instances file, which imports the configuration, does not import scikit-learn.
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

__all__ = [
    "PRECISION_ODDS_MULTIPLIERS",
    "ActionConfig",
    "ConfigError",
    "EligibleRule",
    "EventFilter",
    "parse_action_config",
]


def __getattr__(name: str) -> object:
    if not name.startswith("__"):
        model = import_module("pcdp.action.model")
        if name in model.__all__:
            return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
