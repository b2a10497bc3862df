"""Bayesian chance to win, credible intervals and losses: exact formulas, scipy, gbstats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats

from ablab.errors import ValidationError
from ablab.stats import (
    BetaPrior,
    Moments,
    NormalPrior,
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
from ablab.stats.priors import JEFFREYS, UNIFORM
from tests.stats._bayes_references import (
    beta_chance_to_win,
    beta_loss_of_treatment,
    beta_relative_quantile,
    gbstats_effect,
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
        prior=UNIFORM,
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
            prior=UNIFORM,
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
        Moments.from_successes(30, 1_000), Moments.from_successes(45, 1_000), prior=UNIFORM
    )
    assert result.probability_to_beat_control == pytest.approx(probability, abs=1e-9)
    assert result.expected_loss_treatment == pytest.approx(loss, abs=1e-11)


JEFFREYS_CASES = [
    pytest.param(100, 1_000, 125, 1_000, id="moderate"),
    pytest.param(0, 500, 3, 500, id="zero-control-conversions"),
    pytest.param(0, 500, 0, 800, id="zero-conversions-both"),
    pytest.param(9, 500, 0, 500, id="zero-treatment-conversions"),
    pytest.param(1_800, 45_000, 230, 5_000, id="split-90-10"),
    pytest.param(1, 7, 6, 8, id="tiny-samples"),
    pytest.param(995, 1_000, 1_000, 1_000, id="all-successes"),
]


@pytest.mark.parametrize(
    ("control_successes", "control_units", "treatment_successes", "treatment_units"),
    JEFFREYS_CASES,
)
def test_jeffreys_default_matches_scipy_quadrature(
    control_successes: int, control_units: int, treatment_successes: int, treatment_units: int
) -> None:
    result = bayesian_proportions(
        Moments.from_successes(control_successes, control_units),
        Moments.from_successes(treatment_successes, treatment_units),
    )
    control = (control_successes + 0.5, control_units - control_successes + 0.5)
    treatment = (treatment_successes + 0.5, treatment_units - treatment_successes + 0.5)
    assert result.prior == "Beta(0.5, 0.5) (Jeffreys) on each arm's rate"
    assert result.control_value == pytest.approx(control[0] / sum(control), rel=1e-12)
    assert result.probability_to_beat_control == pytest.approx(
        beta_chance_to_win(control, treatment), abs=1e-9
    )
    assert result.expected_loss_treatment == pytest.approx(
        beta_loss_of_treatment(control, treatment), abs=1e-10
    )
    assert result.relative_expected_loss_treatment == pytest.approx(
        result.expected_loss_treatment / result.control_value, rel=1e-12
    )
    quantiles = [beta_relative_quantile(control, treatment, p) for p in (0.025, 0.5, 0.975)]
    assert (*result.relative_credible_interval, result.relative_lift) == pytest.approx(
        (quantiles[0], quantiles[2], quantiles[1]), rel=1e-7, abs=1e-9
    )


def test_relative_quantiles_agree_with_seeded_monte_carlo() -> None:
    result = bayesian_proportions(
        Moments.from_successes(100, 1_000), Moments.from_successes(125, 1_000)
    )
    rng = np.random.default_rng(7)
    draws = 1_000_000
    lifts = rng.beta(125.5, 875.5, draws) / rng.beta(100.5, 900.5, draws) - 1
    for probability, value in zip(
        (0.025, 0.5, 0.975), (*result.relative_credible_interval[:1], result.relative_lift,
                              result.relative_credible_interval[1]), strict=True
    ):  # fmt: skip
        # The sample quantile's standard error is sqrt(p (1 - p) / n) / density.
        assert np.mean(lifts <= value) == pytest.approx(probability, abs=4 * 0.5 / 1_000)


@pytest.mark.parametrize(("successes", "units"), [(0, 1_000), (7, 1_000), (40, 50)])
def test_a_beta_prior_adds_its_pseudo_counts(successes: int, units: int) -> None:
    # Beta(2, 8) then x of n is the uniform prior's posterior after x + 1 of n + 8.
    control = Moments.from_successes(30, 400)
    custom = bayesian_proportions(
        control, Moments.from_successes(successes, units), prior=BetaPrior(2.0, 8.0)
    )
    shifted = bayesian_proportions(
        Moments.from_successes(31, 408), Moments.from_successes(successes + 1, units + 8),
        prior=UNIFORM,
    )  # fmt: skip
    assert custom.probability_to_beat_control == pytest.approx(
        shifted.probability_to_beat_control, abs=1e-12
    )
    assert custom.relative_credible_interval == pytest.approx(
        shifted.relative_credible_interval, rel=1e-9
    )
    assert custom.prior == "Beta(2, 8) on each arm's rate"


def test_jeffreys_and_uniform_differ_where_the_data_are_thin() -> None:
    control, treatment = Moments.from_successes(0, 200), Moments.from_successes(2, 200)
    jeffreys = bayesian_proportions(control, treatment, prior=JEFFREYS)
    uniform = bayesian_proportions(control, treatment, prior=UNIFORM)
    # Half a pseudo-success per arm pulls the empty control less towards 1/2.
    assert jeffreys.control_value == pytest.approx(0.5 / 201)
    assert uniform.control_value == pytest.approx(1 / 202)
    assert jeffreys.probability_to_beat_control > uniform.probability_to_beat_control


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
@pytest.mark.parametrize(
    ("control_successes", "treatment_successes"), [(100, 125), (100, 130), (100, 100), (120, 100)]
)
def test_chance_to_win_and_credible_interval_agree(
    control_successes: int, treatment_successes: int, alpha: float
) -> None:
    result = bayesian_proportions(
        Moments.from_successes(control_successes, 1_000),
        Moments.from_successes(treatment_successes, 1_000),
        alpha=alpha,
    )
    low, high = result.relative_credible_interval
    assert (low > 0) == (result.probability_to_beat_control > 1 - alpha / 2)
    assert (high < 0) == (result.probability_to_beat_control < alpha / 2)
    assert low <= result.relative_lift <= high


MEANS = (
    Moments(n=400, sum=4_000.0, sum_sq=440_000.0),
    Moments(n=500, sum=5_100.0, sum_sq=570_000.0),
)


@pytest.mark.parametrize(
    "prior",
    [NormalPrior(), NormalPrior(0.0, 0.09, proper=True), NormalPrior(0.05, 0.01, proper=True)],
    ids=["flat", "gbstats-default-made-proper", "informative"],
)
def test_effect_model_matches_the_gbstats_formulas(prior: NormalPrior) -> None:
    control, treatment = MEANS
    result = bayesian_means(control, treatment, prior=prior)
    expected = gbstats_effect(
        control.mean,
        control.variance / control.n,
        treatment.mean,
        treatment.variance / treatment.n,
        prior_mean=prior.mean,
        prior_variance=prior.variance,
        proper=prior.proper,
    )
    assert result.relative_lift == pytest.approx(expected["mean"], rel=1e-10)
    assert result.probability_to_beat_control == pytest.approx(expected["chance_to_win"], rel=1e-10)
    assert result.relative_credible_interval == pytest.approx(
        (expected["ci_low"], expected["ci_high"]), rel=1e-9
    )
    assert result.relative_expected_loss_treatment == pytest.approx(
        expected["risk_treatment"], rel=1e-7
    )
    assert result.relative_expected_loss_control == pytest.approx(
        expected["risk_control"], rel=1e-7
    )
    assert result.expected_loss_treatment == pytest.approx(
        expected["risk_treatment"] * control.mean, rel=1e-7
    )


def test_a_proper_prior_shrinks_towards_its_mean() -> None:
    control, treatment = MEANS
    flat = bayesian_means(control, treatment)
    shrunk = bayesian_means(control, treatment, prior=NormalPrior(0.0, 1e-4, proper=True))
    assert 0 < shrunk.relative_lift < flat.relative_lift
    assert shrunk.probability_to_beat_control < flat.probability_to_beat_control
    assert shrunk.prior == "Normal(mean 0, variance 0.0001) on the relative lift"
    assert flat.prior == "flat on the relative lift"


def test_bayesian_from_comparison_uses_the_arm_estimates() -> None:
    rng = np.random.default_rng(5)
    control = RatioMoments.from_values(rng.integers(0, 5, 300), rng.integers(5, 8, 300))
    treatment = RatioMoments.from_values(rng.integers(1, 5, 300), rng.integers(5, 8, 300))
    comparison = ratio_test(control, treatment, alpha=0.1)
    result = bayesian_from_comparison(comparison)
    expected = gbstats_effect(
        comparison.control_value,
        comparison.control_standard_error**2,
        comparison.treatment_value,
        comparison.treatment_standard_error**2,
        alpha=0.1,
    )
    assert result.probability_to_beat_control == pytest.approx(expected["chance_to_win"], rel=1e-10)
    assert result.relative_credible_interval == pytest.approx(
        (expected["ci_low"], expected["ci_high"]), rel=1e-9
    )
    assert result.alpha == 0.1
    assert result.treatment_value == comparison.treatment_value


def test_a_zero_control_mean_falls_back_to_the_metric_scale_under_a_flat_prior() -> None:
    comparison = welch_t_test(
        Moments.from_values([-1.0, 1.0, 0.0]), Moments.from_values([1.0, 2.0, 3.0])
    )
    flat = bayesian_from_comparison(comparison)
    assert flat.status is Status.ZERO_BASELINE
    expected = scipy_stats.norm.sf(
        0.0,
        comparison.absolute_lift,
        math.hypot(comparison.control_standard_error, comparison.treatment_standard_error),
    )
    assert flat.probability_to_beat_control == pytest.approx(expected, rel=1e-12)
    assert math.isnan(flat.relative_lift)
    proper = bayesian_from_comparison(comparison, prior=NormalPrior(0.0, 0.09, proper=True))
    assert proper.status is Status.ZERO_BASELINE
    assert math.isnan(proper.probability_to_beat_control)


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
    result = probability_best_proportions(
        [Moments.from_successes(*arm) for arm in arms], prior=UNIFORM
    )
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
    result = probability_best_proportions(
        [Moments.from_successes(*arm) for arm in arms], prior=UNIFORM
    )
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
