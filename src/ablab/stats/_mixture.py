"""The normal-mixture likelihood ratio of the mSPRT and the confidence set it bounds.

The formulas are derived in :mod:`ablab.stats.sequential`, which runs the test look by look
and along arrays of looks: with ``x`` the distance from the null towards the alternative,
``r = tau**2 / V`` and ``k**2 = tau**2 / (V (V + tau**2))``,

    log Lambda = -log(1 + r) / 2 + k**2 x**2 / 2   (+ log 2 + log Phi(k x) one-sided)

and ``{theta : Lambda(theta) < 1/level}`` is ``d -/+ sqrt(log(1 + r) - 2 log level) / k``
two-sided, ``[d - u* / k, +inf)`` or ``(-inf, d + u* / k]`` one-sided.

References:
    Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
    monitoring of A/B tests. Operations Research 70(3), 1806-1821.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import log_ndtr

from ablab.stats._validation import Alternative
from ablab.stats.results import Interval

__all__ = ["bounds", "log_likelihood_ratio", "log_likelihood_ratios"]

_LOG_TWO = math.log(2.0)


def log_likelihood_ratio(x: float, variance: float, tau_sq: float, one_sided: bool) -> float:
    """``log Lambda`` at one look, ``x`` the signed distance from the null."""
    log_ratio_of_variances = math.log1p(tau_sq / variance)
    k_sq = tau_sq / (variance * (variance + tau_sq))
    value = -0.5 * log_ratio_of_variances + 0.5 * k_sq * x * x
    if one_sided:
        value += _LOG_TWO + float(log_ndtr(math.sqrt(k_sq) * x))
    return value


def _one_sided_root(target: float) -> float:
    """The ``u`` with ``u**2 / 2 + log Phi(u) = target`` (the left side increases in ``u``)."""
    high = math.sqrt(2.0 * (target + _LOG_TWO)) + 1.0
    # At -10 the left side is about -3.2, below every target an alpha in (0, 1) gives.
    return float(
        brentq(lambda u: 0.5 * u * u + float(log_ndtr(u)) - target, -10.0, high, xtol=1e-14)
    )


def bounds(
    difference: float, variance: float, tau_sq: float, level: float, alternative: Alternative
) -> Interval:
    """``{theta : Lambda(theta) < 1/level}`` at one look."""
    log_ratio_of_variances = math.log1p(tau_sq / variance)
    k = math.sqrt(tau_sq / (variance * (variance + tau_sq)))
    if alternative == "two-sided":
        half_width = math.sqrt(log_ratio_of_variances - 2.0 * math.log(level)) / k
        return (difference - half_width, difference + half_width)
    reach = _one_sided_root(-math.log(2.0 * level) + 0.5 * log_ratio_of_variances) / k
    if alternative == "greater":
        return (difference - reach, math.inf)
    return (-math.inf, difference + reach)


def log_likelihood_ratios(
    x: NDArray[np.float64],
    variance: NDArray[np.float64],
    tau_sq: NDArray[np.float64],
    one_sided: bool,
) -> NDArray[np.float64]:
    """:func:`log_likelihood_ratio` element-wise (every ``variance`` above 0)."""
    k_sq = tau_sq / (variance * (variance + tau_sq))
    value = -0.5 * np.log1p(tau_sq / variance) + 0.5 * k_sq * x * x
    if one_sided:
        value += _LOG_TWO + log_ndtr(np.sqrt(k_sq) * x)
    return value
