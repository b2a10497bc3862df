"""mSPRT against direct integration of the normal mixture; design helpers against references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm
from statsmodels.stats.power import zt_ind_solve_power

from ablab.errors import ValidationError
from ablab.stats import (
    Moments,
    Status,
    always_valid_p_values,
    mixing_variance_for_horizon,
    mixing_variance_from_mde,
    msprt,
    msprt_from_difference,
    sequential_power_cost,
    two_proportion_z_test,
    welch_t_test,
)
from tests.stats._stats_references import normal_mixture_likelihood_ratio

CASES = [
    pytest.param(0.01, 0.004**2, 0.01**2, 0.0, id="proportions"),
    pytest.param(0.0, 0.5, 2.0, 0.0, id="no-difference"),
    pytest.param(-3.0, 1.0, 0.25, 0.0, id="negative"),
    pytest.param(1.2, 0.01, 1.0, 1.0, id="non-zero-null"),
    pytest.param(0.002, 1e-8, 1e-4, 0.0, id="large-sample"),
]


@pytest.mark.parametrize(("difference", "variance", "mixing_variance", "null"), CASES)
def test_likelihood_ratio_is_the_mixture_integral(
    difference: float, variance: float, mixing_variance: float, null: float
) -> None:
    result = msprt_from_difference(
        difference, variance, mixing_variance=mixing_variance, null_difference=null
    )
    expected = normal_mixture_likelihood_ratio(difference, variance, mixing_variance, null)
    assert result.log_likelihood_ratio == pytest.approx(math.log(expected), rel=1e-8, abs=1e-10)
    assert result.always_valid_p_value == pytest.approx(min(1.0, 1.0 / expected), rel=1e-8)


@pytest.mark.parametrize(("difference", "variance", "mixing_variance", "null"), CASES)
def test_confidence_sequence_bounds_are_where_the_ratio_reaches_one_over_alpha(
    difference: float, variance: float, mixing_variance: float, null: float
) -> None:
    result = msprt_from_difference(
        difference, variance, mixing_variance=mixing_variance, alpha=0.05
    )
    for bound in result.confidence_sequence:
        # Lambda(theta) uses a mixture centred on theta, the hypothesised difference.
        assert normal_mixture_likelihood_ratio(
            difference, variance, mixing_variance, bound
        ) == pytest.approx(20.0, rel=1e-7)
    lower, upper = result.confidence_sequence
    assert result.significant == (not lower <= 0.0 <= upper)


def test_previous_p_value_is_carried_as_a_running_minimum() -> None:
    first = msprt_from_difference(0.02, 0.005**2, mixing_variance=1e-4)
    later = msprt_from_difference(
        0.0, 0.004**2, mixing_variance=1e-4, previous_p_value=first.always_valid_p_value
    )
    assert later.always_valid_p_value == first.always_valid_p_value
    assert msprt_from_difference(0.0, 0.004**2, mixing_variance=1e-4).always_valid_p_value == 1.0


def test_vectorised_paths_equal_look_by_look_results() -> None:
    rng = np.random.default_rng(2)
    differences = rng.normal(0.0, 0.01, size=(3, 20))
    variances = np.linspace(4e-4, 1e-5, 20)[None, :] * np.ones((3, 1))
    variances[1, 4] = 0.0
    paths = always_valid_p_values(differences, variances, mixing_variance=1e-4)
    for row in range(3):
        previous = None
        for look in range(20):
            result = msprt_from_difference(
                differences[row, look],
                variances[row, look],
                mixing_variance=1e-4,
                previous_p_value=previous,
            )
            previous = (
                result.always_valid_p_value
                if not math.isnan(result.always_valid_p_value)
                else previous
            )
            expected = 1.0 if previous is None else previous
            assert paths[row, look] == pytest.approx(expected, rel=1e-12)


def test_msprt_on_a_comparison_uses_its_difference_and_unpooled_error() -> None:
    comparison = two_proportion_z_test(
        Moments.from_successes(1_000, 10_000), Moments.from_successes(1_120, 10_000)
    )
    result = msprt(comparison, mixing_variance=1e-4)
    direct = msprt_from_difference(
        comparison.absolute_lift, comparison.standard_error**2, mixing_variance=1e-4
    )
    assert result == direct


def test_statuses_carry_the_previous_p_value() -> None:
    empty = welch_t_test(Moments.empty(), Moments.from_values([1.0, 2.0]))
    carried = msprt(empty, mixing_variance=1.0, previous_p_value=0.2)
    assert carried.status is Status.EMPTY_ARM
    assert carried.always_valid_p_value == 0.2
    assert math.isnan(carried.log_likelihood_ratio)
    assert math.isnan(msprt(empty, mixing_variance=1.0).always_valid_p_value)
    zero = msprt_from_difference(0.1, 0.0, mixing_variance=1.0, previous_p_value=0.01)
    assert zero.status is Status.ZERO_VARIANCE
    assert zero.significant
    constant = welch_t_test(Moments.from_values([1.0, 1.0]), Moments.from_values([2.0, 2.0]))
    assert msprt(constant, mixing_variance=1.0).status is Status.ZERO_VARIANCE


@pytest.mark.parametrize(
    "call",
    [
        lambda: msprt_from_difference(0.1, 1.0, mixing_variance=0.0),
        lambda: msprt_from_difference(0.1, 1.0, mixing_variance=1.0, previous_p_value=1.5),
        lambda: msprt_from_difference(0.1, 1.0, mixing_variance=1.0, previous_p_value=math.nan),
        lambda: msprt_from_difference(0.1, 1.0, mixing_variance=1.0, alpha=2.0),
        lambda: always_valid_p_values([0.1, 0.2], [1.0], mixing_variance=1.0),
        lambda: mixing_variance_from_mde(0.0),
        lambda: mixing_variance_for_horizon(-1.0),
        lambda: sequential_power_cost(1.0, 0.0, mixing_variance=1.0),
    ],
)
def test_misuse(call: object) -> None:
    with pytest.raises(ValidationError):
        call()  # type: ignore[operator]


def test_mixing_variance_from_mde() -> None:
    assert mixing_variance_from_mde(-0.03) == pytest.approx(0.0009)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.2])
def test_mixing_variance_for_horizon_minimises_the_width_at_the_horizon(alpha: float) -> None:
    variance = 2.5e-5

    def width(mixing_variance: float) -> float:
        result = msprt_from_difference(0.0, variance, mixing_variance=mixing_variance, alpha=alpha)
        return result.confidence_sequence[1]

    best = minimize_scalar(
        lambda log_tau: width(math.exp(log_tau)),
        bounds=(-20.0, 0.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert mixing_variance_for_horizon(variance, alpha) == pytest.approx(math.exp(best.x), rel=1e-4)


def test_power_cost_fixed_part_matches_statsmodels_and_sequential_needs_more() -> None:
    cost = sequential_power_cost(
        2.0, 0.1, mixing_variance=mixing_variance_from_mde(0.1), daily_units=1_000
    )
    control = zt_ind_solve_power(effect_size=0.05, alpha=0.05, power=0.8, ratio=1.0)
    assert cost.fixed.control_units == math.ceil(control)
    assert cost.sequential.total_units > cost.fixed.total_units
    assert cost.inflation == pytest.approx(cost.sequential.total_units / cost.fixed.total_units)
    assert cost.sequential.days == math.ceil(cost.sequential.total_units / 1_000)


def test_power_cost_single_look_power_is_the_target() -> None:
    # At the reported size a single look with the always-valid boundary rejects with the
    # target power: the boundary is where the confidence sequence reaches 0.
    deviation, mde, tau_sq = 1.0, 0.2, 0.04
    cost = sequential_power_cost(deviation, mde, mixing_variance=tau_sq, power=0.9)
    per_arm = cost.sequential.control_units
    variance = 2 * deviation**2 / per_arm
    half_width = msprt_from_difference(0.0, variance, mixing_variance=tau_sq).confidence_sequence[1]
    power = norm.sf(half_width, loc=mde, scale=math.sqrt(variance)) + norm.cdf(
        -half_width, loc=mde, scale=math.sqrt(variance)
    )
    assert 0.9 <= power < 0.9 + 1e-3
