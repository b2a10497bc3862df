"""Simulations of the default sequential test: A/A false positives, coverage, power.

Stats level (vectorised, exact normal sufficient statistics per batch of 100 units per
arm): A/A experiments looked at after every batch, up to 5,000 looks, with the mixture
fixed by the tuning sample size (``tau**2 = rho(N*)**2 * s**2``, ``s**2`` the plug-in) and,
for comparison, with the old choice from the current standard error (``tau**2 = r* se**2``,
a fixed cut-off on ``|z|``). Service level: A/A experiments whose events go in through
``ingest_events`` and whose results come out of ``experiment_results`` after every 100
units per arm; each look must equal the stats-level computation on the same values, so
the stats-level guarantees carry over to the service path (``test_sequential_replay``
takes that path to 5,000 looks, through the time series).

Each test prints its figures (``pytest -s``) and asserts what could fail: the
false-positive rate's upper 99% Clopper-Pearson bound at or below alpha, coverage's lower
bound at or above 1 - alpha, the power cost and sample-size gain against the
fixed-horizon test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import beta, norm

from ablab.services.context import Context
from ablab.stats import (
    Alternative,
    Moments,
    always_valid_p_values,
    mixing_variance_for_horizon,
    mixing_variance_for_tuning_units,
    msprt_from_difference,
    sequential_rho,
    welch_t_test,
)
from ablab.store.events import DuckDBEventStore
from tests.analysis.sequential_service_path import run_service_path

ALPHA = 0.05
BATCH = 100  # units per arm added before each look
TUNING = 5_000  # gbstats' default N*, both arms together


def upper_bound(hits: int, trials: int, confidence: float = 0.99) -> float:
    """One-sided Clopper-Pearson upper bound of a binomial rate."""
    return 1.0 if hits == trials else float(beta.ppf(confidence, hits + 1, trials - hits))


def lower_bound(hits: int, trials: int, confidence: float = 0.99) -> float:
    return 0.0 if hits == 0 else float(beta.ppf(1 - confidence, hits, trials - hits + 1))


@dataclass(frozen=True, slots=True)
class Paths:
    """Per experiment (rows) and look (columns): the difference, its variance, units per arm."""

    difference: np.ndarray
    variance: np.ndarray
    units: np.ndarray

    @property
    def unit_variance(self) -> np.ndarray:
        return self.variance * (2 * self.units)  # se**2 * (n_c + n_t)


def simulate(rng: np.random.Generator, experiments: int, looks: int, effect: float = 0.0) -> Paths:
    """Welch's difference and variance after each batch of normal(0 or effect, 1) values.

    Each batch's sum and sum of squares are drawn exactly: the sum is normal, the sum of
    squares about the batch mean is chi-square with BATCH - 1 degrees of freedom and
    independent of it.
    """
    shape = (2, experiments, looks)
    sums = rng.normal(0.0, math.sqrt(BATCH), size=shape)
    sums[1] += effect * BATCH
    squares = rng.chisquare(BATCH - 1, size=shape) + sums**2 / BATCH
    n = BATCH * np.arange(1, looks + 1)
    total, total_sq = np.cumsum(sums, axis=2), np.cumsum(squares, axis=2)
    means = total / n
    sample_variance = (total_sq - total * means) / (n - 1)
    return Paths(means[1] - means[0], (sample_variance[0] + sample_variance[1]) / n, n)


def in_chunks(rng: np.random.Generator, experiments: int, looks: int, effect: float = 0.0,
              chunk: int = 250) -> Iterator[Paths]:  # fmt: skip
    for start in range(0, experiments, chunk):
        yield simulate(rng, min(chunk, experiments - start), looks, effect)


def tuned(paths: Paths, tuning: int = TUNING, alternative: Alternative = "two-sided") -> np.ndarray:
    """tau**2 at each look: rho(N*)**2 times that look's per-unit variance (the plug-in)."""
    scale = mixing_variance_for_tuning_units(1.0, tuning, alpha=ALPHA, alternative=alternative)
    return scale * paths.unit_variance


