"""Sample ratio mismatch against scipy; power and sample size against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.optimize import brentq
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import power_proportions_2indep

from ablab.errors import ValidationError
from ablab.stats import (
    Status,
    power_means,
    power_proportions,
    sample_ratio_mismatch,
    sample_ratio_mismatch_over_periods,
    sample_size_means,
    sample_size_proportions,
)

STATSMODELS_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ([50_000, 48_500], [0.5, 0.5]),
        ([5_030, 4_970], [1, 1]),
        ([9_100, 900], [0.9, 0.1]),
        ([1_000, 1_020, 985, 1_010], [1, 1, 1, 1]),
        ([100, 210, 290], [1, 2, 3]),
        ([0, 10], [0.5, 0.5]),
    ],
)
def test_srm_matches_scipy_chisquare(observed: list[int], weights: list[float]) -> None:
    result = sample_ratio_mismatch(observed, weights)
    total = sum(observed)
    expected = [total * weight / sum(weights) for weight in weights]
    reference = scipy_stats.chisquare(observed, expected)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
    assert result.expected == pytest.approx(tuple(expected))
    assert result.mismatch == (reference.pvalue < 0.001)
    assert result.degrees_of_freedom == len(observed) - 1


def test_srm_threshold_and_statuses() -> None:
    assert sample_ratio_mismatch([5_100, 4_900], [1, 1], threshold=0.05).mismatch
    assert not sample_ratio_mismatch([5_100, 4_900], [1, 1]).mismatch
    empty = sample_ratio_mismatch([0, 0], [1, 1])
    assert empty.status is Status.TOO_FEW_UNITS
    assert not empty.mismatch
    assert math.isnan(empty.p_value)


@pytest.mark.parametrize(
    ("observed", "weights", "threshold"),
    [
        ([1], [1], 0.001),
        ([1, 2], [1], 0.001),
        ([-1, 2], [1, 1], 0.001),
        ([1, 2], [0, 1], 0.001),
        ([1, 2], [1, 1], 1.5),
    ],
)
def test_srm_misuse(observed: list[int], weights: list[float], threshold: float) -> None:
    with pytest.raises(ValidationError):
        sample_ratio_mismatch(observed, weights, threshold=threshold)


POWER_CASES = [
    pytest.param(0.10, 0.10, 5_000, 5_000, "relative", "two-sided", id="relative"),
    pytest.param(0.15, 0.02, 9_000, 1_000, "absolute", "two-sided", id="split-90-10"),
    pytest.param(0.05, -0.2, 20_000, 20_000, "relative", "less", id="decrease"),
    pytest.param(0.50, 0.01, 30_000, 10_000, "absolute", "greater", id="one-sided"),
    pytest.param(0.02, 0.001, 2_000_000, 2_000_000, "absolute", "two-sided", id="tiny-effect-2M"),
]


@pytest.mark.parametrize(
    ("baseline", "mde", "control_units", "treatment_units", "mde_type", "alternative"), POWER_CASES
)
def test_power_proportions_matches_statsmodels(
    *,
    baseline: float,
    mde: float,
    control_units: int,
    treatment_units: int,
    mde_type: str,
    alternative: str,
) -> None:
    ours = power_proportions(
        baseline,
        mde,
        control_units=control_units,
        treatment_units=treatment_units,
        mde_type=mde_type,
        alternative=alternative,  # type: ignore[arg-type]
    )
    difference = baseline * mde if mde_type == "relative" else mde
    reference = power_proportions_2indep(
        difference,
        baseline,
        treatment_units,
        ratio=control_units / treatment_units,
        alternative=STATSMODELS_ALTERNATIVE[alternative],
    ).power
    assert ours == pytest.approx(reference, rel=1e-10)


@pytest.mark.parametrize(
    ("baseline", "mde", "control_units", "treatment_units", "mde_type", "alternative"), POWER_CASES
)
def test_sample_size_proportions_reaches_the_statsmodels_power(
    *,
    baseline: float,
    mde: float,
    control_units: int,
    treatment_units: int,
    mde_type: str,
    alternative: str,
) -> None:
    share = treatment_units / (control_units + treatment_units)
    size = sample_size_proportions(
        baseline, mde, mde_type=mde_type, alternative=alternative, treatment_share=share
    )  # type: ignore[arg-type]
    difference = baseline * mde if mde_type == "relative" else mde

    def statsmodels_power(total: float) -> float:
        return float(
            power_proportions_2indep(
                difference,
                baseline,
                total * share,
                ratio=(1 - share) / share,
                alternative=STATSMODELS_ALTERNATIVE[alternative],
            ).power
        )

    total = brentq(lambda value: statsmodels_power(value) - 0.8, 2.0, 1e9, xtol=1e-9)
    assert size.control_units == math.ceil(total * (1 - share))
    assert size.treatment_units == math.ceil(total * share)
    assert size.total_units == size.control_units + size.treatment_units
    assert size.absolute_mde == pytest.approx(difference)


def test_sample_size_proportions_published_example() -> None:
    # The fixed-horizon sample size most calculators give for a 10% baseline and +10%
    # relative MDE at alpha 0.05 and power 0.8 is about 14,750 per arm.
    size = sample_size_proportions(0.10, 0.10)
    assert 14_700 <= size.control_units <= 14_800


@pytest.mark.parametrize(
    ("deviation", "mde", "share", "alternative"),
    [
        (1.0, 0.2, 0.5, "two-sided"),
        (15.0, 1.0, 0.1, "two-sided"),
        (3.0, 0.05, 0.3, "greater"),
        (2.0, -0.4, 0.5, "less"),
    ],
)
def test_sample_size_means_matches_statsmodels(
    deviation: float, mde: float, share: float, alternative: str
) -> None:
    size = sample_size_means(deviation, mde, treatment_share=share, alternative=alternative)
    ratio = share / (1 - share)
    control = zt_ind_solve_power(
        effect_size=abs(mde) / deviation,
        alpha=0.05,
        power=0.8,
        ratio=ratio,
        alternative="two-sided" if alternative == "two-sided" else "larger",
    )
    assert size.control_units == math.ceil(control)
    assert size.treatment_units == math.ceil(control * ratio)


@pytest.mark.parametrize(
    ("control_units", "treatment_units", "alternative"),
    [(393, 393, "two-sided"), (900, 100, "two-sided"), (50, 80, "greater")],
)
def test_power_means_matches_statsmodels(
    control_units: int, treatment_units: int, alternative: str
) -> None:
    ours = power_means(
        2.0,
        0.5,
        control_units=control_units,
        treatment_units=treatment_units,
        alternative=alternative,
    )
    reference = NormalIndPower().power(
        0.25,
        control_units,
        0.05,
        ratio=treatment_units / control_units,
        alternative=STATSMODELS_ALTERNATIVE[alternative],
    )
    assert ours == pytest.approx(reference, rel=1e-10)


def test_days_from_traffic() -> None:
    size = sample_size_means(1.0, 0.1, daily_units=1_000, traffic_share=0.2)
    assert size.days == math.ceil(size.total_units / 200)
    assert sample_size_means(1.0, 0.1).days is None


def test_a_huge_effect_needs_a_single_unit_per_arm() -> None:
    size = sample_size_means(1.0, 1e6)
    assert (size.control_units, size.treatment_units) == (1, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sample_size_proportions(0.5, 1.5),
        lambda: sample_size_proportions(0.0, 0.1),
        lambda: sample_size_proportions(0.1, 0.1, mde_type="percent"),  # type: ignore[arg-type]
        lambda: sample_size_proportions(0.1, -0.1, alternative="greater"),
        lambda: sample_size_proportions(0.1, 0.1, alternative="less"),
        lambda: sample_size_proportions(0.1, 0.0),
        lambda: sample_size_proportions(0.1, 0.1, power=1.0),
        lambda: sample_size_proportions(0.1, 0.1, treatment_share=1.0),
        lambda: sample_size_proportions(0.1, 0.1, traffic_share=0.0),
        lambda: sample_size_proportions(0.1, 0.1, daily_units=0),
        lambda: sample_size_means(0.0, 0.1),
        lambda: power_means(1.0, 0.1, control_units=0, treatment_units=10),
        lambda: power_proportions(0.1, 0.1, control_units=10, treatment_units=-1),
    ],
)
def test_power_misuse(call: object) -> None:
    with pytest.raises(ValidationError):
        call()  # type: ignore[operator]


def test_power_rises_with_units() -> None:
    powers = [
        power_proportions(0.1, 0.1, control_units=n, treatment_units=n)
        for n in (1_000, 5_000, 20_000)
    ]
    assert powers == sorted(powers)
    assert np.all(np.diff(powers) > 0)


def test_srm_over_periods_sums_independent_chi_squares() -> None:
    first, second = [5_100, 4_900], [1_900, 8_100]
    result = sample_ratio_mismatch_over_periods([(first, [50, 50]), (second, [20, 80])])
    expected_statistic = (
        scipy_stats.chisquare(first, [5_000, 5_000]).statistic
        + scipy_stats.chisquare(second, [2_000, 8_000]).statistic
    )
    assert result.statistic == pytest.approx(expected_statistic, rel=1e-12)
    assert result.degrees_of_freedom == 2
    assert result.p_value == pytest.approx(scipy_stats.chi2.sf(expected_statistic, 2), rel=1e-9)
    assert result.observed == (7_000, 13_000)
    assert result.expected == pytest.approx((7_000.0, 13_000.0))
    # Judged against the final weights alone, the same honest data would look broken.
    assert sample_ratio_mismatch([7_000, 13_000], [20, 80]).mismatch
    assert not result.mismatch


def test_srm_over_periods_edge_cases() -> None:
    zero_arm = sample_ratio_mismatch_over_periods([([1_000, 0], [100, 0]), ([480, 520], [50, 50])])
    assert not zero_arm.mismatch
    assert zero_arm.degrees_of_freedom == 1
    leak = sample_ratio_mismatch_over_periods([([1_000, 3], [100, 0])])
    assert (leak.p_value, leak.mismatch) == (0.0, True)
    empty = sample_ratio_mismatch_over_periods([([0, 0], [50, 50])])
    assert empty.status == "too_few_units"
    assert not empty.mismatch
    with pytest.raises(ValidationError, match="same arms"):
        sample_ratio_mismatch_over_periods([([1, 2], [1, 1]), ([1, 2, 3], [1, 1, 1])])
    with pytest.raises(ValidationError, match="at least one period"):
        sample_ratio_mismatch_over_periods([])
