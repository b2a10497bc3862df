"""Novelty and primacy checks: the primary metric's lift day by day, tested for a trend.

The experiment's days since launch are cut into windows of whole days (one day each, or
wider for a long experiment: at most ``MAX_WINDOWS`` points); each window's lift is
computed from that window's events alone, as the results compute the whole experiment's
(no CUPED: the adjustment is for the whole period), and ``stats.lift_trend`` tests the
daily lifts for a trend. The event store sums every window in one pass
(``EventStore.metric_sums_by_window``), whatever their number. A weekly cycle in the lift
is not a trend, but over a part of a week it can look like one: judge experiments in
whole weeks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from ablab.domain.results.comparisons import Comparison, NoveltyCheck
from ablab.services.analysis.comparisons import finite
from ablab.services.analysis.metric_request import AnalysisSetup
from ablab.services.analysis.metric_tests import compare_metric, metric_sums
from ablab.services.context import Context
from ablab.services.ports import EventStore, VariantSums
from ablab.stats import LiftTrend, Status, TrendPattern, lift_trend
from ablab.stats.novelty import MIN_DAYS

__all__ = ["MAX_WINDOWS", "novelty_checks", "with_novelty"]

DAY = timedelta(days=1)
# The most points the trend test gets. No longer a bound on queries (every window comes
# from one pass), it keeps the test where its simulations measured false alarms and power
# (14 daily points, tests/stats/test_novelty_simulations.py): two weeks at one day per
# point, a longer experiment in wider windows (a 60-day one gets 5-day windows) rather
# than in more, noisier points.
MAX_WINDOWS = 14
# A comparison without a usable standard error (an empty arm that day) gives no point.
_USABLE = (Status.OK, Status.ZERO_BASELINE)


def novelty_checks(
    ctx: Context, events: EventStore, setup: AnalysisSetup
) -> dict[str, NoveltyCheck]:
    """Each treatment's trend check on the primary metric (none for a draft or a shadow)."""
    experiment = setup.experiment
    start = experiment.started_at
    if start is None or experiment.shadow:
        return {}
    ends = (ctx.clock(), experiment.ended_at, setup.request.until)
    end = min(t for t in ends if t is not None)
    elapsed = (end - start) / DAY
    if elapsed < MIN_DAYS:
        return {t.name: _too_young(elapsed) for t in experiment.treatments}
    width = max(1, math.ceil(elapsed / MAX_WINDOWS))
    points: dict[str, tuple[list[float], list[float], list[float]]] = {
        t.name: ([], [], []) for t in experiment.treatments
    }
    windows = _windows(start, end, width)
    for (since, until), sums in zip(windows, _window_sums(events, setup, windows), strict=True):
        middle = (since + (until - since) / 2 - start) / DAY
        for name, (lift, error) in _window_lifts(setup, sums).items():
            points[name][0].append(middle)
            points[name][1].append(lift)
            points[name][2].append(error)
    return {
        name: _public(lift_trend(days, lifts, errors, alpha=experiment.alpha), width)
        for name, (days, lifts, errors) in points.items()
    }


def with_novelty(
    comparisons: Sequence[Comparison], metric: str, checks: Mapping[str, NoveltyCheck]
) -> list[Comparison]:
    """The comparison rows, those of ``metric`` with their treatment's check."""
    return [
        replace(c, novelty=checks[c.variant]) if c.metric == metric and c.variant in checks else c
        for c in comparisons
    ]


def _windows(start: datetime, end: datetime, width: int) -> list[tuple[datetime, datetime]]:
    """[since, until) windows of ``width`` days from launch; the last one ends at ``end``."""
    bounds = []
    since = start
    while since < end:
        until = min(since + width * DAY, end)
        bounds.append((since, until))
        since = until
    return bounds


