"""Configuration of an ``action_prediction`` instance (CONTRACT.md section 2).

:func:`parse_action_config` validates the dict read from the instances YAML and returns a frozen
:class:`ActionConfig`. Every refusal is a :class:`ConfigError` whose message names the instance
and the key, e.g. ``instance 'churn': future_window_days must be a positive integer, got -3``.

Keys (defaults in brackets)
---------------------------
``positive``
    What counts as a positive outcome: an event name, a list of names, or a list of
    ``{event: name, properties: {key: value}, min_count: n}`` filters (an event matches a filter
    when its name is ``event`` and every listed property equals the given value; a customer
    matches it when at least ``min_count`` [1] matching events fall in the window). A customer
    is positive when any filter of the list matches. Property values compare as follows: text
    equals the property's value as text (``"5"`` matches ``5`` and ``"5"``), a number equals it
    numerically, ``true`` / ``false`` only a JSON boolean, ``null`` a property present and null.
    Required.
``negative``
    Same shape, optional. When given, only customers who did a ``negative`` event (and no
    ``positive`` one) in the future window are labelled 0; everyone else who is not positive is
    left out of training. [everyone eligible who is not positive]
``outcome``
    ``did`` (the score is the probability of doing a positive event in the future window) or
    ``did_not`` (the probability of *not* doing one: churn / absence). [did]
``eligible``
    Which customers are trained on and scored, judged at each cutoff (as-of):

    * ``all`` - every known customer;
    * ``active_in_past_window`` - at least one event or completed order in the
      ``past_window_days`` before the cutoff;
    * ``has_ordered`` - at least one completed order at any time before the cutoff;
    * ``{event: name, properties: {...}, min_count: n}`` - at least ``min_count`` [1]
      matching events in the ``past_window_days`` before the cutoff. [all]
``past_window_days`` [90], ``future_window_days`` [30]
    Positive integers (at most 3650).
``precision_level``
    ``high``, ``medium``, ``low`` or a number in (0, 1). [medium] A number is an absolute target
    precision. The named levels are *relative to the base rate* ``b`` of the outcome: the target
    is the precision whose odds are a fixed multiple of the base odds,
    ``odds(target) = m * b / (1 - b)`` with ``m = 2`` (low), ``4`` (medium), ``8`` (high); see
    :data:`PRECISION_ODDS_MULTIPLIERS` and :meth:`ActionConfig.target_precision`.
    Why: a fixed absolute precision is meaningless across outcomes - 0.6 is unreachable for a
    2 % purchase rate and trivially met (by everyone) for a 70 % churn rate. An odds multiple is
    always strictly between the base rate and 1, so the segment is always a real selection, and
    it asks for comparable "strength of evidence" whatever the base rate. Examples: base rate
    2 % -> low 3.9 %, medium 7.5 %, high 14 %; 20 % -> 33 %, 50 %, 67 %; 60 % -> 75 %, 86 %, 92 %.
``min_positive_count`` [25]
    Fewest positives (and negatives) the training cutoffs must hold; fewer is a TrainingError.
``max_training_rows`` [100000]
    Upper bound of the (deterministic) training sample; also bounds the validation sample.
``seed`` [42]
    Seed of every random choice (sampling, models, permutation importance).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PRECISION_ODDS_MULTIPLIERS",
    "ActionConfig",
    "ConfigError",
    "EligibleRule",
    "EventFilter",
    "parse_action_config",
    "property_matches",
]

#: Named precision levels -> multiplier of the base-rate odds (see module docstring).
PRECISION_ODDS_MULTIPLIERS: dict[str, float] = {"low": 2.0, "medium": 4.0, "high": 8.0}

_ACTION_KEYS = frozenset(
    {
        "positive",
        "negative",
        "outcome",
        "eligible",
        "past_window_days",
        "future_window_days",
        "precision_level",
        "min_positive_count",
        "max_training_rows",
        "seed",
    }
)
#: Keys every instance may carry whatever its type; accepted and ignored here.
_COMMON_KEYS = frozenset({"id", "type", "status", "description", "owner", "tags", "label"})
_ELIGIBLE_NAMES = ("all", "active_in_past_window", "has_ordered")
_MAX_WINDOW_DAYS = 3650


class ConfigError(ValueError):
    """An instance configuration is refused; the message names the instance and the key."""


def property_matches(expected: str | int | float | bool | None, actual: Any, present: bool) -> bool:
    """Whether a property value (parsed from the event's JSON) equals a filter value, by the
    rules of the module docstring (the SQL of :mod:`pcdp.action.sql` applies the same rules)."""
    if not present:
        return False
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual is expected
    if isinstance(expected, int | float):
        if actual is None or isinstance(actual, bool | dict | list):
            return False
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    if actual is None:
        return False
    if isinstance(actual, bool):
        return expected == ("true" if actual else "false")
    if isinstance(actual, str):
        return actual == expected
    if isinstance(actual, int | float):
        return float(expected) == float(actual) if _is_number_text(expected) else False
    return False


def _is_number_text(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


@dataclass(frozen=True)
class EventFilter:
    """One event pattern: the event name plus property equalities (sorted ``(key, value)``);
    a customer matches it when at least ``min_count`` matching events fall in the window."""

    event: str
    properties: tuple[tuple[str, str | int | float | bool | None], ...] = ()
    min_count: int = 1

    def matches(self, event_name: str, properties: Mapping[str, Any] | None = None) -> bool:
        """True when one event with this name and these properties matches the filter
        (``min_count`` is about how many such events a customer has, not checked here)."""
        if event_name != self.event:
            return False
        props = properties or {}
        return all(property_matches(v, props.get(k), k in props) for k, v in self.properties)


@dataclass(frozen=True)
class EligibleRule:
    """Eligibility rule: ``kind`` is ``all``, ``active_in_past_window``, ``has_ordered`` or
    ``event`` (then ``event_filter`` says which event, looked for in the past window)."""

    kind: str = "all"
    event_filter: EventFilter | None = None


@dataclass(frozen=True)
class ActionConfig:
    """A validated ``action_prediction`` instance."""

    instance_id: str
    positive: tuple[EventFilter, ...]
    negative: tuple[EventFilter, ...] | None = None
    outcome: str = "did"
    eligible: EligibleRule = EligibleRule()
    past_window_days: int = 90
    future_window_days: int = 30
    precision_level: str | float = "medium"
    min_positive_count: int = 25
    max_training_rows: int = 100_000
    seed: int = 42

    def target_precision(self, base_rate: float) -> float:
        """The target precision of the segment for an outcome with this base rate.

        A number in (0, 1) is used as is; a named level is the precision whose odds are
        ``PRECISION_ODDS_MULTIPLIERS[level]`` times the base odds.
        """
        if not isinstance(self.precision_level, str):
            return float(self.precision_level)
        b = min(max(float(base_rate), 1e-9), 1.0 - 1e-9)
        odds = PRECISION_ODDS_MULTIPLIERS[self.precision_level] * b / (1.0 - b)
        return odds / (1.0 + odds)


def _fail(instance_id: str, message: str) -> ConfigError:
    return ConfigError(f"instance {instance_id!r}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(iid: str, raw: Mapping[str, Any], key: str, default: int, maximum: int) -> int:
    if key not in raw or raw[key] is None:
        return default
    value = raw[key]
    if not _is_int(value) or value <= 0:
        raise _fail(iid, f"{key} must be a positive integer, got {value!r}")
    if value > maximum:
        raise _fail(iid, f"{key} must be at most {maximum}, got {value!r}")
    return int(value)


def _event_filter(iid: str, key: str, item: Any) -> EventFilter:
    if isinstance(item, str):
        if not item.strip():
            raise _fail(iid, f"{key} has an empty event name")
        return EventFilter(item.strip())
    if isinstance(item, Mapping):
        unknown = set(item) - {"event", "properties", "min_count"}
        if unknown:
            raise _fail(
                iid,
                f"{key} filter has unknown key(s) {sorted(map(str, unknown))}; "
                "expected 'event' and optional 'properties', 'min_count'",
            )
        min_count = item.get("min_count", 1)
        min_count = 1 if min_count is None else min_count
        if not _is_int(min_count) or not 1 <= min_count <= 1_000_000:
            raise _fail(
                iid,
                f"{key} filter min_count must be an integer from 1 to 1000000, got {min_count!r}",
            )
        name = item.get("event")
        if not isinstance(name, str) or not name.strip():
            raise _fail(iid, f"{key} filter needs 'event': a non-empty event name, got {name!r}")
        props = item.get("properties") or {}
        if not isinstance(props, Mapping):
            raise _fail(iid, f"{key} filter 'properties' must be a mapping, got {props!r}")
        pairs = []
        for pk, pv in props.items():
            if not isinstance(pk, str) or not pk:
                raise _fail(iid, f"{key} filter property names must be non-empty text, got {pk!r}")
            if pv is not None and not isinstance(pv, str | int | float | bool):
                raise _fail(iid, f"{key} filter property {pk!r} must be a scalar value, got {pv!r}")
            if isinstance(pv, float) and not math.isfinite(pv):
                raise _fail(iid, f"{key} filter property {pk!r} must be finite, got {pv!r}")
            pairs.append((pk, pv))
        return EventFilter(name.strip(), tuple(sorted(pairs, key=lambda kv: kv[0])), min_count)
    raise _fail(iid, f"{key} entries must be an event name or {{event, properties}}, got {item!r}")


def _event_filters(iid: str, key: str, value: Any) -> tuple[EventFilter, ...]:
    items = [value] if isinstance(value, str | Mapping) else value
    if not isinstance(items, list | tuple) or not items:
        raise _fail(
            iid,
            f"{key} must be an event name, a non-empty list of names or of "
            f"{{event, properties}} filters, got {value!r}",
        )
    filters = tuple(_event_filter(iid, key, item) for item in items)
    if len(set(filters)) != len(filters):
        raise _fail(iid, f"{key} lists the same event filter twice")
    return filters


def _eligible(iid: str, value: Any) -> EligibleRule:
    if value is None:
        return EligibleRule()
    if isinstance(value, str):
        if value not in _ELIGIBLE_NAMES:
            raise _fail(
                iid,
                f"eligible must be one of {', '.join(_ELIGIBLE_NAMES)} or "
                f"{{event: name}}, got {value!r}",
            )
        return EligibleRule(value)
    if isinstance(value, Mapping):
        return EligibleRule("event", _event_filter(iid, "eligible", value))
    raise _fail(
        iid,
        f"eligible must be one of {', '.join(_ELIGIBLE_NAMES)} or {{event: name}}, got {value!r}",
    )


def _precision_level(iid: str, value: Any) -> str | float:
    if value is None:
        return "medium"
    if isinstance(value, str):
        if value in PRECISION_ODDS_MULTIPLIERS:
            return value
        raise _fail(
            iid, f"precision_level must be high, medium, low or a number in (0,1), got {value!r}"
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        if math.isfinite(v) and 0.0 < v < 1.0:
            return v
    raise _fail(
        iid, f"precision_level must be high, medium, low or a number in (0,1), got {value!r}"
    )


def parse_action_config(instance: Mapping[str, Any], *, strict: bool = True) -> ActionConfig:
    """Validate one instance dict (as read from YAML) of type ``action_prediction``.

    ``strict`` refuses keys that are neither action-prediction keys nor common instance keys
    (``id``, ``type``, ``status``, ``description``, ``owner``, ``tags``, ``label``), so a typo
    such as ``precison_level`` is not silently ignored.
    """
    if not isinstance(instance, Mapping):
        raise ConfigError(f"an instance must be a mapping, got {instance!r}")
    iid = instance.get("id")
    if not isinstance(iid, str) or not iid:
        raise ConfigError(f"instance {iid!r}: id must be non-empty text, got {iid!r}")
    itype = instance.get("type", "action_prediction")
    if itype != "action_prediction":
        raise _fail(iid, f"type must be action_prediction, got {itype!r}")
    if strict:
        unknown = sorted(str(k) for k in instance if k not in _ACTION_KEYS | _COMMON_KEYS)
        if unknown:
            raise _fail(
                iid,
                f"unknown key(s) {', '.join(unknown)}; action_prediction keys are "
                f"{', '.join(sorted(_ACTION_KEYS))}",
            )

    if instance.get("positive") is None:
        raise _fail(iid, "positive is required: the event (or events) that count as positive")
    positive = _event_filters(iid, "positive", instance["positive"])
    negative = None
    if instance.get("negative") is not None:
        negative = _event_filters(iid, "negative", instance["negative"])
        overlap = set(positive) & set(negative)
        if overlap:
            names = ", ".join(sorted(f.event for f in overlap))
            raise _fail(iid, f"negative repeats a positive event filter ({names})")

    outcome = instance.get("outcome", "did")
    outcome = "did" if outcome is None else outcome
    if outcome not in ("did", "did_not"):
        raise _fail(iid, f"outcome must be did or did_not, got {outcome!r}")

    seed = instance.get("seed", 42)
    seed = 42 if seed is None else seed
    if not _is_int(seed) or not 0 <= seed < 2**32:
        raise _fail(iid, f"seed must be an integer in [0, 2**32), got {seed!r}")

    max_rows = _positive_int(iid, instance, "max_training_rows", 100_000, 50_000_000)
    if max_rows < 1000:
        raise _fail(iid, f"max_training_rows must be at least 1000, got {max_rows!r}")

    return ActionConfig(
        instance_id=iid,
        positive=positive,
        negative=negative,
        outcome=outcome,
        eligible=_eligible(iid, instance.get("eligible")),
        past_window_days=_positive_int(iid, instance, "past_window_days", 90, _MAX_WINDOW_DAYS),
        future_window_days=_positive_int(iid, instance, "future_window_days", 30, _MAX_WINDOW_DAYS),
        precision_level=_precision_level(iid, instance.get("precision_level")),
        min_positive_count=_positive_int(iid, instance, "min_positive_count", 25, 10_000_000),
        max_training_rows=max_rows,
        seed=int(seed),
    )
