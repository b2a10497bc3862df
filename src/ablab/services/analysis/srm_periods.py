"""SRM per allocation period: each period's newly seen units against its own weights.

The results' SRM p-value tests every period at once (``stats.exact_sample_ratio_mismatch``);
this module runs the same test on each period alone, so a mismatch can be traced to the
change that began it (a bandit's rebalance, a split change, the launch). With many periods
some will show small p-values by chance: the headline test is the one to act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ablab.domain.allocations import AllocationPeriod
from ablab.domain.results.checks import SrmPeriod
from ablab.services.analysis.comparisons import finite
from ablab.services.ports import VariantSums
from ablab.stats import exact_sample_ratio_mismatch

__all__ = ["srm_periods"]


def srm_periods(
    names: Sequence[str],
    periods: Sequence[AllocationPeriod],
    per_variant: Mapping[str, VariantSums],
    *,
    threshold: float = 0.001,
) -> list[SrmPeriod]:
    """One row per period: the units first seen in it, what its weights expected, its p-value.

    ``per_variant[name].units_by_period[i]`` counts the units of ``name`` first seen in
    ``periods[i]`` (the event store splits arrivals at the periods' start times). A period
    without units has no p-value.
    """
    rows = []
    for i, period in enumerate(periods):
        observed = [_seen_in(per_variant[name], i) for name in names]
        weights = [float(period.weights.get(name, 0.0)) for name in names]
        result = exact_sample_ratio_mismatch([(observed, weights)], threshold=threshold)
        rows.append(
            SrmPeriod(
                started_at=period.started_at,
                weights=dict(zip(names, weights, strict=True)),
                coverage=period.coverage,
                reason=period.reason.value,
                actor=period.actor,
                observed=dict(zip(names, observed, strict=True)),
                expected=dict(zip(names, result.expected, strict=True)),
                p_value=finite(result.p_value),
            )
        )
    return rows


def _seen_in(sums: VariantSums, period: int) -> int:
    counts = sums.units_by_period
    return counts[period] if period < len(counts) else 0
