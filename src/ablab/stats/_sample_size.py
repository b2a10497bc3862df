"""Shared machinery of the power and sample-size calculations."""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from ablab.stats._validation import Alternative
from ablab.stats.results import SampleSize


def normal_test_power(
    difference: float,
    null_standard_error: float,
    alternative_standard_error: float,
    alpha: float,
    alternative: Alternative,
) -> float:
    """Power of a z test whose statistic has these standard errors under null and alternative.

    Both tails count for a two-sided test: ``Phi((d - z s0) / s1) + Phi((-d - z s0) / s1)``
    with ``z`` the ``1 - alpha/2`` normal quantile.
    """
    if alternative == "two-sided":
        critical = float(ndtri(1.0 - alpha / 2.0)) * null_standard_error
        return float(
            ndtr((difference - critical) / alternative_standard_error)
            + ndtr((-difference - critical) / alternative_standard_error)
        )
    critical = float(ndtri(1.0 - alpha)) * null_standard_error
    signed = difference if alternative == "greater" else -difference
    return float(ndtr((signed - critical) / alternative_standard_error))


def solve_total_units(power_at: Callable[[float], float], target: float) -> float:
    """The smallest total (continuous) number of units at which ``power_at`` reaches ``target``."""
    low = 1e-6
    if power_at(low) >= target:
        return low
    high = 16.0
    while power_at(high) < target:
        high *= 4.0
    return float(brentq(lambda total: power_at(total) - target, low, high, xtol=1e-9, rtol=1e-12))


def sample_size_record(
    total: float,
    *,
    treatment_share: float,
    alpha: float,
    power: float,
    absolute_mde: float,
    traffic_share: float,
    daily_units: float | None,
) -> SampleSize:
    """Round each arm up to whole units and convert the total to days of traffic."""
    control_units = max(1, math.ceil(total * (1.0 - treatment_share)))
    treatment_units = max(1, math.ceil(total * treatment_share))
    total_units = control_units + treatment_units
    days = None if daily_units is None else math.ceil(total_units / (daily_units * traffic_share))
    return SampleSize(control_units, treatment_units, total_units, days, alpha, power, absolute_mde)


def means_total_units(
    deviation: float,
    difference: float,
    *,
    share: float,
    level: float,
    target: float,
    hypothesis: Alternative,
) -> float:
    """Continuous total units at which the z test of means reaches ``target`` power."""
    spread = deviation / math.sqrt(share * (1.0 - share))

    def power_at(total: float) -> float:
        error = spread / math.sqrt(total)
        return normal_test_power(difference, error, error, level, hypothesis)

    return solve_total_units(power_at, target)
