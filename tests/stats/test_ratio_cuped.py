"""Ratio metrics (delta method) and CUPED against statsmodels and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from ablab.stats import (
    CovariateMoments,
    Moments,
    RatioMoments,
    Status,
    cuped_test,
    ratio_interval,
    ratio_test,
    welch_t_test,
)


def _accuracy_arm(
    rng: np.random.Generator, units: int, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    labelled = rng.poisson(6.0, units) + 1
    correct = rng.binomial(labelled, rate)
    return correct.astype(float), labelled.astype(float)


def _linearised(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    ratio = numerator.sum() / denominator.sum()
    return ratio + (numerator - ratio * denominator) / denominator.mean()


@pytest.mark.parametrize(
    ("seed", "control_units", "treatment_units", "control_rate", "treatment_rate"),
    [
        (1, 400, 400, 0.80, 0.82),
        (2, 9_000, 1_000, 0.70, 0.70),
        (3, 50, 70, 0.5, 0.6),
        (4, 200_000, 200_000, 0.9, 0.901),
    ],
)
def test_ratio_matches_a_z_test_on_linearised_values(
    seed: int, control_units: int, treatment_units: int, control_rate: float, treatment_rate: float
) -> None:
    rng = np.random.default_rng(seed)
    control = _accuracy_arm(rng, control_units, control_rate)
    treatment = _accuracy_arm(rng, treatment_units, treatment_rate)
    result = ratio_test(RatioMoments.from_values(*control), RatioMoments.from_values(*treatment))
    compare = CompareMeans(DescrStatsW(_linearised(*treatment)), DescrStatsW(_linearised(*control)))
    statistic, p_value = compare.ztest_ind(usevar="unequal")
    assert result.statistic == pytest.approx(statistic, rel=1e-7)
    assert result.p_value == pytest.approx(p_value, rel=1e-6)
    assert result.absolute_ci == pytest.approx(compare.zconfint_diff(usevar="unequal"), rel=1e-7)


def test_ratio_standard_error_matches_the_statsmodels_delta_method() -> None:
    rng = np.random.default_rng(9)
    numerator, denominator = _accuracy_arm(rng, 300, 0.75)
    result = ratio_test(
        RatioMoments.from_values(numerator, denominator),
        RatioMoments.from_values(numerator, denominator),
    )
    means = np.array([numerator.mean(), denominator.mean()])
    covariance = np.cov(np.vstack([numerator, denominator]), ddof=1) / numerator.size
    delta = NonlinearDeltaCov(lambda p: p[0] / p[1], means, covariance)
    assert result.control_standard_error == pytest.approx(float(delta.se_vectorized()), rel=1e-6)


def test_ratio_with_unit_denominators_is_the_z_test_of_means() -> None:
    rng = np.random.default_rng(4)
    control, treatment = rng.normal(10, 2, 300), rng.normal(10.4, 3, 250)
    ratio = ratio_test(
        RatioMoments.from_values(control, np.ones_like(control)),
        RatioMoments.from_values(treatment, np.ones_like(treatment)),
    )
    welch = welch_t_test(Moments.from_values(control), Moments.from_values(treatment))
    assert ratio.statistic == pytest.approx(welch.statistic, rel=1e-10)
    assert ratio.degrees_of_freedom == math.inf


def test_ratio_statuses() -> None:
    some = RatioMoments.from_values([1.0, 2.0], [2.0, 3.0])
    assert ratio_test(RatioMoments.empty(), some).status is Status.EMPTY_ARM
    assert (
        ratio_test(some, RatioMoments.from_values([0.0, 0.0], [0.0, 0.0])).status
        is Status.ZERO_DENOMINATOR
    )
    assert ratio_test(RatioMoments.from_values([1.0], [2.0]), some).status is Status.TOO_FEW_UNITS
    constant = ratio_test(
        RatioMoments.from_values([1.0, 2.0], [2.0, 4.0]),
        RatioMoments.from_values([3.0, 3.0], [4.0, 4.0]),
    )
    assert constant.status is Status.ZERO_VARIANCE
    assert constant.absolute_lift == pytest.approx(0.25)
    no_labels = ratio_test(RatioMoments.empty(), RatioMoments.from_values([0.0], [0.0]))
    assert no_labels.status is Status.EMPTY_ARM


def _cuped_arrays(
    seed: int, units: int, correlation: float, effect: float
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    covariate = rng.normal(50.0, 10.0, 2 * units)
    noise = rng.normal(0.0, 10.0, 2 * units)
    metric = 20.0 + correlation * covariate + math.sqrt(1.0 - correlation**2) * noise
    metric[units:] += effect
    return metric[:units], covariate[:units], metric[units:], covariate[units:]


@pytest.mark.parametrize(
    ("seed", "units", "correlation", "effect"),
    [(1, 500, 0.7, 1.0), (2, 80, 0.3, 0.0), (3, 20_000, 0.9, 0.1)],
)
def test_cuped_matches_welch_on_adjusted_values(
    seed: int, units: int, correlation: float, effect: float
) -> None:
    control_y, control_x, treatment_y, treatment_x = _cuped_arrays(seed, units, correlation, effect)
    result = cuped_test(
        CovariateMoments.from_values(control_y, control_x),
        CovariateMoments.from_values(treatment_y, treatment_x),
    )
    all_y, all_x = (
        np.concatenate([control_y, treatment_y]),
        np.concatenate([control_x, treatment_x]),
    )
    theta = np.cov(all_y, all_x, ddof=1)[0, 1] / np.var(all_x, ddof=1)
    adjusted_control = control_y - theta * (control_x - all_x.mean())
    adjusted_treatment = treatment_y - theta * (treatment_x - all_x.mean())
    expected = scipy_stats.ttest_ind(adjusted_treatment, adjusted_control, equal_var=False)
    assert result.cuped_theta == pytest.approx(theta, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)
    assert result.degrees_of_freedom == pytest.approx(expected.df, rel=1e-8)
    interval = expected.confidence_interval()
    assert result.absolute_ci == pytest.approx((interval.low, interval.high), rel=1e-8)
    assert (result.control_value, result.treatment_value) == pytest.approx(
        (adjusted_control.mean(), adjusted_treatment.mean()), rel=1e-10
    )
    raw = control_y.var(ddof=1) / units + treatment_y.var(ddof=1) / units
    adjusted = adjusted_control.var(ddof=1) / units + adjusted_treatment.var(ddof=1) / units
    assert result.variance_reduction == pytest.approx(1.0 - adjusted / raw, rel=1e-8)


def test_cuped_with_a_constant_covariate_is_welch() -> None:
    rng = np.random.default_rng(3)
    control, treatment = rng.normal(5, 1, 40), rng.normal(5.5, 1, 50)
    cuped = cuped_test(
        CovariateMoments.from_values(control, np.full(40, 2.0)),
        CovariateMoments.from_values(treatment, np.full(50, 2.0)),
    )
    welch = welch_t_test(Moments.from_values(control), Moments.from_values(treatment))
    assert cuped.cuped_theta == 0.0
    assert cuped.variance_reduction == pytest.approx(0.0, abs=1e-12)
    assert cuped.p_value == pytest.approx(welch.p_value, rel=1e-10)


def test_cuped_statuses() -> None:
    some = CovariateMoments.from_values([1.0, 2.0, 4.0], [1.0, 3.0, 3.0])
    assert cuped_test(CovariateMoments.empty(), some).status is Status.EMPTY_ARM
    assert (
        cuped_test(some, CovariateMoments.from_values([1.0], [1.0])).status is Status.TOO_FEW_UNITS
    )
    exact = cuped_test(
        CovariateMoments.from_values([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]),
        CovariateMoments.from_values([3.0, 4.0], [2.0, 3.0]),
    )
    assert exact.status is Status.ZERO_VARIANCE
    assert exact.variance_reduction == 1.0
    constant = cuped_test(
        CovariateMoments.from_values([1.0, 1.0], [1.0, 2.0]),
        CovariateMoments.from_values([1.0, 1.0], [3.0, 4.0]),
    )
    assert constant.status is Status.ZERO_VARIANCE
    assert math.isnan(constant.variance_reduction)


def test_cuped_with_a_constant_metric_ignores_rounding_in_the_cross_sum() -> None:
    control = CovariateMoments.from_values([69.0, 69.0], [0.0, 0.0])
    treatment = CovariateMoments.from_values([69.0, 69.0], [20.0, 99.1344313846896])
    result = cuped_test(control, treatment)
    assert result.cuped_theta == 0.0
    assert result.status is Status.ZERO_VARIANCE


def test_ratio_interval_matches_the_linearised_estimator() -> None:
    """Deng et al. (2018): Var(R) = Var(y - R x) / (n * mean(x)**2), computed here with numpy."""
    rng = np.random.default_rng(12)
    labelled = rng.integers(1, 20, 500).astype(float)
    correct = rng.binomial(labelled.astype(int), 0.8).astype(float)
    ratio = correct.sum() / labelled.sum()
    residuals = correct - ratio * labelled
    standard_error = np.sqrt(residuals.var(ddof=1) / (len(labelled) * labelled.mean() ** 2))
    low, high = ratio_interval(RatioMoments.from_values(correct, labelled), alpha=0.05)
    z = scipy_stats.norm.ppf(0.975)
    assert low == pytest.approx(ratio - z * standard_error, rel=1e-9)
    assert high == pytest.approx(ratio + z * standard_error, rel=1e-9)
    assert all(np.isnan(ratio_interval(RatioMoments.from_values([1.0], [2.0]))))
