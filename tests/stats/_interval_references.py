"""Independent references for the intervals that invert a test (not collected as tests).

Each inverts a test statistic by root-finding on its definition (scipy), so that neither
Fieller's closed form nor the closed-form restricted likelihood of ablab.stats is checked
against itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import optimize


def _invert(
    statistic: Callable[[float], float], estimate: float, low: float, high: float, critical: float
) -> tuple[float, float]:
    """``{x : |statistic(x)| <= critical}`` for a statistic falling through 0 at ``estimate``."""
    lower = optimize.brentq(lambda x: statistic(x) - critical, low, estimate, xtol=1e-15)
    upper = optimize.brentq(lambda x: statistic(x) + critical, estimate, high, xtol=1e-15)
    return lower, upper


def fieller_by_inversion(
    control: float, control_se: float, treatment: float, treatment_se: float, critical: float
) -> tuple[float, float]:
    """The ratios ``rho`` whose Wald test of ``treatment - rho control = 0`` is kept, minus 1.

    For ``control > 0`` the statistic falls in ``rho`` over the whole interval.
    """
    assert control > 0

    def statistic(rho: float) -> float:
        return (treatment - rho * control) / math.hypot(treatment_se, rho * control_se)

    estimate = treatment / control
    width = 1.0 + abs(estimate)
    low, high = estimate - width, estimate + width
    while statistic(low) < critical:
        low -= width
        width *= 2
    while statistic(high) > -critical:
        high += width
        width *= 2
    lower, upper = _invert(statistic, estimate, low, high, critical)
    return lower - 1.0, upper - 1.0


def restricted_rates(
    control_successes: int,
    control_units: int,
    treatment_successes: int,
    treatment_units: int,
    delta: float,
) -> tuple[float, float]:
    """``(p_c, p_t)`` maximising the binomial likelihood under ``p_t - p_c = delta``.

    The log-likelihood is concave in ``p_c``; its derivative is found by Brent's method
    (to full precision, unlike a minimiser, whose accuracy in ``x`` is only about the square
    root of the machine epsilon). Its maximum is on the boundary when the derivative does
    not change sign inside.
    """

    def derivative(control: float) -> float:
        treatment = control + delta
        total = 0.0
        for successes, units, rate in (
            (control_successes, control_units, control),
            (treatment_successes, treatment_units, treatment),
        ):
            # A rate rounded onto 0 or 1 leaves its term infinite, as it is in the limit.
            if successes:
                total += successes / rate if rate > 0.0 else math.inf
            if units - successes:
                total -= (units - successes) / (1.0 - rate) if rate < 1.0 else math.inf
        return total

    low, high = max(0.0, -delta), min(1.0, 1.0 - delta)
    inner_low = low + 1e-300 if low == 0.0 else math.nextafter(low, 1.0)
    inner_high = math.nextafter(high, 0.0)
    if derivative(inner_low) <= 0.0:
        control = low
    elif derivative(inner_high) >= 0.0:
        control = high
    else:
        control = optimize.brentq(derivative, inner_low, inner_high, xtol=1e-300, rtol=1e-15)
    return float(control), float(control) + delta


def score_difference_by_inversion(
    control_successes: int,
    control_units: int,
    treatment_successes: int,
    treatment_units: int,
    critical: float,
) -> tuple[float, float]:
    """The differences whose score test (variance at the restricted MLE, no N/(N-1)) is kept.

    Needs rates strictly inside (0, 1) in both arms, so that both bounds are interior.
    """
    control_rate = control_successes / control_units
    treatment_rate = treatment_successes / treatment_units
    counts = (control_successes, control_units, treatment_successes, treatment_units)

    def statistic(delta: float) -> float:
        control, treatment = restricted_rates(*counts, delta)
        variance = (
            control * (1 - control) / control_units + treatment * (1 - treatment) / treatment_units
        )
        return (treatment_rate - control_rate - delta) / math.sqrt(variance)

    return _invert(statistic, treatment_rate - control_rate, -1 + 1e-9, 1 - 1e-9, critical)


def score_ratio_statistic(
    control_successes: int,
    control_units: int,
    treatment_successes: int,
    treatment_units: int,
    ratio: float,
) -> float:
    """The score statistic of ``p_t / p_c = ratio`` (no N/(N-1)), its restricted MLE by
    Brent's method on the derivative of the log-likelihood. Needs successes in both arms."""

    def derivative(control: float) -> float:
        failures_t = treatment_units - treatment_successes
        failures_c = control_units - control_successes
        value = (control_successes + treatment_successes) / control
        if failures_t:
            value -= ratio * failures_t / (1.0 - ratio * control)
        if failures_c:
            value -= failures_c / (1.0 - control)
        return value

    high = min(1.0, 1.0 / ratio)
    inner_high = math.nextafter(high, 0.0)
    if derivative(inner_high) >= 0.0:
        control = high
    else:
        control = optimize.brentq(derivative, 1e-300, inner_high, xtol=1e-300, rtol=1e-15)
    treatment = ratio * control
    variance = (
        treatment * (1 - treatment) / treatment_units
        + ratio * ratio * control * (1 - control) / control_units
    )
    gap = treatment_successes / treatment_units - ratio * control_successes / control_units
    return gap / math.sqrt(variance)
