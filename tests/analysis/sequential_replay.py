"""A/A experiments replayed minute by minute through the time series: 5,000 looks each.

A look through ``experiment_results`` costs 60-80 ms, so 5,000 of them per experiment are
out of reach; the time series replays them in one query instead. Each minute, 100 units
per arm arrive (one ``exposure`` and one ``score`` event of a standard normal value each,
through ``ingest_events``); ``experiment_timeseries(..., interval_name="minute")`` then gives
one point per minute, each the look an analysis at the end of that minute would have
taken under the experiment's design. An experiment is a false positive when any of its
points is significant (its running, family-adjusted always-valid p-value below alpha).

Every point is also checked against the stats-level computation on the same values
(Welch's test on the cumulative sums, ``always_valid_p_values`` and the running
intersection of ``msprt_from_difference``'s intervals), so the replay's figures are those
of ``test_sequential_simulation``'s stats-level simulations, reached through the service
path. Used by ``test_sequential_replay`` and by
``python -m tests.analysis.sequential_service_path --replay``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
from scipy.stats import beta, binomtest

from ablab.contract.timeseries import LiftPoint
from ablab.domain.sequential import DEFAULT_TUNING_UNITS
from ablab.services.analysis.timeseries import experiment_timeseries
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.ports import EventStore
from ablab.stats import (
    Moments,
    always_valid_p_values,
    mixing_variance_for_tuning_units,
    msprt_from_difference,
    welch_t_test,
)
from tests.analysis.aa_experiments import (
    LAUNCH,
    clock_at,
    launch_experiments,
    unit_events,
)

# Minutes of events per ingest call: 100,000 events. ingest_events (validation, DuckDB,
# first assignments in SQLite) took 9.5 s for one experiment's 2,000,000 events on this
# 2-core machine (210,000 events/s; 1.4 s more to build them as dicts), fast enough that the
# store's append need not stand in for it.
MINUTES_PER_CALL = 250


@dataclass(frozen=True, slots=True)
class Expected:
    """The stats-level figures at each look (arrays over looks).

    Attributes:
        p_value: The family-adjusted running always-valid p-value.
        low: The running intersection's lower bound, on the difference's scale.
        high: Its upper bound.
        control: The control's mean.
        control_error: Its standard error.
    """

    p_value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    control: np.ndarray
    control_error: np.ndarray


@dataclass(frozen=True, slots=True)
class ReplayedExperiment:
    """One experiment's replay.

    Attributes:
        points: Points (looks) the time series gave.
        first_significant_look: The first look (1-based) with ``p < alpha``, 0 when none.
        contradictions: Points whose ``p < alpha`` disagreed with their band excluding 0.
        deviation: The largest relative difference of a point from the stats-level
            computation (:func:`deviation_from`).
        events: Events ingested.
        ingest_seconds: Time spent in ``ingest_events``.
        replay_seconds: Time spent in ``experiment_timeseries``.
    """

    points: int
    first_significant_look: int
    contradictions: int
    deviation: float
    events: int
    ingest_seconds: float
    replay_seconds: float


@dataclass(frozen=True, slots=True)
class ReplayRun:
    looks: int
    batch: int
    alpha: float
    experiments: tuple[ReplayedExperiment, ...]

    @property
    def false_positives(self) -> int:
        return sum(1 for e in self.experiments if e.first_significant_look)

    @property
    def rate(self) -> float:
        return self.false_positives / len(self.experiments)

    @property
    def contradictions(self) -> int:
        return sum(e.contradictions for e in self.experiments)

    @property
    def deviation(self) -> float:
        return max(e.deviation for e in self.experiments)

    @property
    def events_per_second(self) -> float:
        return sum(e.events for e in self.experiments) / sum(
            e.ingest_seconds for e in self.experiments
        )

    @property
    def replay_seconds(self) -> float:
        """Mean time of one experiment's ``experiment_timeseries``."""
        return sum(e.replay_seconds for e in self.experiments) / len(self.experiments)

    @property
    def binomial_p_value(self) -> float:
        """The exact one-sided binomial test of "the false-positive rate is at most alpha"."""
        trials = len(self.experiments)
        return float(binomtest(self.false_positives, trials, self.alpha, "greater").pvalue)

    @property
    def upper_bound(self) -> float:
        """The false-positive rate's one-sided 99% Clopper-Pearson upper bound."""
        hits, trials = self.false_positives, len(self.experiments)
        return 1.0 if hits == trials else float(beta.ppf(0.99, hits + 1, trials - hits))


