"""Experiments and their variants: the rules every change must keep.

An experiment splits the units of a target group between a control and one or more treatments.
Weights are percentages of the experiment's traffic and sum to 100; ``coverage`` is the
percentage of eligible units that enter the experiment at all. Functions here return new frozen
objects; storing them (with the optimistic version check) is the store's job. The checks of the
name and the statistical settings are in :mod:`ablab.domain.experiment_settings`, re-exported
here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ablab.domain.experiment_settings import validate_name, validate_settings
from ablab.domain.guardrails import Guardrail
from ablab.domain.lifecycle import Action, ExperimentStatus, next_status
from ablab.domain.limits import MAX_CONFIG_BYTES, MAX_VARIANTS, check_json
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
    "validate_variant_name",
    "validate_variants",
    "with_primary_metric",
    "with_traffic_split",
    "with_variant_added",
    "with_weights",
]

# How far from 100 the weights may sum: 0.01 per variant, the rounding of weights written
# with two decimals (three times 33.33, or 0.3333 of the traffic); assignment scales such
# weights to 100 (``assignment.allocation``).
WEIGHT_TOLERANCE = 0.01


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
    # The analysis source (``domain.sources``) the events are read from; None: ablab's own.
    source: str | None = None

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


# A variant's name is shown to people ("Variant B", "v2 (distilled)"): letters, digits,
# spaces, '.', '_', '-' and parentheses, neither starting nor ending with a space. Never
# '=' or ',' (the CLI's ``name=weight,...``) nor quotes.
VARIANT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._()-]{0,126}[A-Za-z0-9._()-])?")


def validate_variant_name(name: str) -> str:
    """Return ``name`` if it is a variant's name (:data:`VARIANT_NAME`), else raise."""
    if VARIANT_NAME.fullmatch(name) is None:
        raise ValidationError(
            f"invalid variant name {name!r}: use 1-128 letters, digits, spaces, '.', '_', "
            "'-' or parentheses, starting with a letter or digit",
            details={"variant name": name},
        )
    return name


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
        validate_variant_name(variant.name)
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
    if abs(total - 100.0) > WEIGHT_TOLERANCE * len(variants):
        raise ValidationError(
            f"variant weights must sum to 100, got {total:g}",
            details={"weights": {v.name: v.weight for v in variants}, "sum": total},
        )


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


def with_primary_metric(experiment: Experiment, metric: str, now: datetime) -> Experiment:
    """The experiment judged on ``metric`` from now on, while it has not ended.

    Allowed while running: the results are computed from the raw events at every look, so
    the next one reads the whole experiment with the new metric. Its always-valid test
    carries on only if it was already compared at the same level (a guardrail's metric
    with one treatment); otherwise it starts at that look (``domain.sequential``), which
    keeps its guarantee. What no test can undo is choosing the metric after seeing the
    results: the audit log keeps every change so a reader can tell. Once the experiment
    has ended its decision was taken on the old metric, so the change is refused.

    A secondary metric made primary leaves the secondary list (a metric is one or the
    other); the former primary metric is not kept as a secondary one.

    Raises:
        InvalidTransition: the experiment has ended.
    """
    _require_adjustable(experiment, "change the primary metric of")
    secondary = tuple(m for m in experiment.secondary_metrics if m != metric)
    return replace(experiment, primary_metric=metric, secondary_metrics=secondary, updated_at=now)


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
