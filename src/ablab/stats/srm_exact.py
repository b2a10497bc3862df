"""Sample ratio mismatch over a weight history, with exact p-values.

Pearson's chi-square (``sample_ratio_mismatch``) is asymptotic: with an unbalanced split
its upper tail is too light for a small arm, and summing one statistic per weight period
adds the error of every period. A bandit (5% floors, a new period every few dozen units)
is the worst case: in simulation the summed chi-square raised an alarm at p < 0.001 in
0.2% to 0.7% of correct experiments. This module tests the totals of each arm against
their exact distribution instead, so an alarm at ``threshold`` is at most that likely
when assignment works as configured, whatever the periods look like.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.signal import convolve
from scipy.special import ndtr
from scipy.stats import binom

from ablab.errors import ValidationError
from ablab.stats._validation import check_alpha, check_count, check_finite
from ablab.stats.results import SrmResult, Status

__all__ = ["exact_sample_ratio_mismatch"]

# Above this variance of an arm's count the normal tail is used: the count's skewness is
# at most 1/sd = 0.001 there, and the first Edgeworth term moves a 0.001 two-sided tail
# by under 1% of itself (Hall 1992, ch. 2). Below it the exact distribution costs at most
# a convolution of some 24,000 terms per period.
EXACT_VARIANCE_LIMIT = 1e6
# Terms further than this many standard deviations from the mean are left out. Even for a
# skewed binomial (50 units at 5%) what lies beyond is under 1e-13: it cannot move a
# p-value compared with 0.001, and an outcome out there gets p = 0.
_SPAN = 12.0
# As scipy.stats.binomtest: probabilities within this relative error of the observed
# one count as equal, so rounding cannot drop a mirror-image outcome.
_RELATIVE_ERROR = 1 + 1e-7


def exact_sample_ratio_mismatch(
    periods: Sequence[tuple[Sequence[int], Sequence[float]]],
    *,
    threshold: float = 0.001,
) -> SrmResult:
    """SRM of an experiment whose weights changed, from each arm's exact count distribution.

    In period ``j`` the ``N_j`` units first seen then were assigned arm ``k`` with
    probability ``w_jk`` (the period's weights, normalised), independently, so arm ``k``'s
    total ``O_k = sum_j Bin(N_j, w_jk)`` given the period sizes. Its two-sided p-value is
    the probability of every total no more likely than the one observed (the rule of
    ``scipy.stats.binomtest``, to which it reduces for one period and two arms). With
    ``K > 2`` arms the smallest of the ``K`` p-values is multiplied by ``K`` (Bonferroni);
    with two arms both tests are the same test. Discrete and exact, the test raises an
    alarm with probability at most ``threshold`` under correct assignment. An arm whose
    count has variance above :data:`EXACT_VARIANCE_LIMIT` uses the normal tail instead.
    A unit in an arm whose weight was 0 is a mismatch by itself (p = 0).

    Args:
        periods: ``(observed, weights)`` per period, arms in the same order throughout.
        threshold: p-value below which ``mismatch`` is True.

    Returns:
        An :class:`SrmResult` whose ``observed`` and ``expected`` are totals over periods,
        ``statistic`` the largest standardised deviation ``|O_k - E_k| / sd_k`` of an arm
        and ``degrees_of_freedom`` the number of arms tested; ``too_few_units`` when no
        period has units in two arms that could receive them.

    Raises:
        ValidationError: no period, arms that differ between periods, a negative count,
            a negative or non-finite weight, a period without a positive weight, or a
            threshold outside (0, 1).

    References:
        Sterne, T. E. (1954). Some remarks on confidence or fiducial limits. Biometrika
        41(1/2), 275-278 (the two-sided rule: outcomes no more likely than the observed).
        Kohavi, R., Tang, D., Xu, Y. (2020). Trustworthy Online Controlled Experiments.
        Cambridge University Press, ch. 21 (sample ratio mismatch).
        Hall, P. (1992). The Bootstrap and Edgeworth Expansion. Springer, ch. 2.

    Examples:
        >>> from scipy.stats import binomtest
        >>> from ablab.stats import exact_sample_ratio_mismatch
        >>> one = exact_sample_ratio_mismatch([([9_620, 380], [95, 5])])
        >>> import math
        >>> math.isclose(one.p_value, binomtest(380, 10_000, 0.05).pvalue, rel_tol=1e-9)
        True
        >>> # A bandit: 95/5, then 50/50, then 5/95; 60 units each time.
        >>> history = [([58, 2], [95, 5]), ([31, 29], [50, 50]), ([4, 56], [5, 95])]
        >>> result = exact_sample_ratio_mismatch(history)
        >>> result.observed, result.mismatch
        ((93, 87), False)
    """
    level = check_alpha(threshold, "threshold")
    if not periods:
        raise ValidationError("give at least one period of (observed, weights)")
    arms = len(periods[0][0])
    counts, shares = _checked(periods, arms)
    observed = tuple(int(c) for c in counts.sum(axis=0))
    sizes = counts.sum(axis=1)
    expected = tuple(float(e) for e in (sizes[:, None] * shares).sum(axis=0))
    impossible = bool(np.any((counts > 0) & (shares == 0)))
    tested = [k for k in range(arms) if np.any((shares[:, k] > 0) & (sizes > 0))]
    informative = np.any(sizes[:, None] * (shares > 0) > 0, axis=1)  # any unit to place
    two_arms_live = bool(np.any(((shares > 0).sum(axis=1) >= 2) & informative))
    if not impossible and (sizes.sum() == 0 or not two_arms_live):
        return SrmResult(
            Status.TOO_FEW_UNITS, math.nan, 0, math.nan, observed, expected, level, False
        )
    # With two arms one count decides the other: their tests are the same test.
    multiplier = 1 if len(tested) <= 2 else len(tested)
    deviations, p_values = [], []
    for k in tested[:1] if len(tested) == 2 else tested:
        deviation, p_value = _arm_test(sizes, shares[:, k], observed[k])
        deviations.append(deviation)
        p_values.append(p_value)
    p_value = 0.0 if impossible else min(1.0, multiplier * min(p_values, default=1.0))
    return SrmResult(
        status=Status.OK,
        statistic=max(deviations, default=math.inf if impossible else 0.0),
        degrees_of_freedom=len(tested),
        p_value=p_value,
        observed=observed,
        expected=expected,
        threshold=level,
        mismatch=p_value < level,
    )


def _checked(
    periods: Sequence[tuple[Sequence[int], Sequence[float]]], arms: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Counts and normalised weights as (periods x arms) arrays, checked."""
    if arms < 2:
        raise ValidationError("SRM needs at least two arms", details={"arms": arms})
    counts = np.zeros((len(periods), arms), dtype=np.int64)
    shares = np.zeros((len(periods), arms), dtype=np.float64)
    for j, (observed, weights) in enumerate(periods):
        if len(observed) != arms or len(weights) != arms:
            raise ValidationError("every period must list the same arms")
        counts[j] = [check_count(c, "observed") for c in observed]
        row = [check_finite(w, "weights") for w in weights]
        if min(row) < 0 or math.fsum(row) <= 0:
            raise ValidationError(
                "weights must be non-negative with a positive sum", details={"weights": row}
            )
        shares[j] = np.asarray(row) / math.fsum(row)
    return counts, shares


def _arm_test(
    sizes: NDArray[np.int64], probabilities: NDArray[np.float64], observed: int
) -> tuple[float, float]:
    """(|O - E| / sd, two-sided p-value) of one arm's total ``O = sum Bin(n_j, p_j)``."""
    mean = float(np.dot(sizes, probabilities))
    variance = float(np.dot(sizes, probabilities * (1 - probabilities)))
    if variance == 0.0:
        return (0.0, 1.0) if observed == round(mean) else (math.inf, 0.0)
    deviation = abs(observed - mean) / math.sqrt(variance)
    if variance > EXACT_VARIANCE_LIMIT:
        return deviation, float(2 * ndtr(-deviation))
    offset, pmf = _count_distribution(sizes, probabilities)
    index = observed - offset
    if index < 0 or index >= len(pmf):
        return deviation, 0.0  # beyond _SPAN standard deviations
    likelihood = pmf[index]
    return deviation, min(1.0, float(pmf[pmf <= likelihood * _RELATIVE_ERROR].sum()))


def _count_distribution(
    sizes: NDArray[np.int64], probabilities: NDArray[np.float64]
) -> tuple[int, NDArray[np.float64]]:
    """``(offset, pmf)`` with ``P(sum_j Bin(n_j, p_j) = offset + i) = pmf[i]``.

    Each binomial is kept within ``_SPAN`` standard deviations of its mean, and so is the
    running sum after each convolution, so the arrays stay near 24 standard deviations
    long. Convolution may go through the FFT: its rounding (about 1e-17 of the largest
    term) is clipped at zero and cannot move a p-value by more than that per term.
    """
    offset, pmf = 0, np.ones(1)
    mean = variance = 0.0
    # Periods of equal weights make one binomial: Bin(m, p) + Bin(n, p) = Bin(m + n, p).
    merged: dict[float, int] = {}
    for n, p in zip(sizes.tolist(), probabilities.tolist(), strict=True):
        merged[p] = merged.get(p, 0) + n
    for p, n in merged.items():
        if n == 0 or p == 0.0:
            continue
        if p == 1.0:
            offset += n
            mean += n
            continue
        spread = _SPAN * math.sqrt(n * p * (1 - p))
        low = max(0, math.floor(n * p - spread))
        high = min(n, math.ceil(n * p + spread))
        pmf = np.clip(convolve(pmf, binom.pmf(np.arange(low, high + 1), n, p)), 0.0, None)
        offset += low
        mean += n * p
        variance += n * p * (1 - p)
        keep_low = max(offset, math.floor(mean - _SPAN * math.sqrt(variance)))
        keep_high = min(offset + len(pmf) - 1, math.ceil(mean + _SPAN * math.sqrt(variance)))
        pmf = pmf[keep_low - offset : keep_high - offset + 1]
        offset = keep_low
    return offset, pmf