def ingest_minutes(ctx: Context, events: EventStore, name: str, values: np.ndarray) -> int:
    """Send ``values`` (looks, 2 arms, batch) through ``ingest_events``: look ``k``'s units
    at ``LAUNCH + k`` minutes, the clock at the last minute of each call. Returns the events."""
    looks, _, batch = values.shape
    sent = 0
    for first in range(1, looks + 1, MINUTES_PER_CALL):
        last = min(first + MINUTES_PER_CALL - 1, looks)
        stream: list[dict[str, Any]] = []
        for look in range(first, last + 1):
            when = LAUNCH + timedelta(minutes=look)
            stream += unit_events(name, (look - 1) * 2 * batch, values[look - 1], when)
        end = LAUNCH + timedelta(minutes=last)
        outcome = ingest_events(replace(ctx, clock=clock_at(end)), events, stream)
        assert not outcome.rejected, outcome.rejected[:3]
        assert outcome.stored == len(stream)
        sent += len(stream)
    return sent


def stats_level(
    control: np.ndarray, treatment: np.ndarray, *, tuning: int, level: float, alpha: float
) -> Expected:
    """Each look's family-adjusted always-valid p-value, running interval of the difference
    and control mean, from the values of each arm (looks, units per look).

    Welch's test on each look's cumulative sums gives the difference and its variance;
    ``tau**2 = rho(N*)**2 * se**2 * (n_c + n_t)`` at ``level``; the p-value is the running
    minimum (``always_valid_p_values``) times ``alpha / level``, the interval the running
    intersection of ``msprt_from_difference``'s.
    """
    looks, batch = control.shape
    arms = np.stack([control, treatment], axis=1)
    sums = np.cumsum(arms.sum(axis=2), axis=0)
    squares = np.cumsum((arms * arms).sum(axis=2), axis=0)
    difference, variance = np.empty(looks), np.empty(looks)
    control, control_error = np.empty(looks), np.empty(looks)
    for look in range(looks):
        n = batch * (look + 1)
        moments = [Moments(n, float(sums[look, a]), float(squares[look, a])) for a in (0, 1)]
        comparison = welch_t_test(*moments, alpha=alpha)
        difference[look] = comparison.absolute_lift
        variance[look] = comparison.standard_error**2
        control[look] = comparison.control_value
        control_error[look] = comparison.control_standard_error
    units = 2 * batch * np.arange(1, looks + 1)
    tau = mixing_variance_for_tuning_units(1.0, tuning, alpha=level) * variance * units
    raw = always_valid_p_values(difference, variance, mixing_variance=tau)
    low, high = np.empty(looks), np.empty(looks)
    bounds: tuple[float, float] | None = None
    for look in range(looks):
        bounds = msprt_from_difference(
            float(difference[look]),
            float(variance[look]),
            mixing_variance=float(tau[look]),
            alpha=level,
            previous_interval=bounds,
        ).confidence_sequence
        low[look], high[look] = bounds
    return Expected(np.minimum(1.0, raw * alpha / level), low, high, control, control_error)


def difference_band(point: LiftPoint, control: float | None) -> tuple[float, float]:
    """A point's band back on the difference's scale: times the control's value shown at
    the same time (swapped back when that value is negative); NaN where either is missing."""
    low, high = point.confidence_sequence
    if low is None or high is None or control is None:
        return (math.nan, math.nan)
    first, second = low * control, high * control
    return (second, first) if control < 0 else (first, second)


def _relative_difference(shown: float | None, expected: float, scale: float | None = None) -> float:
    """``|shown - expected|`` over ``scale`` (by default ``|expected|``); missing: infinite."""
    if shown is None or math.isnan(shown):
        return math.inf
    return abs(shown - expected) / (abs(expected) if scale is None else scale)


def deviation_from(
    points: list[LiftPoint], controls: list[float | None], expected: Expected
) -> float:
    """The largest relative difference of the points from ``expected``: their p-values,
    their bands' bounds on the difference's scale, and the control's value (over its
    standard error: a mean near 0 has no relative precision, in SQL or numpy).

    The relative band shown is the difference's over that control value, so it agrees with
    the stats level to the precision of both; comparing them apart keeps a mean near 0
    (the A/A's is 0) from passing its ill-conditioning on to the bounds.
    """
    largest = 0.0
    for look, (point, control) in enumerate(zip(points, controls, strict=True)):
        low, high = difference_band(point, control)
        largest = max(
            largest,
            _relative_difference(point.always_valid_p_value, float(expected.p_value[look])),
            _relative_difference(low, float(expected.low[look])),
            _relative_difference(high, float(expected.high[look])),
            _relative_difference(
                control, float(expected.control[look]), float(expected.control_error[look])
            ),
        )
    return largest


