"""CUPED for ratio metrics (delta method) against numpy, statsmodels and the simpler tests.

The references build each unit's linearised values explicitly from the raw arrays, following
Deng, Knoblich, Lu (2018), and apply CUPED (Deng, Xu, Kohavi, Walker, 2013) to them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from ablab.errors import ValidationError
from ablab.stats import (
    ComparisonResult,
    CovariateMoments,
    RatioCovariateMoments,
    RatioMoments,
    Status,
    cuped_test,
    ratio_cuped_test,
    ratio_test,
)

Arm = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _accuracy_units(rng: np.random.Generator, units: int, shift: float = 0.0) -> Arm:
    """Correct/labelled predictions per unit during and before the experiment.

    A unit's skill carries over from the pre-period, so the two ratios are correlated; the
    treatment adds ``shift`` to every skill, which moves the true ratio by exactly ``shift``
    (the counts are independent of the skill, so ``E[y] / E[x] = E[skill]``).
    """
    skill = 0.05 + 0.85 * rng.beta(2.0, 2.0, units)
    during = rng.poisson(20.0, units) + 1
    before = rng.poisson(20.0, units) + 1
    correct = rng.binomial(during, skill + shift)
    correct_before = rng.binomial(before, skill)
    return (
        correct.astype(float),
        during.astype(float),
        correct_before.astype(float),
        before.astype(float),
    )


def _moments(arm: Arm) -> RatioCovariateMoments:
    return RatioCovariateMoments.from_values(*arm)


def _linearised(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``R + (y - R x) / mean(x)``: per-unit values whose mean is the ratio ``R``."""
    ratio = numerator.sum() / denominator.sum()
    return ratio + (numerator - ratio * denominator) / denominator.mean()


def _pooled_linearised(control: Arm, treatment: Arm) -> tuple[np.ndarray, np.ndarray]:
    y, x, u, v = (np.concatenate([c, t]) for c, t in zip(control, treatment, strict=True))
    return _linearised(y, x), _linearised(u, v)


def _theta(control: Arm, treatment: Arm) -> float:
    metric, covariate = _pooled_linearised(control, treatment)
    return float(np.cov(metric, covariate, ddof=1)[0, 1] / np.var(covariate, ddof=1))


def _adjusted(arm: Arm, theta: float, pooled_covariate_ratio: float) -> np.ndarray:
    """Linearised metric minus theta times the linearised covariate's distance from pooled."""
    y, x, u, v = arm
    return _linearised(y, x) - theta * (_linearised(u, v) - pooled_covariate_ratio)


def _pooled_covariate_ratio(control: Arm, treatment: Arm) -> float:
    return float((control[2].sum() + treatment[2].sum()) / (control[3].sum() + treatment[3].sum()))


CASES = [
    (1, 400, 400, 0.0),
    (2, 3_000, 800, 0.02),
    (3, 60, 90, 0.05),
    (4, 100_000, 100_000, 0.002),
]