def _window_sums(
    events: EventStore, setup: AnalysisSetup, windows: list[tuple[datetime, datetime]]
) -> list[list[VariantSums]]:
    """Each window's sums of the primary metric, from its events since the request's start.

    A window that ends by ``request.since`` has none; the one it falls in starts there.
    """
    after = setup.request.since
    kept = [(since, until) for since, until in windows if after is None or until > after]
    if not kept:
        return [[] for _ in windows]
    first = kept[0][0] if after is None else max(kept[0][0], after)
    metric = setup.experiment.primary_metric
    request = replace(
        setup.request,
        # The other custom metrics would only be summed to be dropped.
        custom=tuple(m for m in setup.request.custom if m.name == metric),
        segment=None,
        period_boundaries=(),
        pre_window=None,
        prior_experiment_ids=(),
        covariate=None,
    )
    sums = events.metric_sums_by_window(request, [first, *(until for _, until in kept)])
    return [[] for _ in range(len(windows) - len(kept))] + sums


def _window_lifts(
    setup: AnalysisSetup, window: Sequence[VariantSums]
) -> dict[str, tuple[float, float]]:
    """Each treatment's (lift, standard error) from one window's sums."""
    by_variant = {s.variant: s for s in window if s.segment is None}
    experiment = setup.experiment
    metric = experiment.primary_metric
    control = by_variant.get(experiment.control.name)
    if control is None:
        return {}
    found = {}
    for treatment in experiment.treatments:
        sums = by_variant.get(treatment.name)
        if sums is None:
            continue
        comparison = compare_metric(
            setup.definitions[metric],
            metric_sums(control, metric),
            metric_sums(sums, metric),
            alpha=experiment.alpha,
            mde=experiment.mde,
            cuped=False,
            covariate_label="",
        ).arm.comparison
        # Each arm's own standard error: the difference's, whatever the test's convention
        # (the proportions test's standard_error is pooled under no difference).
        error = math.hypot(comparison.control_standard_error, comparison.treatment_standard_error)
        if comparison.status in _USABLE and math.isfinite(error) and error > 0:
            found[treatment.name] = (comparison.absolute_lift, error)
    return found


def _public(trend: LiftTrend, width: int) -> NoveltyCheck:
    status = "too_few_days" if trend.status is Status.TOO_FEW_UNITS else trend.status.value
    return NoveltyCheck(
        status=status,
        pattern=trend.pattern,
        significant=trend.significant,
        days=trend.days,
        window_days=float(width),
        slope_per_day=finite(trend.slope),
        p_value=finite(trend.p_value),
        first_lift=finite(trend.first_lift),
        last_lift=finite(trend.last_lift),
        average_lift=finite(trend.average_lift),
        meaning=_meaning(trend, width),
    )


def _too_young(elapsed: float) -> NoveltyCheck:
    return NoveltyCheck(
        status="too_few_days",
        pattern=TrendPattern.NONE,
        significant=False,
        days=0,
        window_days=1.0,
        slope_per_day=None,
        p_value=None,
        first_lift=None,
        last_lift=None,
        average_lift=None,
        meaning=f"The daily lift is checked for a trend from day {MIN_DAYS} on "
        f"({elapsed:.1f} days so far).",
    )


def _meaning(trend: LiftTrend, width: int) -> str:
    """What the check means for the decision, in one or two sentences."""
    if trend.status is not Status.OK:
        return (
            f"Too few days with a lift in both arms to look for a trend ({trend.days} of "
            f"{MIN_DAYS} needed)."
            if trend.status is Status.TOO_FEW_UNITS
            else "The daily lifts cannot show a trend (one day, or a perfect line)."
        )
    span = f"over {trend.days} {'days' if width == 1 else f'windows of {width} days'}"
    change = (
        f"from {trend.first_lift:+.4g} at the start to {trend.last_lift:+.4g} at the end "
        f"{span} (trend p = {trend.p_value:.3g})"
    )
    if trend.pattern is TrendPattern.NOVELTY:
        return (
            f"Novelty effect: the lift shrank {change}. The long-run effect is likely "
            f"smaller than the average of {trend.average_lift:+.4g}: let it run until the "
            "daily lift settles before promoting on it."
        )
    if trend.pattern is TrendPattern.PRIMACY:
        return (
            f"Primacy effect: the lift grew {change}. Users are still adapting, so the "
            f"long-run effect is likely larger than the average of {trend.average_lift:+.4g}."
        )
    return f"No trend in the daily lift {span} (trend p = {trend.p_value:.3g})."
