"""CUPED: variance reduction with a pre-experiment covariate."""

from __future__ import annotations

import math

from ablab.stats._comparison import compare, unavailable
from ablab.stats._inference import welch_degrees_of_freedom
from ablab.stats._validation import Alternative, check_alpha, check_alternative
from ablab.stats.moments import ROUNDING_FLOOR, CovariateMoments, centered_sum_of_squares
from ablab.stats.results import ComparisonResult, Status

__all__ = ["cuped_test"]

METHOD = "cuped_welch_t_test"


def _cross_sum(statistics: CovariateMoments) -> float:
    return (
        statistics.metric_covariate_sum
        - statistics.metric_sum * statistics.covariate_sum / statistics.n
    )


def pooled_theta(control: CovariateMoments, treatment: CovariateMoments) -> float:
    """``cov(y, x) / var(x)`` over both arms together; 0 when either is constant."""
    pooled = control + treatment
    covariate_sum_sq = centered_sum_of_squares(
        pooled.n, pooled.covariate_sum, pooled.covariate_sum_sq
    )
    metric_sum_sq = centered_sum_of_squares(pooled.n, pooled.metric_sum, pooled.metric_sum_sq)
    if covariate_sum_sq == 0.0 or metric_sum_sq == 0.0:
        # A constant has no covariance; the raw cross sum would only hold rounding error.
        return 0.0
    return _cross_sum(pooled) / covariate_sum_sq


def _arm(
    statistics: CovariateMoments, theta: float, covariate_mean: float
) -> tuple[float, float, float]:
    """Adjusted mean, variance of the adjusted mean, variance of the raw mean."""
    n = statistics.n
    metric_sum_sq = centered_sum_of_squares(n, statistics.metric_sum, statistics.metric_sum_sq)
    covariate_sum_sq = centered_sum_of_squares(
        n, statistics.covariate_sum, statistics.covariate_sum_sq
    )
    cross = _cross_sum(statistics) if metric_sum_sq > 0.0 and covariate_sum_sq > 0.0 else 0.0
    adjusted_sum_sq = metric_sum_sq - 2.0 * theta * cross + theta * theta * covariate_sum_sq
    if adjusted_sum_sq <= ROUNDING_FLOOR * (metric_sum_sq + theta * theta * covariate_sum_sq):
        adjusted_sum_sq = 0.0
    adjusted_mean = statistics.metric_sum / n - theta * (
        statistics.covariate_sum / n - covariate_mean
    )
    scale = 1.0 / ((n - 1) * n)
    return adjusted_mean, adjusted_sum_sq * scale, metric_sum_sq * scale


def cuped_test(
    control: CovariateMoments,
    treatment: CovariateMoments,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Welch's t test on CUPED-adjusted means.

    Each unit's metric ``y`` is adjusted by its pre-experiment covariate ``x``:
    ``y_adj = y - theta (x - mean(x))``, with ``theta = cov(y, x) / var(x)`` estimated on
    both arms pooled (one theta for the experiment, so the adjustment cancels in
    expectation between arms; randomisation makes ``x`` independent of the arm). The
    adjusted mean of an arm is ``mean(y) - theta (mean_arm(x) - mean_pooled(x))`` and the
    variance of adjusted values is ``s_y**2 - 2 theta s_xy + theta**2 s_x**2`` (per arm).
    Theta is treated as known, as in the reference. ``variance_reduction`` is
    ``1 - Var(adjusted difference) / Var(raw difference)``, close to ``rho**2`` for a
    covariate with correlation ``rho``.

    Args:
        control: Control arm sums (see :class:`CovariateMoments`).
        treatment: Treatment arm sums.
        alpha: Significance level; the intervals have confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.

    Returns:
        A :class:`ComparisonResult` with ``variance_reduction`` and ``cuped_theta``;
        statuses as for :func:`welch_t_test`.

    References:
        Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). Improving the Sensitivity of Online
        Controlled Experiments by Utilizing Pre-Experiment Data. WSDM '13, Section 3
        (control variates: ``theta = cov(Y, X) / var(X)``, variance reduced by the factor
        ``1 - rho**2``).

    Examples:
        >>> from ablab.stats import CovariateMoments, cuped_test
        >>> control = CovariateMoments.from_values([10.0, 12.0, 9.0, 14.0], [9, 11, 9, 13])
        >>> treatment = CovariateMoments.from_values([12.0, 13.0, 11.0, 16.0], [10, 11, 9, 14])
        >>> result = cuped_test(control, treatment)
        >>> round(result.cuped_theta, 3), round(result.variance_reduction, 3)
        (1.108, 0.975)
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    control_units, treatment_units = control.n, treatment.n
    if control_units == 0 or treatment_units == 0 or control_units < 2 or treatment_units < 2:
        status = (
            Status.EMPTY_ARM if control_units == 0 or treatment_units == 0 else Status.TOO_FEW_UNITS
        )
        return unavailable(
            METHOD,
            status,
            level,
            hypothesis,
            control_units=control_units,
            treatment_units=treatment_units,
            control_value=control.metric.mean,
            treatment_value=treatment.metric.mean,
        )
    theta = pooled_theta(control, treatment)
    covariate_mean = (control.covariate_sum + treatment.covariate_sum) / (
        control_units + treatment_units
    )
    control_mean, control_variance, control_raw_variance = _arm(control, theta, covariate_mean)
    treatment_mean, treatment_variance, treatment_raw_variance = _arm(
        treatment, theta, covariate_mean
    )
    raw_variance = control_raw_variance + treatment_raw_variance
    adjusted_variance = control_variance + treatment_variance
    variance_reduction = 1.0 - adjusted_variance / raw_variance if raw_variance > 0.0 else math.nan
    if adjusted_variance > 0.0:
        degrees_of_freedom = welch_degrees_of_freedom(
            control_variance, control_units, treatment_variance, treatment_units
        )
    else:
        degrees_of_freedom = math.nan
    return compare(
        METHOD,
        level,
        hypothesis,
        control_units=control_units,
        treatment_units=treatment_units,
        control_value=control_mean,
        control_standard_error=math.sqrt(control_variance),
        treatment_value=treatment_mean,
        treatment_standard_error=math.sqrt(treatment_variance),
        degrees_of_freedom=degrees_of_freedom,
        variance_reduction=variance_reduction,
        cuped_theta=theta,
    )