@pytest.mark.parametrize(("seed", "control_units", "treatment_units", "shift"), CASES)
def test_matches_cuped_on_linearised_values_by_hand(
    seed: int, control_units: int, treatment_units: int, shift: float
) -> None:
    rng = np.random.default_rng(seed)
    control = _accuracy_units(rng, control_units)
    treatment = _accuracy_units(rng, treatment_units, shift)
    result = ratio_cuped_test(_moments(control), _moments(treatment))

    theta = _theta(control, treatment)
    pooled_ratio = _pooled_covariate_ratio(control, treatment)
    adjusted_control = _adjusted(control, theta, pooled_ratio)
    adjusted_treatment = _adjusted(treatment, theta, pooled_ratio)
    control_se = math.sqrt(adjusted_control.var(ddof=1) / control_units)
    treatment_se = math.sqrt(adjusted_treatment.var(ddof=1) / treatment_units)
    standard_error = math.hypot(control_se, treatment_se)
    difference = adjusted_treatment.mean() - adjusted_control.mean()
    z = difference / standard_error
    margin = scipy_stats.norm.ppf(0.975) * standard_error
    raw_variance = (
        _linearised(control[0], control[1]).var(ddof=1) / control_units
        + _linearised(treatment[0], treatment[1]).var(ddof=1) / treatment_units
    )

    assert result.status is Status.OK
    assert result.method == "cuped_ratio_delta_method"
    assert result.degrees_of_freedom == math.inf
    assert result.cuped_theta == pytest.approx(theta, rel=1e-9)
    assert (result.control_value, result.treatment_value) == pytest.approx(
        (adjusted_control.mean(), adjusted_treatment.mean()), rel=1e-9
    )
    assert (result.control_standard_error, result.treatment_standard_error) == pytest.approx(
        (control_se, treatment_se), rel=1e-9
    )
    assert result.standard_error == pytest.approx(standard_error, rel=1e-9)
    assert result.absolute_lift == pytest.approx(difference, rel=1e-9, abs=1e-15)
    assert result.statistic == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), rel=1e-9)
    assert result.absolute_ci == pytest.approx((difference - margin, difference + margin), rel=1e-9)
    assert result.variance_reduction == pytest.approx(
        1.0 - standard_error**2 / raw_variance, rel=1e-9
    )


@pytest.mark.parametrize(("seed", "control_units", "treatment_units", "shift"), CASES[:3])
def test_matches_statsmodels_regressions(
    seed: int, control_units: int, treatment_units: int, shift: float
) -> None:
    """theta is the OLS slope of the pooled linearised metric on the linearised covariate;
    the adjusted difference and its standard error are those of OLS on an arm dummy with
    HC2 errors, which for a two-group regression are exactly the unequal-variance ones."""
    rng = np.random.default_rng(seed)
    control = _accuracy_units(rng, control_units)
    treatment = _accuracy_units(rng, treatment_units, shift)
    result = ratio_cuped_test(_moments(control), _moments(treatment))

    metric, covariate = _pooled_linearised(control, treatment)
    theta = sm.OLS(metric, sm.add_constant(covariate)).fit().params[1]
    pooled_ratio = _pooled_covariate_ratio(control, treatment)
    adjusted = np.concatenate(
        [_adjusted(control, theta, pooled_ratio), _adjusted(treatment, theta, pooled_ratio)]
    )
    arm = np.r_[np.zeros(control_units), np.ones(treatment_units)]
    fit = sm.OLS(adjusted, sm.add_constant(arm)).fit(cov_type="HC2")

    assert result.cuped_theta == pytest.approx(theta, rel=1e-9)
    assert result.absolute_lift == pytest.approx(fit.params[1], rel=1e-9)
    assert result.standard_error == pytest.approx(fit.bse[1], rel=1e-9)
    assert result.p_value == pytest.approx(fit.pvalues[1], rel=1e-9)
    assert result.absolute_ci == pytest.approx(tuple(fit.conf_int(alpha=0.05)[1]), rel=1e-9)


def test_matches_ols_with_an_arm_dummy_when_pooled_and_within_arm_theta_agree() -> None:
    """OLS on an arm dummy and the centred linearised covariate estimates theta within arms;
    ablab pools it over both arms, as CUPED does. They agree when the arms differ only by a
    shift of the metric ratio: treatment units are control units with ``y + shift * x``."""
    rng = np.random.default_rng(21)
    y, x, u, v = _accuracy_units(rng, 300)
    shift = 0.04
    result = ratio_cuped_test(_moments((y, x, u, v)), _moments((y + shift * x, x, u, v)))

    metric = np.concatenate([_linearised(y, x), _linearised(y + shift * x, x)])
    covariate = np.tile(_linearised(u, v), 2)
    arm = np.r_[np.zeros(y.size), np.ones(y.size)]
    design = np.column_stack([np.ones(arm.size), arm, covariate - covariate.mean()])
    fit = sm.OLS(metric, design).fit()

    assert result.cuped_theta == pytest.approx(fit.params[2], rel=1e-9)
    assert result.absolute_lift == pytest.approx(fit.params[1], rel=1e-9)
    assert result.absolute_lift == pytest.approx(shift, rel=1e-9)