@pytest.mark.slow
def test_aa_false_positives_stay_below_alpha_over_5000_looks() -> None:
    """A/A, a look every 100 units per arm: significant at any of the first 50, 500 or
    5,000 looks. Before (tau from the current standard error) against after."""
    rng = np.random.default_rng(2027)
    experiments, horizons = 4_000, (50, 500, 5_000)
    after = dict.fromkeys(horizons, 0)
    before = dict.fromkeys(horizons, 0)
    r_star = mixing_variance_for_horizon(1.0, ALPHA)
    for paths in in_chunks(rng, experiments, max(horizons)):
        running = always_valid_p_values(
            paths.difference, paths.variance, mixing_variance=tuned(paths)
        )
        # The old default: tau**2 = r* se**2 at every look, i.e. a fixed |z| cut-off.
        old = always_valid_p_values(
            paths.difference / np.sqrt(paths.variance),
            np.ones_like(paths.variance),
            mixing_variance=r_star,
        )
        for horizon in horizons:
            after[horizon] += int((running[:, horizon - 1] < ALPHA).sum())
            before[horizon] += int((old[:, horizon - 1] < ALPHA).sum())
    for horizon in horizons:
        print(
            f"A/A over {horizon} looks: before {before[horizon] / experiments:.4f}, "
            f"after {after[horizon] / experiments:.4f} "
            f"(99% upper bound {upper_bound(after[horizon], experiments):.4f}), "
            f"{experiments} experiments"
        )
        assert upper_bound(after[horizon], experiments) <= ALPHA
    # The old choice crossed its fixed cut-off more often the longer people looked.
    assert before[5_000] > before[50]
    assert before[5_000] > after[5_000]


@pytest.mark.slow
@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_confidence_sequences_cover_the_truth_at_all_looks_at_once(
    alternative: Alternative,
) -> None:
    """The running intersection holds the true difference at every one of 1,000 looks
    (theta stays inside exactly when the running p-value at theta stays >= alpha)."""
    rng = np.random.default_rng(11)
    experiments, looks, truth = 3_000, 1_000, 0.05
    covered = 0
    checked = False
    for paths in in_chunks(rng, experiments, looks, effect=truth):
        running = always_valid_p_values(
            paths.difference,
            paths.variance,
            mixing_variance=tuned(paths, alternative=alternative),
            null_difference=truth,
            alternative=alternative,
        )
        covered += int((running[:, -1] >= ALPHA).sum())
        if not checked:  # the equivalence, by intersecting the intervals look by look
            checked = True
            tau = tuned(paths, alternative=alternative)
            for row in range(20):
                interval: tuple[float, float] | None = None
                for look in range(looks):
                    interval = msprt_from_difference(
                        float(paths.difference[row, look]),
                        float(paths.variance[row, look]),
                        mixing_variance=float(tau[row, look]),
                        previous_interval=interval,
                        alternative=alternative,
                    ).confidence_sequence
                assert interval is not None
                inside = interval[0] < truth < interval[1]
                assert inside == (running[row, -1] >= ALPHA)
    rate = covered / experiments
    print(f"coverage ({alternative}) over {looks} looks: {rate:.4f} of {experiments}")
    assert lower_bound(covered, experiments) >= 1 - ALPHA


