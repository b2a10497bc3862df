"""Two-proportion z test and its score intervals against statsmodels and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportions_ztest,
    score_test_proportions_2indep,
)

from ablab.errors import ValidationError
from ablab.stats import Moments, Status, adjust_p_values, two_proportion_z_test
from tests.stats._interval_references import (
    score_difference_by_inversion,
    score_ratio_statistic,
)

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
def test_test_matches_the_statsmodels_pooled_z_test(
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
    assert result.statistic == result.absolute_lift / result.standard_error
    assert result.p_value == pytest.approx(p_value, rel=1e-8, abs=1e-300)
    assert result.significant == (p_value < 0.05)
    assert result.absolute_lift == pytest.approx(
        treatment_successes / treatment_units - control_successes / control_units, abs=1e-15
    )
    # The score test at no difference is this very test (statsmodels, no N/(N-1) factor).
    score = score_test_proportions_2indep(
        treatment_successes,
        treatment_units,
        control_successes,
        control_units,
        correction=False,
        alternative=STATSMODELS_ALTERNATIVE[alternative],
    )
    assert result.p_value == pytest.approx(score.pvalue, rel=1e-8, abs=1e-300)


def _one_sided(interval: tuple[float, float], alternative: str) -> tuple[float, float]:
    lower, upper = interval
    return {
        "two-sided": (lower, upper),
        "greater": (lower, math.inf),
        "less": (-math.inf, upper),
    }[alternative]


@pytest.mark.parametrize(
    ("control_successes", "control_units", "treatment_successes", "treatment_units"), CASES
)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_relative_interval_is_the_statsmodels_ratio_score_interval(
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
    if control_successes == 0:
        assert result.status is Status.ZERO_BASELINE
        assert all(math.isnan(bound) for bound in result.relative_ci)
        return
    # One-sided bounds at alpha are the two-sided bounds at 2 alpha.
    level = 0.05 if alternative == "two-sided" else 0.10
    lower, upper = confint_proportions_2indep(
        treatment_successes,
        treatment_units,
        control_successes,
        control_units,
        method="score",
        compare="ratio",
        correction=False,
        alpha=level,
    )
    expected = _one_sided((float(lower) - 1.0, float(upper) - 1.0), alternative)
    if treatment_successes == 0 and alternative != "less":
        # No treatment successes: the ratio's lower bound is 0 itself, which statsmodels'
        # root-finder only approaches.
        assert result.relative_ci[0] == -1.0
        assert expected[0] == pytest.approx(-1.0, abs=1e-6)
        expected = (-1.0, expected[1])
    # statsmodels' root-finder stops up to 1e-6 (relative) short of the bound near a ratio
    # of 1; the statistic at ours is the critical value to 1e-9.
    assert result.relative_ci == pytest.approx(expected, rel=1e-6, abs=1e-9)
    critical = float(scipy_stats.norm.ppf(1 - level / 2))
    for bound, sign in zip(result.relative_ci, (1.0, -1.0), strict=True):
        if math.isfinite(bound) and bound > -1.0 and treatment_successes > 0:
            counts = (control_successes, control_units, treatment_successes, treatment_units)
            statistic = score_ratio_statistic(*counts, bound + 1.0)
            assert statistic == pytest.approx(sign * critical, rel=1e-9)


INTERIOR = [
    case
    for case in CASES
    if all(0 < case.values[i] < case.values[i + 1] for i in (0, 2)) and case.values[1] <= 2_000_000
]


@pytest.mark.parametrize(
    ("control_successes", "control_units", "treatment_successes", "treatment_units"), INTERIOR
)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_absolute_interval_inverts_the_score_test(
    control_successes: int,
    control_units: int,
    treatment_successes: int,
    treatment_units: int,
    alternative: str,
) -> None:
    # statsmodels' score interval for a difference uses a cubic with a wrong coefficient
    # (statsmodels issue 10269), so the reference maximises the restricted likelihood with
    # scipy and inverts the score statistic by root-finding.
    counts = (control_successes, control_units, treatment_successes, treatment_units)
    result = two_proportion_z_test(
        Moments.from_successes(*counts[:2]),
        Moments.from_successes(*counts[2:]),
        alternative=alternative,
    )
    level = 0.975 if alternative == "two-sided" else 0.95
    expected = score_difference_by_inversion(*counts, float(scipy_stats.norm.ppf(level)))
    assert result.absolute_ci == pytest.approx(
        _one_sided(expected, alternative), rel=1e-7, abs=1e-10
    )


def test_the_ninety_ten_contradiction_is_gone() -> None:
    # Issue 14: p = 0.0414 beside a Wald interval of (-8e-5, 0.0121) at a 90/10 split.
    result = two_proportion_z_test(
        Moments.from_successes(1_800, 45_000), Moments.from_successes(230, 5_000)
    )
    assert result.p_value == pytest.approx(0.0414, abs=5e-5)
    assert result.significant
    assert result.absolute_ci[0] > 0
    assert result.relative_ci[0] > 0
    wald = confint_proportions_2indep(230, 5_000, 1_800, 45_000, method="wald", compare="diff")
    assert wald[0] < 0  # what the results showed before


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


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_a_one_sided_test_at_alpha_one_half_bounds_at_the_estimate(alternative: str) -> None:
    """At alpha = 0.5 the one-sided critical value is 0: each bound is the estimate itself."""
    control, treatment = Moments.from_successes(6, 10), Moments.from_successes(9, 10)
    result = two_proportion_z_test(control, treatment, alternative=alternative, alpha=0.5)
    finite = result.absolute_ci[0] if alternative == "greater" else result.absolute_ci[1]
    assert finite == pytest.approx(result.absolute_lift, abs=1e-12)
    relative = result.relative_ci[0] if alternative == "greater" else result.relative_ci[1]
    assert relative == pytest.approx(result.relative_lift, abs=1e-12)
    assert result.significant == (result.p_value < 0.5)