@pytest.mark.parametrize("seed", [5, 6])
def test_with_unit_denominators_is_cuped_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    covariate = rng.normal(50.0, 10.0, 700)
    metric = 20.0 + 0.6 * covariate + rng.normal(0.0, 8.0, 700)
    metric[400:] += 1.5
    ones = np.ones(700)
    ratio = ratio_cuped_test(
        RatioCovariateMoments.from_values(metric[:400], ones[:400], covariate[:400], ones[:400]),
        RatioCovariateMoments.from_values(metric[400:], ones[400:], covariate[400:], ones[400:]),
    )
    cuped = cuped_test(
        CovariateMoments.from_values(metric[:400], covariate[:400]),
        CovariateMoments.from_values(metric[400:], covariate[400:]),
    )
    for field in (
        "control_value",
        "treatment_value",
        "control_standard_error",
        "treatment_standard_error",
        "absolute_lift",
        "standard_error",
        "relative_lift",
        "cuped_theta",
        "variance_reduction",
    ):
        assert getattr(ratio, field) == pytest.approx(getattr(cuped, field), rel=1e-9), field
    # cuped_test is a Welch t test; this is a z test on the same statistic.
    assert ratio.statistic == pytest.approx(cuped.statistic, rel=1e-9)
    assert ratio.degrees_of_freedom == math.inf


def _without_covariate(
    arm: Arm, numerator: np.ndarray, denominator: np.ndarray
) -> RatioCovariateMoments:
    return RatioCovariateMoments.from_values(arm[0], arm[1], numerator, denominator)


@pytest.mark.parametrize(
    "covariate",
    ["all_zero", "zero_denominators", "no_pre_period_in_treatment", "zero_numerators"],
)
def test_without_a_usable_covariate_is_exactly_ratio_test(covariate: str) -> None:
    rng = np.random.default_rng(8)
    control, treatment = _accuracy_units(rng, 250), _accuracy_units(rng, 300, 0.03)
    zeros_c, zeros_t = np.zeros(250), np.zeros(300)
    covariates = {
        "all_zero": ((zeros_c, zeros_c), (zeros_t, zeros_t)),
        "zero_denominators": ((control[2], zeros_c), (treatment[2], zeros_t)),
        "no_pre_period_in_treatment": ((control[2], control[3]), (zeros_t, zeros_t)),
        "zero_numerators": ((zeros_c, control[3]), (zeros_t, treatment[3])),
    }[covariate]
    first = _without_covariate(control, *covariates[0])
    second = _without_covariate(treatment, *covariates[1])
    result = ratio_cuped_test(first, second)
    expected = ratio_test(first.metric, second.metric)
    assert result.cuped_theta == 0.0
    assert result.variance_reduction == 0.0
    assert result.status is Status.OK
    assert (
        dataclasses.replace(
            result, method=expected.method, variance_reduction=None, cuped_theta=None
        )
        == expected
    )


def test_statuses() -> None:
    some = RatioCovariateMoments.from_values([1.0, 2.0], [2.0, 3.0], [1.0, 1.0], [2.0, 2.0])
    empty = ratio_cuped_test(RatioCovariateMoments.empty(), some)
    assert empty.status is Status.EMPTY_ARM
    assert math.isnan(empty.control_value)
    assert empty.treatment_value == pytest.approx(0.6)
    assert empty.variance_reduction is None

    unlabelled = RatioCovariateMoments.from_values([0.0, 0.0], [0.0, 0.0], [1.0, 2.0], [3.0, 3.0])
    zero = ratio_cuped_test(some, unlabelled)
    assert zero.status is Status.ZERO_DENOMINATOR
    assert math.isnan(zero.p_value)
    assert not zero.significant

    single = RatioCovariateMoments.from_values([1.0], [2.0], [1.0], [2.0])
    assert ratio_cuped_test(single, some).status is Status.TOO_FEW_UNITS
    assert ratio_cuped_test(RatioCovariateMoments.empty(), unlabelled).status is Status.EMPTY_ARM
    assert ratio_cuped_test(single, unlabelled).status is Status.ZERO_DENOMINATOR


