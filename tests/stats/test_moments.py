"""Sufficient statistics: construction, validation and the merge law."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablab.errors import ValidationError
from ablab.stats import CovariateMoments, Moments, RatioMoments

# Integer-valued floats sum exactly in float64, so merged partials must equal the whole
# bit for bit; general floats must agree to rounding.
integers = st.lists(st.integers(min_value=-10_000, max_value=10_000).map(float), max_size=60)
floats = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=60)


@given(integers, integers)
def test_moments_merge_law_is_exact_on_integers(first: list[float], second: list[float]) -> None:
    assert Moments.from_values(first) + Moments.from_values(second) == Moments.from_values(
        first + second
    )


@given(floats, floats)
def test_moments_merge_law_holds_to_rounding(first: list[float], second: list[float]) -> None:
    merged = Moments.from_values(first) + Moments.from_values(second)
    whole = Moments.from_values(first + second)
    assert merged.n == whole.n
    scale = sum(abs(value) for value in first + second) + 1.0
    assert math.isclose(merged.sum, whole.sum, rel_tol=1e-12, abs_tol=1e-12 * scale)
    assert math.isclose(merged.sum_sq, whole.sum_sq, rel_tol=1e-12, abs_tol=1e-9)


@given(integers, integers, integers)
def test_ratio_moments_merge_law(
    first: list[float], second: list[float], third: list[float]
) -> None:
    size = min(len(first), len(second), len(third))
    numerator, denominator = np.array(first[:size]), np.abs(np.array(second[:size]))
    half = size // 2
    merged = RatioMoments.from_values(
        numerator[:half], denominator[:half]
    ) + RatioMoments.from_values(numerator[half:], denominator[half:])
    assert merged == RatioMoments.from_values(numerator, denominator)


@given(integers, integers)
def test_covariate_moments_merge_law(first: list[float], second: list[float]) -> None:
    size = min(len(first), len(second))
    metric, covariate = np.array(first[:size]), np.array(second[:size])
    cut = size // 3
    merged = CovariateMoments.from_values(
        metric[:cut], covariate[:cut]
    ) + CovariateMoments.from_values(metric[cut:], covariate[cut:])
    assert merged == CovariateMoments.from_values(metric, covariate)
    assert merged.metric == Moments.from_values(metric)
    assert merged.covariate == Moments.from_values(covariate)


@pytest.mark.parametrize("statistics", [Moments, RatioMoments, CovariateMoments])
def test_empty_is_the_identity(
    statistics: type[Moments] | type[RatioMoments] | type[CovariateMoments],
) -> None:
    rng = np.random.default_rng(5)
    if statistics is Moments:
        value = Moments.from_values(rng.normal(size=10))
        assert value + Moments.empty() == value
        assert Moments.empty() + value == value
    elif statistics is RatioMoments:
        ratio = RatioMoments.from_values(rng.integers(0, 5, 10), rng.integers(1, 6, 10))
        assert ratio + RatioMoments.empty() == ratio
    else:
        covariate = CovariateMoments.from_values(rng.normal(size=10), rng.normal(size=10))
        assert CovariateMoments.empty() + covariate == covariate


def test_mean_and_variance_match_numpy() -> None:
    values = np.random.default_rng(1).lognormal(3.0, 1.0, size=1_000)
    moments = Moments.from_values(values)
    assert moments.mean == pytest.approx(values.mean(), rel=1e-12)
    assert moments.variance == pytest.approx(values.var(ddof=1), rel=1e-9)
    assert math.isnan(Moments.empty().mean)
    assert math.isnan(Moments.from_values([1.0]).variance)


def test_constant_values_have_exactly_zero_variance() -> None:
    assert Moments.from_values(np.full(1_000, 0.1)).variance == 0.0


def test_ratio_and_components() -> None:
    ratio = RatioMoments.from_values([3, 1, 0], [4, 2, 0])
    assert ratio.ratio == pytest.approx(4 / 6)
    assert ratio.numerator == Moments.from_values([3, 1, 0])
    assert ratio.denominator == Moments.from_values([4, 2, 0])
    assert math.isnan(RatioMoments.from_values([0, 0], [0, 0]).ratio)


def test_from_successes_is_a_proportion() -> None:
    assert Moments.from_successes(3, 10) == Moments.from_values([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])


def test_adding_a_different_statistic_is_refused() -> None:
    with pytest.raises(TypeError):
        Moments.empty() + RatioMoments.empty()  # type: ignore[operator]
    with pytest.raises(TypeError):
        RatioMoments.empty() + Moments.empty()  # type: ignore[operator]
    with pytest.raises(TypeError):
        CovariateMoments.empty() + Moments.empty()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ((-1, 0.0, 0.0), "n"),
        ((1.5, 0.0, 0.0), "n"),
        ((True, 1.0, 1.0), "n"),
        ((3, math.nan, 1.0), "sum"),
        ((3, 1.0, math.inf), "sum_sq"),
        ((3, 1.0, -1.0), "sum_sq"),
        ((0, 1.0, 1.0), "sum"),
        ((3, "1", 1.0), "sum"),
    ],
)
def test_moments_refuse_impossible_sums(
    arguments: tuple[object, object, object], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        Moments(*arguments)  # type: ignore[arg-type]
    assert field in raised.value.details


def test_other_statistics_refuse_impossible_sums() -> None:
    with pytest.raises(ValidationError):
        RatioMoments(2, 1.0, 1.0, 2.0, -4.0, 2.0)
    with pytest.raises(ValidationError):
        CovariateMoments(-2, 1.0, 1.0, 2.0, 4.0, 2.0)


def test_integer_like_numbers_are_accepted() -> None:
    assert Moments(np.int64(4), 2, 2).n == 4  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "call",
    [
        lambda: Moments.from_values([[1.0, 2.0]]),
        lambda: Moments.from_values([1.0, math.nan]),
        lambda: RatioMoments.from_values([1.0, 2.0], [1.0]),
        lambda: CovariateMoments.from_values([1.0], [1.0, 2.0]),
        lambda: Moments.from_successes(5, 4),
        lambda: Moments.from_successes(-1, 4),
    ],
)
def test_constructors_refuse_bad_arrays(call: object) -> None:
    with pytest.raises(ValidationError):
        call()  # type: ignore[operator]


@settings(max_examples=50)
@given(st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=2, max_size=50))
def test_variance_is_never_negative(values: list[float]) -> None:
    assert Moments.from_values(values).variance >= 0.0
