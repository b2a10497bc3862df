"""The shadow report: how a challenger's mirrored answers compare with the served ones.

Per treatment of a shadow experiment (seed 001's "prediction divergence"): the agreement
rate (classification: the same answer) and, for numeric answers, the mean absolute
difference, each with a normal interval; both latencies and their mean paired difference
with its interval; both error rates; and accuracy where labels are values. Intervals are
over predictions (the pairs are per request): descriptive, not a test of the experiment.
"""

from __future__ import annotations

from ablab.contract.results import ShadowReport, ShadowValue
from ablab.services.comparisons import finite, interval
from ablab.services.context import Context
from ablab.services.experiments import get_experiment
from ablab.services.ports import EventStore, ShadowSums
from ablab.stats import Moments, mean_interval

__all__ = ["shadow_report", "shadow_reports"]


def _value(count: int, total: float, total_sq: float, alpha: float) -> ShadowValue:
    if count == 0:
        return ShadowValue(value=None, ci=(None, None))
    moments = Moments(count, total, total_sq)
    return ShadowValue(
        value=finite(total / count), ci=interval(mean_interval(moments, alpha=alpha))
    )


def shadow_report(sums: ShadowSums, alpha: float) -> ShadowReport:
    """One treatment's report from its paired sums."""
    agreements = float(sums.agreements)
    pairs = max(sums.pairs, 1)
    return ShadowReport(
        variant=sums.variant,
        pairs=sums.pairs,
        answered=sums.answered,
        agreement_rate=_value(sums.answered, agreements, agreements, alpha),
        mean_absolute_difference=(
            _value(sums.numeric, sums.abs_diff, sums.abs_diff_sq, alpha) if sums.numeric else None
        ),
        served_latency_ms=finite(sums.served_latency / pairs) if sums.pairs else None,
        shadow_latency_ms=finite(sums.shadow_latency / pairs) if sums.pairs else None,
        latency_difference_ms=_value(sums.pairs, sums.latency_diff, sums.latency_diff_sq, alpha),
        served_error_rate=sums.served_errors / pairs if sums.pairs else None,
        shadow_error_rate=sums.shadow_errors / pairs if sums.pairs else None,
        labelled=sums.valued_labels,
        served_accuracy=sums.served_correct / sums.valued_labels if sums.valued_labels else None,
        shadow_accuracy=sums.shadow_correct / sums.valued_labels if sums.valued_labels else None,
    )


def shadow_reports(ctx: Context, events: EventStore, ref: str) -> list[ShadowReport]:
    """The report of every treatment of experiment ``ref`` (empty before any shadow call)."""
    experiment = get_experiment(ctx, ref)
    found = {s.variant: s for s in events.shadow_sums(ctx.project_id, experiment.id)}
    return [
        shadow_report(found[t.name], experiment.alpha)
        for t in experiment.treatments
        if t.name in found
    ]