def test_a_covariate_that_explains_the_metric_exactly_leaves_no_variance() -> None:
    control = RatioCovariateMoments.from_values([3, 5, 4], [4, 6, 6], [3, 5, 4], [4, 6, 6])
    treatment = RatioCovariateMoments.from_values([6, 2, 7], [7, 3, 8], [6, 2, 7], [7, 3, 8])
    result = ratio_cuped_test(control, treatment)
    assert result.cuped_theta == pytest.approx(1.0)
    assert result.status is Status.ZERO_VARIANCE
    assert result.variance_reduction == 1.0
    assert result.absolute_lift == pytest.approx(0.0, abs=1e-15)


def test_constant_ratios_have_no_variance_to_reduce() -> None:
    control = RatioCovariateMoments.from_values([1, 2], [2, 4], [1, 3], [2, 4])
    treatment = RatioCovariateMoments.from_values([3, 1], [6, 2], [2, 1], [3, 3])
    result = ratio_cuped_test(control, treatment)
    assert result.status is Status.ZERO_VARIANCE
    assert result.cuped_theta == 0.0
    assert math.isnan(result.variance_reduction)


def test_denominators_that_cancel_across_arms_leave_nothing_to_pool() -> None:
    # Denominators are counts in practice; sums that cancel to 0 give no pooled ratio.
    control = RatioCovariateMoments.from_values([1, 2], [1, 2], [1, 2], [1, 2])
    metric_cancels = RatioCovariateMoments.from_values([1, 3], [-1, -2], [2, 1], [2, 2])
    covariate_cancels = RatioCovariateMoments.from_values([1, 3], [1, 3], [1, 3], [-1, -2])
    for treatment in (metric_cancels, covariate_cancels):
        result = ratio_cuped_test(control, treatment)
        assert result.cuped_theta == 0.0
        assert result.absolute_lift == ratio_test(control.metric, treatment.metric).absolute_lift


def test_moments_from_values_sums_and_views() -> None:
    moments = RatioCovariateMoments.from_values([3, 1], [4, 2], [2, 5], [3, 7])
    assert moments == RatioCovariateMoments(
        2, 4.0, 10.0, 6.0, 20.0, 14.0, 7.0, 29.0, 10.0, 58.0, 41.0, 11.0, 16.0, 18.0, 26.0
    )
    assert moments.metric == RatioMoments.from_values([3, 1], [4, 2])
    assert moments.covariate == RatioMoments.from_values([2, 5], [3, 7])
    assert moments + RatioCovariateMoments.empty() == moments
    assert [field.name for field in dataclasses.fields(RatioCovariateMoments)] == [
        "n",
        "numerator_sum",
        "numerator_sum_sq",
        "denominator_sum",
        "denominator_sum_sq",
        "numerator_denominator_sum",
        "covariate_numerator_sum",
        "covariate_numerator_sum_sq",
        "covariate_denominator_sum",
        "covariate_denominator_sum_sq",
        "covariate_numerator_denominator_sum",
        "numerator_covariate_numerator_sum",
        "numerator_covariate_denominator_sum",
        "denominator_covariate_numerator_sum",
        "denominator_covariate_denominator_sum",
    ]