def contradictions(points: list[LiftPoint], alpha: float) -> int:
    """Points whose ``p < alpha`` disagrees with their band excluding 0 (a band whose bounds
    cross is empty and excludes it)."""
    count = 0
    for point in points:
        low, high = point.confidence_sequence
        if point.always_valid_p_value is None or low is None or high is None:
            count += 1
            continue
        count += (point.always_valid_p_value < alpha) == (low <= 0.0 <= high)
    return count


def replay_experiment(
    ctx: Context,
    events: EventStore,
    name: str,
    values: np.ndarray,
    *,
    alpha: float,
    tuning: int,
) -> ReplayedExperiment:
    """Ingest one experiment's values, replay its time series by the minute and check it."""
    started = time.perf_counter()
    sent = ingest_minutes(ctx, events, name, values)
    ingested = time.perf_counter()
    series = experiment_timeseries(ctx, events, name, interval_name="minute")
    replayed = time.perf_counter()
    points = [p for p in series.lifts if p.variant == "treatment"]
    controls = [p.value for p in series.variants if p.variant == "control"]
    # One treatment: the primary metric's family has one member and the level is alpha.
    expected = stats_level(values[:, 0], values[:, 1], tuning=tuning, level=alpha, alpha=alpha)
    deviation = deviation_from(points, controls, expected)
    significant = [
        look for look, p in enumerate(points, 1) if p.always_valid_p_value is not None
        and p.always_valid_p_value < alpha
    ]  # fmt: skip
    return ReplayedExperiment(
        points=len(points),
        first_significant_look=significant[0] if significant else 0,
        contradictions=contradictions(points, alpha),
        deviation=deviation,
        events=sent,
        ingest_seconds=ingested - started,
        replay_seconds=replayed - ingested,
    )


def run_replay(
    ctx: Context,
    events: EventStore,
    *,
    experiments: int,
    looks: int = 5_000,
    batch: int = 100,
    seed: int = 0,
    progress: Callable[[int, ReplayedExperiment], None] | None = None,
    **settings: Any,
) -> ReplayRun:
    """Replay ``experiments`` A/A experiments of ``looks`` minutes of ``batch`` units per arm.

    ``settings`` go to ``ExperimentCreate`` (e.g. ``alpha``); experiment ``i`` draws its
    values from the generator seeded ``(seed, i)``, so any one can be rerun alone.
    """
    alpha = float(settings.get("alpha", 0.05))
    tuning = int(settings.get("sequential_tuning_units") or DEFAULT_TUNING_UNITS)
    names = launch_experiments(ctx, experiments, **settings)
    replayed = []
    for index, name in enumerate(names):
        values = np.random.default_rng((seed, index)).standard_normal((looks, 2, batch))
        one = replay_experiment(ctx, events, name, values, alpha=alpha, tuning=tuning)
        replayed.append(one)
        if progress is not None:
            progress(index, one)
    return ReplayRun(looks, batch, alpha, tuple(replayed))


def print_progress(index: int, replayed: ReplayedExperiment) -> None:
    rate = replayed.events / replayed.ingest_seconds
    print(
        f"experiment {index}: first significant look {replayed.first_significant_look or '-'}; "
        f"ingest {replayed.ingest_seconds:.1f} s ({rate:,.0f} events/s), time series "
        f"{replayed.replay_seconds:.1f} s; deviation {replayed.deviation:.1e}",
        file=sys.stderr,
        flush=True,
    )


def summary(run: ReplayRun) -> str:
    trials = len(run.experiments)
    return (
        f"A/A replayed by the minute through the time series: {run.false_positives}/{trials} "
        f"experiments significant at some look of {run.looks} (every {run.batch} units per "
        f"arm): rate {run.rate:.4f}, 99% upper bound {run.upper_bound:.4f}, one-sided "
        f"binomial test against alpha = {run.alpha:g}: p = {run.binomial_p_value:.3f}; "
        f"points contradicting their band: {run.contradictions}; largest relative deviation "
        f"from the stats level: {run.deviation:.1e}; ingest {run.events_per_second:,.0f} "
        f"events/s; time series {run.replay_seconds:.1f} s per experiment"
    )
