"""Thompson allocation, the relative-lift helper and the results mapping."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.stats._delta_method import NonlinearDeltaCov

from ablab.errors import ValidationError
from ablab.stats import (
    CovariateMoments,
    Moments,
    Status,
    bayesian_proportions,
    comparison_summary,
    cuped_test,
    mean_interval,
    msprt,
    relative_lift,
    thompson_weights,
    two_proportion_z_test,
    welch_t_test,
)
from tests.stats._interval_references import fieller_by_inversion

counts = st.lists(st.integers(min_value=0, max_value=5_000), min_size=2, max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    counts, st.integers(min_value=0, max_value=2**32 - 1), st.floats(min_value=0.0, max_value=0.15)
)
def test_thompson_weights_sum_to_one_respect_the_floor_and_repeat_with_the_seed(
    successes: list[int], seed: int, min_share: float
) -> None:
    failures = [count * 3 + 1 for count in successes]
    share = min(min_share, 1.0 / len(successes))
    weights = thompson_weights(
        successes, failures, rng=np.random.default_rng(seed), draws=2_000, min_share=share
    )
    assert sum(weights) == pytest.approx(1.0, abs=1e-12)
    assert min(weights) >= share - 1e-12
    assert weights == thompson_weights(
        successes, failures, rng=np.random.default_rng(seed), draws=2_000, min_share=share
    )


def test_thompson_weights_favour_the_better_arm() -> None:
    weights = thompson_weights([30, 60], [970, 940], rng=np.random.default_rng(1), min_share=0.05)
    assert weights[1] > 0.9
    assert weights[0] >= 0.05


@pytest.mark.parametrize(
    "arguments",
    [
        {"successes": [1], "failures": [1]},
        {"successes": [1, 2], "failures": [1]},
        {"successes": [1, -2], "failures": [1, 1]},
        {"successes": [1, 2], "failures": [1, 1], "min_share": 0.6},
        {"successes": [1, 2], "failures": [1, 1], "draws": 0},
        {"successes": [1, 2], "failures": [1, 1], "rng": np.random.RandomState(1)},
    ],
)
def test_thompson_misuse(arguments: dict[str, object]) -> None:
    call = {"rng": np.random.default_rng(0), **arguments}
    with pytest.raises(ValidationError):
        thompson_weights(**call)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alternative", "degrees_of_freedom"),
    [("two-sided", math.inf), ("greater", 30.0), ("less", math.inf)],
)
def test_relative_lift_has_the_delta_method_error_and_fieller_interval(
    alternative: str, degrees_of_freedom: float
) -> None:
    lift = relative_lift(
        12.0,
        0.4,
        13.5,
        0.5,
        alpha=0.1,
        alternative=alternative,
        degrees_of_freedom=degrees_of_freedom,
    )
    delta = NonlinearDeltaCov(
        lambda p: p[1] / p[0] - 1.0, np.array([12.0, 13.5]), np.diag([0.4**2, 0.5**2])
    )
    assert lift.estimate == pytest.approx(0.125)
    assert lift.standard_error == pytest.approx(float(delta.se_vectorized()), rel=1e-6)
    level = 0.95 if alternative == "two-sided" else 0.9
    critical = (
        scipy_stats.t.ppf(level, degrees_of_freedom)
        if math.isfinite(degrees_of_freedom)
        else scipy_stats.norm.ppf(level)
    )
    lower, upper = fieller_by_inversion(12.0, 0.4, 13.5, 0.5, critical)
    expected = {
        "two-sided": (lower, upper),
        "greater": (lower, math.inf),
        "less": (-math.inf, upper),
    }[alternative]
    assert lift.ci == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("alternative", "expected"), [("greater", (-math.inf, 0.2)), ("less", (0.2, math.inf))]
)
def test_fieller_one_sided_bound_flips_with_a_negative_control(
    alternative: str, expected: tuple[float, float]
) -> None:
    # Control -10, treatment -12: treatment is lower, and t / c - 1 = +0.2 is above 0.
    lift = relative_lift(-10.0, 0.1, -12.0, 0.1, alternative=alternative)
    finite = [bound for bound in lift.ci if math.isfinite(bound)]
    assert len(finite) == 1
    assert (lift.ci[0] == -math.inf) == (expected[0] == -math.inf)
    assert lift.ci[0] <= 0.2 <= lift.ci[1]
    # Only "less" (treatment below control) is supported by the data, so only its interval
    # excludes 0.
    assert (lift.ci[0] > 0 or lift.ci[1] < 0) == (alternative == "less")


def test_fieller_is_unbounded_when_the_control_is_not_clear_of_zero() -> None:
    lift = relative_lift(0.5, 0.4, 1.5, 0.4)
    assert lift.ci == (-math.inf, math.inf)
    assert math.isfinite(lift.estimate)


def test_relative_lift_of_a_zero_baseline_is_nan() -> None:
    lift = relative_lift(0.0, 0.1, 1.0, 0.1)
    assert math.isnan(lift.estimate)
    assert all(math.isnan(bound) for bound in lift.ci)


def test_comparison_summary_has_the_results_fields_and_is_json() -> None:
    control, treatment = Moments.from_successes(100, 1_000), Moments.from_successes(130, 1_000)
    comparison = two_proportion_z_test(control, treatment)
    sequential = msprt(comparison, mixing_variance=1e-4)
    bayesian = bayesian_proportions(control, treatment)
    row = comparison_summary(comparison, sequential, bayesian)
    for field in (
        "control_value",
        "treatment_value",
        "absolute_lift",
        "absolute_ci",
        "relative_lift",
        "relative_ci",
        "p_value",
        "always_valid_p_value",
        "msprt_log_lr",
        "prob_beat_control",
        "significant",
        "cuped",
    ):
        assert field in row
    assert row["msprt_log_lr"] == sequential.log_likelihood_ratio
    assert row["always_valid_p_value"] == sequential.always_valid_p_value
    assert row["prob_beat_control"] == bayesian.probability_to_beat_control
    assert row["absolute_ci"] == list(comparison.absolute_ci)
    assert row["status"] == "ok"
    json.dumps(row, allow_nan=False)


def test_comparison_summary_maps_nan_to_none_and_carries_cuped() -> None:
    empty = comparison_summary(welch_t_test(Moments.empty(), Moments.from_values([1.0, 2.0])))
    assert empty["p_value"] is None
    assert empty["absolute_ci"] == [None, None]
    assert empty["always_valid_p_value"] is None
    assert empty["status"] == Status.EMPTY_ARM
    rng = np.random.default_rng(0)
    covariate = rng.normal(size=200)
    cuped = cuped_test(
        CovariateMoments.from_values(covariate[:100] + rng.normal(size=100), covariate[:100]),
        CovariateMoments.from_values(covariate[100:] + rng.normal(size=100), covariate[100:]),
    )
    row = comparison_summary(cuped)
    assert row["cuped"] == {
        "variance_reduction": cuped.variance_reduction,
        "theta": cuped.cuped_theta,
    }


@pytest.mark.parametrize("size", [2, 30, 5_000])
def test_mean_interval_matches_scipy(size: int) -> None:
    values = np.random.default_rng(size).gamma(2.0, 3.0, size)
    expected = scipy_stats.t.interval(
        0.9, size - 1, loc=values.mean(), scale=scipy_stats.sem(values)
    )
    assert mean_interval(Moments.from_values(values), alpha=0.1) == pytest.approx(
        expected, rel=1e-9
    )


def test_mean_interval_needs_two_units() -> None:
    assert all(math.isnan(bound) for bound in mean_interval(Moments.from_values([1.0])))


def test_comparison_summary_maps_open_bounds_to_none() -> None:
    comparison = two_proportion_z_test(
        Moments.from_successes(100, 1_000),
        Moments.from_successes(130, 1_000),
        alternative="greater",
    )
    row = comparison_summary(comparison)
    assert row["absolute_ci"][1] is None
    assert row["absolute_ci"][0] == comparison.absolute_ci[0]
    json.dumps(row, allow_nan=False)
