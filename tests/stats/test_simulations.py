"""Monte Carlo checks of error rates and coverage, with fixed seeds (``-m slow``; CI runs them).

Every rate is compared with its target within a stated number of Monte Carlo standard errors
``sqrt(p (1 - p) / simulations)``, never with a tolerance tuned to pass. Looks are vectorised
with cumulative sums, so no Python loop runs per look per experiment.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from ablab.stats import (
    CovariateMoments,
    Moments,
    always_valid_p_values,
    compare_quantiles,
    cuped_test,
    mcnemar_test,
    mixing_variance_for_horizon,
    mixing_variance_from_mde,
    msprt_from_difference,
    quantile_interval,
    sequential_power_cost,
    two_proportion_z_test,
    welch_t_test,
)

pytestmark = pytest.mark.slow

ALPHA = 0.05
EXPERIMENTS = 2_000
LOOK_EVERY = 100
UNITS_PER_ARM = 10_000
LOOKS = UNITS_PER_ARM // LOOK_EVERY


def monte_carlo_error(rate: float, simulations: int) -> float:
    return math.sqrt(rate * (1.0 - rate) / simulations)


def _proportion_looks(
    rng: np.random.Generator, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference, its unpooled variance and the pooled z statistic at every look."""
    units = LOOK_EVERY * np.arange(1, LOOKS + 1)
    control = np.cumsum(rng.binomial(LOOK_EVERY, rate, size=(EXPERIMENTS, LOOKS)), axis=1) / units
    treatment = np.cumsum(rng.binomial(LOOK_EVERY, rate, size=(EXPERIMENTS, LOOKS)), axis=1) / units
    variance = (control * (1 - control) + treatment * (1 - treatment)) / units
    pooled = (control + treatment) / 2
    z = (treatment - control) / np.sqrt(pooled * (1 - pooled) * 2 / units)
    return treatment - control, variance, z


