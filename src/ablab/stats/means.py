"""Welch's t test for a difference of means with unequal variances."""

from __future__ import annotations

import math

from ablab.stats._comparison import compare, unavailable
from ablab.stats._inference import welch_degrees_of_freedom
from ablab.stats._validation import Alternative, check_alpha, check_alternative
from ablab.stats.moments import Moments, centered_sum_of_squares
from ablab.stats.results import ComparisonResult, Status

__all__ = ["welch_t_test"]

METHOD = "welch_t_test"


def welch_t_test(
    control: Moments,
    treatment: Moments,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Compare two means with Welch's unequal-variance t test.

    Needs, per arm, ``n``, ``sum`` and ``sum_sq``. With sample variances ``s**2`` (divisor
    ``n - 1``) and ``v = s**2 / n`` per arm, ``t = (mean_t - mean_c) / sqrt(v_c + v_t)`` on
    the Welch-Satterthwaite degrees of freedom
    ``(v_c + v_t)**2 / (v_c**2 / (n_c - 1) + v_t**2 / (n_t - 1))``. The absolute and
    relative intervals use the t quantile on those degrees of freedom: the absolute interval
    is ``lift -/+ q * standard_error`` and the relative one Fieller's, which inverts the same
    t statistic, so both exclude 0 exactly when ``p_value < alpha``.

    Args:
        control: Control arm statistics.
        treatment: Treatment arm statistics.
        alpha: Significance level; the intervals have confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.

    Returns:
        A :class:`ComparisonResult`; ``empty_arm`` when an arm has no units,
        ``too_few_units`` when an arm has one, ``zero_variance`` when both arms are constant,
        ``zero_baseline`` when the control mean is 0.

    References:
        Welch, B. L. (1947). The generalization of "Student's" problem when several different
        population variances are involved. Biometrika 34(1/2), 28-35.
        Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
        components. Biometrics Bulletin 2(6), 110-114.

    Examples:
        >>> from ablab.stats import Moments, welch_t_test
        >>> control = Moments.from_values([12.0, 15.0, 11.0, 14.0, 13.0])
        >>> treatment = Moments.from_values([16.0, 14.0, 18.0, 15.0, 17.0, 16.0])
        >>> result = welch_t_test(control, treatment)
        >>> round(result.absolute_lift, 3), round(result.degrees_of_freedom, 2)
        (3.0, 8.2)
        >>> round(result.p_value, 4)
        0.0107
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    control_units, treatment_units = control.n, treatment.n
    if control_units == 0 or treatment_units == 0:
        return unavailable(
            METHOD,
            Status.EMPTY_ARM,
            level,
            hypothesis,
            control_units=control_units,
            treatment_units=treatment_units,
            control_value=control.mean,
            treatment_value=treatment.mean,
        )
    if control_units < 2 or treatment_units < 2:
        return unavailable(
            METHOD,
            Status.TOO_FEW_UNITS,
            level,
            hypothesis,
            control_units=control_units,
            treatment_units=treatment_units,
            control_value=control.mean,
            treatment_value=treatment.mean,
        )
    control_variance_of_mean = (
        centered_sum_of_squares(control_units, control.sum, control.sum_sq)
        / (control_units - 1)
        / control_units
    )
    treatment_variance_of_mean = (
        centered_sum_of_squares(treatment_units, treatment.sum, treatment.sum_sq)
        / (treatment_units - 1)
        / treatment_units
    )
    if control_variance_of_mean + treatment_variance_of_mean > 0.0:
        degrees_of_freedom = welch_degrees_of_freedom(
            control_variance_of_mean, control_units, treatment_variance_of_mean, treatment_units
        )
    else:
        degrees_of_freedom = math.nan
    return compare(
        METHOD,
        level,
        hypothesis,
        control_units=control_units,
        treatment_units=treatment_units,
        control_value=control.sum / control_units,
        control_standard_error=math.sqrt(control_variance_of_mean),
        treatment_value=treatment.sum / treatment_units,
        treatment_standard_error=math.sqrt(treatment_variance_of_mean),
        degrees_of_freedom=degrees_of_freedom,
    )
