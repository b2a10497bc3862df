"""Confidence intervals for one arm's figures, as reports show them beside each variant."""

from __future__ import annotations

import math

from ablab.stats._inference import critical_value
from ablab.stats._validation import check_alpha
from ablab.stats.moments import Moments, RatioMoments
from ablab.stats.ratio import ratio_estimate

__all__ = ["mean_interval", "ratio_interval"]


def mean_interval(moments: Moments, *, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided Student-t interval for the mean: ``mean ± t(1 - alpha/2, n - 1) * s / sqrt(n)``.

    With fewer than two units there is no interval: both bounds are NaN. For a 0/1 metric this
    is the Wald interval of the proportion (with the t rather than the z quantile).

    References:
        Student (1908). The probable error of a mean. Biometrika 6(1), 1-25.
        Casella, G., Berger, R. L. (2002). Statistical Inference, 2nd ed., Example 9.2.3.

    Examples:
        >>> low, high = mean_interval(Moments.from_values([1.0, 2.0, 3.0, 4.0]))
        >>> round(low, 4), round(high, 4)
        (0.4457, 4.5543)
    """
    check_alpha(alpha)
    if moments.n < 2:
        return (math.nan, math.nan)
    margin = critical_value(alpha, moments.n - 1, "two-sided") * math.sqrt(
        moments.variance / moments.n
    )
    return (moments.mean - margin, moments.mean + margin)


def ratio_interval(moments: RatioMoments, *, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided normal interval for a per-unit ratio metric: ``r ± z(1 - alpha/2) * se(r)``.

    ``r = sum(numerator) / sum(denominator)`` over units, and ``se(r)`` is the delta-method
    standard error of :func:`ablab.stats.ratio.ratio_estimate`. Without two units or with a
    zero denominator there is no interval: both bounds are NaN.

    References:
        Deng, A., Knoblich, U., Lu, J. (2018). Applying the Delta Method in Metric Analytics:
        A Practical Guide with Novel Ideas. KDD '18, Section 2 (the variance of a ratio of
        sums over randomisation units).

    Examples:
        >>> low, high = ratio_interval(RatioMoments.from_values([3, 4, 5, 2], [4, 5, 5, 3]))
        >>> round(low, 3), round(high, 3)
        (0.684, 0.963)
    """
    check_alpha(alpha)
    if moments.n < 2 or moments.denominator_sum == 0:
        return (math.nan, math.nan)
    ratio, standard_error = ratio_estimate(moments)
    margin = critical_value(alpha, math.inf, "two-sided") * standard_error
    return (ratio - margin, ratio + margin)