def _mean_looks(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same for a skewed continuous metric (exponential, mean 10), with Welch's variance."""
    units = LOOK_EVERY * np.arange(1, LOOKS + 1)
    moments = []
    for _ in range(2):
        values = rng.exponential(10.0, size=(EXPERIMENTS, LOOKS, LOOK_EVERY))
        sums = np.cumsum(values.sum(axis=2), axis=1)
        squares = np.cumsum((values * values).sum(axis=2), axis=1)
        means = sums / units
        moments.append((means, (squares - sums * means) / (units - 1) / units))
    (control_mean, control_variance), (treatment_mean, treatment_variance) = moments
    variance = control_variance + treatment_variance
    difference = treatment_mean - control_mean
    return difference, variance, difference / np.sqrt(variance)


@pytest.mark.parametrize("metric", ["proportion", "mean"])
def test_msprt_keeps_the_false_positive_rate_under_continuous_peeking(metric: str) -> None:
    rng = np.random.default_rng(20261122 if metric == "proportion" else 7)
    if metric == "proportion":
        difference, variance, z = _proportion_looks(rng, 0.10)
        mixing_variance = mixing_variance_from_mde(0.10 * 0.10)
    else:
        difference, variance, z = _mean_looks(rng)
        mixing_variance = mixing_variance_for_horizon(2 * 100.0 / UNITS_PER_ARM, ALPHA)
    always_valid = always_valid_p_values(difference, variance, mixing_variance=mixing_variance)
    sequential_rate = float(np.mean(always_valid[:, -1] < ALPHA))
    naive_rate = float(np.mean(np.any(2 * ndtr(-np.abs(z)) < ALPHA, axis=1)))
    print(
        f"\nA/A {metric}: {EXPERIMENTS} experiments, {LOOKS} looks up to "
        f"{UNITS_PER_ARM} units per arm: "
        f"mSPRT false positives {sequential_rate:.4f}, "
        f"fixed-horizon test at every look {naive_rate:.4f}"
    )
    # Ville's inequality bounds the mSPRT at alpha; allow two Monte Carlo standard errors.
    assert sequential_rate <= ALPHA + 2 * monte_carlo_error(ALPHA, EXPERIMENTS)
    # Peeking at a fixed-horizon test a hundred times inflates its error several-fold.
    assert naive_rate >= 3 * ALPHA
    # The last look alone is a valid fixed-horizon test (two standard errors either side).
    final_rate = float(np.mean(2 * ndtr(-np.abs(z[:, -1])) < ALPHA))
    assert abs(final_rate - ALPHA) <= 2 * monte_carlo_error(ALPHA, EXPERIMENTS)


COVERAGE_SIMULATIONS = 4_000
# 1.5 points is 4.4 Monte Carlo standard errors at 95% coverage with 4,000 simulations.
COVERAGE_TOLERANCE = 0.015


def _coverage(hits: list[bool]) -> float:
    return float(np.mean(hits))


def test_z_interval_coverage() -> None:
    rng = np.random.default_rng(101)
    control_rate, treatment_rate, control_units, treatment_units = 0.10, 0.12, 2_000, 1_500
    truth, relative_truth = treatment_rate - control_rate, treatment_rate / control_rate - 1
    absolute, relative = [], []
    for control, treatment in zip(
        rng.binomial(control_units, control_rate, COVERAGE_SIMULATIONS),
        rng.binomial(treatment_units, treatment_rate, COVERAGE_SIMULATIONS),
        strict=True,
    ):
        result = two_proportion_z_test(
            Moments.from_successes(int(control), control_units),
            Moments.from_successes(int(treatment), treatment_units),
        )
        absolute.append(result.absolute_ci[0] <= truth <= result.absolute_ci[1])
        relative.append(result.relative_ci[0] <= relative_truth <= result.relative_ci[1])
    print(f"\nz interval coverage {_coverage(absolute):.4f}, relative {_coverage(relative):.4f}")
    assert abs(_coverage(absolute) - 0.95) <= COVERAGE_TOLERANCE
    assert abs(_coverage(relative) - 0.95) <= COVERAGE_TOLERANCE


def test_welch_interval_coverage() -> None:
    rng = np.random.default_rng(202)
    control_units, treatment_units = 40, 90
    control_values = rng.normal(10.0, 1.0, (COVERAGE_SIMULATIONS, control_units))
    treatment_values = rng.normal(11.0, 3.0, (COVERAGE_SIMULATIONS, treatment_units))
    absolute, relative = [], []
    for control, treatment in zip(control_values, treatment_values, strict=True):
        result = welch_t_test(Moments.from_values(control), Moments.from_values(treatment))
        absolute.append(result.absolute_ci[0] <= 1.0 <= result.absolute_ci[1])
        relative.append(result.relative_ci[0] <= 0.1 <= result.relative_ci[1])
    print(
        f"\nWelch interval coverage {_coverage(absolute):.4f}, relative {_coverage(relative):.4f}"
    )
    assert abs(_coverage(absolute) - 0.95) <= COVERAGE_TOLERANCE
    assert abs(_coverage(relative) - 0.95) <= COVERAGE_TOLERANCE


def test_cuped_variance_reduction_is_rho_squared() -> None:
    rng = np.random.default_rng(303)
    correlation, units = 0.6, 200_000
    covariate = rng.normal(0.0, 1.0, 2 * units)
    metric = (
        5.0
        + correlation * covariate
        + math.sqrt(1 - correlation**2) * rng.normal(0.0, 1.0, 2 * units)
    )
    result = cuped_test(
        CovariateMoments.from_values(metric[:units], covariate[:units]),
        CovariateMoments.from_values(metric[units:] + 0.01, covariate[units:]),
    )
    print(
        f"\nCUPED variance reduction {result.variance_reduction:.4f} "
        f"for rho^2 = {correlation**2:.4f}"
    )
    # The sample correlation over 400,000 units is within about 0.002 of rho.
    assert result.variance_reduction == pytest.approx(correlation**2, abs=0.005)


def test_cuped_estimates_vary_as_little_as_reported_and_cover() -> None:
    rng = np.random.default_rng(404)
    correlation, units, simulations = 0.8, 500, 2_000
    raw_lifts, adjusted_lifts, covered = [], [], []
    for _ in range(simulations):
        covariate = rng.normal(0.0, 1.0, 2 * units)
        metric = correlation * covariate + math.sqrt(1 - correlation**2) * rng.normal(
            0.0, 1.0, 2 * units
        )
        metric[units:] += 0.1
        result = cuped_test(
            CovariateMoments.from_values(metric[:units], covariate[:units]),
            CovariateMoments.from_values(metric[units:], covariate[units:]),
        )
        raw_lifts.append(metric[units:].mean() - metric[:units].mean())
        adjusted_lifts.append(result.absolute_lift)
        covered.append(result.absolute_ci[0] <= 0.1 <= result.absolute_ci[1])
    ratio = np.var(adjusted_lifts) / np.var(raw_lifts)
    print(
        f"\nCUPED: Var(adjusted)/Var(raw) across experiments {ratio:.4f} "
        f"(1 - rho^2 = {1 - correlation**2:.4f})"
    )
    # The variance ratio of 2,000 draws has a relative standard error near sqrt(4 / 2,000).
    assert ratio == pytest.approx(1 - correlation**2, rel=3 * math.sqrt(4 / simulations))
    assert abs(np.mean(covered) - 0.95) <= 3 * monte_carlo_error(0.95, simulations)


def test_sequential_power_cost_is_an_upper_bound_under_continuous_monitoring() -> None:
    rng = np.random.default_rng(505)
    deviation, mde, power = 1.0, 0.1, 0.8
    tau_sq = mixing_variance_from_mde(mde)
    cost = sequential_power_cost(deviation, mde, mixing_variance=tau_sq, power=power)
    per_arm = cost.sequential.control_units
    looks, simulations = 100, EXPERIMENTS
    batch = per_arm / looks
    units = batch * np.arange(1, looks + 1)
    # Sums of normal batches are exactly normal: simulate the per-look differences directly.
    increments = rng.normal(
        mde * batch, deviation * math.sqrt(2 * batch), size=(simulations, looks)
    )
    difference = np.cumsum(increments, axis=1) / units
    variance = np.broadcast_to(2 * deviation**2 / units, difference.shape)
    always_valid = always_valid_p_values(difference, variance, mixing_variance=tau_sq)
    monitored_power = float(np.mean(always_valid[:, -1] < ALPHA))
    final_only = np.array(
        [
            msprt_from_difference(d, variance[0, -1], mixing_variance=tau_sq).significant
            for d in difference[:, -1]
        ]
    )
    single_look_power = float(final_only.mean())
    print(
        f"\nmSPRT at {per_arm} per arm ({cost.inflation:.2f}x the fixed horizon): "
        f"single-look power "
        f"{single_look_power:.4f}, monitored power {monitored_power:.4f}"
    )
    error = monte_carlo_error(power, simulations)
    assert abs(single_look_power - power) <= 3 * error
    assert monitored_power >= power - 2 * error


def test_quantile_interval_coverage_is_at_least_nominal() -> None:
    rng = np.random.default_rng(606)
    samples = rng.lognormal(3.0, 0.7, size=(COVERAGE_SIMULATIONS, 400))
    truth = math.exp(3.0 + 0.7 * 1.6448536269514722)
    hits = []
    for values in samples:
        lower, upper = quantile_interval(values, 0.95).ci
        hits.append(lower <= truth <= upper)
    print(f"\np95 order-statistic interval coverage {_coverage(hits):.4f}")
    assert _coverage(hits) >= 0.95 - 2 * monte_carlo_error(0.95, COVERAGE_SIMULATIONS)


def test_quantile_difference_coverage() -> None:
    rng = np.random.default_rng(707)
    simulations, units = 2_000, 2_000
    quantile = 1.6448536269514722
    truth = math.exp(3.1 + 0.5 * quantile) - math.exp(3.0 + 0.5 * quantile)
    hits = []
    for _ in range(simulations):
        result = compare_quantiles(
            rng.lognormal(3.0, 0.5, units), rng.lognormal(3.1, 0.5, units), 0.95
        )
        hits.append(result.absolute_ci[0] <= truth <= result.absolute_ci[1])
    print(f"\np95 difference interval coverage {_coverage(hits):.4f}")
    assert abs(_coverage(hits) - 0.95) <= 3 * monte_carlo_error(0.95, simulations)


def test_mcnemar_interval_coverage() -> None:
    rng = np.random.default_rng(808)
    pairs = 300
    probabilities = [0.55, 0.08, 0.14, 0.23]  # both pass, only control, only treatment, both fail
    truth = probabilities[2] - probabilities[1]
    tables = rng.multinomial(pairs, probabilities, size=COVERAGE_SIMULATIONS)
    hits = []
    rejections = []
    for _, only_control, only_treatment, _ in tables:
        result = mcnemar_test(int(only_control), int(only_treatment), pairs)
        hits.append(result.difference_ci[0] <= truth <= result.difference_ci[1])
        rejections.append(result.significant)
    print(f"\nAgresti-Min paired interval coverage {_coverage(hits):.4f}")
    assert abs(_coverage(hits) - 0.95) <= COVERAGE_TOLERANCE
    null_tables = rng.multinomial(pairs, [0.55, 0.11, 0.11, 0.23], size=COVERAGE_SIMULATIONS)
    null_rate = np.mean(
        [mcnemar_test(int(b), int(c), pairs).significant for _, b, c, _ in null_tables]
    )
    # The exact test is conservative: at most alpha plus Monte Carlo error.
    assert null_rate <= ALPHA + 2 * monte_carlo_error(ALPHA, COVERAGE_SIMULATIONS)
