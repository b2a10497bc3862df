"""Weights in percent to basis points (largest remainder) and coverage to bucket ranges."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablab.assignment import BUCKETS, bucket_ranges, weights_to_basis_points
from ablab.errors import ValidationError


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ((50, 50), (5000, 5000)),
        ((90, 10), (9000, 1000)),
        ((50.0, 50.0), (5000, 5000)),
        ((33.34, 33.33, 33.33), (3334, 3333, 3333)),
        ((33.33, 33.33, 33.34), (3333, 3333, 3334)),
        ((100 / 3, 100 / 3, 100 / 3), (3334, 3333, 3333)),
        ((0.29, 99.71), (29, 9971)),
        ((12.345, 87.655), (1235, 8765)),  # tie of remainders 0.5: the earlier variant wins
        ((0, 100), (0, 10000)),
        ((100, 0, 0), (10000, 0, 0)),
        ((10, 20, 30, 40), (1000, 2000, 3000, 4000)),
        ((0.005, 99.995), (1, 9999)),  # a half basis point rounds up by largest remainder
        ((100,), (10000,)),
        ((50, 49.9999999), (5000, 5000)),  # within rounding
        ((33.33, 33.33, 33.33), (3334, 3333, 3333)),  # 0.3333 each: scaled to 100
        ((50, 49.99), (5001, 4999)),  # within 0.01 per weight: scaled to 100
        ((25, 25, 25, 25.0000005), (2500, 2500, 2500, 2500)),
        ((14.2857, 14.2857, 14.2857, 14.2857, 14.2857, 14.2857, 14.2858), None),
    ],
)
def test_weights_to_basis_points(
    weights: tuple[float, ...], expected: tuple[int, ...] | None
) -> None:
    basis_points = weights_to_basis_points(weights)
    assert sum(basis_points) == BUCKETS
    assert all(type(value) is int for value in basis_points)
    if expected is not None:
        assert basis_points == expected
    scale = 100 / sum(weights)  # a sum within rounding of 100 is scaled to it
    for weight, value in zip(weights, basis_points, strict=True):
        assert abs(value - weight * scale * 100) < 1


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12))
def test_largest_remainder_sums_to_the_bucket_count(raw: list[int]) -> None:
    if sum(raw) == 0:
        raw = [*raw[:-1], 1]
    weights = [100 * value / sum(raw) for value in raw]
    basis_points = weights_to_basis_points(weights)
    assert sum(basis_points) == BUCKETS
    for weight, value in zip(weights, basis_points, strict=True):
        assert math.floor(weight * 100 - 1e-6) <= value <= math.ceil(weight * 100 + 1e-6)
        if weight == 0:
            assert value == 0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ((50, 49), "must sum to 100, got 99"),
        ((60, 60), "must sum to 100, got 120"),
        ((50, 49.97), "got 99.97"),  # beyond 0.01 per weight
        ((33.3, 33.3, 33.3), "got 99.9"),
        ((50, 50.03), "got 100.03"),
        ((110, -10), "#2 must be a finite number >= 0, got -10"),
        ((50, math.nan), "finite"),
        ((math.inf, 50), "finite"),
        ((10**400, 0), "finite"),
        ((True, 99), "must be a number, got bool"),
        (("50", 50), "must be a number, got str"),
        ((None, 100), "NoneType"),
        ((), "at least one weight"),
    ],
)
def test_invalid_weights_raise(weights: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        weights_to_basis_points(weights)  # type: ignore[arg-type]
    assert raised.value.details["field"] == "weights"
    assert "\n" not in raised.value.message


def test_weight_errors_name_the_variant_when_labelled() -> None:
    with pytest.raises(ValidationError, match="variant 'treatment' must be a finite"):
        weights_to_basis_points((100, -1), labels=["'control'", "'treatment'"])


def test_weight_sum_error_carries_the_sum() -> None:
    with pytest.raises(ValidationError) as raised:
        weights_to_basis_points((30, 30, 30))
    assert raised.value.details["sum"] == pytest.approx(90)


@pytest.mark.parametrize(
    ("basis_points", "coverage", "expected"),
    [
        ((5000, 5000), 100, ((0, 5000), (5000, 10000))),
        ((5000, 5000), 50, ((0, 2500), (5000, 7500))),
        ((5000, 5000), 0.01, ((0, 0), (5000, 5000))),  # half a bucket rounds to even: none
        ((5000, 5000), 0.03, ((0, 2), (5000, 5002))),
        ((9000, 1000), 10, ((0, 900), (9000, 9100))),
        ((3334, 3333, 3333), 50, ((0, 1667), (3334, 5000), (6667, 8333))),
        ((0, 10000), 100, ((0, 0), (0, 10000))),
        ((10000, 0), 33.33, ((0, 3333), (10000, 10000))),
    ],
)
def test_bucket_ranges(
    basis_points: tuple[int, ...], coverage: float, expected: tuple[tuple[int, int], ...]
) -> None:
    assert bucket_ranges(basis_points, coverage) == expected


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=6),
    low=st.floats(min_value=0.01, max_value=100),
    high=st.floats(min_value=0.01, max_value=100),
)
def test_raising_coverage_only_extends_ranges(raw: list[int], low: float, high: float) -> None:
    if sum(raw) == 0:
        raw = [*raw[:-1], 1]
    low, high = min(low, high), max(low, high)
    basis_points = weights_to_basis_points([100 * value / sum(raw) for value in raw])
    narrow, wide = bucket_ranges(basis_points, low), bucket_ranges(basis_points, high)
    for (narrow_start, narrow_end), (wide_start, wide_end), weight in zip(
        narrow, wide, basis_points, strict=True
    ):
        assert narrow_start == wide_start
        assert narrow_start <= narrow_end <= wide_end <= wide_start + weight


@pytest.mark.parametrize("coverage", [0, -1, 100.0001, math.nan, math.inf, True, "50", None])
def test_invalid_coverage_raises(coverage: object) -> None:
    with pytest.raises(ValidationError, match=r"coverage must be a percentage in \(0, 100\]"):
        bucket_ranges((5000, 5000), coverage)  # type: ignore[arg-type]
