"""One-sided mSPRT (half-normal mixture) and the carried p-value and interval.

The likelihood ratio is checked against direct numerical integration of the Gaussian
likelihood ratio over the half-normal mixing density; the verdict's agreement with the
interval is checked as a property over random looks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import norm

from ablab.errors import ValidationError
from ablab.stats import (
    Moments,
    Status,
    always_valid_p_values,
    msprt,
    msprt_from_difference,
    two_proportion_z_test,
    welch_t_test,
)


def half_normal_mixture_ratio(
    difference: float, variance: float, tau_sq: float, null: float, alternative: str
) -> float:
    """Lambda by quadrature: the likelihood ratio of theta against null, averaged over the
    half-normal mixing density on the alternative's side of the null."""
    scale, spread = math.sqrt(variance), math.sqrt(tau_sq)
    sign = 1.0 if alternative == "greater" else -1.0

    def integrand(offset: float) -> float:
        theta = null + sign * offset
        log_ratio = norm.logpdf(difference, theta, scale) - norm.logpdf(difference, null, scale)
        return float(np.exp(log_ratio) * 2.0 * norm.pdf(offset, scale=spread))

    value, _ = integrate.quad(integrand, 0.0, 40 * spread, limit=400, epsabs=0.0, epsrel=1e-11)
    return value


CASES = [
    pytest.param(0.02, 0.004**2, 0.01**2, 0.0, "greater", id="greater-above"),
    pytest.param(-0.02, 0.004**2, 0.01**2, 0.0, "greater", id="greater-below"),
    pytest.param(-0.03, 0.01**2, 0.02**2, 0.0, "less", id="less-below"),
    pytest.param(1.3, 0.2, 1.0, 1.0, "greater", id="shifted-null"),
    pytest.param(0.0, 1e-6, 1e-4, 0.0, "less", id="at-the-null"),
]


@pytest.mark.parametrize(("difference", "variance", "tau_sq", "null", "alternative"), CASES)
def test_one_sided_ratio_is_the_half_normal_mixture_integral(
    difference: float, variance: float, tau_sq: float, null: float, alternative: str
) -> None:
    result = msprt_from_difference(
        difference,
        variance,
        mixing_variance=tau_sq,
        null_difference=null,
        alternative=alternative,  # type: ignore[arg-type]
    )
    expected = half_normal_mixture_ratio(difference, variance, tau_sq, null, alternative)
    assert result.log_likelihood_ratio == pytest.approx(math.log(expected), rel=1e-8, abs=1e-9)
    assert result.always_valid_p_value == pytest.approx(min(1.0, 1.0 / expected), rel=1e-8)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_one_sided_bound_is_where_the_ratio_reaches_one_over_alpha(alternative: str) -> None:
    difference, variance, tau_sq = 0.015, 0.005**2, 0.01**2
    result = msprt_from_difference(
        difference,
        variance,
        mixing_variance=tau_sq,
        alternative=alternative,  # type: ignore[arg-type]
    )
    low, high = result.confidence_sequence
    bound = low if alternative == "greater" else high
    assert math.isinf(high if alternative == "greater" else low)
    ratio = half_normal_mixture_ratio(difference, variance, tau_sq, bound, alternative)
    assert ratio == pytest.approx(20.0, rel=1e-7)


def test_a_one_sided_test_is_never_significant_in_the_wrong_direction() -> None:
    harm = two_proportion_z_test(
        Moments.from_successes(1_300, 10_000),
        Moments.from_successes(1_000, 10_000),
        alternative="greater",
    )
    assert harm.absolute_lift < 0
    result = msprt(harm, mixing_variance=0.01**2)
    assert result.alternative == "greater"
    assert not result.significant
    assert result.always_valid_p_value == 1.0
    assert result.confidence_sequence[1] == math.inf
    # The same data, two-sided, is significant: msprt used to ignore the alternative.
    assert msprt(harm, mixing_variance=0.01**2, alternative="two-sided").significant


