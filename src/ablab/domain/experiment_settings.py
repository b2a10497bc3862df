"""An experiment's settings: its name, and the ranges of its statistical and targeting
settings (coverage, alpha, power, MDE, metrics, guardrails, CUPED, durations).

:mod:`ablab.domain.experiments` re-exports both checks; its other rules (variants and
weights, lifecycle changes) are there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ablab.domain.ids import is_valid_name
from ablab.domain.limits import (
    MAX_COUNT,
    MAX_DURATION_DAYS,
    MAX_LIST_ITEMS,
    MAX_LOOKBACK_DAYS,
    MAX_MDE,
    check_text,
)
from ablab.domain.metrics import BUILTIN_METRICS, TESTED_METRICS, validate_metric_name
from ablab.errors import ValidationError

if TYPE_CHECKING:
    from ablab.domain.experiments import Experiment

__all__ = ["validate_name", "validate_settings"]


def validate_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a plain name, else raise ValidationError."""
    if not is_valid_name(name):
        raise ValidationError(
            f"invalid {what} {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            details={what: name},
        )
    return name


def validate_settings(experiment: Experiment) -> None:
    """Check the statistical and targeting settings of an experiment.

    Raises:
        ValidationError: the first setting out of range, in one line.
    """
    validate_name(experiment.name, "experiment name")
    check_text(experiment.hypothesis, "hypothesis")
    _check_range("coverage", experiment.coverage, 0, 100, low_open=True)
    _check_range("alpha", experiment.alpha, 0, 1, low_open=True, high_open=True)
    _check_range("power", experiment.power, 0, 1, low_open=True, high_open=True)
    if experiment.mde is not None:
        _check_range("mde", experiment.mde, 0, MAX_MDE, low_open=True)
    if not 0 <= experiment.min_samples <= MAX_COUNT:
        raise ValidationError(
            f"min samples must be 0 to {MAX_COUNT}, got {_shown(experiment.min_samples)}",
            details={"field": "min_samples"},
        )
    tuning = experiment.sequential_tuning_units
    if tuning is not None and not 1 <= tuning <= MAX_COUNT:
        raise ValidationError(
            f"sequential tuning units must be 1 to {MAX_COUNT}, got {_shown(tuning)}",
            details={"field": "sequential_tuning_units"},
        )
    days = experiment.max_duration_days
    if days is not None and not 1 <= days <= MAX_DURATION_DAYS:
        raise ValidationError(
            f"max duration must be 1 to {MAX_DURATION_DAYS} days, got {_shown(days)}",
            details={"field": "max_duration_days"},
        )
    for name, listed in (
        ("secondary_metrics", experiment.secondary_metrics),
        ("guardrails", experiment.guardrails),
    ):
        if len(listed) > MAX_LIST_ITEMS:
            raise ValidationError(
                f"{name} holds at most {MAX_LIST_ITEMS} items, got {len(listed)}",
                details={"field": name, "limit": MAX_LIST_ITEMS},
            )
    # Custom metric names are checked against the project's definitions by the service.
    for metric in (experiment.primary_metric, *experiment.secondary_metrics):
        validate_metric_name(metric)
        if metric in BUILTIN_METRICS and metric not in TESTED_METRICS:
            raise ValidationError(
                f"metric {metric!r} is reported and guarded but not compared: use one of "
                f"{', '.join(TESTED_METRICS)} or a custom metric as primary or secondary metric",
                details={"metric": metric, "builtin": list(TESTED_METRICS)},
            )
    for guardrail in experiment.guardrails:
        validate_metric_name(guardrail.metric)
    if not 1 <= experiment.cuped_lookback_days <= MAX_LOOKBACK_DAYS:
        raise ValidationError(
            f"the CUPED lookback must be 1 to {MAX_LOOKBACK_DAYS} days, "
            f"got {experiment.cuped_lookback_days}",
            details={"field": "cuped_lookback_days"},
        )
    if experiment.cuped_covariate is not None:
        validate_metric_name(experiment.cuped_covariate)
    if experiment.primary_metric in experiment.secondary_metrics:
        raise ValidationError(
            f"{experiment.primary_metric!r} is the primary metric; "
            "do not list it as a secondary one too"
        )


def _check_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    # NaN compares false both ways; an integer needs no finiteness check (and a huge one
    # cannot be converted to a float for it).
    if not (above and below):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValidationError(
            f"{name} must be in {left}{low:g}, {high:g}{right}, got {_shown(value)}",
            details={name: value},
        )


def _shown(value: float) -> str:
    try:
        return f"{value:g}"
    except OverflowError:  # an integer beyond a float's range
        return "a number too large to show"
