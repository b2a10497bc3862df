"""Experiments and their variants: the rules every change must keep.

An experiment splits the units of a target group between a control and one or more treatments.
Weights are percentages of the experiment's traffic and sum to 100; ``coverage`` is the
percentage of eligible units that enter the experiment at all. Functions here return new frozen
objects; storing them (with the optimistic version check) is the store's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ablab.domain.guardrails import Guardrail
from ablab.domain.ids import is_valid_name
from ablab.domain.lifecycle import Action, ExperimentStatus, next_status
from ablab.domain.limits import (
    MAX_CONFIG_BYTES,
    MAX_COUNT,
    MAX_DURATION_DAYS,
    MAX_LIST_ITEMS,
    MAX_LOOKBACK_DAYS,
    MAX_MDE,
    MAX_VARIANTS,
    check_json,
    check_text,
)
from ablab.domain.metrics import BUILTIN_METRICS, TESTED_METRICS, validate_metric_name
from ablab.errors import InvalidTransition, ValidationError

__all__ = [
    "WEIGHT_TOLERANCE",
    "AnalysisMethod",
    "Experiment",
    "Variant",
    "apply_action",
    "split_weights",
    "validate_name",
    "validate_settings",
    "validate_variants",
    "with_traffic_split",
    "with_variant_added",
    "with_weights",
]

WEIGHT_TOLERANCE = 1e-6


class AnalysisMethod(StrEnum):
    SEQUENTIAL = "sequential"
    FIXED = "fixed"
    BAYESIAN = "bayesian"


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm: a model version and/or a configuration override, with a traffic weight."""

    name: str
    weight: float
    model_version: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    is_control: bool = False


@dataclass(frozen=True, slots=True)
class Experiment:
    """An experiment as stored; every field has the meaning it has on the wire."""

    id: str
    project_id: str
    name: str
    status: ExperimentStatus
    salt: str
    created_at: datetime
    updated_at: datetime
    variants: tuple[Variant, ...] = ()
    model: str | None = None
    hypothesis: str = ""
    coverage: float = 100.0
    group: str | None = None
    primary_metric: str = "accuracy"
    secondary_metrics: tuple[str, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    min_samples: int = 100
    max_duration_days: int | None = None
    alpha: float = 0.05
    power: float = 0.8
    mde: float | None = None
    analysis_method: AnalysisMethod = AnalysisMethod.SEQUENTIAL
    cuped: bool = True
    cuped_lookback_days: int = 14
    cuped_covariate: str | None = None
    bandit: bool = False
    shadow: bool = False
    auto_promote: bool = False
    winner: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    version: int = 1
    # Units of control and treatment together at which the sequential test is sharpest,
    # fixed at creation (``domain.sequential``); None: created before it was stored.
    sequential_tuning_units: int | None = None

    @property
    def control(self) -> Variant:
        """The control variant (raises ValidationError on a draft that has none yet)."""
        for variant in self.variants:
            if variant.is_control:
                return variant
        raise ValidationError(f"experiment {self.name!r} has no control variant yet")

    @property
    def treatments(self) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if not v.is_control)

    @property
    def traffic_split(self) -> float:
        """Percentage of the experiment's traffic that goes to treatments."""
        return sum(v.weight for v in self.treatments)

    def variant(self, name: str) -> Variant:
        """The variant called ``name``.

        Raises:
            ValidationError: no variant has that name.
        """
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise ValidationError(
            f"experiment {self.name!r} has no variant {name!r} "
            f"(variants: {', '.join(v.name for v in self.variants)})",
            details={"variant": name},
        )


