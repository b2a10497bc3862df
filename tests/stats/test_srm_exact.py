"""Exact SRM over a weight history, against scipy's binomial test and brute-force sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from scipy.signal import fftconvolve

from ablab.errors import ValidationError
from ablab.stats import Status, exact_sample_ratio_mismatch
from ablab.stats.srm_exact import EXACT_VARIANCE_LIMIT

Periods = list[tuple[list[int], list[float]]]


def brute_force_p(periods: Periods, arm: int) -> float:
    """Arm ``arm``'s total against the full convolution of scipy's binomial pmfs, every
    outcome from 0 to n kept, with scipy.stats.binomtest's two-sided rule."""
    pmf = np.ones(1)
    for observed, weights in periods:
        n = sum(observed)
        share = weights[arm] / sum(weights)
        pmf = np.clip(fftconvolve(pmf, scipy_stats.binom.pmf(np.arange(n + 1), n, share)), 0, None)
    total = sum(observed[arm] for observed, _ in periods)
    return min(1.0, float(pmf[pmf <= pmf[total] * (1 + 1e-7)].sum()))


@pytest.mark.parametrize(
    ("k", "n", "share"),
    [(380, 10_000, 0.05), (0, 50, 0.05), (8, 50, 0.05), (2, 50, 0.05), (5_100, 10_000, 0.5),
     (1, 3, 0.5), (47, 100, 0.3), (19_800, 20_000, 0.99)],
)  # fmt: skip
def test_one_period_two_arms_is_scipys_binomial_test(k: int, n: int, share: float) -> None:
    result = exact_sample_ratio_mismatch([([n - k, k], [1 - share, share])])
    reference = scipy_stats.binomtest(k, n, share).pvalue
    assert result.p_value == pytest.approx(reference, rel=1e-9, abs=1e-300)
    assert result.mismatch == (reference < 0.001)
    assert result.observed == (n - k, k)
    assert result.expected == pytest.approx((n * (1 - share), n * share))


@pytest.mark.parametrize("seed", range(6))
def test_several_periods_match_the_brute_force_sum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    arms = 2 if seed < 3 else 3
    periods: Periods = []
    for _ in range(int(rng.integers(2, 7))):
        weights = [float(w) for w in rng.dirichlet(np.ones(arms)) * 100]
        size = int(rng.integers(5, 400))
        # A shifted split some of the time, so that small p-values are checked too.
        drawn = weights if rng.random() < 0.5 else weights[::-1]
        periods.append(([int(c) for c in rng.multinomial(size, np.asarray(drawn) / 100)], weights))
    result = exact_sample_ratio_mismatch(periods)
    per_arm = [brute_force_p(periods, arm) for arm in range(arms)]
    if arms == 2:
        assert per_arm[0] == pytest.approx(per_arm[1], rel=1e-7, abs=1e-14)
        expected = per_arm[0]
    else:
        expected = min(1.0, arms * min(per_arm))  # Bonferroni over the arms
    assert result.p_value == pytest.approx(expected, rel=1e-7, abs=1e-14)
    assert result.observed == tuple(sum(o[k] for o, _ in periods) for k in range(arms))


def test_large_arms_use_the_normal_tail() -> None:
    n, share = 5_000_000, 0.5
    assert n * share * (1 - share) > EXACT_VARIANCE_LIMIT
    k = 2_503_000
    result = exact_sample_ratio_mismatch([([n - k, k], [50, 50])])
    z = (k - n * share) / math.sqrt(n * share * (1 - share))
    assert result.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), rel=1e-12)
    # ... and there the exact test would say the same to a few digits.
    assert result.p_value == pytest.approx(scipy_stats.binomtest(k, n, share).pvalue, rel=1e-2)


