"""Quantiles (p95 latency) with distribution-free intervals, and a two-sample comparison."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import bdtr, bdtrc, ndtri

from ablab.stats._comparison import compare, unavailable
from ablab.stats._validation import Alternative, check_alpha, check_alternative, check_fraction
from ablab.stats.moments import as_vector
from ablab.stats.results import ComparisonResult, QuantileEstimate, Status

__all__ = ["compare_quantiles", "quantile_interval"]

METHOD = "quantile_difference"
# Level of the order-statistic interval whose width estimates a quantile's standard error.
_STANDARD_ERROR_Z = 1.959963984540054  # ndtri(0.975)


def _sorted_values(values: ArrayLike) -> NDArray[np.float64]:
    return np.sort(as_vector(values, "values"))


def _linear_quantile(ordered: NDArray[np.float64], quantile: float) -> float:
    position = (ordered.size - 1) * quantile
    below = math.floor(position)
    above = min(below + 1, ordered.size - 1)
    return float(ordered[below] + (position - below) * (ordered[above] - ordered[below]))


def order_statistic_ranks(n: int, quantile: float, alpha: float) -> tuple[int | None, int | None]:
    """0-based indices of the order statistics bounding a ``1 - alpha`` interval.

    With ``K ~ Binomial(n, q)`` the number of values below the true quantile, the lower
    index is ``k - 1`` for the smallest ``k`` with ``P(K <= k) >= alpha/2`` and the upper
    index the smallest ``k`` with ``P(K > k) <= alpha/2``; None when no order statistic
    reaches that coverage.
    """
    spread = math.sqrt(n * quantile * (1.0 - quantile))
    reach = (abs(float(ndtri(alpha / 4.0))) + 4.0) * spread + 10.0
    first = max(0, math.floor(n * quantile - reach))
    last = min(n - 1, math.ceil(n * quantile + reach))
    ranks = np.arange(first, last + 1, dtype=np.float64)
    lower_tail = bdtr(ranks, n, quantile)
    upper_tail = bdtrc(ranks, n, quantile)
    if (first > 0 and lower_tail[0] >= alpha / 2.0) or (
        last < n - 1 and upper_tail[-1] > alpha / 2.0
    ):
        # The window missed a tail (an extreme alpha): search every rank.
        first, ranks = 0, np.arange(n, dtype=np.float64)
        lower_tail, upper_tail = bdtr(ranks, n, quantile), bdtrc(ranks, n, quantile)
    low = first + int(np.searchsorted(lower_tail, alpha / 2.0, side="left")) - 1
    high = first + int(np.searchsorted(-upper_tail, -alpha / 2.0, side="left"))
    return (low if low >= 0 else None), (high if high < n else None)


def quantile_interval(
    values: ArrayLike, quantile: float = 0.95, *, alpha: float = 0.05
) -> QuantileEstimate:
    """A sample quantile and its distribution-free (order-statistic) confidence interval.

    The number of values below the true ``q`` quantile is ``Binomial(n, q)`` whatever the
    distribution, so a pair of order statistics chosen from binomial tail probabilities
    covers the quantile with probability at least ``1 - alpha``. The point estimate
    interpolates linearly between order statistics (numpy's default); in the rare case
    (a handful of values, or alpha near 1) where it falls outside the order-statistic
    bounds, the interval is widened to include it.

    Args:
        values: One value per observation (e.g. per-prediction latency in milliseconds).
        quantile: The quantile level, in (0, 1); 0.95 for p95.
        alpha: One minus the confidence level.

    Returns:
        A :class:`QuantileEstimate`; ``empty_arm`` with no values, ``too_few_units`` (the
        unreachable bound NaN) when ``n`` is too small for the coverage, e.g. fewer than 72
        values for a 95% upper bound on the p95.

    References:
        Conover, W. J. (1999). Practical Nonparametric Statistics, 3rd ed. Wiley, Section 3.2
        (confidence interval for a quantile from order statistics and binomial tails).

    Examples:
        >>> import numpy as np
        >>> from ablab.stats import quantile_interval
        >>> latencies = np.random.default_rng(0).lognormal(mean=3.0, sigma=0.5, size=2_000)
        >>> result = quantile_interval(latencies, 0.95)
        >>> result.status, result.ci[0] <= result.estimate <= result.ci[1]
        (<Status.OK: 'ok'>, True)
    """
    level = check_alpha(alpha)
    probability = check_fraction(quantile, "quantile")
    ordered = _sorted_values(values)
    n = int(ordered.size)
    if n == 0:
        return QuantileEstimate(
            Status.EMPTY_ARM, probability, 0, math.nan, (math.nan, math.nan), level
        )
    low, high = order_statistic_ranks(n, probability, level)
    estimate = _linear_quantile(ordered, probability)
    # With very few values or a very large alpha, a bound can fall on the near side of the
    # interpolated estimate; widening it to the estimate keeps the coverage.
    lower = math.nan if low is None else min(float(ordered[low]), estimate)
    upper = math.nan if high is None else max(float(ordered[high]), estimate)
    status = Status.OK if low is not None and high is not None else Status.TOO_FEW_UNITS
    return QuantileEstimate(status, probability, n, estimate, (lower, upper), level)


def quantile_standard_error(ordered: NDArray[np.float64], quantile: float) -> float | None:
    """Width of an order-statistic interval over ``2 z``; None when ``n`` is too small.

    Ranks ``(n + 1) q -/+ z sqrt(n q (1 - q))`` (1-based, rounded) with ``z = 1.96``.
    """
    n = ordered.size
    centre = (n + 1) * quantile
    reach = _STANDARD_ERROR_Z * math.sqrt(n * quantile * (1.0 - quantile))
    low, high = round(centre - reach), round(centre + reach)
    if low < 1 or high > n:
        return None
    return float(ordered[high - 1] - ordered[low - 1]) / (2.0 * _STANDARD_ERROR_Z)


def compare_quantiles(
    control_values: ArrayLike,
    treatment_values: ArrayLike,
    quantile: float = 0.95,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Compare a quantile (p95 latency) between two independent samples.

    Each arm's standard error is estimated without assuming a distribution, from the
    spread of two order statistics around the quantile: ``(X_(u) - X_(l)) / (2 z)`` with
    ranks ``(n + 1) q -/+ z sqrt(n q (1 - q))`` and ``z = 1.96`` (the McKean-Schrader
    estimator for the median, with ``n/2`` and ``n/4`` replaced by ``n q`` and
    ``n q (1 - q)``). The difference is then tested with a z statistic, as Price and Bonett
    do for medians; the relative lift uses the delta method.

    Args:
        control_values: Control observations.
        treatment_values: Treatment observations.
        quantile: The quantile level, in (0, 1).
        alpha: Significance level; the intervals have confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.

    Returns:
        A :class:`ComparisonResult` with method ``"quantile_difference"``; ``empty_arm``,
        ``too_few_units`` (for the p95, 91 values per arm are needed) or
        ``zero_variance`` (tied order statistics in both arms).

    References:
        McKean, J. W., Schrader, R. M. (1984). A comparison of methods for studentizing the
        sample median. Communications in Statistics - Simulation and Computation 13(6),
        751-773.
        Price, R. M., Bonett, D. G. (2002). Distribution-free confidence intervals for
        difference and ratio of medians. Journal of Statistical Computation and Simulation
        72(2), 119-124.

    Examples:
        >>> import numpy as np
        >>> from ablab.stats import compare_quantiles
        >>> rng = np.random.default_rng(1)
        >>> control = rng.lognormal(3.0, 0.5, size=5_000)
        >>> treatment = rng.lognormal(3.1, 0.5, size=5_000)
        >>> result = compare_quantiles(control, treatment, 0.95)
        >>> result.significant, result.absolute_ci[0] > 0
        (True, True)
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    probability = check_fraction(quantile, "quantile")
    control = _sorted_values(control_values)
    treatment = _sorted_values(treatment_values)
    control_units, treatment_units = int(control.size), int(treatment.size)
    if control_units == 0 or treatment_units == 0:
        control_value = _linear_quantile(control, probability) if control_units else math.nan
        treatment_value = _linear_quantile(treatment, probability) if treatment_units else math.nan
        return unavailable(
            METHOD,
            Status.EMPTY_ARM,
            level,
            hypothesis,
            control_units=control_units,
            treatment_units=treatment_units,
            control_value=control_value,
            treatment_value=treatment_value,
        )
    control_value = _linear_quantile(control, probability)
    treatment_value = _linear_quantile(treatment, probability)
    control_error = quantile_standard_error(control, probability)
    treatment_error = quantile_standard_error(treatment, probability)
    if control_error is None or treatment_error is None:
        return unavailable(
            METHOD,
            Status.TOO_FEW_UNITS,
            level,
            hypothesis,
            control_units=control_units,
            treatment_units=treatment_units,
            control_value=control_value,
            treatment_value=treatment_value,
        )
    return compare(
        METHOD,
        level,
        hypothesis,
        control_units=control_units,
        treatment_units=treatment_units,
        control_value=control_value,
        control_standard_error=control_error,
        treatment_value=treatment_value,
        treatment_standard_error=treatment_error,
        degrees_of_freedom=math.inf,
    )