def test_moments_misuse_raises() -> None:
    with pytest.raises(ValidationError, match="same length") as raised:
        RatioCovariateMoments.from_values([1, 2], [1, 2], [1], [1, 2])
    assert raised.value.details["covariate_numerator"] == 1
    with pytest.raises(ValidationError, match="covariate_denominator_sum_sq"):
        RatioCovariateMoments(2, *(1.0,) * 8, -1.0, *(1.0,) * 5)
    with pytest.raises(ValidationError, match="must be 0 when n is 0"):
        RatioCovariateMoments(0, *(0.0,) * 13, 1.0)
    with pytest.raises(ValidationError, match="NaN"):
        RatioCovariateMoments.from_values([1, 2], [1, 2], [1, math.nan], [1, 2])
    with pytest.raises(TypeError):
        RatioCovariateMoments.empty() + RatioMoments.empty()  # type: ignore[operator]
    with pytest.raises(ValidationError, match="alpha"):
        ratio_cuped_test(RatioCovariateMoments.empty(), RatioCovariateMoments.empty(), alpha=1.0)
    with pytest.raises(ValidationError, match="alternative"):
        ratio_cuped_test(
            RatioCovariateMoments.empty(), RatioCovariateMoments.empty(), alternative="both"
        )


counts = st.tuples(*(st.integers(0, 20),) * 4)
real_units = st.tuples(*(st.floats(-100, 100),) * 4)


def _from_counts(units: list[tuple[int, int, int, int]]) -> RatioCovariateMoments:
    """Correct never above labelled, in the experiment (first pair) and before it."""
    return RatioCovariateMoments.from_values(
        [min(a, b) for a, b, _, _ in units],
        [max(a, b) for a, b, _, _ in units],
        [min(c, d) for _, _, c, d in units],
        [max(c, d) for _, _, c, d in units],
    )


def _columns(units: list[tuple[float, float, float, float]]) -> list[list[float]]:
    return [[unit[index] for unit in units] for index in range(4)]


@settings(max_examples=200)
@given(st.lists(real_units, max_size=40), st.data())
def test_merge_law(units: list[tuple[float, float, float, float]], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(units)))
    whole = RatioCovariateMoments.from_values(*_columns(units))
    merged = RatioCovariateMoments.from_values(
        *_columns(units[:cut])
    ) + RatioCovariateMoments.from_values(*_columns(units[cut:]))
    assert merged.n == whole.n
    assert dataclasses.astuple(merged) == pytest.approx(
        dataclasses.astuple(whole), rel=1e-9, abs=1e-7
    )
    assert merged + RatioCovariateMoments.empty() == merged


def _check(result: ComparisonResult) -> None:
    if result.status in (Status.OK, Status.ZERO_BASELINE):
        assert 0.0 <= result.p_value <= 1.0
        assert result.significant == (result.p_value < result.alpha)
        lower, upper = result.absolute_ci
        assert lower <= result.absolute_lift <= upper
        if result.status is Status.OK:
            lower, upper = result.relative_ci
            assert lower <= result.relative_lift <= upper
    else:
        assert math.isnan(result.p_value)
        assert not result.significant


@settings(max_examples=300)
@given(
    st.lists(counts, max_size=30),
    st.lists(counts, max_size=30),
    st.sampled_from(["two-sided", "greater", "less"]),
    st.floats(min_value=0.001, max_value=0.5),
)
def test_result_properties(
    control: list[tuple[int, int, int, int]],
    treatment: list[tuple[int, int, int, int]],
    alternative: str,
    alpha: float,
) -> None:
    first, second = _from_counts(control), _from_counts(treatment)
    result = ratio_cuped_test(first, second, alpha=alpha, alternative=alternative)
    _check(result)
    unadjusted = ratio_test(first.metric, second.metric)
    if result.variance_reduction is None:
        assert result.status is unadjusted.status
        assert result.status in (Status.EMPTY_ARM, Status.ZERO_DENOMINATOR, Status.TOO_FEW_UNITS)
    elif unadjusted.standard_error == 0.0:
        # Constant ratios within each arm: nothing to reduce (theta may still be non-zero).
        assert math.isnan(result.variance_reduction)
    else:
        assert result.variance_reduction <= 1.0 + 1e-12
    forward, backward = ratio_cuped_test(first, second), ratio_cuped_test(second, first)
    assert backward.status in (forward.status, Status.ZERO_BASELINE) or (
        forward.status is Status.ZERO_BASELINE
    )
    if forward.status is Status.OK and backward.status is Status.OK:
        assert forward.absolute_lift == pytest.approx(-backward.absolute_lift, rel=1e-9, abs=1e-12)
        assert forward.p_value == pytest.approx(backward.p_value, rel=1e-9, abs=1e-300)