def validate_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a plain name, else raise ValidationError."""
    if not is_valid_name(name):
        raise ValidationError(
            f"invalid {what} {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            details={what: name},
        )
    return name


def split_weights(traffic_split: float, treatments: int) -> tuple[float, ...]:
    """Weights (control first) that send ``traffic_split`` percent to the treatments.

    The treatments share their part equally: ``split_weights(50, 2) == (50.0, 25.0, 25.0)``.

    Raises:
        ValidationError: the split is outside 0..100 or there is no treatment.
    """
    if not (math.isfinite(traffic_split) and 0 <= traffic_split <= 100):
        raise ValidationError(
            f"traffic split must be between 0 and 100, got {traffic_split:g}",
            details={"traffic_split": traffic_split},
        )
    if treatments < 1:
        raise ValidationError("an experiment needs at least one treatment")
    share = traffic_split / treatments
    return (100.0 - traffic_split, *([share] * treatments))


def validate_variants(variants: Sequence[Variant], *, complete: bool = True) -> None:
    """Check names, weights and the control of a variant list.

    With ``complete`` (creation with variants, launch, weight updates) there must be a control,
    at least one treatment and weights summing to 100. Drafts built variant by variant
    (``complete=False``) only need valid, unique names and weights within 0..100.

    Raises:
        ValidationError: the first rule broken, in one line.
    """
    names = [v.name for v in variants]
    if len(variants) > MAX_VARIANTS:
        raise ValidationError(
            f"an experiment has at most {MAX_VARIANTS} variants, got {len(variants)}",
            details={"field": "variants", "limit": MAX_VARIANTS},
        )
    for variant in variants:
        validate_name(variant.name, "variant name")
        check_json(dict(variant.config), "config", max_bytes=MAX_CONFIG_BYTES)
        if not (math.isfinite(variant.weight) and 0 <= variant.weight <= 100):
            raise ValidationError(
                f"weight of variant {variant.name!r} must be between 0 and 100, "
                f"got {variant.weight:g}",
                details={"variant": variant.name, "weight": variant.weight},
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(
            f"variant names must be unique, repeated: {', '.join(duplicates)}",
            details={"duplicates": duplicates},
        )
    controls = sum(v.is_control for v in variants)
    if controls > 1:
        raise ValidationError("an experiment has exactly one control variant")
    if not complete:
        return
    if controls == 0 or len(variants) < 2:
        raise ValidationError(
            "an experiment needs a control and at least one treatment",
            details={"variants": names},
        )
    total = sum(v.weight for v in variants)
    if abs(total - 100.0) > WEIGHT_TOLERANCE:
        raise ValidationError(
            f"variant weights must sum to 100, got {total:g}",
            details={"weights": {v.name: v.weight for v in variants}, "sum": total},
        )


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


def apply_action(
    experiment: Experiment, action: Action, now: datetime, *, winner: str | None = None
) -> Experiment:
    """The experiment after ``action``: new status, timestamps and, on promote, the winner.

    Raises:
        InvalidTransition: the action is not allowed from the current status.
        ValidationError: launching an incomplete experiment, or promoting an unknown variant.
    """
    status = next_status(experiment.status, action)
    changes: dict[str, Any] = {"status": status, "updated_at": now}
    if action is Action.LAUNCH:
        validate_variants(experiment.variants)
        changes["started_at"] = now
    elif action in (Action.STOP, Action.PROMOTE):
        changes["ended_at"] = now
    if action is Action.PROMOTE:
        changes["winner"] = _promoted_variant(experiment, winner)
    return replace(experiment, **changes)


def _promoted_variant(experiment: Experiment, winner: str | None) -> str:
    treatments = experiment.treatments
    if winner is None:
        if len(treatments) != 1:
            raise ValidationError(
                f"experiment {experiment.name!r} has {len(treatments)} treatments: "
                "name the variant to promote",
                details={"treatments": [v.name for v in treatments]},
            )
        return treatments[0].name
    variant = experiment.variant(winner)
    if variant.is_control:
        raise ValidationError(
            f"{winner!r} is the control; to keep the control, stop the experiment instead"
        )
    return variant.name


_ADJUSTABLE = (ExperimentStatus.DRAFT, ExperimentStatus.RUNNING, ExperimentStatus.PAUSED)


def with_weights(experiment: Experiment, weights: Mapping[str, float], now: datetime) -> Experiment:
    """The experiment with new variant weights (already assigned units keep their variant).

    Raises:
        InvalidTransition: the experiment has ended.
        ValidationError: an unknown variant, or weights that do not sum to 100.
    """
    _require_adjustable(experiment, "change the traffic split of")
    unknown = sorted(set(weights) - {v.name for v in experiment.variants})
    if unknown:
        raise ValidationError(
            f"unknown variants: {', '.join(unknown)}", details={"unknown": unknown}
        )
    variants = tuple(
        replace(v, weight=float(weights.get(v.name, v.weight))) for v in experiment.variants
    )
    validate_variants(variants)
    return replace(experiment, variants=variants, updated_at=now)


def with_traffic_split(experiment: Experiment, traffic_split: float, now: datetime) -> Experiment:
    """The experiment with ``traffic_split`` percent shared equally by its treatments."""
    _require_adjustable(experiment, "change the traffic split of")
    weights = split_weights(traffic_split, len(experiment.treatments))
    ordered = (experiment.control, *experiment.treatments)
    return with_weights(experiment, {v.name: w for v, w in zip(ordered, weights, strict=True)}, now)


def with_variant_added(experiment: Experiment, variant: Variant, now: datetime) -> Experiment:
    """The draft with one more variant; the first variant added becomes the control.

    Raises:
        InvalidTransition: the experiment is no longer a draft.
        ValidationError: a duplicate name, a bad weight, or a second control.
    """
    if experiment.status is not ExperimentStatus.DRAFT:
        raise InvalidTransition(
            f"cannot add a variant to an experiment that is {experiment.status.value}: "
            "variants are fixed at launch",
            details={"status": experiment.status.value},
        )
    if not experiment.variants:
        variant = replace(variant, is_control=True)
    variants = (*experiment.variants, variant)
    validate_variants(variants, complete=False)
    return replace(experiment, variants=variants, updated_at=now)


def _require_adjustable(experiment: Experiment, what: str) -> None:
    if experiment.status not in _ADJUSTABLE:
        raise InvalidTransition(
            f"cannot {what} an experiment that is {experiment.status.value}",
            details={"status": experiment.status.value},
        )