def test_many_units_agree_with_pearsons_chi_square() -> None:
    """Where the chi-square approximation is good (a balanced split, many units), the exact
    test and scipy.stats.chisquare agree."""
    observed = [100_600, 99_400]
    exact = exact_sample_ratio_mismatch([(observed, [50, 50])]).p_value
    chi_square = scipy_stats.chisquare(observed, [100_000, 100_000]).pvalue
    assert exact == pytest.approx(chi_square, rel=0.02)


def test_units_where_the_weight_was_zero_are_a_mismatch() -> None:
    result = exact_sample_ratio_mismatch([([500, 500, 0], [50, 50, 0]), ([300, 0, 1], [50, 50, 0])])
    assert result.status is Status.OK
    assert result.p_value == 0.0
    assert result.mismatch


def test_a_zero_weight_arm_without_units_is_left_out() -> None:
    with_third = exact_sample_ratio_mismatch([([520, 480, 0], [50, 50, 0])])
    two = exact_sample_ratio_mismatch([([520, 480], [50, 50])])
    assert with_third.p_value == pytest.approx(two.p_value)
    assert with_third.degrees_of_freedom == 2


def test_nothing_to_test() -> None:
    empty = exact_sample_ratio_mismatch([([0, 0], [50, 50])])
    assert empty.status is Status.TOO_FEW_UNITS
    assert math.isnan(empty.p_value)
    assert not empty.mismatch
    # Everyone had to go to one arm: nothing could have gone elsewhere by chance.
    single = exact_sample_ratio_mismatch([([40, 0], [100, 0])])
    assert single.status is Status.TOO_FEW_UNITS


@pytest.mark.parametrize(
    "periods",
    [
        [],
        [([1, 2], [50, 50]), ([1, 2, 3], [30, 30, 40])],
        [([1, 2], [-10, 110])],
        [([1, 2], [0, 0])],
        [([1, -2], [50, 50])],
        [([1, 2], [math.nan, 50])],
        [([5], [100])],
    ],
)
def test_misuse_raises(periods: Periods) -> None:
    with pytest.raises(ValidationError):
        exact_sample_ratio_mismatch(periods)


def test_threshold_is_checked_and_used() -> None:
    with pytest.raises(ValidationError):
        exact_sample_ratio_mismatch([([1, 2], [50, 50])], threshold=1.5)
    loose = exact_sample_ratio_mismatch([([5_100, 4_900], [50, 50])], threshold=0.05)
    assert loose.mismatch
    assert not exact_sample_ratio_mismatch([([5_100, 4_900], [50, 50])]).mismatch


@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 300), min_size=3, max_size=3),
            st.lists(st.floats(0.5, 100), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_p_value_is_a_probability(periods: list[tuple[list[int], list[float]]]) -> None:
    result = exact_sample_ratio_mismatch(periods)
    if result.status is Status.OK:
        assert 0.0 <= result.p_value <= 1.0
        assert result.mismatch == (result.p_value < result.threshold)
    assert sum(result.observed) == sum(sum(o) for o, _ in periods)
    assert sum(result.expected) == pytest.approx(sum(result.observed))


@pytest.mark.parametrize(
    "periods",
    [
        [([30, 0], [100, 0]), ([55, 45], [50, 50])],  # everyone to the control at first
        [([10, 0, 0], [100, 0, 0]), ([0, 6, 4], [0, 50, 50])],  # arms that took turns
    ],
)
def test_all_or_nothing_periods_match_the_brute_force_sum(periods: Periods) -> None:
    arms = len(periods[0][0])
    per_arm = [brute_force_p(periods, arm) for arm in range(arms)]
    expected = per_arm[0] if arms == 2 else min(1.0, arms * min(per_arm))
    assert exact_sample_ratio_mismatch(periods).p_value == pytest.approx(expected, rel=1e-9)


def test_a_unit_where_its_arm_had_no_chance_is_an_alarm_even_then() -> None:
    result = exact_sample_ratio_mismatch([([9, 1, 0], [100, 0, 0]), ([0, 6, 4], [0, 50, 50])])
    assert (result.p_value, result.mismatch, result.statistic) == (0.0, True, math.inf)
