"""The shadow report: how a challenger's mirrored answers compare with the served ones.

Per treatment of a shadow experiment (seed 001's "prediction divergence"): the agreement
rate (classification: the same answer) and, for numeric answers, the mean absolute
difference, each with a normal interval; both latencies and their mean paired difference
with its interval; both error rates; and accuracy where labels are values. Intervals are
over predictions (the pairs are per request): descriptive, not a test of the experiment.

Each report carries its verdict (:func:`shadow_verdict`, the rules of
:mod:`ablab.domain.shadow_verdict`), which is the experiment's recommendation in shadow
mode: the treatment never serves anyone, so its arm never fills and "collect more data"
would never end. The error-rate and accuracy differences use the unpaired two-proportion
interval; the two answers to one request are positively correlated, so the unpaired
variance is the larger one and the interval errs on the wide side.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

from ablab.domain.decisions import Recommendation, days_run
from ablab.domain.experiments import Experiment
from ablab.domain.guardrails import Bound
from ablab.domain.results.shadow import ShadowReport, ShadowValue
from ablab.domain.shadow_verdict import ShadowEvidence, decide_shadow
from ablab.services.analysis.comparisons import finite, interval
from ablab.services.context import Context
from ablab.services.experiments.lifecycle import get_experiment
from ablab.services.ports import EventStore, ShadowSums
from ablab.stats import Moments, Status, mean_interval, two_proportion_z_test

__all__ = ["shadow_report", "shadow_reports", "shadow_verdict"]


def _value(count: int, total: float, total_sq: float, alpha: float) -> ShadowValue:
    if count == 0:
        return ShadowValue(value=None, ci=(None, None))
    moments = Moments(count, total, total_sq)
    return ShadowValue(
        value=finite(total / count), ci=interval(mean_interval(moments, alpha=alpha))
    )


def shadow_report(sums: ShadowSums, alpha: float) -> ShadowReport:
    """One treatment's report from its paired sums (without its verdict)."""
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


def shadow_verdict(
    experiment: Experiment, variant: str, sums: ShadowSums | None, now: datetime
) -> Recommendation:
    """The shadow check of treatment ``variant`` (None ``sums``: nothing mirrored yet)."""
    nothing = ShadowEvidence(
        variant,
        pairs=0,
        min_samples=experiment.min_samples,
        days_run=days_run(experiment.started_at, experiment.ended_at, now),
        max_duration_days=experiment.max_duration_days,
    )
    if sums is None or sums.pairs == 0:
        return decide_shadow(nothing)
    alpha = experiment.alpha
    report = shadow_report(sums, alpha)
    served_latency = report.served_latency_ms
    return decide_shadow(
        replace(
            nothing,
            pairs=sums.pairs,
            agreement=report.agreement_rate.value,
            agreement_ci=_bounds(report.agreement_rate.ci),
            numeric=sums.answered > 0 and sums.numeric == sums.answered,
            error_difference_ci=_difference(
                sums.served_errors, sums.shadow_errors, sums.pairs, alpha
            ),
            served_error_rate=report.served_error_rate,
            shadow_error_rate=report.shadow_error_rate,
            labelled=sums.valued_labels,
            served_accuracy=report.served_accuracy,
            shadow_accuracy=report.shadow_accuracy,
            accuracy_difference_ci=_difference(
                sums.served_correct, sums.shadow_correct, sums.valued_labels, alpha
            ),
            served_latency_ms=served_latency,
            latency_difference_ms=report.latency_difference_ms.value,
            latency_difference_ci=_bounds(report.latency_difference_ms.ci),
            latency_limit_ms=_latency_limit(experiment, served_latency),
        )
    )


def _bounds(bounds: tuple[float | None, float | None]) -> tuple[float, float]:
    low, high = bounds
    return (math.nan if low is None else low, math.nan if high is None else high)


def _difference(served: int, shadow: int, total: int, alpha: float) -> tuple[float, float]:
    """The interval of ``shadow/total - served/total`` (NaN bounds when not estimable)."""
    if total == 0:
        return (math.nan, math.nan)
    comparison = two_proportion_z_test(
        Moments.from_successes(served, total), Moments.from_successes(shadow, total), alpha=alpha
    )
    # A served error rate of 0 leaves the relative lift undefined, not the difference.
    if comparison.status not in (Status.OK, Status.ZERO_BASELINE):
        return (math.nan, math.nan)
    return comparison.absolute_ci


def _latency_limit(experiment: Experiment, served_latency: float | None) -> float | None:
    """The tightest upper bound the experiment's ``latency_ms`` guardrails put on a mean."""
    limits = [
        g.limit(served_latency)
        for g in experiment.guardrails
        if g.metric == "latency_ms" and g.bound is Bound.AT_MOST
    ]
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def shadow_reports(ctx: Context, events: EventStore, ref: str) -> list[ShadowReport]:
    """The report of every treatment of experiment ``ref``, each with its verdict (empty
    before any shadow call)."""
    experiment = get_experiment(ctx, ref)
    found = {s.variant: s for s in events.shadow_sums(ctx.project_id, experiment.id)}
    now = ctx.clock()
    reports = []
    for treatment in experiment.treatments:
        sums = found.get(treatment.name)
        if sums is None:
            continue
        verdict = shadow_verdict(experiment, treatment.name, sums, now)
        reports.append(replace(shadow_report(sums, experiment.alpha), verdict=verdict))
    return reports
