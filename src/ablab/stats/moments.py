"""Sufficient statistics: additive sums that a database can compute in one pass.

Every statistical method in :mod:`ablab.stats` runs on these records alone. Each is a frozen,
slotted dataclass of counts and sums, so partial results (per day, per shard, per warehouse
partition) merge with ``+`` and the merged record equals the record of all the data at once.
``empty()`` is the identity of ``+``.

* :class:`Moments` -- ``n, sum, sum_sq`` of a unit-level metric. A proportion (conversion,
  pass/fail) is a :class:`Moments` whose values are 0 or 1, so ``sum_sq == sum``.
* :class:`RatioMoments` -- a per-unit ratio metric (accuracy = correct / labelled
  predictions per unit): the sums of numerator, denominator, their squares and their product.
* :class:`CovariateMoments` -- a metric and a pre-experiment covariate for CUPED: the sums of
  both, their squares and their product.
* :class:`ablab.stats.RatioCovariateMoments` -- a ratio metric and a pre-experiment ratio
  covariate for ratio CUPED; its 15 sums live in :mod:`ablab.stats.ratio_covariate_moments`
  to keep this file small.

Examples:
    >>> from ablab.stats import Moments
    >>> whole = Moments.from_values([1.0, 2.0, 3.0, 4.0])
    >>> parts = Moments.from_values([1.0, 2.0]) + Moments.from_values([3.0, 4.0])
    >>> parts == whole
    True
    >>> whole.mean, round(whole.variance, 6)
    (2.5, 1.666667)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ablab.errors import ValidationError
from ablab.stats._validation import check_count, check_finite

__all__ = ["CovariateMoments", "Moments", "RatioMoments"]

# Every variance in ablab.stats is computed from raw sums (sum_sq - sum**2 / n, and the ratio
# residual and CUPED-adjusted sums built the same way): the difference of two large, nearly
# equal numbers. Each float64 addition into a sum adds relative error of about 1e-16, so over
# the many rows a database adds up the difference can keep a residue well above machine
# precision when the true variance is 0 (every unit has the same value). A centred sum of
# squares below this fraction of the raw sum of squares is therefore rounding, not variance:
# it is set to 0, so the result says zero_variance instead of testing noise. 1e-10 is the
# worst-case residue of about a million additions (1e6 x 1e-16); a real spread that small
# (centred / raw = cv**2 / (1 + cv**2), so a coefficient of variation near 1e-5) is far below
# anything an A/B test could detect.
ROUNDING_FLOOR = 1e-10


def centered_sum_of_squares(n: int, total: float, total_sq: float) -> float:
    """``sum((x - mean)**2)`` from raw sums of ``n > 0`` values, zero below rounding noise."""
    centered = total_sq - total * total / n
    if centered <= ROUNDING_FLOOR * total_sq:
        return 0.0
    return centered


def as_vector(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValidationError(
            f"{name} must be a one-dimensional array, got shape {array.shape}",
            details={"argument": name, "shape": list(array.shape)},
        )
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"{name} contains NaN or infinite values", details={"argument": name})
    return array


def _check_sums(n: int, sums: Sequence[tuple[str, float]], squares: Sequence[str]) -> None:
    check_count(n, "n")
    for name, value in sums:
        check_finite(value, name)
        if name in squares and value < 0.0:
            raise ValidationError(
                f"{name} is a sum of squares and cannot be negative, got {value!r}",
                details={name: value},
            )
        if n == 0 and value != 0.0:
            raise ValidationError(
                f"{name} must be 0 when n is 0, got {value!r}", details={name: value, "n": 0}
            )


def _is_plain_sums(n: object, total: object, total_sq: object) -> bool:
    """The common case, checked without the slower generic path: plain, valid numbers."""
    return (
        type(n) is int
        and n > 0
        and type(total) is float
        and type(total_sq) is float
        and math.isfinite(total)
        and 0.0 <= total_sq < math.inf
    )


@dataclass(frozen=True, slots=True)
class Moments:
    """Count, sum and sum of squares of a unit-level metric in one arm.

    Attributes:
        n: Number of units.
        sum: Sum of the metric over units.
        sum_sq: Sum of the squared metric over units.
    """

    n: int
    sum: float
    sum_sq: float

    def __post_init__(self) -> None:
        if not _is_plain_sums(self.n, self.sum, self.sum_sq):
            _check_sums(self.n, (("sum", self.sum), ("sum_sq", self.sum_sq)), ("sum_sq",))

    @classmethod
    def empty(cls) -> Moments:
        """The statistics of no units: the identity of ``+``."""
        return cls(0, 0.0, 0.0)

    @classmethod
    def from_values(cls, values: ArrayLike) -> Moments:
        """Compute the statistics of a one-dimensional array of per-unit values."""
        array = as_vector(values, "values")
        return cls(int(array.size), float(array.sum()), float(array @ array))

    @classmethod
    def from_successes(cls, successes: int, n: int) -> Moments:
        """The statistics of a proportion: ``successes`` ones among ``n`` units.

        Examples:
            >>> Moments.from_successes(3, 10)
            Moments(n=10, sum=3.0, sum_sq=3.0)
        """
        check_count(successes, "successes")
        check_count(n, "n")
        if successes > n:
            raise ValidationError(
                f"successes ({successes}) cannot exceed n ({n})",
                details={"successes": successes, "n": n},
            )
        return cls(n, float(successes), float(successes))

    def __add__(self, other: Moments) -> Moments:
        if not isinstance(other, Moments):
            return NotImplemented
        return Moments(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    def scaled(self, factor: float) -> Moments:
        """The statistics of ``factor * x``: the sum times ``factor``, squares times its square.

        Examples:
            >>> Moments(2, 3.0, 5.0).scaled(2.0)
            Moments(n=2, sum=6.0, sum_sq=20.0)
        """
        return Moments(self.n, factor * self.sum, factor * factor * self.sum_sq)

    @property
    def mean(self) -> float:
        """The arithmetic mean; NaN when there are no units."""
        return self.sum / self.n if self.n > 0 else math.nan

    @property
    def variance(self) -> float:
        """The sample variance (divisor ``n - 1``); NaN with fewer than two units."""
        if self.n < 2:
            return math.nan
        return centered_sum_of_squares(self.n, self.sum, self.sum_sq) / (self.n - 1)


@dataclass(frozen=True, slots=True)
class RatioMoments:
    """Sums for a per-unit ratio metric, analysed by the delta method.

    For each unit ``i`` with numerator ``y_i`` (say correct predictions) and denominator
    ``x_i`` (labelled predictions), the record holds ``n`` and the sums of ``y``, ``y**2``,
    ``x``, ``x**2`` and ``x*y``. The metric is ``sum(y) / sum(x)``.

    Attributes:
        n: Number of units (the unit of randomisation).
        numerator_sum: Sum of numerators.
        numerator_sum_sq: Sum of squared numerators.
        denominator_sum: Sum of denominators.
        denominator_sum_sq: Sum of squared denominators.
        numerator_denominator_sum: Sum of numerator times denominator.
    """

    n: int
    numerator_sum: float
    numerator_sum_sq: float
    denominator_sum: float
    denominator_sum_sq: float
    numerator_denominator_sum: float

    def __post_init__(self) -> None:
        _check_sums(
            self.n,
            (
                ("numerator_sum", self.numerator_sum),
                ("numerator_sum_sq", self.numerator_sum_sq),
                ("denominator_sum", self.denominator_sum),
                ("denominator_sum_sq", self.denominator_sum_sq),
                ("numerator_denominator_sum", self.numerator_denominator_sum),
            ),
            ("numerator_sum_sq", "denominator_sum_sq"),
        )

    @classmethod
    def empty(cls) -> RatioMoments:
        """The statistics of no units: the identity of ``+``."""
        return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_values(cls, numerator: ArrayLike, denominator: ArrayLike) -> RatioMoments:
        """Compute the statistics from per-unit numerators and denominators.

        Examples:
            >>> RatioMoments.from_values([3, 1], [4, 2])
            RatioMoments(n=2, numerator_sum=4.0, numerator_sum_sq=10.0, denominator_sum=6.0, \
denominator_sum_sq=20.0, numerator_denominator_sum=14.0)
        """
        y = as_vector(numerator, "numerator")
        x = as_vector(denominator, "denominator")
        if y.size != x.size:
            raise ValidationError(
                "numerator and denominator must have the same length",
                details={"numerator": int(y.size), "denominator": int(x.size)},
            )
        return cls(
            int(y.size), float(y.sum()), float(y @ y), float(x.sum()), float(x @ x), float(x @ y)
        )

    def __add__(self, other: RatioMoments) -> RatioMoments:
        if not isinstance(other, RatioMoments):
            return NotImplemented
        return RatioMoments(
            self.n + other.n,
            self.numerator_sum + other.numerator_sum,
            self.numerator_sum_sq + other.numerator_sum_sq,
            self.denominator_sum + other.denominator_sum,
            self.denominator_sum_sq + other.denominator_sum_sq,
            self.numerator_denominator_sum + other.numerator_denominator_sum,
        )

    def scaled_numerator(self, factor: float) -> RatioMoments:
        """The sums of the ratio ``factor * y / x``: ``y``'s sums scaled, ``x``'s kept.

        The ratio and its delta-method standard error scale by ``factor`` (``|factor|``),
        which is how a margin such as "at most 10% above the control" becomes a test of
        ``treatment - 1.1 * control`` against 0.

        Examples:
            >>> RatioMoments(2, 3.0, 5.0, 4.0, 8.0, 6.0).scaled_numerator(2.0).ratio
            1.5
        """
        return RatioMoments(
            self.n,
            factor * self.numerator_sum,
            factor * factor * self.numerator_sum_sq,
            self.denominator_sum,
            self.denominator_sum_sq,
            factor * self.numerator_denominator_sum,
        )

    @property
    def numerator(self) -> Moments:
        """The numerator as a unit-level metric."""
        return Moments(self.n, self.numerator_sum, self.numerator_sum_sq)

    @property
    def denominator(self) -> Moments:
        """The denominator as a unit-level metric."""
        return Moments(self.n, self.denominator_sum, self.denominator_sum_sq)

    @property
    def ratio(self) -> float:
        """``sum(numerator) / sum(denominator)``; NaN when the denominator sums to zero."""
        if self.denominator_sum == 0.0:
            return math.nan
        return self.numerator_sum / self.denominator_sum


@dataclass(frozen=True, slots=True)
class CovariateMoments:
    """Sums of a metric ``y`` and a pre-experiment covariate ``x`` for CUPED.

    Attributes:
        n: Number of units.
        metric_sum: Sum of ``y``.
        metric_sum_sq: Sum of ``y**2``.
        covariate_sum: Sum of ``x``.
        covariate_sum_sq: Sum of ``x**2``.
        metric_covariate_sum: Sum of ``x*y``.
    """

    n: int
    metric_sum: float
    metric_sum_sq: float
    covariate_sum: float
    covariate_sum_sq: float
    metric_covariate_sum: float

    def __post_init__(self) -> None:
        _check_sums(
            self.n,
            (
                ("metric_sum", self.metric_sum),
                ("metric_sum_sq", self.metric_sum_sq),
                ("covariate_sum", self.covariate_sum),
                ("covariate_sum_sq", self.covariate_sum_sq),
                ("metric_covariate_sum", self.metric_covariate_sum),
            ),
            ("metric_sum_sq", "covariate_sum_sq"),
        )

    @classmethod
    def empty(cls) -> CovariateMoments:
        """The statistics of no units: the identity of ``+``."""
        return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_values(cls, metric: ArrayLike, covariate: ArrayLike) -> CovariateMoments:
        """Compute the statistics from per-unit metric and covariate values."""
        y = as_vector(metric, "metric")
        x = as_vector(covariate, "covariate")
        if y.size != x.size:
            raise ValidationError(
                "metric and covariate must have the same length",
                details={"metric": int(y.size), "covariate": int(x.size)},
            )
        return cls(
            int(y.size), float(y.sum()), float(y @ y), float(x.sum()), float(x @ x), float(x @ y)
        )

    def __add__(self, other: CovariateMoments) -> CovariateMoments:
        if not isinstance(other, CovariateMoments):
            return NotImplemented
        return CovariateMoments(
            self.n + other.n,
            self.metric_sum + other.metric_sum,
            self.metric_sum_sq + other.metric_sum_sq,
            self.covariate_sum + other.covariate_sum,
            self.covariate_sum_sq + other.covariate_sum_sq,
            self.metric_covariate_sum + other.metric_covariate_sum,
        )

    @property
    def metric(self) -> Moments:
        """The metric alone, as analysed without CUPED."""
        return Moments(self.n, self.metric_sum, self.metric_sum_sq)

    @property
    def covariate(self) -> Moments:
        """The covariate alone."""
        return Moments(self.n, self.covariate_sum, self.covariate_sum_sq)
