"""CUPED for ratio metrics: the delta method on linearised values, adjusted by a covariate.

A ratio metric (accuracy = correct / labelled predictions per unit) is compared by the delta
method: each unit's contribution is linearised, and the ratio behaves like the mean of the
linearised values. CUPED then adjusts that mean by the mean of the linearised pre-experiment
ratio of the same units (accuracy over a window before the experiment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ablab.stats._comparison import compare
from ablab.stats._validation import Alternative, check_alpha, check_alternative
from ablab.stats.moments import ROUNDING_FLOOR
from ablab.stats.ratio import ratio_residuals, unavailable_ratio_result
from ablab.stats.ratio_covariate_moments import RatioCovariateMoments
from ablab.stats.results import ComparisonResult

__all__ = ["ratio_cuped_test"]

METHOD = "cuped_ratio_delta_method"


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
    ratio, denominator_mean, metric_residual = ratio_residuals(statistics.metric)
    if not with_covariate:
        return _Linearised(ratio, denominator_mean, metric_residual)
    covariate_ratio, covariate_denominator_mean, covariate_residual = ratio_residuals(
        statistics.covariate
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
        covariate_denominator_mean,
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
    if adjusted_variance <= ROUNDING_FLOOR * (raw_variance + theta * theta * covariate_variance):
        adjusted_variance = 0.0
    adjusted = linearised.ratio - theta * (linearised.covariate_ratio - pooled_covariate_ratio)
    return adjusted, adjusted_variance, raw_variance


def ratio_cuped_test(
    control: RatioCovariateMoments,
    treatment: RatioCovariateMoments,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
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
    not_estimable = unavailable_ratio_result(
        METHOD, control.metric, treatment.metric, level, hypothesis
    )
    if not_estimable is not None:
        return not_estimable
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
