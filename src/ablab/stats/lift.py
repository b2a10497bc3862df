"""Relative lift ``treatment / control - 1`` and its delta-method interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ablab.stats._inference import critical_value, interval
from ablab.stats._validation import check_alpha, check_alternative

__all__ = ["RelativeLift", "relative_lift"]

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class RelativeLift:
    """``treatment / control - 1`` with its standard error and interval.

    Attributes:
        estimate: The relative lift; NaN when the control value is 0.
        standard_error: Its delta-method standard error.
        ci: The interval at confidence ``1 - alpha`` (one-sided when the test is).
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


def relative_lift(
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    degrees_of_freedom: float = math.inf,
) -> RelativeLift:
    """Relative lift of two independent estimates with a delta-method interval.

    With control estimate ``c`` (standard error ``s_c``) and treatment estimate ``t``
    (``s_t``) from independent arms, the first-order expansion of ``g(c, t) = t / c - 1``
    gives ``Var(g) = s_t**2 / c**2 + t**2 * s_c**2 / c**4``. The interval is
    ``g -/+ q * sqrt(Var(g))`` with ``q`` the normal quantile, or the t quantile with
    ``degrees_of_freedom`` when given (the comparisons pass their Welch degrees of freedom so
    that both intervals use the same critical value).

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
        Kohavi, R., Tang, D., Xu, Y. (2020). Trustworthy Online Controlled Experiments.
        Cambridge University Press, Chapter 18 (delta method for relative differences).

    Examples:
        >>> lift = relative_lift(0.10, 0.003, 0.12, 0.003)
        >>> round(lift.estimate, 4), round(lift.standard_error, 4)
        (0.2, 0.0469)
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    estimate, standard_error = relative_lift_parts(
        control_value, control_standard_error, treatment_value, treatment_standard_error
    )
    critical = critical_value(level, degrees_of_freedom, hypothesis)
    return RelativeLift(
        estimate, standard_error, interval(estimate, standard_error, critical, hypothesis)
    )
