"""Sums for a ratio metric and a pre-experiment ratio covariate: the input of ratio CUPED.

This record belongs with the other sufficient statistics of :mod:`ablab.stats.moments`, and
its docstring lists it there; it has a module of its own because its 15 sums, their checks,
``from_values`` and ``+`` would take moments.py from about 350 lines to about 500, past the
~400 at which a file starts to hold two jobs. :mod:`ablab.stats.ratio_cuped` holds the test
that reads it.

Examples:
    >>> from ablab.stats import RatioCovariateMoments
    >>> whole = RatioCovariateMoments.from_values([3, 1, 2], [4, 2, 3], [2, 2, 1], [3, 4, 2])
    >>> parts = RatioCovariateMoments.from_values(
    ...     [3, 1], [4, 2], [2, 2], [3, 4]
    ... ) + RatioCovariateMoments.from_values([2], [3], [1], [2])
    >>> parts == whole
    True
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from numpy.typing import ArrayLike

from ablab.errors import ValidationError
from ablab.stats.moments import RatioMoments, _check_sums, as_vector

__all__ = ["RatioCovariateMoments"]

_SQUARES = (
    "numerator_sum_sq",
    "denominator_sum_sq",
    "covariate_numerator_sum_sq",
    "covariate_denominator_sum_sq",
)


@dataclass(frozen=True, slots=True)
class RatioCovariateMoments:
    """Sums for a ratio metric and a pre-experiment ratio covariate, for CUPED.

    For each unit ``i`` with metric numerator ``y_i`` (correct predictions), metric
    denominator ``x_i`` (labelled predictions), covariate numerator ``u_i`` and covariate
    denominator ``v_i`` (the same counts before the experiment), the record holds ``n`` and
    the sums of each, of their squares and of the products the delta method needs.

    Attributes:
        n: Number of units (the unit of randomisation).
        numerator_sum: Sum of ``y``.
        numerator_sum_sq: Sum of ``y**2``.
        denominator_sum: Sum of ``x``.
        denominator_sum_sq: Sum of ``x**2``.
        numerator_denominator_sum: Sum of ``x*y``.
        covariate_numerator_sum: Sum of ``u``.
        covariate_numerator_sum_sq: Sum of ``u**2``.
        covariate_denominator_sum: Sum of ``v``.
        covariate_denominator_sum_sq: Sum of ``v**2``.
        covariate_numerator_denominator_sum: Sum of ``u*v``.
        numerator_covariate_numerator_sum: Sum of ``y*u``.
        numerator_covariate_denominator_sum: Sum of ``y*v``.
        denominator_covariate_numerator_sum: Sum of ``x*u``.
        denominator_covariate_denominator_sum: Sum of ``x*v``.
    """

    n: int
    numerator_sum: float
    numerator_sum_sq: float
    denominator_sum: float
    denominator_sum_sq: float
    numerator_denominator_sum: float
    covariate_numerator_sum: float
    covariate_numerator_sum_sq: float
    covariate_denominator_sum: float
    covariate_denominator_sum_sq: float
    covariate_numerator_denominator_sum: float
    numerator_covariate_numerator_sum: float
    numerator_covariate_denominator_sum: float
    denominator_covariate_numerator_sum: float
    denominator_covariate_denominator_sum: float

    def __post_init__(self) -> None:
        sums = tuple((field.name, getattr(self, field.name)) for field in fields(self)[1:])
        _check_sums(self.n, sums, _SQUARES)

    @classmethod
    def empty(cls) -> RatioCovariateMoments:
        """The statistics of no units: the identity of ``+``."""
        return cls(0, *(0.0,) * 14)

    @classmethod
    def from_values(
        cls,
        numerator: ArrayLike,
        denominator: ArrayLike,
        covariate_numerator: ArrayLike,
        covariate_denominator: ArrayLike,
    ) -> RatioCovariateMoments:
        """Compute the statistics from per-unit metric and covariate numerators and denominators.

        Examples:
            >>> moments = RatioCovariateMoments.from_values([3, 1], [4, 2], [2, 2], [3, 4])
            >>> moments.metric.ratio, moments.covariate.ratio
            (0.6666666666666666, 0.5714285714285714)
        """
        y = as_vector(numerator, "numerator")
        x = as_vector(denominator, "denominator")
        u = as_vector(covariate_numerator, "covariate_numerator")
        v = as_vector(covariate_denominator, "covariate_denominator")
        sizes = {
            "numerator": int(y.size),
            "denominator": int(x.size),
            "covariate_numerator": int(u.size),
            "covariate_denominator": int(v.size),
        }
        if len(set(sizes.values())) != 1:
            raise ValidationError(
                "numerator, denominator, covariate_numerator and covariate_denominator must "
                "have the same length",
                details=sizes,
            )
        return cls(
            int(y.size),
            float(y.sum()),
            float(y @ y),
            float(x.sum()),
            float(x @ x),
            float(x @ y),
            float(u.sum()),
            float(u @ u),
            float(v.sum()),
            float(v @ v),
            float(u @ v),
            float(y @ u),
            float(y @ v),
            float(x @ u),
            float(x @ v),
        )

    def __add__(self, other: RatioCovariateMoments) -> RatioCovariateMoments:
        if not isinstance(other, RatioCovariateMoments):
            return NotImplemented
        # Every field is a count or a sum over units, so the union of two sets of units adds
        # them field by field.
        return RatioCovariateMoments(
            *(getattr(self, field.name) + getattr(other, field.name) for field in fields(self))
        )

    @property
    def metric(self) -> RatioMoments:
        """The metric alone, as :func:`ablab.stats.ratio_test` analyses it without CUPED."""
        return RatioMoments(
            self.n,
            self.numerator_sum,
            self.numerator_sum_sq,
            self.denominator_sum,
            self.denominator_sum_sq,
            self.numerator_denominator_sum,
        )

    @property
    def covariate(self) -> RatioMoments:
        """The pre-experiment ratio alone."""
        return RatioMoments(
            self.n,
            self.covariate_numerator_sum,
            self.covariate_numerator_sum_sq,
            self.covariate_denominator_sum,
            self.covariate_denominator_sum_sq,
            self.covariate_numerator_denominator_sum,
        )
