"""Two-proportion z test against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from ablab.errors import ValidationError
from ablab.stats import Moments, Status, adjust_p_values, two_proportion_z_test

STATSMODELS_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}

# (control successes, control units, treatment successes, treatment units)
CASES = [
    pytest.param(100, 1_000, 130, 1_000, id="ten-percent"),
    pytest.param(200, 2_000, 250, 2_000, id="moderate"),
    pytest.param(0, 500, 7, 500, id="zero-control-conversions"),
    pytest.param(9, 500, 0, 500, id="zero-treatment-conversions"),
    pytest.param(5, 50, 12, 60, id="small-unequal"),
    pytest.param(1_800, 9_000, 230, 1_000, id="split-90-10"),
    pytest.param(4_500, 45_000, 560, 5_000, id="split-90-10-large"),
    pytest.param(200_000, 2_000_000, 200_600, 2_000_000, id="tiny-effect-2M"),
    pytest.param(1_000_000, 2_000_000, 1_001_500, 2_000_000, id="tiny-effect-2M-half"),
    pytest.param(30, 100_000, 45, 100_000, id="rare"),
    pytest.param(999, 1_000, 995, 1_000, id="near-one"),
    pytest.param(1, 3, 2, 3, id="three-units"),
    pytest.param(50, 1_000, 50, 1_000, id="equal"),
    pytest.param(12_000, 20_000, 11_800, 20_000, id="decrease"),
]


@pytest.mark.parametrize(
    ("control_successes", "control_units", "treatment_successes", "treatment_units"), CASES
)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_matches_statsmodels(
    control_successes: int,
    control_units: int,
    treatment_successes: int,
    treatment_units: int,
    alternative: str,
) -> None:
    result = two_proportion_z_test(
        Moments.from_successes(control_successes, control_units),
        Moments.from_successes(treatment_successes, treatment_units),
        alternative=alternative,
    )
    statistic, p_value = proportions_ztest(
        [treatment_successes, control_successes],
        [treatment_units, control_units],
        alternative=STATSMODELS_ALTERNATIVE[alternative],
    )
    assert result.statistic == pytest.approx(statistic, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-8, abs=1e-300)
    assert result.significant == (p_value < 0.05)
    # One-sided bounds at alpha are the two-sided bounds at 2 alpha.
    level = 0.05 if alternative == "two-sided" else 0.10
    lower, upper = confint_proportions_2indep(
        treatment_successes,
        treatment_units,
        control_successes,
        control_units,
        method="wald",
        compare="diff",
        alpha=level,
    )
    expected_ci = {
        "two-sided": (lower, upper),
        "greater": (lower, math.inf),
        "less": (-math.inf, upper),
    }[alternative]
    assert result.absolute_ci == pytest.approx(expected_ci, rel=1e-9, abs=1e-12)
    assert result.absolute_lift == pytest.approx(
        treatment_successes / treatment_units - control_successes / control_units, abs=1e-15
    )


@pytest.mark.parametrize(
    ("control_successes", "control_units", "treatment_successes", "treatment_units"), CASES
)
def test_relative_interval_matches_the_statsmodels_delta_method(
    control_successes: int, control_units: int, treatment_successes: int, treatment_units: int
) -> None:
    result = two_proportion_z_test(
        Moments.from_successes(control_successes, control_units),
        Moments.from_successes(treatment_successes, treatment_units),
    )
    control_rate = control_successes / control_units
    treatment_rate = treatment_successes / treatment_units
    if control_rate == 0.0:
        assert result.status is Status.ZERO_BASELINE
        assert math.isnan(result.relative_lift)
        assert all(math.isnan(bound) for bound in result.relative_ci)
        return
    covariance = np.diag(
        [
            control_rate * (1 - control_rate) / control_units,
            treatment_rate * (1 - treatment_rate) / treatment_units,
        ]
    )
    delta = NonlinearDeltaCov(
        lambda p: p[1] / p[0] - 1.0, np.array([control_rate, treatment_rate]), covariance
    )
    standard_error = float(delta.se_vectorized())
    lift = treatment_rate / control_rate - 1.0
    assert result.relative_lift == pytest.approx(lift, rel=1e-12, abs=1e-15)
    margin = 1.959963984540054 * standard_error
    assert result.relative_ci == pytest.approx((lift - margin, lift + margin), rel=1e-6, abs=1e-12)


def test_a_b_n_comparisons_and_holm_match_statsmodels() -> None:
    control = (1_000, 10_000)
    treatments = [(1_050, 10_000), (1_120, 10_000), (985, 10_000)]
    p_values = []
    for successes, units in treatments:
        result = two_proportion_z_test(
            Moments.from_successes(*control), Moments.from_successes(successes, units)
        )
        _, expected = proportions_ztest([successes, control[0]], [units, control[1]])
        assert result.p_value == pytest.approx(expected, rel=1e-9)
        p_values.append(result.p_value)
    _, holm, _, _ = multipletests(p_values, method="holm")
    assert adjust_p_values(p_values, "holm") == pytest.approx(tuple(holm), rel=1e-12)


def test_zero_conversions_in_both_arms_is_zero_variance() -> None:
    result = two_proportion_z_test(Moments.from_successes(0, 800), Moments.from_successes(0, 1_200))
    assert result.status is Status.ZERO_VARIANCE
    assert result.absolute_lift == 0.0
    assert math.isnan(result.p_value)
    assert not result.significant
    assert math.isnan(result.relative_lift)


def test_all_successes_in_both_arms_is_zero_variance() -> None:
    result = two_proportion_z_test(Moments.from_successes(80, 80), Moments.from_successes(120, 120))
    assert result.status is Status.ZERO_VARIANCE
    assert result.relative_lift == 0.0


@pytest.mark.parametrize(
    ("control", "treatment"), [((0, 0), (5, 10)), ((5, 10), (0, 0)), ((0, 0), (0, 0))]
)
def test_empty_arm(control: tuple[int, int], treatment: tuple[int, int]) -> None:
    result = two_proportion_z_test(
        Moments.from_successes(*control), Moments.from_successes(*treatment)
    )
    assert result.status is Status.EMPTY_ARM
    assert math.isnan(result.p_value)
    assert not result.significant
    assert (result.control_units, result.treatment_units) == (control[1], treatment[1])


def test_values_that_are_not_zero_or_one_are_refused() -> None:
    with pytest.raises(ValidationError):
        two_proportion_z_test(Moments.from_values([0.5, 1.0]), Moments.from_successes(1, 2))
    with pytest.raises(ValidationError):
        two_proportion_z_test(Moments.from_successes(1, 2), Moments(2, 3.0, 3.0))


def test_alpha_may_be_any_real_number() -> None:
    control, treatment = Moments.from_successes(10, 100), Moments.from_successes(20, 100)
    expected = two_proportion_z_test(control, treatment, alpha=0.1)
    assert two_proportion_z_test(control, treatment, alpha=np.float64(0.1)) == expected


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("alpha", 0.0), ("alpha", 1.0), ("alpha", -0.1), ("alternative", "larger")],
)
def test_misuse_raises(keyword: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        two_proportion_z_test(
            Moments.from_successes(1, 2), Moments.from_successes(1, 2), **{keyword: value}
        )  # type: ignore[arg-type]
    assert keyword in raised.value.details