ALPHA = 0.05
EXPERIMENTS = 2_000
UNITS_PER_ARM = 500


def _monte_carlo_error(rate: float, simulations: int) -> float:
    return math.sqrt(rate * (1.0 - rate) / simulations)


def _population_rho_squared(rng: np.random.Generator) -> float:
    """rho**2 of the linearised metric and covariate, from one very large sample."""
    y, x, u, v = _accuracy_units(rng, 2_000_000)
    return float(np.corrcoef(_linearised(y, x), _linearised(u, v))[0, 1] ** 2)


@pytest.mark.slow
def test_reported_variance_reduction_is_rho_squared_of_the_linearised_values() -> None:
    rng = np.random.default_rng(909)
    control, treatment = _accuracy_units(rng, 200_000), _accuracy_units(rng, 200_000, 0.01)
    result = ratio_cuped_test(_moments(control), _moments(treatment))
    metric, covariate = _pooled_linearised(control, treatment)
    rho_squared = float(np.corrcoef(metric, covariate)[0, 1] ** 2)
    print(
        f"\nratio CUPED variance reduction {result.variance_reduction:.4f}, rho^2 {rho_squared:.4f}"
    )
    assert rho_squared > 0.3  # a covariate worth adjusting by, or the check says little
    # Arm-wise and pooled second moments of 400,000 units differ by well under 0.005.
    assert result.variance_reduction == pytest.approx(rho_squared, abs=0.005)


@pytest.mark.slow
def test_aa_false_positive_rate_coverage_and_variance_across_experiments() -> None:
    rng = np.random.default_rng(1010)
    rho_squared = _population_rho_squared(rng)
    shift = 0.05
    false_positives = 0
    covered, raw_lifts, adjusted_lifts, reported = [], [], [], []
    for _ in range(EXPERIMENTS):
        aa = ratio_cuped_test(
            _moments(_accuracy_units(rng, UNITS_PER_ARM)),
            _moments(_accuracy_units(rng, UNITS_PER_ARM)),
            alpha=ALPHA,
        )
        false_positives += aa.p_value < ALPHA
        control = _accuracy_units(rng, UNITS_PER_ARM)
        treatment = _accuracy_units(rng, UNITS_PER_ARM, shift)
        result = ratio_cuped_test(_moments(control), _moments(treatment), alpha=ALPHA)
        covered.append(result.absolute_ci[0] <= shift <= result.absolute_ci[1])
        adjusted_lifts.append(result.absolute_lift)
        raw_lifts.append(
            treatment[0].sum() / treatment[1].sum() - control[0].sum() / control[1].sum()
        )
        reported.append(result.variance_reduction)
    false_positive_rate = false_positives / EXPERIMENTS
    coverage = float(np.mean(covered))
    variance_ratio = float(np.var(adjusted_lifts) / np.var(raw_lifts))
    print(
        f"\nratio CUPED: A/A false positives {false_positive_rate:.4f}, coverage {coverage:.4f}, "
        f"Var(adjusted)/Var(raw) {variance_ratio:.4f} (1 - rho^2 = {1 - rho_squared:.4f}), "
        f"mean reported reduction {np.mean(reported):.4f}"
    )
    assert abs(false_positive_rate - ALPHA) <= 3 * _monte_carlo_error(ALPHA, EXPERIMENTS)
    assert abs(coverage - (1 - ALPHA)) <= 3 * _monte_carlo_error(1 - ALPHA, EXPERIMENTS)
    # The variance ratio of 2,000 draws has a relative standard error near sqrt(4 / 2,000).
    assert variance_ratio == pytest.approx(1 - rho_squared, rel=3 * math.sqrt(4 / EXPERIMENTS))
    assert float(np.mean(reported)) == pytest.approx(rho_squared, abs=0.01)
