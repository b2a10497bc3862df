"""Multiplicity against statsmodels, McNemar against statsmodels/scipy, quantiles against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW

from ablab.errors import ValidationError
from ablab.stats import Status, adjust_p_values, compare_quantiles, mcnemar_test, quantile_interval

METHODS = {"bonferroni": "bonferroni", "holm": "holm", "benjamini_hochberg": "fdr_bh"}
p_value_lists = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40)


@given(p_value_lists, st.sampled_from(sorted(METHODS)))
def test_adjusted_p_values_match_statsmodels(p_values: list[float], method: str) -> None:
    _, expected, _, _ = multipletests(p_values, method=METHODS[method])
    assert adjust_p_values(p_values, method) == pytest.approx(tuple(expected), rel=1e-12, abs=1e-15)  # type: ignore[arg-type]


def test_nan_p_values_are_left_out_of_the_family() -> None:
    adjusted = adjust_p_values([0.01, math.nan, 0.04], "bonferroni")
    assert adjusted[0] == pytest.approx(0.02)
    assert math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.08)
    assert all(math.isnan(value) for value in adjust_p_values([math.nan], "holm"))


@pytest.mark.parametrize(
    ("p_values", "method"), [([0.1], "sidak"), ([1.2], "holm"), ([-0.1], "bonferroni")]
)
def test_multiplicity_misuse(p_values: list[float], method: str) -> None:
    with pytest.raises(ValidationError):
        adjust_p_values(p_values, method)  # type: ignore[arg-type]


MCNEMAR_CASES = [
    pytest.param(4, 15, 200, id="treatment-better"),
    pytest.param(15, 4, 200, id="control-better"),
    pytest.param(10, 10, 100, id="balanced"),
    pytest.param(0, 7, 40, id="one-sided-discordance"),
    pytest.param(0, 0, 25, id="no-discordance"),
    pytest.param(150, 86, 1_600, id="agresti-approval"),
    pytest.param(1_200, 1_310, 100_000, id="large"),
]


@pytest.mark.parametrize(("only_control", "only_treatment", "pairs"), MCNEMAR_CASES)
def test_mcnemar_matches_statsmodels_and_scipy(
    only_control: int, only_treatment: int, pairs: int
) -> None:
    both = (pairs - only_control - only_treatment) // 2
    table = np.array(
        [[both, only_control], [only_treatment, pairs - only_control - only_treatment - both]]
    )
    result = mcnemar_test(only_control, only_treatment, pairs)
    assert result.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-10)
    discordant = only_control + only_treatment
    for alternative in ("greater", "less"):
        one_sided = mcnemar_test(only_control, only_treatment, pairs, alternative=alternative)
        expected = (
            1.0
            if discordant == 0
            else scipy_stats.binomtest(
                only_treatment, discordant, 0.5, alternative=alternative
            ).pvalue
        )
        assert one_sided.p_value == pytest.approx(expected, rel=1e-10)
    assert result.difference == pytest.approx((only_treatment - only_control) / pairs)


def test_mcnemar_interval_is_the_wald_interval_of_the_half_adjusted_table() -> None:
    # Agresti-Min: add 1/2 to each cell, then the Wald interval of the mean paired difference
    # (d = +1, 0, -1 per pair); statsmodels computes that mean and its standard error.
    only_control, only_treatment, pairs = 150, 86, 1_600
    weights = [
        only_control + 0.5,
        pairs - only_control - only_treatment + 1.0,
        only_treatment + 0.5,
    ]
    differences = DescrStatsW(np.array([-1.0, 0.0, 1.0]), weights=weights, ddof=0)
    standard_error = differences.std / math.sqrt(pairs + 2)
    expected = (
        differences.mean - 1.959963984540054 * standard_error,
        differences.mean + 1.959963984540054 * standard_error,
    )
    assert mcnemar_test(only_control, only_treatment, pairs).difference_ci == pytest.approx(
        expected, rel=1e-9
    )


def test_mcnemar_agresti_published_example() -> None:
    # Agresti, Categorical Data Analysis (2002), Table 10.1: approval of the Prime Minister in
    # two surveys of the same 1,600 people; the difference is -0.04 with a Wald interval of
    # about (-0.06, -0.02), and McNemar's test rejects.
    result = mcnemar_test(only_control_passed=150, only_treatment_passed=86, pairs=1_600)
    assert result.difference == pytest.approx(-0.04)
    assert result.difference_ci == pytest.approx((-0.059, -0.021), abs=0.001)
    assert result.significant


def test_mcnemar_one_sided_intervals_and_statuses() -> None:
    greater = mcnemar_test(4, 15, 200, alternative="greater")
    assert greater.difference_ci[1] == 1.0
    less = mcnemar_test(4, 15, 200, alternative="less")
    assert less.difference_ci[0] == -1.0
    empty = mcnemar_test(0, 0, 0)
    assert empty.status is Status.TOO_FEW_UNITS
    assert math.isnan(empty.p_value)
    with pytest.raises(ValidationError):
        mcnemar_test(5, 6, 10)
    with pytest.raises(ValidationError):
        mcnemar_test(-1, 6, 10)


@pytest.mark.parametrize(
    ("seed", "size", "quantile", "alpha"),
    [
        (1, 2_000, 0.95, 0.05),
        (2, 100, 0.5, 0.05),
        (3, 80, 0.95, 0.05),
        (4, 50_000, 0.99, 0.01),
        (5, 25, 0.9, 0.2),
        (6, 1_000_000, 0.95, 0.05),
    ],
)
def test_quantile_interval_matches_scipy(
    seed: int, size: int, quantile: float, alpha: float
) -> None:
    values = np.random.default_rng(seed).lognormal(3.0, 0.6, size)
    result = quantile_interval(values, quantile, alpha=alpha)
    interval = scipy_stats.quantile_test(values, q=0.0, p=quantile).confidence_interval(1 - alpha)
    assert result.ci == pytest.approx((interval.low, interval.high), nan_ok=True)
    assert result.estimate == pytest.approx(np.quantile(values, quantile), rel=1e-12)
    assert result.status is (
        Status.OK if np.isfinite([interval.low, interval.high]).all() else Status.TOO_FEW_UNITS
    )


def test_quantile_interval_with_too_few_values_keeps_the_reachable_bound() -> None:
    values = np.arange(30.0)
    result = quantile_interval(values, 0.95)
    assert result.status is Status.TOO_FEW_UNITS
    assert not math.isnan(result.ci[0])
    assert math.isnan(result.ci[1])
    interval = scipy_stats.quantile_test(values, q=0.0, p=0.95).confidence_interval(0.95)
    assert result.ci[0] == interval.low


def test_quantile_interval_extreme_alpha_searches_every_rank() -> None:
    # alpha = 1e-300 on a skewed binomial puts a bound beyond the normal-approximation window.
    values = np.random.default_rng(8).normal(size=10_000)
    alpha = 1e-300
    result = quantile_interval(values, 0.001, alpha=alpha)
    # scipy's own isf loses precision this far out; scan its survival function instead.
    survival = scipy_stats.binom(10_000, 0.001).sf(np.arange(10_000))
    low, high = -1, int(np.argmax(survival <= alpha / 2))
    ordered = np.sort(values)
    expected_low = ordered[low] if low >= 0 else math.nan
    assert result.ci == pytest.approx((expected_low, ordered[high]), nan_ok=True)


def test_quantile_statuses_and_misuse() -> None:
    assert quantile_interval([], 0.95).status is Status.EMPTY_ARM
    with pytest.raises(ValidationError):
        quantile_interval([1.0, 2.0], 1.0)
    values = np.arange(500.0)
    assert compare_quantiles([], values).status is Status.EMPTY_ARM
    assert compare_quantiles(values, []).status is Status.EMPTY_ARM
    assert compare_quantiles(np.arange(50.0), values).status is Status.TOO_FEW_UNITS
    tied = compare_quantiles(np.full(500, 3.0), np.full(500, 4.0))
    assert tied.status is Status.ZERO_VARIANCE
    assert tied.absolute_lift == 1.0


def test_compare_quantiles_standard_error_is_the_order_statistic_spread() -> None:
    rng = np.random.default_rng(12)
    control, treatment = rng.exponential(10.0, 1_000), rng.exponential(12.0, 1_500)
    result = compare_quantiles(control, treatment, 0.95)

    def spread(values: np.ndarray) -> float:
        ordered, n = np.sort(values), values.size
        reach = 1.959963984540054 * math.sqrt(n * 0.95 * 0.05)
        low, high = round((n + 1) * 0.95 - reach), round((n + 1) * 0.95 + reach)
        return float(ordered[high - 1] - ordered[low - 1]) / (2 * 1.959963984540054)

    assert result.control_standard_error == pytest.approx(spread(control))
    assert result.treatment_standard_error == pytest.approx(spread(treatment))
    assert result.treatment_value == pytest.approx(np.quantile(treatment, 0.95))


def test_documented_minimum_sizes_for_the_p95() -> None:
    assert math.isnan(quantile_interval(np.arange(71.0), 0.95).ci[1])
    assert quantile_interval(np.arange(72.0), 0.95).status is Status.OK
    other = np.arange(500.0)
    assert compare_quantiles(np.arange(90.0), other).status is Status.TOO_FEW_UNITS
    assert compare_quantiles(np.arange(91.0), other).status is Status.OK
