"""Novelty and primacy: does the lift trend over the experiment's days?

A treatment can look better at first only because it is new (novelty), or worse at first
because users are used to the old behaviour (primacy, change aversion); either way the
average over the experiment is not the effect that lasts. The check regresses each day's
lift, estimated from that day's data alone, on the day's index and tests the slope.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scipy.special import stdtr

from ablab.errors import ValidationError
from ablab.stats._validation import check_alpha, check_finite, check_positive
from ablab.stats.results import Status

__all__ = ["LiftTrend", "TrendPattern", "lift_trend"]

# Two points always lie on a line; a third is the first that can disagree with it.
MIN_DAYS = 3
# Residuals below this share of the lifts' weighted squares are rounding, not noise.
_EXACT_FIT = 1e-20


class TrendPattern(StrEnum):
    """What a significant trend means for the decision. Plain strings on the wire."""

    NONE = "none"  # no trend found at the level asked
    NOVELTY = "novelty"  # the lift shrinks: the long-run effect is likely below the average
    PRIMACY = "primacy"  # the lift grows: the long-run effect is likely above the average


@dataclass(frozen=True, slots=True)
class LiftTrend:
    """A weighted regression of the daily lift on the day.

    Attributes:
        status: ``ok``; ``too_few_units`` with fewer than :data:`MIN_DAYS` days;
            ``zero_variance`` when all days are the same day or the line fits exactly.
        alpha: Level of the test.
        days: Days in the fit.
        slope: Change of the lift per day.
        slope_standard_error: Its standard error, scaled by ``dispersion``.
        dispersion: Weighted residual mean square; 1 when the days scatter around the line
            as their own standard errors say, above 1 when day-to-day noise (weekdays,
            news) adds to them.
        statistic: ``slope / slope_standard_error``, Student-t on ``degrees_of_freedom``.
        degrees_of_freedom: ``days - 2``.
        p_value: Two-sided p-value of a zero slope.
        significant: ``p_value < alpha``.
        average_lift: The inverse-variance weighted mean of the daily lifts.
        first_lift: The fitted lift on the first day.
        last_lift: The fitted lift on the last day.
        pattern: ``novelty`` when significant and the fitted lift's size shrinks from the
            first day to the last, ``primacy`` when it grows, else ``none``.
    """

    status: Status
    alpha: float
    days: int
    slope: float
    slope_standard_error: float
    dispersion: float
    statistic: float
    degrees_of_freedom: int
    p_value: float
    significant: bool
    average_lift: float
    first_lift: float
    last_lift: float
    pattern: TrendPattern


def lift_trend(
    days: Sequence[float],
    lifts: Sequence[float],
    standard_errors: Sequence[float],
    *,
    alpha: float = 0.05,
) -> LiftTrend:
    """Test for a linear trend in the daily lift (weighted least squares on the day).

    Day ``d``'s lift ``y_d`` comes from that day's units alone, with standard error
    ``s_d``. With weights ``w_d = 1 / s_d**2`` and weighted means ``x_w``, ``y_w``, the
    slope is ``b = sum w (x - x_w)(y - y_w) / S`` with ``S = sum w (x - x_w)**2``, and
    ``y_w - b x_w`` the intercept. The residual mean square ``phi = sum w r**2 / (D - 2)``
    scales the variance, ``Var(b) = phi / S``, and ``b / sqrt(Var(b))`` is Student-t on
    ``D - 2`` degrees of freedom: the multiplicative-dispersion model of meta-regression,
    which stays valid when the days vary more than their sampling errors (weekly cycles)
    as long as that extra variance is proportional. This is statsmodels' ``WLS`` with
    ``weights = 1 / s**2`` and its default scale.

    A significant slope whose fitted lift shrinks in size from the first day to the last
    is a novelty effect: the long-run effect is likely smaller than the average the
    results report. One that grows is a primacy effect (users learning, or getting over
    the change): the long-run effect is likely larger.

    Args:
        days: Each point's day (0 for the launch day; windows of several days may use
            their midpoints).
        lifts: Each day's treatment-minus-control difference.
        standard_errors: Each day's standard error of that difference.
        alpha: Level of the two-sided test of a zero slope.

    Returns:
        A :class:`LiftTrend`.

    Raises:
        ValidationError: the sequences differ in length, a value is not finite, a standard
            error is not positive, or alpha is outside (0, 1).

    References:
        Kohavi, R., Tang, D., Xu, Y. (2020). Trustworthy Online Controlled Experiments.
        Cambridge University Press, ch. 3 (primacy and novelty effects: plot the effect
        over time) and ch. 23 (measuring long-term treatment effects).
        Thompson, S. G., Sharp, S. J. (1999). Explaining heterogeneity in meta-analysis: a
        comparison of methods. Statistics in Medicine 18(20), 2693-2708 (weighted
        regression with a multiplicative dispersion parameter).

    Examples:
        >>> from ablab.stats import lift_trend
        >>> fading = lift_trend(range(7), [0.08, 0.05, 0.045, 0.03, 0.02, 0.022, 0.01],
        ...                     [0.01] * 7)
        >>> fading.pattern.value, fading.significant, round(fading.slope, 4)
        ('novelty', True, -0.0104)
        >>> flat = lift_trend(range(7), [0.03, 0.05, 0.02, 0.04, 0.03, 0.05, 0.03], [0.01] * 7)
        >>> flat.pattern.value, flat.significant
        ('none', False)
    """
    level = check_alpha(alpha)
    if not len(days) == len(lifts) == len(standard_errors):
        raise ValidationError(
            "days, lifts and standard errors must have the same length",
            details={"days": len(days), "lifts": len(lifts), "errors": len(standard_errors)},
        )
    x = [check_finite(d, "days") for d in days]
    y = [check_finite(v, "lifts") for v in lifts]
    w = [1.0 / check_positive(s, "standard_errors") ** 2 for s in standard_errors]
    count = len(x)
    total = math.fsum(w)
    average = math.fsum(wi * yi for wi, yi in zip(w, y, strict=True)) / total if count else math.nan
    if count < MIN_DAYS:
        return _unavailable(Status.TOO_FEW_UNITS, level, count, average)
    x_mean = math.fsum(wi * xi for wi, xi in zip(w, x, strict=True)) / total
    spread = math.fsum(wi * (xi - x_mean) ** 2 for wi, xi in zip(w, x, strict=True))
    if spread <= 0.0:
        return _unavailable(Status.ZERO_VARIANCE, level, count, average)
    slope = (
        math.fsum(wi * (xi - x_mean) * (yi - average) for wi, xi, yi in zip(w, x, y, strict=True))
        / spread
    )
    intercept = average - slope * x_mean
    degrees_of_freedom = count - 2
    residual = math.fsum(
        wi * (yi - intercept - slope * xi) ** 2 for wi, xi, yi in zip(w, x, y, strict=True)
    )
    size = math.fsum(wi * yi * yi for wi, yi in zip(w, y, strict=True))
    if residual <= _EXACT_FIT * size:
        # The points lie on the line up to rounding: nothing to judge the slope against.
        return _unavailable(Status.ZERO_VARIANCE, level, count, average)
    dispersion = residual / degrees_of_freedom
    standard_error = math.sqrt(dispersion / spread)
    statistic = slope / standard_error
    p_value = float(2.0 * stdtr(degrees_of_freedom, -abs(statistic)))
    first, last = intercept + slope * min(x), intercept + slope * max(x)
    significant = p_value < level
    pattern = TrendPattern.NONE
    if significant and abs(last) != abs(first):
        pattern = TrendPattern.NOVELTY if abs(last) < abs(first) else TrendPattern.PRIMACY
    return LiftTrend(
        status=Status.OK,
        alpha=level,
        days=count,
        slope=slope,
        slope_standard_error=standard_error,
        dispersion=dispersion,
        statistic=statistic,
        degrees_of_freedom=degrees_of_freedom,
        p_value=p_value,
        significant=significant,
        average_lift=average,
        first_lift=first,
        last_lift=last,
        pattern=pattern,
    )


def _unavailable(status: Status, alpha: float, days: int, average: float) -> LiftTrend:
    nan = math.nan
    return LiftTrend(
        status, alpha, days, nan, nan, nan, nan, max(days - 2, 0), nan, False, average, nan, nan,
        TrendPattern.NONE,
    )  # fmt: skip
