"""Welch's t test against scipy and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.weightstats import CompareMeans

from ablab.stats import Moments, Status, welch_t_test
from tests.stats._interval_references import fieller_by_inversion

STATSMODELS_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


def _samples(
    seed: int, control_units: int, treatment_units: int, shift: float, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "lognormal":
        return rng.lognormal(3.0, 0.8, control_units), rng.lognormal(
            3.0 + shift, 0.8, treatment_units
        )
    if kind == "counts":
        return rng.poisson(4.0, control_units).astype(float), rng.poisson(
            4.0 + shift, treatment_units
        ).astype(float)
    return rng.normal(100.0, 15.0, control_units), rng.normal(100.0 + shift, 25.0, treatment_units)


CASES = [
    pytest.param(1, 50, 60, 3.0, "normal", id="small"),
    pytest.param(2, 2, 2, 1.0, "normal", id="two-per-arm"),
    pytest.param(3, 2, 500, 0.0, "normal", id="two-vs-many"),
    pytest.param(4, 9_000, 1_000, 1.0, "normal", id="split-90-10"),
    pytest.param(5, 2_000, 2_000, 0.05, "lognormal", id="skewed"),
    pytest.param(6, 500, 700, 0.2, "counts", id="counts"),
    pytest.param(7, 2_000_000, 2_000_000, 0.03, "normal", id="tiny-effect-2M"),
    pytest.param(8, 30, 3_000, -4.0, "normal", id="decrease"),
]


@pytest.mark.parametrize(("seed", "control_units", "treatment_units", "shift", "kind"), CASES)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_matches_scipy(
    *,
    seed: int,
    control_units: int,
    treatment_units: int,
    shift: float,
    kind: str,
    alternative: str,
) -> None:
    control, treatment = _samples(seed, control_units, treatment_units, shift, kind)
    result = welch_t_test(
        Moments.from_values(control),
        Moments.from_values(treatment),
        alternative=alternative,
        alpha=0.1,
    )
    expected = scipy_stats.ttest_ind(treatment, control, equal_var=False, alternative=alternative)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-7)
    assert result.degrees_of_freedom == pytest.approx(expected.df, rel=1e-7)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    interval = expected.confidence_interval(confidence_level=0.9)
    assert result.absolute_ci == pytest.approx((interval.low, interval.high), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize(("seed", "control_units", "treatment_units", "shift", "kind"), CASES[:6])
def test_matches_statsmodels(
    seed: int, control_units: int, treatment_units: int, shift: float, kind: str
) -> None:
    control, treatment = _samples(seed, control_units, treatment_units, shift, kind)
    result = welch_t_test(Moments.from_values(control), Moments.from_values(treatment))
    compare = CompareMeans.from_data(treatment, control)
    statistic, p_value, degrees_of_freedom = compare.ttest_ind(usevar="unequal")
    assert (result.statistic, result.p_value, result.degrees_of_freedom) == pytest.approx(
        (statistic, p_value, degrees_of_freedom), rel=1e-7
    )
    assert result.absolute_ci == pytest.approx(compare.tconfint_diff(usevar="unequal"), rel=1e-7)


def test_relative_interval_is_fieller_at_the_welch_critical_value() -> None:
    control, treatment = _samples(11, 40, 45, 5.0, "normal")
    result = welch_t_test(Moments.from_values(control), Moments.from_values(treatment))
    critical = scipy_stats.t.ppf(0.975, result.degrees_of_freedom)
    control_error = control.std(ddof=1) / math.sqrt(control.size)
    treatment_error = treatment.std(ddof=1) / math.sqrt(treatment.size)
    expected = fieller_by_inversion(
        control.mean(), control_error, treatment.mean(), treatment_error, critical
    )
    assert result.relative_ci == pytest.approx(expected, rel=1e-9)
    # Fieller's interval inverts the Welch t statistic itself: at the ratio 1 it is the test.
    assert result.statistic == pytest.approx(
        (treatment.mean() - control.mean()) / math.hypot(control_error, treatment_error)
    )


def test_statuses() -> None:
    one = Moments.from_values([3.0])
    many = Moments.from_values([1.0, 2.0, 3.0])
    assert welch_t_test(Moments.empty(), many).status is Status.EMPTY_ARM
    too_few = welch_t_test(one, many)
    assert too_few.status is Status.TOO_FEW_UNITS
    assert (too_few.control_value, too_few.treatment_value) == (3.0, 2.0)
    constant = welch_t_test(Moments.from_values([2.0] * 5), Moments.from_values([3.0] * 7))
    assert constant.status is Status.ZERO_VARIANCE
    assert constant.absolute_lift == 1.0
    assert math.isnan(constant.p_value)
    zero_baseline = welch_t_test(
        Moments.from_values([-1.0, 1.0]), Moments.from_values([1.0, 2.0, 3.0])
    )
    assert zero_baseline.status is Status.ZERO_BASELINE
    assert not math.isnan(zero_baseline.p_value)


def test_one_constant_arm_is_still_tested() -> None:
    result = welch_t_test(
        Moments.from_values([5.0] * 10), Moments.from_values([4.0, 6.0, 7.0, 5.5])
    )
    treatment = np.array([4.0, 6.0, 7.0, 5.5])
    expected = scipy_stats.ttest_ind_from_stats(
        treatment.mean(), treatment.std(ddof=1), 4, 5.0, 0.0, 10, equal_var=False
    )
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_subnormal_control_mean_is_a_zero_baseline() -> None:
    """Found by Hypothesis: a control mean of ~1e-313 overflowed the relative lift to inf."""
    result = welch_t_test(
        Moments.from_values([0.0, 2.2250738585e-313]), Moments.from_values([0.0, 1.0])
    )
    assert result.status == "zero_baseline"
    assert math.isnan(result.relative_lift)
    assert 0.0 <= result.p_value <= 1.0
