"""Confidence intervals for one arm's figures, as reports show them beside each variant."""

from __future__ import annotations

import math

from ablab.stats._inference import critical_value
from ablab.stats._validation import check_alpha
from ablab.stats.moments import Moments

__all__ = ["mean_interval"]


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
