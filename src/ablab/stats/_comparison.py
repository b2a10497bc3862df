"""Assemble a :class:`ComparisonResult` from two independent arm estimates.

Every fixed-horizon method reduces its sufficient statistics to, per arm, an estimate and
its standard error; this module turns those into the lift, intervals, p-value and status.

One rule holds for every method: the test, the absolute interval and the relative interval
come from one statistic, so ``statistic == absolute_lift / standard_error`` and, at level
``alpha``, ``p_value < alpha`` exactly when the ``1 - alpha`` absolute interval excludes 0,
and (where it is bounded) exactly when the relative interval excludes 0. By default the
statistic is the Wald-type one with the per-arm (unpooled) variances, its interval
``lift -/+ q * standard_error`` and the relative interval Fieller's, which inverts the same
statistic (:func:`ablab.stats.lift.fieller_interval`). A method whose test uses another
variance (the pooled two-proportion z test) passes the intervals that invert its test.
"""

from __future__ import annotations

import math

from ablab.stats._inference import critical_value, interval, p_value
from ablab.stats._validation import Alternative
from ablab.stats.lift import fieller_interval, relative_lift_parts
from ablab.stats.results import NAN_INTERVAL, ComparisonResult, Interval, Status

NAN = math.nan


def unavailable(
    method: str,
    status: Status,
    alpha: float,
    alternative: Alternative,
    *,
    control_units: int,
    treatment_units: int,
    control_value: float = NAN,
    treatment_value: float = NAN,
) -> ComparisonResult:
    """A result for data the method cannot test: only the arm values that exist are kept."""
    return ComparisonResult(
        method=method,
        status=status,
        alternative=alternative,
        alpha=alpha,
        control_units=control_units,
        treatment_units=treatment_units,
        control_value=control_value,
        treatment_value=treatment_value,
        control_standard_error=NAN,
        treatment_standard_error=NAN,
        absolute_lift=treatment_value - control_value,
        absolute_ci=NAN_INTERVAL,
        relative_lift=NAN,
        relative_ci=NAN_INTERVAL,
        standard_error=NAN,
        statistic=NAN,
        degrees_of_freedom=NAN,
        p_value=NAN,
        significant=False,
    )


def compare(
    method: str,
    alpha: float,
    alternative: Alternative,
    *,
    control_units: int,
    treatment_units: int,
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
    degrees_of_freedom: float,
    test_standard_error: float | None = None,
    absolute_ci: Interval | None = None,
    relative_ci: Interval | None = None,
    variance_reduction: float | None = None,
    cuped_theta: float | None = None,
) -> ComparisonResult:
    """Test and intervals for ``treatment_value - control_value``.

    ``test_standard_error`` replaces the standard error of the test statistic (the pooled
    one of the two-proportion z test); it is then the reported ``standard_error``, and the
    caller passes the ``absolute_ci`` and ``relative_ci`` that invert that test (given only
    when the result's status is ``ok``, or ``zero_baseline`` for ``absolute_ci``).
    """
    if test_standard_error is None:
        test_standard_error = math.hypot(control_standard_error, treatment_standard_error)
    difference = treatment_value - control_value
    relative, _ = relative_lift_parts(
        control_value, control_standard_error, treatment_value, treatment_standard_error
    )
    if test_standard_error == 0.0:
        return ComparisonResult(
            method=method,
            status=Status.ZERO_VARIANCE,
            alternative=alternative,
            alpha=alpha,
            control_units=control_units,
            treatment_units=treatment_units,
            control_value=control_value,
            treatment_value=treatment_value,
            control_standard_error=control_standard_error,
            treatment_standard_error=treatment_standard_error,
            absolute_lift=difference,
            absolute_ci=NAN_INTERVAL,
            relative_lift=relative,
            relative_ci=NAN_INTERVAL,
            standard_error=test_standard_error,
            statistic=NAN,
            degrees_of_freedom=NAN,
            p_value=NAN,
            significant=False,
            variance_reduction=variance_reduction,
            cuped_theta=cuped_theta,
        )
    statistic = difference / test_standard_error
    probability = p_value(statistic, degrees_of_freedom, alternative)
    critical = critical_value(alpha, degrees_of_freedom, alternative)
    if absolute_ci is None:
        absolute_ci = interval(difference, test_standard_error, critical, alternative)
    if math.isnan(relative):
        status = Status.ZERO_BASELINE
        relative_ci = NAN_INTERVAL
    else:
        status = Status.OK
        if relative_ci is None:
            relative_ci = fieller_interval(
                control_value,
                control_standard_error,
                treatment_value,
                treatment_standard_error,
                critical=critical,
                alternative=alternative,
            )
    return ComparisonResult(
        method=method,
        status=status,
        alternative=alternative,
        alpha=alpha,
        control_units=control_units,
        treatment_units=treatment_units,
        control_value=control_value,
        treatment_value=treatment_value,
        control_standard_error=control_standard_error,
        treatment_standard_error=treatment_standard_error,
        absolute_lift=difference,
        absolute_ci=absolute_ci,
        relative_lift=relative,
        relative_ci=relative_ci,
        standard_error=test_standard_error,
        statistic=statistic,
        degrees_of_freedom=degrees_of_freedom,
        p_value=probability,
        significant=probability < alpha,
        variance_reduction=variance_reduction,
        cuped_theta=cuped_theta,
    )
