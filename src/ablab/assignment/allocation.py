"""Traffic allocation: variant weights in percent to whole basis points and bucket ranges.

Weights arrive as percentages ((50, 50), (33.34, 33.33, 33.33)) and must become integer
numbers of buckets that add up to exactly ``BUCKETS``. Arithmetic runs on the decimal value of
each weight as written (0.29 is 29 basis points, not 28.999999999999996), so the result does
not depend on binary floating-point noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from numbers import Real

from ablab.assignment.hashing import BUCKETS
from ablab.errors import ValidationError

__all__ = ["bucket_ranges", "require_coverage", "weights_to_basis_points"]

_WEIGHT_TOTAL = Decimal(100)
# Weights written with two decimals of a percentage (0.3333 of the traffic, three times)
# miss 100 by up to 0.01 each: such a sum is taken as 100, each weight scaled to it.
_ROUNDING_PER_WEIGHT = Decimal("0.01")
_BASIS_POINTS_PER_PERCENT = BUCKETS // 100


def weights_to_basis_points(
    weights: Sequence[float], *, labels: Sequence[str] | None = None
) -> tuple[int, ...]:
    """Convert percentage weights to basis points that sum to exactly ``BUCKETS``.

    Uses the largest-remainder (Hamilton) method: every weight gets the floor of its exact
    share, then the buckets still missing go one each to the largest fractional parts, ties
    to the earlier variant (control first). No weight moves by a whole basis point or more,
    and a weight of zero always stays zero.

    Args:
        weights: Percentages, each ``>= 0``, summing to 100 within 0.01 per weight (the
            rounding of two decimals); a sum off 100 by that much scales every weight to it.
        labels: Names used in error messages, one per weight (default: "#1", "#2", ...).

    Returns:
        One integer number of buckets per weight, in order, summing to ``BUCKETS``.

    Raises:
        ValidationError: a weight is not a finite number, is negative, there are none, or
            they do not sum to 100.

    References:
        Balinski, M. L. and Young, H. P. (2001). Fair Representation, 2nd ed., ch. 2
        (Hamilton's method of largest remainders).

    Examples:
        >>> weights_to_basis_points((50, 50))
        (5000, 5000)
        >>> weights_to_basis_points((33.34, 33.33, 33.33))
        (3334, 3333, 3333)
        >>> weights_to_basis_points((100 / 3, 100 / 3, 100 / 3))
        (3334, 3333, 3333)
        >>> weights_to_basis_points((33.33, 33.33, 33.33))
        (3334, 3333, 3333)
    """
    names = list(labels) if labels is not None else [f"#{i + 1}" for i in range(len(weights))]
    if not weights:
        raise ValidationError("at least one weight is required", details={"field": "weights"})
    exact = [_exact_percent(weight, name) for weight, name in zip(weights, names, strict=True)]
    total = sum(exact, Decimal(0))
    if abs(total - _WEIGHT_TOTAL) > _ROUNDING_PER_WEIGHT * len(exact):
        raise ValidationError(
            f"variant weights must sum to 100, got {float(total):.10g}",
            details={"field": "weights", "sum": float(total)},
        )
    if total != _WEIGHT_TOTAL:
        exact = [percent * _WEIGHT_TOTAL / total for percent in exact]
    shares = [percent * _BASIS_POINTS_PER_PERCENT for percent in exact]
    basis_points = [int(share) for share in shares]  # shares are >= 0: int() is the floor
    # With the sum within 1e-6 percent of 100, 0 <= missing <= the number of non-zero
    # remainders, so zero weights never receive a bucket.
    missing = BUCKETS - sum(basis_points)
    by_remainder = sorted(range(len(shares)), key=lambda i: (basis_points[i] - shares[i], i))
    for index in by_remainder[:missing]:
        basis_points[index] += 1
    return tuple(basis_points)


def bucket_ranges(
    basis_points: Sequence[int], coverage_percent: float = 100.0
) -> tuple[tuple[int, int], ...]:
    """The half-open bucket range ``[start, end)`` of each variant.

    Variant ``i`` starts at the total weight of the variants before it, and covers
    ``round(weight_i * coverage)`` buckets from there (GrowthBook's layout). Raising the coverage
    only extends each range at its end, so every unit already in the experiment keeps its
    variant; units in the gaps are not in the experiment.

    Args:
        basis_points: Variant weights in buckets, summing to ``BUCKETS``.
        coverage_percent: Share of eligible units in the experiment, in ``(0, 100]``.

    Returns:
        One ``(start, end)`` pair per variant.

    References:
        GrowthBook SDK specification, ``getBucketRanges``,
        https://docs.growthbook.io/lib/build-your-own

    Examples:
        >>> bucket_ranges((5000, 5000), coverage_percent=50)
        ((0, 2500), (5000, 7500))
    """
    coverage = _exact_percent(require_coverage(coverage_percent), "coverage") / _WEIGHT_TOTAL
    ranges: list[tuple[int, int]] = []
    start = 0
    for weight in basis_points:
        ranges.append((start, start + round(weight * coverage)))
        start += weight
    return tuple(ranges)


def require_coverage(coverage_percent: object) -> float:
    """Check a coverage percentage and return it as a float.

    Raises:
        ValidationError: it is not a number in ``(0, 100]``.
    """
    if (
        isinstance(coverage_percent, bool)
        or not isinstance(coverage_percent, Real)
        or not 0 < float(coverage_percent) <= 100
    ):
        raise ValidationError(
            f"coverage must be a percentage in (0, 100], got {coverage_percent!r}",
            details={"field": "coverage_percent"},
        )
    return float(coverage_percent)


def _exact_percent(weight: object, name: str) -> Decimal:
    if isinstance(weight, bool) or not isinstance(weight, Real):
        raise ValidationError(
            f"the weight of variant {name} must be a number, got {type(weight).__name__}",
            details={"field": "weights", "variant": name},
        )
    try:
        value = float(weight)
    except OverflowError:  # an int too large for a float is no percentage either
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise ValidationError(
            f"the weight of variant {name} must be a finite number >= 0, got {weight!r}",
            details={"field": "weights", "variant": name},
        )
    # repr() is the shortest decimal that round-trips: the number the user wrote.
    return Decimal(repr(value))
