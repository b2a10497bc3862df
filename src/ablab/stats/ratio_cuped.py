"""CUPED for ratio metrics: the delta method on linearised values, adjusted by a covariate.

A ratio metric (accuracy = correct / labelled predictions per unit) is compared by the delta
method: each unit's contribution is linearised, and the ratio behaves like the mean of the
linearised values. CUPED then adjusts that mean by the mean of the linearised pre-experiment
ratio of the same units (accuracy over a window before the experiment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from numpy.typing import ArrayLike

from ablab.errors import ValidationError
from ablab.stats._comparison import compare, unavailable
from ablab.stats._validation import check_alpha, check_alternative
from ablab.stats.moments import RatioMoments, _check_sums, as_vector
from ablab.stats.results import ComparisonResult, Status

__all__ = ["RatioCovariateMoments", "ratio_cuped_test"]

METHOD = "cuped_ratio_delta_method"

# Below this fraction of the raw second moments, a residual sum of squares is rounding noise.
_ROUNDING_FLOOR = 1e-10

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
        return RatioCovariateMoments(
            self.n + other.n,
            self.numerator_sum + other.numerator_sum,
            self.numerator_sum_sq + other.numerator_sum_sq,
            self.denominator_sum + other.denominator_sum,
            self.denominator_sum_sq + other.denominator_sum_sq,
            self.numerator_denominator_sum + other.numerator_denominator_sum,
            self.covariate_numerator_sum + other.covariate_numerator_sum,
            self.covariate_numerator_sum_sq + other.covariate_numerator_sum_sq,
            self.covariate_denominator_sum + other.covariate_denominator_sum,
            self.covariate_denominator_sum_sq + other.covariate_denominator_sum_sq,
            self.covariate_numerator_denominator_sum + other.covariate_numerator_denominator_sum,
            self.numerator_covariate_numerator_sum + other.numerator_covariate_numerator_sum,
            self.numerator_covariate_denominator_sum + other.numerator_covariate_denominator_sum,
            self.denominator_covariate_numerator_sum + other.denominator_covariate_numerator_sum,
            self.denominator_covariate_denominator_sum
            + other.denominator_covariate_denominator_sum,
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


def _residual_sum_sq(sum_sq: float, ratio: float, denominator_sum_sq: float, cross: float) -> float:
    """``sum((a - ratio b)**2)`` from raw sums, zero below rounding noise.

    The expression is the one of :func:`ablab.stats.ratio.ratio_estimate`, operation for
    operation, so that without a covariate the result is bit-identical to ``ratio_test``.
    """
    squares = sum_sq + ratio * ratio * denominator_sum_sq
    residual = squares - 2.0 * ratio * cross
    if residual <= _ROUNDING_FLOOR * squares:
        return 0.0
    return residual


@dataclass(frozen=True, slots=True)
class _Linearised:
    """Ratios of one group of units and the residual sums behind their linearised values.

    With ``r_i = (y_i - R x_i) / mean(x)`` and ``p_i = (u_i - P v_i) / mean(v)``, both of which
    sum to zero, ``sum(r**2) = metric_residual / mean(x)**2``,
    ``sum(p**2) = covariate_residual / mean(v)**2`` and
    ``sum(r p) = cross_residual / (mean(x) mean(v))``.
    """

    ratio: float
    denominator_mean: float
    metric_residual: float
    covariate_ratio: float = 0.0
    covariate_denominator_mean: float = 1.0
    covariate_residual: float = 0.0
    cross_residual: float = 0.0


def _linearise(statistics: RatioCovariateMoments, with_covariate: bool) -> _Linearised:
    n = statistics.n
    ratio = statistics.numerator_sum / statistics.denominator_sum
    metric_residual = _residual_sum_sq(
        statistics.numerator_sum_sq,
        ratio,
        statistics.denominator_sum_sq,
        statistics.numerator_denominator_sum,
    )
    denominator_mean = statistics.denominator_sum / n
    if not with_covariate:
        return _Linearised(ratio, denominator_mean, metric_residual)
    covariate_ratio = statistics.covariate_numerator_sum / statistics.covariate_denominator_sum
    covariate_residual = _residual_sum_sq(
        statistics.covariate_numerator_sum_sq,
        covariate_ratio,
        statistics.covariate_denominator_sum_sq,
        statistics.covariate_numerator_denominator_sum,
    )
    if metric_residual == 0.0 or covariate_residual == 0.0:
        # A constant has no covariance; the raw cross sum would only hold rounding error.
        cross_residual = 0.0
    else:
        # sum((y - R x)(u - P v)), expanded into the raw product sums.
        cross_residual = (
            statistics.numerator_covariate_numerator_sum
            - ratio * statistics.denominator_covariate_numerator_sum
            - covariate_ratio * statistics.numerator_covariate_denominator_sum
            + ratio * covariate_ratio * statistics.denominator_covariate_denominator_sum
        )
    return _Linearised(
        ratio,
        denominator_mean,
        metric_residual,
        covariate_ratio,
        statistics.covariate_denominator_sum / n,
        covariate_residual,
        cross_residual,
    )


def _pooled_theta(
    control: RatioCovariateMoments, treatment: RatioCovariateMoments
) -> tuple[float, float]:
    """``cov(r, p) / var(p)`` over both arms together, and the pooled covariate ratio.

    Both are 0 when there is no covariate to adjust by: its denominators sum to 0 in an arm
    (no pre-experiment data), or the pooled denominators of either ratio cancel to 0.
    """
    pooled = control + treatment
    if (
        control.covariate_denominator_sum == 0.0
        or treatment.covariate_denominator_sum == 0.0
        or pooled.covariate_denominator_sum == 0.0
        or pooled.denominator_sum == 0.0
    ):
        return 0.0, 0.0
    linearised = _linearise(pooled, with_covariate=True)
    if linearised.covariate_residual == 0.0 or linearised.cross_residual == 0.0:
        return 0.0, linearised.covariate_ratio
    theta = (
        linearised.cross_residual
        * linearised.covariate_denominator_mean
        / (linearised.covariate_residual * linearised.denominator_mean)
    )
    return theta, linearised.covariate_ratio


def _data_status(statistics: RatioCovariateMoments) -> Status:
    if statistics.n == 0:
        return Status.EMPTY_ARM
    if statistics.denominator_sum == 0.0:
        return Status.ZERO_DENOMINATOR
    if statistics.n < 2:
        return Status.TOO_FEW_UNITS
    return Status.OK


def _arm(
    statistics: RatioCovariateMoments, theta: float, pooled_covariate_ratio: float
) -> tuple[float, float, float]:
    """Adjusted ratio, variance of the adjusted ratio, variance of the raw ratio."""
    n = statistics.n
    linearised = _linearise(statistics, with_covariate=theta != 0.0)
    denominator_mean = linearised.denominator_mean
    # The expression of ratio_test, operation for operation: without theta, the same bits.
    raw_variance = linearised.metric_residual / (n - 1) / (n * denominator_mean * denominator_mean)
    if theta == 0.0:
        return linearised.ratio, raw_variance, raw_variance
    covariate_mean = linearised.covariate_denominator_mean
    covariate_variance = (
        linearised.covariate_residual / (n - 1) / (n * covariate_mean * covariate_mean)
    )
    covariance = linearised.cross_residual / (n - 1) / (n * denominator_mean * covariate_mean)
    adjusted_variance = raw_variance - 2.0 * theta * covariance + theta * theta * covariate_variance
    if adjusted_variance <= _ROUNDING_FLOOR * (raw_variance + theta * theta * covariate_variance):
        adjusted_variance = 0.0
    adjusted = linearised.ratio - theta * (linearised.covariate_ratio - pooled_covariate_ratio)
    return adjusted, adjusted_variance, raw_variance


def ratio_cuped_test(
    control: RatioCovariateMoments,
    treatment: RatioCovariateMoments,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> ComparisonResult:
    """Compare a per-unit ratio metric between arms by the delta method with CUPED.

    In an arm with metric ratio ``R = mean(y) / mean(x)`` and covariate ratio
    ``P = mean(u) / mean(v)``, the delta method linearises each unit into
    ``r_i = (y_i - R x_i) / mean(x)`` and ``p_i = (u_i - P v_i) / mean(v)``: to first
    order ``R`` and ``P`` vary like the means of ``R + r`` and ``P + p``, so
    ``Var(R) = var(r) / n``, ``Var(P) = var(p) / n`` and ``Cov(R, P) = cov(r, p) / n``,
    with sample (co)variances computed from the sums. CUPED on the linearised values gives

    * ``theta = cov(r, p) / var(p)`` over both arms pooled (``R``, ``P`` and the means taken
      over both arms, as :func:`ablab.stats.cuped_test` pools its theta), 0 when the
      linearised metric or covariate has no variance;
    * ``R_adj = R - theta (P_arm - P_pooled)`` per arm, ``P_pooled`` the covariate ratio over
      both arms;
    * ``Var(R_adj) = (var(r) - 2 theta cov(r, p) + theta**2 var(p)) / n`` per arm.

    Theta is treated as known, as in the reference. The difference is tested with a z test
    (``degrees_of_freedom`` is ``inf``, as in :func:`ablab.stats.ratio_test`).
    ``variance_reduction`` is ``1 - Var(adjusted difference) / Var(raw difference)``, close to
    ``rho**2`` of the linearised values, and NaN when the raw difference has no variance.
    When the covariate denominators sum to 0 in an arm (no pre-experiment data), there is
    nothing to adjust by: theta is 0 and the result is that of
    :func:`ablab.stats.ratio_test` with this method's name.

    Args:
        control: Control arm sums (see :class:`RatioCovariateMoments`).
        treatment: Treatment arm sums.
        alpha: Significance level; the intervals have confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.

    Returns:
        A :class:`ComparisonResult` with ``variance_reduction`` and ``cuped_theta``;
        ``empty_arm`` when an arm has no units, ``zero_denominator`` when an arm's metric
        denominators sum to 0 (no labels yet), ``too_few_units`` with one unit,
        ``zero_variance`` when the adjusted difference has no variance, ``zero_baseline``
        when the adjusted control ratio is 0.

    References:
        Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). Improving the Sensitivity of Online
        Controlled Experiments by Utilizing Pre-Experiment Data. WSDM '13, Section 3
        (control variates: ``theta = cov(Y, X) / var(X)``, variance reduced by the factor
        ``1 - rho**2``).
        Deng, A., Knoblich, U., Lu, J. (2018). Applying the Delta Method in Metric Analytics:
        A Practical Guide with Novel Ideas. KDD '18, Section 2 (the delta method for a ratio
        of means) and Section 3 (linearisation of ratio metrics into per-unit values, so that
        methods for means such as CUPED apply to ratios).

    Examples:
        >>> from ablab.stats import RatioCovariateMoments, ratio_cuped_test
        >>> control = RatioCovariateMoments.from_values(
        ...     [8, 9, 7, 10, 6], [10, 10, 10, 12, 8], [7, 9, 6, 10, 5], [10, 10, 10, 11, 8]
        ... )
        >>> treatment = RatioCovariateMoments.from_values(
        ...     [9, 10, 9, 11, 8], [10, 11, 10, 12, 9], [7, 9, 8, 10, 6], [10, 11, 10, 12, 8]
        ... )
        >>> result = ratio_cuped_test(control, treatment)
        >>> result.method, round(result.cuped_theta, 3), round(result.variance_reduction, 3)
        ('cuped_ratio_delta_method', 0.465, 0.76)
        >>> round(result.absolute_lift, 4), round(result.standard_error, 4)
        (0.0903, 0.0168)
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    statuses = {_data_status(control), _data_status(treatment)}
    for status in (Status.EMPTY_ARM, Status.ZERO_DENOMINATOR, Status.TOO_FEW_UNITS):
        if status in statuses:
            return unavailable(
                METHOD,
                status,
                level,
                hypothesis,
                control_units=control.n,
                treatment_units=treatment.n,
                control_value=control.metric.ratio,
                treatment_value=treatment.metric.ratio,
            )
    theta, pooled_covariate_ratio = _pooled_theta(control, treatment)
    control_ratio, control_variance, control_raw_variance = _arm(
        control, theta, pooled_covariate_ratio
    )
    treatment_ratio, treatment_variance, treatment_raw_variance = _arm(
        treatment, theta, pooled_covariate_ratio
    )
    raw_variance = control_raw_variance + treatment_raw_variance
    adjusted_variance = control_variance + treatment_variance
    variance_reduction = 1.0 - adjusted_variance / raw_variance if raw_variance > 0.0 else math.nan
    return compare(
        METHOD,
        level,
        hypothesis,
        control_units=control.n,
        treatment_units=treatment.n,
        control_value=control_ratio,
        control_standard_error=math.sqrt(control_variance),
        treatment_value=treatment_ratio,
        treatment_standard_error=math.sqrt(treatment_variance),
        degrees_of_freedom=math.inf,
        variance_reduction=variance_reduction,
        cuped_theta=theta,
    )
