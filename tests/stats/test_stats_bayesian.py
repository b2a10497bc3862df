"""Bayesian probabilities and losses against published exact formulas and scipy quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats

from ablab.errors import ValidationError
from ablab.stats import (
    Moments,
    RatioMoments,
    Status,
    bayesian_from_comparison,
    bayesian_means,
    bayesian_proportions,
    probability_best_means,
    probability_best_proportions,
    ratio_test,
    thompson_weights,
    welch_t_test,
)
from tests.stats._stats_references import (
    beta_loss_exact,
    beta_probability_exact,
    probability_best_by_quad,
)

# (control successes, control units, treatment successes, treatment units)
BETA_CASES = [
    pytest.param(100, 1_000, 125, 1_000, id="moderate"),
    pytest.param(0, 500, 3, 500, id="zero-control-conversions"),
    pytest.param(0, 500, 0, 800, id="zero-conversions-both"),
    pytest.param(9, 500, 0, 500, id="zero-treatment-conversions"),
    pytest.param(1_800, 9_000, 230, 1_000, id="split-90-10"),
    pytest.param(200_000, 2_000_000, 200_600, 2_000_000, id="tiny-effect-2M"),
    pytest.param(3, 7, 5, 8, id="tiny-samples"),
    pytest.param(48, 20_383, 40, 15_011, id="rare-near-threshold"),
    pytest.param(410, 47_908, 479, 51_906, id="rare-large"),
    pytest.param(995, 1_000, 999, 1_000, id="near-one"),
    pytest.param(60_000, 100_000, 900, 1_500, id="very-unequal"),
]


@pytest.mark.parametrize(
    ("control_successes", "control_units", "treatment_successes", "treatment_units"), BETA_CASES
)
def test_beta_binomial_matches_the_exact_formulas(
    control_successes: int, control_units: int, treatment_successes: int, treatment_units: int
) -> None:
    result = bayesian_proportions(
        Moments.from_successes(control_successes, control_units),
        Moments.from_successes(treatment_successes, treatment_units),
    )
    parameters = (
        control_successes + 1,
        control_units - control_successes + 1,
        treatment_successes + 1,
        treatment_units - treatment_successes + 1,
    )
    assert result.probability_to_beat_control == pytest.approx(
        beta_probability_exact(*parameters), abs=1e-7
    )
    assert result.expected_loss_treatment == pytest.approx(beta_loss_exact(*parameters), abs=1e-9)
    difference = parameters[2] / (parameters[2] + parameters[3]) - parameters[0] / (
        parameters[0] + parameters[1]
    )
    assert result.expected_loss_control == pytest.approx(
        result.expected_loss_treatment + difference, abs=1e-9
    )
    assert result.control_value == pytest.approx((control_successes + 1) / (control_units + 2))


def test_beta_binomial_accuracy_over_many_random_cases() -> None:
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(300):
        control_units = int(10 ** rng.uniform(0, 6))
        treatment_units = int(control_units * 10 ** rng.uniform(-1.5, 1.5)) + 1
        rate = 10 ** rng.uniform(-3.5, -0.01)
        control_successes = int(rng.binomial(control_units, rate))
        treatment_successes = int(
            rng.binomial(treatment_units, min(1.0, rate * rng.uniform(0.8, 1.25)))
        )
        if treatment_successes > 30_000:
            continue
        result = bayesian_proportions(
            Moments.from_successes(control_successes, control_units),
            Moments.from_successes(treatment_successes, treatment_units),
        )
        exact = beta_probability_exact(
            control_successes + 1,
            control_units - control_successes + 1,
            treatment_successes + 1,
            treatment_units - treatment_successes + 1,
        )
        worst = max(worst, abs(result.probability_to_beat_control - exact))
    assert worst < 1e-7


def test_beta_binomial_matches_scipy_quadrature() -> None:
    # 30 of 1,000 and 45 of 1,000 give Beta(31, 971) and Beta(46, 956) posteriors.
    control, treatment = scipy_stats.beta(31, 971), scipy_stats.beta(46, 956)
    probability, _ = integrate.quad(
        lambda x: control.pdf(x) * treatment.sf(x), 0, 0.2, points=[0.03, 0.045], epsabs=1e-13
    )
    # E[max(C - T, 0)] = integral of P(T <= x < C) dx for independent C and T.
    loss, _ = integrate.quad(
        lambda x: treatment.cdf(x) * control.sf(x), 0, 0.2, points=[0.03, 0.045], epsabs=1e-14
    )
    result = bayesian_proportions(
        Moments.from_successes(30, 1_000), Moments.from_successes(45, 1_000)
    )
    assert result.probability_to_beat_control == pytest.approx(probability, abs=1e-9)
    assert result.expected_loss_treatment == pytest.approx(loss, abs=1e-11)


def test_normal_posteriors_match_scipy() -> None:
    control, treatment = (
        Moments(n=400, sum=4_000.0, sum_sq=440_000.0),
        Moments(n=500, sum=5_100.0, sum_sq=570_000.0),
    )
    result = bayesian_means(control, treatment)
    control_error = math.sqrt(control.variance / control.n)
    treatment_error = math.sqrt(treatment.variance / treatment.n)
    difference = scipy_stats.norm(
        treatment.mean - control.mean, math.hypot(control_error, treatment_error)
    )
    assert result.probability_to_beat_control == pytest.approx(difference.sf(0.0), rel=1e-10)
    loss_treatment, _ = integrate.quad(lambda d: -d * difference.pdf(d), -np.inf, 0.0)
    loss_control, _ = integrate.quad(lambda d: d * difference.pdf(d), 0.0, np.inf)
    assert result.expected_loss_treatment == pytest.approx(loss_treatment, rel=1e-7)
    assert result.expected_loss_control == pytest.approx(loss_control, rel=1e-7)


def test_bayesian_from_comparison_uses_the_arm_estimates() -> None:
    rng = np.random.default_rng(5)
    control = RatioMoments.from_values(rng.integers(0, 5, 300), rng.integers(5, 8, 300))
    treatment = RatioMoments.from_values(rng.integers(1, 5, 300), rng.integers(5, 8, 300))
    comparison = ratio_test(control, treatment)
    result = bayesian_from_comparison(comparison)
    expected = scipy_stats.norm.sf(0.0, comparison.absolute_lift, comparison.standard_error)
    assert result.probability_to_beat_control == pytest.approx(expected, rel=1e-10)
    assert result.treatment_value == comparison.treatment_value


@pytest.mark.parametrize(
    "arms",
    [
        [(100, 1_000), (110, 1_000), (125, 1_000)],
        [(0, 300), (2, 300), (1, 300), (0, 50)],
        [(20_000, 200_000), (20_150, 200_000), (600, 6_000)],
        [(5, 10), (50, 100), (500, 1_000), (5_000, 10_000)],
    ],
)
def test_probability_best_proportions_matches_scipy_quadrature(arms: list[tuple[int, int]]) -> None:
    result = probability_best_proportions([Moments.from_successes(*arm) for arm in arms])
    distributions = [
        scipy_stats.beta(successes + 1, units - successes + 1) for successes, units in arms
    ]
    expected = probability_best_by_quad(distributions, 0.0, 1.0)
    assert result.probability_best == pytest.approx(tuple(expected), abs=1e-7)
    assert sum(result.probability_best) == pytest.approx(1.0, abs=1e-8)
    best = int(np.argmax(result.probability_best))
    assert result.expected_loss[best] == min(result.expected_loss)


def test_two_arm_best_equals_probability_to_beat_control() -> None:
    control, treatment = Moments.from_successes(300, 3_000), Moments.from_successes(340, 3_100)
    pair = bayesian_proportions(control, treatment)
    best = probability_best_proportions([control, treatment])
    assert best.probability_best[1] == pytest.approx(pair.probability_to_beat_control, abs=1e-8)
    assert best.expected_loss[1] == pytest.approx(pair.expected_loss_treatment, abs=1e-9)
    assert best.expected_loss[0] == pytest.approx(pair.expected_loss_control, abs=1e-9)


def test_probability_best_means_matches_scipy_quadrature() -> None:
    arms = [
        Moments(n=100, sum=1_000.0, sum_sq=10_400.0),
        Moments(n=100, sum=1_050.0, sum_sq=11_425.0),
        Moments(n=50, sum=510.0, sum_sq=5_500.0),
    ]
    result = probability_best_means(arms)
    distributions = [scipy_stats.norm(arm.mean, math.sqrt(arm.variance / arm.n)) for arm in arms]
    expected = probability_best_by_quad(distributions, -np.inf, np.inf)
    assert result.probability_best == pytest.approx(tuple(expected), abs=1e-8)


def test_probability_best_agrees_with_seeded_monte_carlo() -> None:
    arms = [(100, 1_000), (110, 1_000), (125, 1_000)]
    result = probability_best_proportions([Moments.from_successes(*arm) for arm in arms])
    rng = np.random.default_rng(11)
    draws = 400_000
    samples = np.column_stack([rng.beta(s + 1, n - s + 1, draws) for s, n in arms])
    frequencies = np.bincount(samples.argmax(axis=1), minlength=3) / draws
    tolerance = 4 * np.sqrt(frequencies * (1 - frequencies) / draws)
    assert np.all(np.abs(np.array(result.probability_best) - frequencies) <= tolerance + 1e-12)
    # Thompson sampling estimates the same probabilities.
    weights = thompson_weights(
        [s for s, _ in arms],
        [n - s for s, n in arms],
        rng=np.random.default_rng(4),
        draws=200_000,
        min_share=0.0,
    )
    assert np.all(
        np.abs(np.array(weights) - np.array(result.probability_best))
        <= 4 * np.sqrt(frequencies * (1 - frequencies) / 200_000) + 1e-12
    )


def test_statuses() -> None:
    some = Moments.from_successes(3, 10)
    assert bayesian_proportions(Moments.empty(), some).status is Status.EMPTY_ARM
    assert math.isnan(bayesian_proportions(some, Moments.empty()).probability_to_beat_control)
    values = Moments.from_values([1.0, 2.0])
    assert bayesian_means(Moments.from_values([1.0]), values).status is Status.TOO_FEW_UNITS
    assert bayesian_means(Moments.empty(), values).status is Status.EMPTY_ARM
    assert (
        bayesian_means(Moments.from_values([1.0, 1.0]), Moments.from_values([2.0, 2.0])).status
        is Status.ZERO_VARIANCE
    )
    assert bayesian_means(Moments.from_values([1.0, 1.0]), values).status is Status.OK
    assert (
        bayesian_from_comparison(welch_t_test(Moments.empty(), values)).status is Status.EMPTY_ARM
    )
    constant = welch_t_test(Moments.from_values([1.0, 1.0]), Moments.from_values([2.0, 2.0]))
    assert bayesian_from_comparison(constant).status is Status.ZERO_VARIANCE
    assert probability_best_proportions([some, Moments.empty()]).status is Status.EMPTY_ARM
    assert (
        probability_best_means([values, Moments.from_values([3.0])]).status is Status.TOO_FEW_UNITS
    )
    assert (
        probability_best_means([values, Moments.from_values([3.0, 3.0])]).status
        is Status.ZERO_VARIANCE
    )
    with pytest.raises(ValidationError):
        probability_best_proportions([some])
    with pytest.raises(ValidationError):
        bayesian_proportions(Moments.from_values([0.5]), some)
