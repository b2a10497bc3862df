"""Relative lift ``treatment / control - 1``: its delta-method standard error and Fieller interval.

The interval is Fieller's: the set of ratios ``rho`` that the Wald-type test of
``treatment - rho * control = 0`` keeps. At ``rho = 1`` that test is the comparison's own test
of the difference, so the relative interval excludes 0 exactly when the absolute interval
does, and both agree with the p-value. The delta-method standard error is still reported: it
is the scale of the relative lift that the Bayesian effect model uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ablab.stats._inference import critical_value
from ablab.stats._validation import Alternative, check_alpha, check_alternative

__all__ = ["RelativeLift", "relative_lift"]

Interval = tuple[float, float]
UNBOUNDED: Interval = (-math.inf, math.inf)


@dataclass(frozen=True, slots=True)
class RelativeLift:
    """``treatment / control - 1`` with its standard error and interval.

    Attributes:
        estimate: The relative lift; NaN when the control value is 0.
        standard_error: Its delta-method standard error.
        ci: Fieller's interval at confidence ``1 - alpha`` (one-sided when the test is);
            ``(-inf, inf)`` when the control value is within the critical value's standard
            errors of 0 (no bounded interval exists then).
    """

    estimate: float
    standard_error: float
    ci: Interval


def relative_lift_parts(
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
) -> tuple[float, float]:
    """Estimate and delta-method standard error; both NaN when the control value is 0.

    A control value so close to 0 that the ratio or its standard error overflows (a
    subnormal mean, say) counts as 0 too: the relative lift is undefined at that scale.
    """
    if control_value == 0.0 or math.isnan(control_value):
        return math.nan, math.nan
    ratio = treatment_value / control_value
    standard_error = math.hypot(
        treatment_standard_error / control_value, ratio * control_standard_error / control_value
    )
    if not (math.isfinite(ratio) and math.isfinite(standard_error)):
        return math.nan, math.nan
    return ratio - 1.0, standard_error


def fieller_interval(
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
    *,
    critical: float,
    alternative: Alternative,
) -> Interval:
    """Fieller's interval for ``treatment / control - 1`` from independent estimates.

    With ``c``, ``t``, standard errors ``s_c``, ``s_t`` and ``T(rho) = (t - rho c) /
    sqrt(s_t**2 + rho**2 s_c**2)``, the interval is ``{rho - 1 : |T(rho)| <= q}``: the roots of
    ``(c**2 - q**2 s_c**2) rho**2 - 2 t c rho + t**2 - q**2 s_t**2 = 0``. It is bounded when
    ``A = c**2 - q**2 s_c**2 > 0``; otherwise it is reported as ``(-inf, inf)``. A one-sided
    alternative keeps one root (``T(rho) <= q`` for ``"greater"``, ``>= -q`` for ``"less"``);
    which one depends on the sign of ``c``, since ``T`` falls in ``rho`` when ``c > 0`` and
    rises when ``c < 0``. The roots are written relative to 1 around ``d = t - c`` so that the
    bound next to 0 keeps its precision: ``rho - 1 = (c d + q**2 s_c**2 -/+ sqrt(D)) / A`` with
    ``D = q**2 (c**2 s_t**2 + t**2 s_c**2 - q**2 s_c**2 s_t**2)``.

    References:
        Fieller, E. C. (1954). Some problems in interval estimation. Journal of the Royal
        Statistical Society B 16(2), 175-185 (the interval for a ratio of means).
        Franz, V. H. (2007). Ratios: A short guide to confidence limits and proper use.
        arXiv:0710.2024, Section 3 (the quadratic, its bounded and unbounded cases).
    """
    q_squared = critical * critical
    control_variance = control_standard_error * control_standard_error
    treatment_variance = treatment_standard_error * treatment_standard_error
    leading = control_value * control_value - q_squared * control_variance
    if not leading > 0.0:
        return UNBOUNDED
    discriminant = q_squared * (
        control_value * control_value * treatment_variance
        + treatment_value * treatment_value * control_variance
        - q_squared * control_variance * treatment_variance
    )
    root = math.sqrt(max(0.0, discriminant))
    centre = control_value * (treatment_value - control_value) + q_squared * control_variance
    # The estimate is inside in exact arithmetic; rounding could leave it a bit outside.
    estimate = treatment_value / control_value - 1.0
    low = min((centre - root) / leading, estimate)
    high = max((centre + root) / leading, estimate)
    if alternative == "two-sided":
        return (low, high)
    # Whether the lower root is where T(rho) = +q (c > 0) or -q (c < 0).
    keeps_lower = (alternative == "greater") == (control_value > 0.0)
    return (low, math.inf) if keeps_lower else (-math.inf, high)


def relative_lift(
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    degrees_of_freedom: float = math.inf,
) -> RelativeLift:
    """Relative lift of two independent estimates with Fieller's interval.

    With control estimate ``c`` (standard error ``s_c``) and treatment estimate ``t``
    (``s_t``) from independent arms, the first-order expansion of ``g(c, t) = t / c - 1``
    gives the standard error ``sqrt(s_t**2 / c**2 + t**2 * s_c**2 / c**4)``. The interval is
    Fieller's (see :func:`fieller_interval`) with the normal quantile, or the t quantile
    with ``degrees_of_freedom`` when given (the comparisons pass their Welch degrees of
    freedom so that both intervals invert the same test). It contains the estimate, and it
    excludes 0 exactly when the interval ``t - c -/+ q sqrt(s_c**2 + s_t**2)`` does.

    Args:
        control_value: Control estimate (a mean, a proportion, a ratio).
        control_standard_error: Standard error of ``control_value``.
        treatment_value: Treatment estimate.
        treatment_standard_error: Standard error of ``treatment_value``.
        alpha: One minus the confidence level.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``; one-sided tests get an
            interval with one infinite bound.
        degrees_of_freedom: Degrees of freedom of the critical value; ``inf`` for normal.

    Returns:
        The estimate, its standard error and interval; NaN when the control value is 0.

    References:
        Deng, A., Knoblich, U., Lu, J. (2018). Applying the Delta Method in Metric Analytics:
        A Practical Guide with Novel Ideas. KDD '18, Section 3 (the delta method for the
        percent change between independent arms).
        Fieller, E. C. (1954). Some problems in interval estimation. Journal of the Royal
        Statistical Society B 16(2), 175-185.

    Examples:
        >>> lift = relative_lift(0.10, 0.003, 0.12, 0.003)
        >>> round(lift.estimate, 4), round(lift.standard_error, 4)
        (0.2, 0.0469)
        >>> [round(bound, 4) for bound in lift.ci]
        [0.1121, 0.2963]
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    estimate, standard_error = relative_lift_parts(
        control_value, control_standard_error, treatment_value, treatment_standard_error
    )
    if math.isnan(estimate):
        return RelativeLift(estimate, standard_error, (math.nan, math.nan))
    critical = critical_value(level, degrees_of_freedom, hypothesis)
    ci = fieller_interval(
        control_value,
        control_standard_error,
        treatment_value,
        treatment_standard_error,
        critical=critical,
        alternative=hypothesis,
    )
    return RelativeLift(estimate, standard_error, ci)