def test_the_alternative_can_be_overridden_and_the_level_divided() -> None:
    comparison = welch_t_test(
        Moments.from_values([1.0, 2.0, 3.0, 2.5, 1.5] * 20),
        Moments.from_values([1.6, 2.6, 3.4, 3.0, 2.2] * 20),
    )
    default = msprt(comparison, mixing_variance=0.25)
    halved = msprt(comparison, mixing_variance=0.25, alpha=comparison.alpha / 2)
    assert default.alternative == "two-sided"
    assert halved.alpha == comparison.alpha / 2
    low, high = default.confidence_sequence
    narrow_low, narrow_high = halved.confidence_sequence
    assert narrow_low < low < high < narrow_high


looks = st.lists(
    st.tuples(
        st.floats(-0.05, 0.05),  # difference
        st.floats(1e-6, 1e-3),  # variance
    ),
    min_size=1,
    max_size=12,
)


@given(
    looks=looks,
    tau_sq=st.floats(1e-6, 1e-2),
    alpha=st.sampled_from([0.01, 0.05, 0.2]),
    alternative=st.sampled_from(["two-sided", "greater", "less"]),
    null=st.sampled_from([0.0, 0.01, -0.01]),
)
def test_carried_verdict_always_agrees_with_the_carried_interval(
    looks: list[tuple[float, float]], tau_sq: float, alpha: float, alternative: str, null: float
) -> None:
    """At every look: significant exactly when the null lies outside the running
    intersection; the p-value never rises and the interval never widens."""
    p_value: float | None = None
    interval: tuple[float, float] | None = None
    for difference, variance in looks:
        result = msprt_from_difference(
            difference,
            variance,
            mixing_variance=tau_sq,
            alpha=alpha,
            previous_p_value=p_value,
            previous_interval=interval,
            null_difference=null,
            alternative=alternative,  # type: ignore[arg-type]
        )
        low, high = result.confidence_sequence
        if not math.isclose(result.always_valid_p_value, alpha, rel_tol=1e-9):
            assert result.significant == (not low < null < high)
        if alternative == "greater":
            assert high == math.inf
            assert not (difference < null and p_value is None and result.significant)
        if alternative == "less":
            assert low == -math.inf
        if p_value is not None and interval is not None:
            assert result.always_valid_p_value <= p_value
            assert interval[0] <= low
            assert high <= interval[1]
        p_value, interval = result.always_valid_p_value, result.confidence_sequence


def test_a_look_without_a_test_carries_the_p_value_and_interval() -> None:
    empty = welch_t_test(Moments.empty(), Moments.from_values([1.0, 2.0]))
    carried = msprt(empty, mixing_variance=1.0, previous_p_value=0.01, previous_interval=(0.2, 0.9))
    assert carried.status is Status.EMPTY_ARM
    assert (carried.always_valid_p_value, carried.confidence_sequence) == (0.01, (0.2, 0.9))
    assert carried.significant


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_vectorised_one_sided_paths_equal_look_by_look_results(alternative: str) -> None:
    rng = np.random.default_rng(8)
    differences = rng.normal(0.0, 0.02, size=(4, 15))
    variances = np.linspace(4e-4, 1e-5, 15)[None, :] * np.ones((4, 1))
    tau = np.linspace(1e-4, 2e-4, 15)  # a per-look plug-in broadcasts
    paths = always_valid_p_values(
        differences,
        variances,
        mixing_variance=tau,
        alternative=alternative,  # type: ignore[arg-type]
        null_difference=0.005,
    )
    for row in range(4):
        previous = None
        for look in range(15):
            result = msprt_from_difference(
                float(differences[row, look]),
                float(variances[row, look]),
                mixing_variance=float(tau[look]),
                previous_p_value=previous,
                null_difference=0.005,
                alternative=alternative,  # type: ignore[arg-type]
            )
            previous = result.always_valid_p_value
            assert paths[row, look] == pytest.approx(previous, rel=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: msprt_from_difference(
            0.1, 1.0, mixing_variance=1.0, previous_interval=(math.nan, 1.0)
        ),
        lambda: always_valid_p_values([0.1, 0.2], [1.0, 1.0], mixing_variance=[1.0, 0.0]),
        lambda: always_valid_p_values([0.1], [1.0], mixing_variance=math.inf),
        lambda: msprt_from_difference(0.1, 1.0, mixing_variance=1.0, alternative="up"),  # type: ignore[arg-type]
    ],
)
def test_misuse(call: object) -> None:
    with pytest.raises(ValidationError):
        call()  # type: ignore[operator]
