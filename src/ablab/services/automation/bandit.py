"""Bandit mode: Thompson sampling moves traffic toward the better arm, with a floor per arm.

On each round (the server's monitor, or ``ablab experiment rebalance``) the primary
metric's successes and failures per variant give each arm a ``Beta(successes + 1,
failures + 1)`` posterior; the new weights are the probabilities of being best, floored
at ``FLOOR`` (``stats.thompson_weights``). Accuracy counts correct and wrong labelled
predictions; error rate counts predictions without and with an error (fewer errors is the
success); a custom proportion metric counts converted units. Weights change like any
split change: units already assigned keep their variant, each change is an allocation
period of its own (``allocation_periods``, reason ``bandit``), and the SRM check judges
each period on its own. A round reads the periods too: it waits for ``MIN_NEW_UNITS``
units first seen under the current weights. The pooled comparisons assume the arms'
rates do not drift while the weights move (a drifting metric under moving weights can
mislead: read the time series).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ablab.domain.allocations import AllocationPeriod, AllocationReason
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.specs import ExperimentChanges
from ablab.errors import Conflict, ValidationError
from ablab.services.analysis.metric_request import AnalysisSetup, analysis_setup
from ablab.services.analysis.metric_tests import variant_sums
from ablab.services.analysis.successes import successes_and_failures
from ablab.services.context import Context
from ablab.services.experiments.allocation_periods import allocation_periods
from ablab.services.experiments.lifecycle import get_experiment, update_experiment
from ablab.services.ports import EventStore, VariantSums
from ablab.stats import thompson_weights

__all__ = [
    "FLOOR",
    "MIN_NEW_UNITS",
    "BanditState",
    "bandit_state",
    "rebalance",
]

FLOOR = 0.05  # each arm keeps at least 5% of new units, so it keeps being measured
MIN_CHANGE = 0.5  # percentage points: smaller moves are not worth a new weight period
# A round waits for this many units first seen under the current weights. Without new data
# the weights would still move by the Monte Carlo error of thompson_weights (about 0.5
# points at 10,000 draws, as large as MIN_CHANGE), and each monitor tick could start an
# allocation period that carries no information.
MIN_NEW_UNITS = 50


@dataclass(frozen=True, slots=True)
class BanditState:
    """Each variant's posterior (alpha, beta) and current weight (percent); the allocation
    periods so far (oldest first: the launch, then each rebalance or split change); the
    units first seen under the current weights."""

    variants: dict[str, tuple[float, float, float]]
    periods: tuple[AllocationPeriod, ...] = ()
    units_since_last_change: int = 0


@dataclass(frozen=True, slots=True)
class _Round:
    """What a round reads: the experiment's setup, its sums split at the periods' starts,
    and its allocation periods (oldest first)."""

    setup: AnalysisSetup
    sums: dict[str, VariantSums]
    periods: list[AllocationPeriod]

    def units_since_last_change(self) -> int:
        """Units first seen since the current weights took effect."""
        last = len(self.periods) - 1
        return sum(
            s.units_by_period[last] for s in self.sums.values() if last < len(s.units_by_period)
        )


def _read_round(ctx: Context, events: EventStore, ref: str) -> _Round:
    setup = analysis_setup(ctx, ref)
    periods = allocation_periods(ctx, setup.experiment)
    request = replace(setup.request, period_boundaries=tuple(p.started_at for p in periods[1:]))
    return _Round(setup, variant_sums(setup.experiment, events.metric_sums(request)), periods)


def _counts(round_: _Round) -> dict[str, tuple[int, int]]:
    counts = successes_and_failures(round_.setup, round_.sums)
    if counts is None:
        metric = round_.setup.experiment.primary_metric
        raise ValidationError(
            f"bandit mode needs a success/failure metric: accuracy, error_rate or a "
            f"proportion metric, not {metric!r}",
            details={"metric": metric},
        )
    return counts


def bandit_state(ctx: Context, events: EventStore, ref: str) -> BanditState:
    """Each arm's posterior and weight, and the weight history it came from.

    Raises:
        NotFound: no such experiment.
        ValidationError: the primary metric has no successes and failures.
    """
    round_ = _read_round(ctx, events, ref)
    counts = _counts(round_)
    weights = {v.name: v.weight for v in round_.setup.experiment.variants}
    return BanditState(
        {name: (s + 1.0, f + 1.0, weights[name]) for name, (s, f) in counts.items()},
        periods=tuple(round_.periods),
        units_since_last_change=round_.units_since_last_change(),
    )


def rebalance(
    ctx: Context, events: EventStore, ref: str, rng: np.random.Generator
) -> dict[str, float] | None:
    """New weights for a running bandit experiment (None: not one, too few units since the
    last change, nothing to change, or it changed since it was analysed).

    The new weights start an allocation period recorded as the bandit's.

    Raises:
        ValidationError: the primary metric has no successes and failures.
    """
    experiment = get_experiment(ctx, ref)
    if not experiment.bandit or experiment.status is not ExperimentStatus.RUNNING:
        return None
    round_ = _read_round(ctx, events, ref)
    experiment = round_.setup.experiment
    counts = _counts(round_)
    if round_.units_since_last_change() < MIN_NEW_UNITS:
        return None
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
            ExperimentChanges(weights=weights, expected_version=experiment.version),
            reason=AllocationReason.BANDIT,
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
