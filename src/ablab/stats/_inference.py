"""p-values, critical values and intervals for z and t statistics.

These run once per comparison, so they call ``scipy.special`` and ``math`` directly: a
``scipy.stats`` distribution object costs tens of microseconds per call.
"""

from __future__ import annotations

import math

from scipy.special import ndtr, ndtri, stdtr, stdtrit

from ablab.stats._validation import Alternative

Interval = tuple[float, float]


def p_value(statistic: float, degrees_of_freedom: float, alternative: Alternative) -> float:
    """p-value of a z (``degrees_of_freedom == inf``) or t statistic.

    ``"greater"`` is the upper tail (treatment above control), ``"less"`` the lower tail.
    """
    if alternative == "two-sided":
        tail = -abs(statistic)
    elif alternative == "greater":
        tail = -statistic
    else:
        tail = statistic
    if math.isinf(degrees_of_freedom):
        probability = float(ndtr(tail))
    else:
        probability = float(stdtr(degrees_of_freedom, tail))
    if alternative == "two-sided":
        return min(1.0, 2.0 * probability)
    return probability


def critical_value(alpha: float, degrees_of_freedom: float, alternative: Alternative) -> float:
    """The multiple of the standard error that gives a ``1 - alpha`` interval."""
    level = 1.0 - alpha / 2.0 if alternative == "two-sided" else 1.0 - alpha
    if math.isinf(degrees_of_freedom):
        return float(ndtri(level))
    return float(stdtrit(degrees_of_freedom, level))


def interval(
    estimate: float, standard_error: float, critical: float, alternative: Alternative
) -> Interval:
    """Two-sided, or one-sided with an infinite bound, matching the test's alternative."""
    margin = critical * standard_error
    if alternative == "two-sided":
        return (estimate - margin, estimate + margin)
    if alternative == "greater":
        return (estimate - margin, math.inf)
    return (-math.inf, estimate + margin)


def welch_degrees_of_freedom(
    control_variance_of_mean: float,
    control_units: int,
    treatment_variance_of_mean: float,
    treatment_units: int,
) -> float:
    """Welch-Satterthwaite degrees of freedom of a difference of two means.

    ``df = (v1 + v2)**2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))`` with ``v = s**2 / n``.

    References:
        Welch, B. L. (1947). The generalization of "Student's" problem when several different
        population variances are involved. Biometrika 34(1/2), 28-35 (the approximate
        degrees of freedom of the statistic with unequal variances).
        Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
        components. Biometrics Bulletin 2(6), 110-114 (the effective degrees of freedom of a
        linear combination of mean squares).
    """
    # In shares of the total, so that tiny variances cannot underflow when squared.
    total = control_variance_of_mean + treatment_variance_of_mean
    control_share = control_variance_of_mean / total
    treatment_share = treatment_variance_of_mean / total
    return 1.0 / (
        control_share * control_share / (control_units - 1)
        + treatment_share * treatment_share / (treatment_units - 1)
    )
