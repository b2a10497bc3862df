"""The weight history of experiments: written with each split change, read as data.

``record_allocation`` runs inside the transaction of every change that can start a period
(creation, launch, update, a bandit's rebalance), so a period exists exactly when its
change committed. The SRM check, the assignment rules, the bandit and the console read
``allocation_periods``; nothing parses the audit log for weights any more.
"""

from __future__ import annotations

from ablab.domain.allocations import AllocationPeriod, AllocationReason, period_for
from ablab.domain.experiments import Experiment
from ablab.services.context import Context
from ablab.services.ports import MetadataSession

__all__ = ["allocation_periods", "periods_of", "plan_changed", "record_allocation"]


def record_allocation(
    ctx: Context,
    session: MetadataSession,
    before: Experiment | None,
    after: Experiment,
    reason: AllocationReason = AllocationReason.SPLIT,
) -> AllocationPeriod | None:
    """Write the period the change from ``before`` to ``after`` starts, if it starts one.

    ``before`` is None for a creation. A launch is always recorded as one, whatever
    ``reason`` says. Returns the period written.
    """
    period = period_for(before, after, reason, ctx.actor)
    if period is not None:
        session.add_allocation_period(period)
    return period


def periods_of(session: MetadataSession, experiment: Experiment) -> list[AllocationPeriod]:
    """The experiment's periods, oldest first.

    A launched experiment always has at least one: one whose history was never written
    (its store predates the table and the migration found nothing) counts its current
    split as in force since launch. A draft has none.
    """
    periods = session.list_allocation_periods(experiment.id)
    if periods or experiment.started_at is None:
        return periods
    weights = {v.name: v.weight for v in experiment.variants}
    return [
        AllocationPeriod(
            experiment.id,
            experiment.started_at,
            weights,
            experiment.coverage,
            AllocationReason.LAUNCH,
            actor="",
        )
    ]


def allocation_periods(ctx: Context, experiment: Experiment) -> list[AllocationPeriod]:
    """The periods of ``experiment``, oldest first (see :func:`periods_of`)."""
    with ctx.store.session(read_only=True) as session:
        return periods_of(session, experiment)


def plan_changed(periods: list[AllocationPeriod]) -> bool:
    """Whether the weights or the coverage changed while the experiment ran.

    Examples:
        >>> from datetime import UTC, datetime
        >>> at = datetime(2027, 1, 1, tzinfo=UTC)
        >>> launch = AllocationPeriod("e", at, {"c": 50.0, "t": 50.0}, 100.0,
        ...                           AllocationReason.LAUNCH, "a")
        >>> plan_changed([launch]), plan_changed([launch, launch])
        (False, False)
        >>> from dataclasses import replace
        >>> plan_changed([launch, replace(launch, coverage=50.0)])
        True
    """
    return len({(tuple(sorted(p.weights.items())), p.coverage) for p in periods}) > 1