@pytest.mark.slow
def test_power_and_expected_sample_size_against_the_fixed_horizon_test() -> None:
    """Effects of the MDE and twice it; both tests may use at most the fixed-horizon
    sample (80% power at the MDE), the sequential one looks every 100 units per arm and is
    tuned for that sample (N* = both arms together)."""
    rng = np.random.default_rng(5)
    mde, experiments = 0.1, 4_000
    per_arm = math.ceil(2 * (norm.ppf(1 - ALPHA / 2) + norm.ppf(0.8)) ** 2 / mde**2)
    looks = math.ceil(per_arm / BATCH)  # 16 looks, 1,600 units per arm
    figures = {}
    for effect in (0.0, mde, 2 * mde):
        paths = simulate(rng, experiments, looks, effect)
        z = paths.difference[:, -1] / np.sqrt(paths.variance[:, -1])
        fixed_power = float((np.abs(z) > norm.ppf(1 - ALPHA / 2)).mean())
        for tuning in (2 * looks * BATCH, TUNING):
            running = always_valid_p_values(
                paths.difference, paths.variance, mixing_variance=tuned(paths, tuning)
            )
            rejected = running < ALPHA
            power = float(rejected[:, -1].mean())
            stop = np.where(rejected.any(axis=1), rejected.argmax(axis=1) + 1, looks) * BATCH
            figures[(effect, tuning)] = (fixed_power, power, float(stop.mean()))
            print(
                f"effect {effect:g}, N* {tuning}: fixed-horizon power {fixed_power:.3f} at "
                f"{looks * BATCH} per arm; sequential power {power:.3f}, expected units per "
                f"arm {stop.mean():.0f} ({stop.mean() / (looks * BATCH):.0%} of the fixed)"
            )
    planned = 2 * looks * BATCH
    fixed_power, power, units = figures[(mde, planned)]
    assert fixed_power == pytest.approx(0.8, abs=0.03)  # the simulation matches the formula
    assert power < fixed_power  # always-valid inference costs power at a fixed maximum...
    assert power > 0.4
    assert units < 0.85 * looks * BATCH  # ...and saves units on average
    _, power_large, units_large = figures[(2 * mde, planned)]
    assert power_large > 0.95
    assert units_large < 0.6 * looks * BATCH
    assert figures[(0.0, planned)][1] < ALPHA


@pytest.fixture
def service(tmp_path: Path, ctx: Context) -> Iterator[tuple[Context, DuckDBEventStore]]:
    events = DuckDBEventStore(tmp_path / "events.duckdb")
    yield ctx, events
    events.close()


@pytest.mark.slow
@pytest.mark.parametrize("metadata_store", ["sqlite"], indirect=True)
def test_aa_through_the_service_path_is_the_stats_path_look_for_look(
    service: tuple[Context, DuckDBEventStore],
) -> None:
    """Events in through ingest_events (DuckDB), results out of experiment_results after
    every 100 units per arm: each look's always-valid p-value and confidence sequence are
    the running values of the stats-level computation on the same units, each verdict
    agrees with its interval, and every look is counted."""
    ctx, events = service
    run = run_service_path(ctx, events, experiments=8, looks=30, batch=BATCH, seed=3)
    assert run.contradictions == 0
    for values, shown in zip(run.values, run.shown, strict=True):
        differences, variances = [], []
        for look in range(run.looks):
            seen = values[: look + 1]
            comparison = welch_t_test(
                Moments.from_values(seen[:, 0].ravel()), Moments.from_values(seen[:, 1].ravel())
            )
            differences.append(comparison.absolute_lift)
            variances.append(comparison.standard_error**2)
        difference, variance = np.array(differences), np.array(variances)
        units = 2 * BATCH * np.arange(1, run.looks + 1)
        level = ALPHA  # one treatment: the primary family has one member
        tau = mixing_variance_for_tuning_units(1.0, TUNING, alpha=level) * variance * units
        expected = always_valid_p_values(difference, variance, mixing_variance=tau)
        interval: tuple[float, float] | None = None
        for look, row in enumerate(shown):
            interval = msprt_from_difference(
                float(difference[look]),
                float(variance[look]),
                mixing_variance=float(tau[look]),
                previous_interval=interval,
            ).confidence_sequence
            assert row.always_valid_p_value == pytest.approx(expected[look], rel=1e-6)
            assert row.confidence_sequence == pytest.approx(interval, rel=1e-6)
            assert row.sequential is not None
            assert row.sequential.looks == look + 1
            assert row.sequential.tuning_units == TUNING
            assert row.sequential.rho == pytest.approx(sequential_rho(ALPHA, TUNING))
            low, high = row.confidence_sequence
            assert low is not None
            assert high is not None
            assert row.significant == (not low <= 0.0 <= high)
    print(
        f"A/A through the service path: {run.false_positives}/{run.experiments} experiments "
        f"significant within {run.looks} looks"
    )
