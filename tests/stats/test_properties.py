"""Properties every result must have, whatever the data (Hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ablab.stats import (
    ComparisonResult,
    CovariateMoments,
    Moments,
    RatioMoments,
    Status,
    bayesian_means,
    bayesian_proportions,
    cuped_test,
    mcnemar_test,
    msprt,
    quantile_interval,
    ratio_test,
    two_proportion_z_test,
    welch_t_test,
)

UNITS = st.integers(min_value=0, max_value=3_000_000)
values = st.lists(
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=0, max_size=40
)


@st.composite
def proportions(draw: st.DrawFn) -> Moments:
    units = draw(UNITS)
    return Moments.from_successes(draw(st.integers(min_value=0, max_value=units)), units)


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
            assert math.isnan(result.relative_lift)
    else:
        assert math.isnan(result.p_value)
        assert not result.significant


def _check_symmetry(forward: ComparisonResult, backward: ComparisonResult) -> None:
    assert (
        forward.status in (backward.status, Status.ZERO_BASELINE)
        or backward.status is Status.ZERO_BASELINE
    )
    if forward.status in (Status.OK, Status.ZERO_BASELINE) and backward.status in (
        Status.OK,
        Status.ZERO_BASELINE,
    ):
        assert forward.absolute_lift == pytest.approx(-backward.absolute_lift, rel=1e-9, abs=1e-12)
        assert forward.p_value == pytest.approx(backward.p_value, rel=1e-9, abs=1e-300)
        assert forward.absolute_ci == pytest.approx(
            tuple(-bound for bound in reversed(backward.absolute_ci)), rel=1e-9, abs=1e-12
        )


@settings(max_examples=300)
@given(
    proportions(),
    proportions(),
    st.sampled_from(["two-sided", "greater", "less"]),
    st.floats(min_value=0.001, max_value=0.5),
)
def test_z_test_properties(
    control: Moments, treatment: Moments, alternative: str, alpha: float
) -> None:
    result = two_proportion_z_test(control, treatment, alternative=alternative, alpha=alpha)
    _check(result)
    _check_symmetry(
        two_proportion_z_test(control, treatment, alpha=alpha),
        two_proportion_z_test(treatment, control, alpha=alpha),
    )
    mirrored = {"two-sided": "two-sided", "greater": "less", "less": "greater"}[alternative]
    backward = two_proportion_z_test(treatment, control, alternative=mirrored, alpha=alpha)
    if result.status is Status.OK and backward.status is Status.OK:
        assert result.p_value == pytest.approx(backward.p_value, rel=1e-9, abs=1e-300)


@settings(max_examples=300)
@given(values, values, st.sampled_from(["two-sided", "greater", "less"]))
def test_welch_properties(control: list[float], treatment: list[float], alternative: str) -> None:
    first, second = Moments.from_values(control), Moments.from_values(treatment)
    _check(welch_t_test(first, second, alternative=alternative))
    _check_symmetry(welch_t_test(first, second), welch_t_test(second, first))


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=30),
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=30),
)
def test_ratio_properties(control: list[tuple[int, int]], treatment: list[tuple[int, int]]) -> None:
    def moments(pairs: list[tuple[int, int]]) -> RatioMoments:
        correct = [min(a, b) for a, b in pairs]
        labelled = [max(a, b) for a, b in pairs]
        return RatioMoments.from_values(correct, labelled)

    first, second = moments(control), moments(treatment)
    _check(ratio_test(first, second))
    _check_symmetry(ratio_test(first, second), ratio_test(second, first))


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), max_size=30),
    st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), max_size=30),
)
def test_cuped_properties(
    control: list[tuple[float, float]], treatment: list[tuple[float, float]]
) -> None:
    def moments(pairs: list[tuple[float, float]]) -> CovariateMoments:
        return CovariateMoments.from_values([y for y, _ in pairs], [x for _, x in pairs])

    first, second = moments(control), moments(treatment)
    result = cuped_test(first, second)
    _check(result)
    _check_symmetry(result, cuped_test(second, first))
    if result.status in (Status.OK, Status.ZERO_BASELINE):
        assert result.variance_reduction is not None
        assert result.variance_reduction <= 1.0


@settings(max_examples=200)
@given(
    proportions(),
    proportions(),
    st.floats(min_value=1e-8, max_value=1.0),
    st.none() | st.floats(min_value=0.0, max_value=1.0),
)
def test_sequential_properties(
    control: Moments, treatment: Moments, mixing_variance: float, previous: float | None
) -> None:
    result = msprt(
        two_proportion_z_test(control, treatment),
        mixing_variance=mixing_variance,
        previous_p_value=previous,
    )
    if result.status is Status.OK:
        assert 0.0 <= result.always_valid_p_value <= 1.0
        assert previous is None or result.always_valid_p_value <= previous
        lower, upper = result.confidence_sequence
        assert lower <= result.difference <= upper


@settings(max_examples=150, deadline=None)
@given(proportions(), proportions())
def test_beta_binomial_properties(control: Moments, treatment: Moments) -> None:
    forward = bayesian_proportions(control, treatment)
    assume(forward.status is Status.OK)
    backward = bayesian_proportions(treatment, control)
    assert 0.0 <= forward.probability_to_beat_control <= 1.0
    assert (
        forward.probability_to_beat_control + backward.probability_to_beat_control
        == pytest.approx(1.0, abs=1e-7)
    )
    assert forward.expected_loss_treatment == pytest.approx(
        backward.expected_loss_control, abs=1e-9
    )
    assert forward.expected_loss_treatment >= 0.0
    assert forward.expected_loss_control >= 0.0


@settings(max_examples=150)
@given(values, values)
def test_normal_posterior_properties(control: list[float], treatment: list[float]) -> None:
    forward = bayesian_means(Moments.from_values(control), Moments.from_values(treatment))
    assume(forward.status is Status.OK)
    backward = bayesian_means(Moments.from_values(treatment), Moments.from_values(control))
    # The effect is relative to the control, so swapping the arms changes its scale and the
    # two chances need not add up to 1; under the flat prior each is above 1/2 exactly when
    # its treatment's mean is the higher one.
    for result in (forward, backward):
        chance = result.probability_to_beat_control
        assert 0.0 <= chance <= 1.0
        if result.status is Status.OK and result.treatment_value != result.control_value:
            assert (chance > 0.5) == (result.treatment_value > result.control_value)


@settings(max_examples=200)
@given(
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(0, 2_000),
    st.sampled_from(["two-sided", "greater", "less"]),
)
def test_mcnemar_properties(
    only_control: int, only_treatment: int, concordant: int, alternative: str
) -> None:
    pairs = only_control + only_treatment + concordant
    assume(pairs > 0)
    result = mcnemar_test(only_control, only_treatment, pairs, alternative=alternative)
    assert 0.0 <= result.p_value <= 1.0
    lower, upper = result.difference_ci
    assert -1.0 <= lower <= result.difference <= upper <= 1.0
    swapped = mcnemar_test(only_treatment, only_control, pairs)
    if alternative == "two-sided":
        assert result.p_value == pytest.approx(swapped.p_value, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e4), min_size=1, max_size=300),
    st.floats(0.01, 0.99),
    st.floats(0.001, 0.5),
)
def test_quantile_interval_contains_the_estimate(
    observations: list[float], quantile: float, alpha: float
) -> None:
    result = quantile_interval(np.array(observations), quantile, alpha=alpha)
    lower, upper = result.ci
    if not math.isnan(lower):
        assert lower <= result.estimate
    if not math.isnan(upper):
        assert result.estimate <= upper
