"""Sample ratio mismatch: do the observed units per arm match the configured split?"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.special import chdtrc

from ablab.errors import ValidationError
from ablab.stats._validation import check_alpha, check_count, check_positive
from ablab.stats.results import SrmResult, Status

__all__ = ["sample_ratio_mismatch", "sample_ratio_mismatch_over_periods"]


def sample_ratio_mismatch(
    observed: Sequence[int],
    weights: Sequence[float],
    *,
    threshold: float = 0.001,
) -> SrmResult:
    """Pearson's chi-square goodness of fit of unit counts against the configured weights.

    With ``N`` units in total and weights ``w_k`` (normalised to sum to 1), the expected
    count of arm ``k`` is ``E_k = N w_k`` and the statistic ``sum((O_k - E_k)**2 / E_k)``
    follows a chi-square distribution on ``K - 1`` degrees of freedom when assignment works
    as configured. A mismatch is flagged at ``p < threshold`` (0.001 by default: the check
    runs on every experiment at every look, so it must rarely fire by chance, and a real
    assignment bug drives p far lower).

    Args:
        observed: Units per arm, in the same order as ``weights``.
        weights: Configured traffic weights (any positive scale; they are normalised).
        threshold: p-value below which ``mismatch`` is True.

    Returns:
        An :class:`SrmResult`; ``too_few_units`` (NaN p-value, no mismatch) when there are no
        units at all.

    Raises:
        ValidationError: fewer than two arms, lengths differ, a negative or non-integer count,
            a weight that is not positive, or a threshold outside (0, 1).

    References:
        Pearson, K. (1900). On the criterion that a given system of deviations from the
        probable in the case of a correlated system of variables is such that it can be
        reasonably supposed to have arisen from random sampling. Philosophical Magazine
        50(302), 157-175.
        Kohavi, R., Tang, D., Xu, Y. (2020). Trustworthy Online Controlled Experiments.
        Cambridge University Press, Chapter 21 (sample ratio mismatch).

    Examples:
        >>> from ablab.stats import sample_ratio_mismatch
        >>> result = sample_ratio_mismatch([50_000, 48_500], [0.5, 0.5])
        >>> result.mismatch, result.p_value < 1e-5
        (True, True)
        >>> sample_ratio_mismatch([5_030, 4_970], [1, 1]).mismatch
        False
    """
    level = check_alpha(threshold, "threshold")
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValidationError(
            "observed and weights must list the same arms, at least two",
            details={"observed": len(observed), "weights": len(weights)},
        )
    counts = tuple(check_count(count, "observed") for count in observed)
    shares = [check_positive(weight, "weights") for weight in weights]
    total_weight = math.fsum(shares)
    total = sum(counts)
    degrees_of_freedom = len(counts) - 1
    if total == 0:
        return SrmResult(
            status=Status.TOO_FEW_UNITS,
            statistic=math.nan,
            degrees_of_freedom=degrees_of_freedom,
            p_value=math.nan,
            observed=counts,
            expected=tuple(0.0 for _ in counts),
            threshold=level,
            mismatch=False,
        )
    expected = tuple(total * share / total_weight for share in shares)
    statistic = math.fsum(
        (count - mean) ** 2 / mean for count, mean in zip(counts, expected, strict=True)
    )
    p_value = float(chdtrc(degrees_of_freedom, statistic))
    return SrmResult(
        status=Status.OK,
        statistic=statistic,
        degrees_of_freedom=degrees_of_freedom,
        p_value=p_value,
        observed=counts,
        expected=expected,
        threshold=level,
        mismatch=p_value < level,
    )


def sample_ratio_mismatch_over_periods(
    periods: Sequence[tuple[Sequence[int], Sequence[float]]],
    *,
    threshold: float = 0.001,
) -> SrmResult:
    """SRM for an experiment whose weights changed: one chi-square per period, summed.

    Units first seen in period ``j`` were assigned with that period's weights, so each period
    gets its own goodness-of-fit statistic ``X_j`` on ``K_j - 1`` degrees of freedom. The
    periods hold disjoint units, so the statistics are independent and their sum is
    chi-square on the summed degrees of freedom: one test, valid across changes. Arms with
    zero weight in a period leave that period's test; a unit in such an arm is a mismatch
    by itself (p = 0). Periods without units are skipped.

    Args:
        periods: ``(observed, weights)`` per period, arms in the same order throughout.
        threshold: p-value below which ``mismatch`` is True.

    Returns:
        An :class:`SrmResult` whose ``observed`` and ``expected`` are totals over periods.

    References:
        Pearson (1900), as in :func:`sample_ratio_mismatch`; the sum of independent
        chi-square variables is chi-square with the summed degrees of freedom (Johnson,
        N. L., Kotz, S., Balakrishnan, N. (1994). Continuous Univariate Distributions,
        Vol. 1, 2nd ed. Wiley, Chapter 18).

    Examples:
        >>> # 50/50 for the first 10,000 units, then 20/80 for the next 10,000.
        >>> result = sample_ratio_mismatch_over_periods(
        ...     [([5_020, 4_980], [50, 50]), ([2_010, 7_990], [20, 80])]
        ... )
        >>> result.mismatch, result.observed
        (False, (7030, 12970))
    """
    if not periods:
        raise ValidationError("give at least one period of (observed, weights)")
    arms = len(periods[0][0])
    totals = [0] * arms
    expected = [0.0] * arms
    statistic, degrees_of_freedom, impossible = 0.0, 0, False
    for observed, weights in periods:
        if len(observed) != arms or len(weights) != arms:
            raise ValidationError("every period must list the same arms")
        counts = [check_count(count, "observed") for count in observed]
        for arm, count in enumerate(counts):
            totals[arm] += count
        live = [(c, w) for c, w in zip(counts, weights, strict=True) if w > 0]
        impossible = impossible or any(
            c > 0 and w <= 0 for c, w in zip(counts, weights, strict=True)
        )
        if sum(counts) == 0 or len(live) < 2:
            continue
        part = sample_ratio_mismatch(
            [c for c, _ in live], [w for _, w in live], threshold=threshold
        )
        statistic += part.statistic
        degrees_of_freedom += part.degrees_of_freedom
        live_expected = iter(part.expected)
        for arm, weight in enumerate(weights):
            if weight > 0:
                expected[arm] += next(live_expected)
    level = check_alpha(threshold, "threshold")
    if impossible:
        p_value = 0.0
    elif degrees_of_freedom == 0:
        return SrmResult(
            Status.TOO_FEW_UNITS,
            math.nan,
            0,
            math.nan,
            tuple(totals),
            tuple(expected),
            level,
            False,
        )
    else:
        p_value = float(chdtrc(degrees_of_freedom, statistic))
    return SrmResult(
        status=Status.OK,
        statistic=statistic,
        degrees_of_freedom=degrees_of_freedom,
        p_value=p_value,
        observed=tuple(totals),
        expected=tuple(expected),
        threshold=level,
        mismatch=p_value < level,
    )
