"""Allocation periods: how an experiment's traffic was split, from when, and why.

A split change applies to units assigned after it (assigned units keep their variant), so
the units first seen in a period were assigned with that period's weights and coverage.
Every launch, split, weight, coverage or bandit change starts a period, written in the
transaction of the change; the SRM check, the bandit and the console read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ablab.domain.experiments import Experiment

__all__ = ["AllocationPeriod", "AllocationReason", "allocation_of", "period_for"]


class AllocationReason(StrEnum):
    """Why a period started. Members are plain strings in the table and on the wire."""

    LAUNCH = "launch"
    SPLIT = "split"  # someone changed the traffic split, the weights or the coverage
    BANDIT = "bandit"  # a Thompson-sampling rebalance


@dataclass(frozen=True, slots=True)
class AllocationPeriod:
    """The weights (percent, by variant) and coverage (percent) in force from ``started_at``.

    ``actor`` is who made the change, as in the audit log; ``id`` is the store's (None
    before it is stored).
    """

    experiment_id: str
    started_at: datetime
    weights: Mapping[str, float]
    coverage: float
    reason: AllocationReason
    actor: str
    id: int | None = None


def allocation_of(experiment: Experiment) -> tuple[dict[str, float], float]:
    """The experiment's weights by variant and its coverage."""
    return {v.name: v.weight for v in experiment.variants}, experiment.coverage


def period_for(
    before: Experiment | None, after: Experiment, reason: AllocationReason, actor: str
) -> AllocationPeriod | None:
    """The period that the change from ``before`` to ``after`` starts, if it starts one.

    A launch starts the first period; later, a change of the weights or the coverage of a
    launched experiment starts the next. A draft has no period (nobody is assigned), and
    a change that leaves the split as it was (a pause, a new hypothesis) starts none.

    Examples:
        >>> from datetime import UTC, datetime
        >>> from dataclasses import replace
        >>> from ablab.domain.experiments import Variant
        >>> from ablab.domain.lifecycle import ExperimentStatus
        >>> at = datetime(2027, 1, 1, tzinfo=UTC)
        >>> draft = Experiment("exp_1", "prj_1", "e", ExperimentStatus.DRAFT, "exp_1", at, at,
        ...                    (Variant("control", 50, is_control=True), Variant("t", 50)))
        >>> running = replace(draft, status=ExperimentStatus.RUNNING, started_at=at)
        >>> period_for(draft, running, AllocationReason.LAUNCH, "local:alice").weights
        {'control': 50, 't': 50}
        >>> period_for(running, replace(running, hypothesis="x"), AllocationReason.SPLIT, "a")
        >>> period_for(running, replace(running, coverage=20.0), AllocationReason.SPLIT,
        ...            "a").coverage
        20.0
    """
    if after.started_at is None:
        return None
    weights, coverage = allocation_of(after)
    launched = before is None or before.started_at is None
    if before is not None and not launched and (weights, coverage) == allocation_of(before):
        return None
    return AllocationPeriod(
        experiment_id=after.id,
        started_at=after.updated_at if not launched else after.started_at,
        weights=weights,
        coverage=coverage,
        reason=AllocationReason.LAUNCH if launched else reason,
        actor=actor,
    )
