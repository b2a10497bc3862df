"""Bandit mode: Thompson sampling moves traffic toward the better arm, with a floor per arm.

On each round (the server's monitor, or ``ablab experiment rebalance``) the primary
metric's successes and failures per variant give each arm a ``Beta(successes + 1,
failures + 1)`` posterior; the new weights are the probabilities of being best, floored
at ``FLOOR`` (``stats.thompson_weights``). Accuracy counts correct and wrong labelled
predictions; error rate counts predictions without and with an error (fewer errors is the
success); a custom proportion metric counts converted units. Weights change like any
split change: units already assigned keep their variant, and the SRM check judges each
weight period on its own. The pooled comparisons assume the arms' rates do not drift
while the weights move (a drifting metric under moving weights can mislead: read the
time series).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ablab.contract.experiments import ExperimentUpdate
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.metrics import CustomMetric, MetricKind
from ablab.errors import Conflict, ValidationError
from ablab.services.context import Context
from ablab.services.experiments import update_experiment
from ablab.services.metric_request import AnalysisSetup, analysis_setup
from ablab.services.ports import EventStore, VariantSums
from ablab.services.results import variant_sums
from ablab.stats import thompson_weights

__all__ = ["FLOOR", "BanditState", "bandit_state", "rebalance", "successes_and_failures"]

FLOOR = 0.05  # each arm keeps at least 5% of new units, so it keeps being measured
MIN_CHANGE = 0.5  # percentage points: smaller moves are not worth a new weight period


@dataclass(frozen=True, slots=True)
class BanditState:
    """Each variant's posterior (alpha, beta) and current weight (percent)."""

    variants: dict[str, tuple[float, float, float]]


def successes_and_failures(
    setup: AnalysisSetup, sums: Mapping[str, VariantSums]
) -> dict[str, tuple[int, int]] | None:
    """Each variant's successes and failures on the primary metric (None: not a
    success/failure metric)."""
    metric = setup.experiment.primary_metric
    definition = setup.definitions[metric]
    counts: dict[str, tuple[int, int]] = {}
    for variant in setup.experiment.variants:
        moments = sums[variant.name].metrics.get(metric)
        if metric in ("accuracy", "error_rate"):
            hits = round(moments.numerator_sum) if moments else 0
            total = round(moments.denominator_sum) if moments else 0
        elif isinstance(definition, CustomMetric) and definition.kind is MetricKind.PROPORTION:
            hits, total = (round(moments.numerator_sum), moments.n) if moments else (0, 0)
        else:
            return None
        if not definition.higher_is_better:
            hits = total - hits  # fewer errors is the success
        counts[variant.name] = (hits, total - hits)
    return counts


def _counts(ctx: Context, events: EventStore, ref: str) -> tuple[dict[str, tuple[int, int]], str]:
    setup = analysis_setup(ctx, ref)
    sums = variant_sums(setup.experiment, events.metric_sums(setup.request))
    counts = successes_and_failures(setup, sums)
    if counts is None:
        metric = setup.experiment.primary_metric
        raise ValidationError(
            f"bandit mode needs a success/failure metric: accuracy, error_rate or a "
            f"proportion metric, not {metric!r}",
            details={"metric": metric},
        )
    return counts, setup.experiment.id


def bandit_state(ctx: Context, events: EventStore, ref: str) -> BanditState:
    counts, experiment_id = _counts(ctx, events, ref)
    experiment = analysis_setup(ctx, experiment_id).experiment
    weights = {v.name: v.weight for v in experiment.variants}
    return BanditState({name: (s + 1.0, f + 1.0, weights[name]) for name, (s, f) in counts.items()})


def rebalance(
    ctx: Context, events: EventStore, ref: str, rng: np.random.Generator
) -> dict[str, float] | None:
    """New weights for a running bandit experiment (None: not one, nothing to change, or it
    changed since it was analysed).

    Raises:
        ValidationError: the primary metric has no successes and failures.
    """
    setup = analysis_setup(ctx, ref)
    experiment = setup.experiment
    if not experiment.bandit or experiment.status is not ExperimentStatus.RUNNING:
        return None
    counts, _ = _counts(ctx, events, ref)
    names = [v.name for v in experiment.variants]
    shares = thompson_weights(
        [counts[n][0] for n in names], [counts[n][1] for n in names], rng=rng, min_share=FLOOR
    )
    weights = _percentages(names, shares)
    current = {v.name: v.weight for v in experiment.variants}
    if max(abs(weights[n] - current[n]) for n in names) < MIN_CHANGE:
        return None
    try:
        update_experiment(
            ctx,
            experiment.id,
            ExperimentUpdate(weights=weights, expected_version=experiment.version),
        )
    except Conflict:
        return None  # changed since it was analysed: the change made meanwhile wins
    return weights


def _percentages(names: list[str], shares: tuple[float, ...]) -> dict[str, float]:
    """Shares as percentages with one decimal, summing to exactly 100."""
    tenths = [math.floor(share * 1000) for share in shares]
    order = sorted(range(len(shares)), key=lambda i: shares[i] * 1000 - tenths[i], reverse=True)
    for i in order[: 1000 - sum(tenths)]:
        tenths[i] += 1
    return {name: t / 10 for name, t in zip(names, tenths, strict=True)}
