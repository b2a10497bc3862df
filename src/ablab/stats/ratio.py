"""Ratio metrics over units (accuracy = correct / labelled predictions) by the delta method."""

from __future__ import annotations

import math

from ablab.stats._comparison import compare, unavailable
from ablab.stats._validation import Alternative, check_alpha, check_alternative
from ablab.stats.moments import ROUNDING_FLOOR, RatioMoments
from ablab.stats.results import ComparisonResult, Status

__all__ = ["ratio_test"]

METHOD = "ratio_delta_method"


def ratio_residuals(statistics: RatioMoments) -> tuple[float, float, float]:
    """``R = sum(y) / sum(x)``, ``mean(x)`` and ``sum((y - R x)**2)`` of one group of units.

    The residual sum is expanded into raw sums, ``sum(y**2) + R**2 sum(x**2) - 2 R sum(x y)``,
    and set to 0 below rounding noise (:data:`ablab.stats.moments.ROUNDING_FLOOR`).
    :func:`ratio_estimate` and :func:`ablab.stats.ratio_cuped_test` (for the metric and for
    the covariate) both call this one expression, so that without a covariate the CUPED
    result is bit-identical to :func:`ratio_test`. Needs ``n > 0`` and ``sum(x) != 0``.

    Examples:
        >>> # y = [3, 1], x = [4, 2]: R = 2/3, residuals 1/3 and -1/3
        >>> ratio, denominator_mean, residual = ratio_residuals(
        ...     RatioMoments.from_values([3, 1], [4, 2])
        ... )
        >>> round(ratio, 6), denominator_mean, round(residual, 6)
        (0.666667, 3.0, 0.222222)
    """
    ratio = statistics.numerator_sum / statistics.denominator_sum
    squares = statistics.numerator_sum_sq + ratio * ratio * statistics.denominator_sum_sq
    residual = squares - 2.0 * ratio * statistics.numerator_denominator_sum
    if residual <= ROUNDING_FLOOR * squares:
        residual = 0.0
    return ratio, statistics.denominator_sum / statistics.n, residual


def ratio_estimate(statistics: RatioMoments) -> tuple[float, float]:
    """The ratio ``sum(y) / sum(x)`` of one arm and its delta-method standard error.

    The residuals ``r_i = y_i - R x_i`` sum to zero by the definition of ``R``, so their
    sample variance is ``(sum(y**2) - 2 R sum(x y) + R**2 sum(x**2)) / (n - 1)`` and
    ``Var(R) = Var(r) / (n * mean(x)**2)``.
    """
    n = statistics.n
    ratio, denominator_mean, residual_sum_sq = ratio_residuals(statistics)
    variance = residual_sum_sq / (n - 1) / (n * denominator_mean * denominator_mean)
    return ratio, math.sqrt(variance)


def ratio_data_status(n: int, denominator_sum: float) -> Status:
    """Whether one arm's ratio can be estimated: it needs units, labels and two units.

    :func:`unavailable_ratio_result` asks it of each arm, for :func:`ratio_test` and
    :func:`ablab.stats.ratio_cuped_test` alike.

    Examples:
        >>> ratio_data_status(5, 0.0).value, ratio_data_status(5, 12.0).value
        ('zero_denominator', 'ok')
    """
    if n == 0:
        return Status.EMPTY_ARM
    if denominator_sum == 0.0:
        return Status.ZERO_DENOMINATOR
    if n < 2:
        return Status.TOO_FEW_UNITS
    return Status.OK


def unavailable_ratio_result(
    method: str,
    control: RatioMoments,
    treatment: RatioMoments,
    level: float,
    hypothesis: Alternative,
) -> ComparisonResult | None:
    """The result of a ratio test that cannot run, or None when both arms can be estimated.

    The first condition that holds in either arm is reported, in the order empty arm, zero
    denominator, too few units (see :func:`ratio_data_status`). Shared by :func:`ratio_test`
    and :func:`ablab.stats.ratio_cuped_test`, which passes its metric's sums.
    """
    statuses = {
        ratio_data_status(control.n, control.denominator_sum),
        ratio_data_status(treatment.n, treatment.denominator_sum),
    }
    for status in (Status.EMPTY_ARM, Status.ZERO_DENOMINATOR, Status.TOO_FEW_UNITS):
        if status in statuses:
            return unavailable(
                method,
                status,
                level,
                hypothesis,
                control_units=control.n,
                treatment_units=treatment.n,
                control_value=control.ratio,
                treatment_value=treatment.ratio,
            )
    return None


def ratio_test(
    control: RatioMoments,
    treatment: RatioMoments,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Compare a per-unit ratio metric between arms with the delta method.

    The unit of analysis is the unit of randomisation: each unit contributes a numerator
    ``y_i`` (correct predictions) and a denominator ``x_i`` (labelled predictions), and
    the arm's metric is ``R = sum(y) / sum(x)``. A first-order expansion gives
    ``Var(R) = (s_y**2 - 2 R s_xy + R**2 s_x**2) / (n * mean(x)**2)`` with sample
    (co)variances ``s``. The arms are independent, so the difference has variance
    ``Var(R_c) + Var(R_t)``; the test is a z test, the absolute interval inverts it and the
    relative lift gets Fieller's interval on the two ratios (which inverts it too).

    Args:
        control: Control arm sums (see :class:`RatioMoments`).
        treatment: Treatment arm sums.
        alpha: Significance level; the intervals have confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.

    Returns:
        A :class:`ComparisonResult`; ``empty_arm`` when an arm has no units,
        ``zero_denominator`` when an arm's denominators sum to 0 (no labels yet),
        ``too_few_units`` with one unit, ``zero_variance`` when every unit in both arms has
        the same ratio, ``zero_baseline`` when the control ratio is 0.

    References:
        Deng, A., Knoblich, U., Lu, J. (2018). Applying the Delta Method in Metric Analytics:
        A Practical Guide with Novel Ideas. KDD '18, Section 2 (the variance of a ratio of
        means by the delta method).
        Kohavi, R., Tang, D., Xu, Y. (2020). Trustworthy Online Controlled Experiments.
        Cambridge University Press, Chapter 18 (ratio metrics whose analysis unit differs
        from the randomisation unit).

    Examples:
        >>> from ablab.stats import RatioMoments, ratio_test
        >>> control = RatioMoments.from_values([8, 9, 7, 10, 6], [10, 10, 10, 12, 8])
        >>> treatment = RatioMoments.from_values([9, 10, 9, 11, 8], [10, 11, 10, 12, 9])
        >>> result = ratio_test(control, treatment)
        >>> round(result.control_value, 4), round(result.treatment_value, 4)
        (0.8, 0.9038)
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    not_estimable = unavailable_ratio_result(METHOD, control, treatment, level, hypothesis)
    if not_estimable is not None:
        return not_estimable
    control_ratio, control_standard_error = ratio_estimate(control)
    treatment_ratio, treatment_standard_error = ratio_estimate(treatment)
    return compare(
        METHOD,
        level,
        hypothesis,
        control_units=control.n,
        treatment_units=treatment.n,
        control_value=control_ratio,
        control_standard_error=control_standard_error,
        treatment_value=treatment_ratio,
        treatment_standard_error=treatment_standard_error,
        degrees_of_freedom=math.inf,
    )
