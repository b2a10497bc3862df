"""McNemar's test for paired pass/fail outcomes (the same tasks run by two variants): the
exact conditional test, and the score test with the interval that inverts it."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from scipy.optimize import brentq
from scipy.special import bdtr, bdtrc, erfc, ndtr, ndtri

from ablab.errors import ValidationError
from ablab.stats._validation import Alternative, check_alpha, check_alternative, check_count
from ablab.stats.results import NAN_INTERVAL, Interval, McNemarResult, Status

__all__ = ["McNemarScoreResult", "mcnemar_score_test", "mcnemar_test"]


def mcnemar_test(
    only_control_passed: int,
    only_treatment_passed: int,
    pairs: int,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> McNemarResult:
    """Exact McNemar test and an interval for the paired difference in pass rates.

    Only discordant pairs carry information about the difference: with ``b`` pairs where
    only control passed and ``c`` where only treatment passed, under the null each
    discordant pair is equally likely to go either way, so ``c ~ Binomial(b + c, 1/2)``. The
    two-sided p-value is ``min(1, 2 P(X <= min(b, c)))``; ``"greater"`` (treatment passes
    more) is ``P(X >= c)`` and ``"less"`` is ``P(X <= c)``.

    The difference in pass rates is ``(c - b) / pairs``. Its interval is the Agresti-Min
    adjusted Wald interval: add 1/2 to each of the four cells (``pairs + 2`` pairs), then
    ``(c - b) / (pairs + 2) -/+ z sqrt(b' + c' - (c - b)**2 / (pairs + 2)) / (pairs + 2)``
    with ``b' = b + 1/2``, ``c' = c + 1/2``, clipped to [-1, 1]; a one-sided test's
    interval runs to -1 or 1. That interval does not invert this test, so near the
    boundary the two disagree (``b = 5, c = 0`` of 20 pairs: p = 0.0625 beside an interval
    that leaves out 0); where a verdict is shown with its interval, use
    :func:`mcnemar_score_test`.

    Args:
        only_control_passed: Pairs where control passed and treatment failed (``b``).
        only_treatment_passed: Pairs where treatment passed and control failed (``c``).
        pairs: All pairs, concordant ones included.
        alpha: Significance level; the interval has confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns:
        A :class:`McNemarResult`; ``too_few_units`` (NaN numbers) when there are no pairs.

    Raises:
        ValidationError: negative counts, or more discordant pairs than pairs.

    References:
        McNemar, Q. (1947). Note on the sampling error of the difference between correlated
        proportions or percentages. Psychometrika 12(2), 153-157.
        Agresti, A., Min, Y. (2005). Simple improved confidence intervals for comparing
        matched proportions. Statistics in Medicine 24(5), 729-740 (the Wald interval after
        adding 1/2 to each cell).

    Examples:
        >>> from ablab.stats import mcnemar_test
        >>> result = mcnemar_test(only_control_passed=4, only_treatment_passed=15, pairs=200)
        >>> round(result.p_value, 4), round(result.difference, 3)
        (0.0192, 0.055)
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    control_only = check_count(only_control_passed, "only_control_passed")
    treatment_only = check_count(only_treatment_passed, "only_treatment_passed")
    total = check_count(pairs, "pairs")
    discordant = control_only + treatment_only
    if discordant > total:
        raise ValidationError(
            f"discordant pairs ({discordant}) cannot exceed pairs ({total})",
            details={
                "only_control_passed": control_only,
                "only_treatment_passed": treatment_only,
                "pairs": total,
            },
        )
    if total == 0:
        return McNemarResult(
            Status.TOO_FEW_UNITS,
            hypothesis,
            level,
            0,
            0,
            0,
            math.nan,
            NAN_INTERVAL,
            math.nan,
            False,
        )
    if discordant == 0:
        p_value = 1.0
    elif hypothesis == "two-sided":
        p_value = min(1.0, 2.0 * float(bdtr(min(control_only, treatment_only), discordant, 0.5)))
    elif hypothesis == "greater":
        p_value = 1.0 if treatment_only == 0 else float(bdtrc(treatment_only - 1, discordant, 0.5))
    else:
        p_value = float(bdtr(treatment_only, discordant, 0.5))
    adjusted_pairs = total + 2.0
    adjusted_difference = (treatment_only - control_only) / adjusted_pairs
    adjusted_standard_error = (
        math.sqrt(discordant + 1.0 - (treatment_only - control_only) ** 2 / adjusted_pairs)
        / adjusted_pairs
    )
    critical = float(ndtri(1.0 - level / 2.0 if hypothesis == "two-sided" else 1.0 - level))
    margin = critical * adjusted_standard_error
    lower = max(-1.0, adjusted_difference - margin) if hypothesis != "less" else -1.0
    upper = min(1.0, adjusted_difference + margin) if hypothesis != "greater" else 1.0
    return McNemarResult(
        status=Status.OK,
        alternative=hypothesis,
        alpha=level,
        pairs=total,
        only_control_passed=control_only,
        only_treatment_passed=treatment_only,
        difference=(treatment_only - control_only) / total,
        difference_ci=(lower, upper),
        p_value=p_value,
        significant=p_value < level,
    )


@dataclass(frozen=True, slots=True)
class McNemarScoreResult:
    """McNemar's score test and Tango's score interval for a paired difference in pass rates.

    The interval is the set of differences the same score test does not reject, so
    ``significant`` is true exactly when ``difference_ci`` leaves out 0.

    Attributes:
        status: ``ok`` or ``too_few_units`` (no pairs).
        alternative: ``"two-sided"``, ``"greater"`` (treatment passes more) or ``"less"``.
        alpha: Significance level; the interval has confidence ``1 - alpha``.
        pairs: Number of pairs.
        only_control_passed: Discordant pairs where only control passed (``b``).
        only_treatment_passed: Discordant pairs where only treatment passed (``c``).
        difference: Paired difference in pass rates, ``(c - b) / pairs``.
        difference_ci: Tango's score interval for ``difference``.
        statistic: The score statistic at no difference, ``(c - b) / sqrt(b + c)`` (0 when
            there is no discordant pair).
        p_value: The score test's p-value (McNemar's test without continuity correction).
        significant: ``p_value < alpha``, and equally ``0`` outside ``difference_ci``.
    """

    status: Status
    alternative: Alternative
    alpha: float
    pairs: int
    only_control_passed: int
    only_treatment_passed: int
    difference: float
    difference_ci: Interval
    statistic: float
    p_value: float
    significant: bool


def mcnemar_score_test(
    only_control_passed: int,
    only_treatment_passed: int,
    pairs: int,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> McNemarScoreResult:
    """McNemar's test as a score test, and the interval that inverts it (Tango's).

    With ``b`` pairs where only control passed, ``c`` where only treatment passed and ``N``
    pairs in all, the paired difference is ``delta = (c - b) / N``. Tango's score statistic
    for ``H0: delta = d`` is ``T(d) = (c - b - N d) / sqrt(N (2 p~ + d (1 - d)))``, where
    ``p~`` is the maximum-likelihood estimate under ``H0`` of the probability that only
    control passes, the root ``(sqrt(B^2 - 4 A C) - B) / (2 A)`` of ``A p^2 + B p + C``
    with ``A = 2N``, ``B = -b - c + (2N - c + b) d`` and ``C = -b d (1 - d)``. At ``d = 0``
    it is McNemar's statistic ``(c - b) / sqrt(b + c)``, whose square is statsmodels'
    ``mcnemar(table, exact=False, correction=False)``. ``T`` decreases in ``d``, so the
    interval ``{d : |T(d)| <= z}`` leaves out 0 exactly when the test rejects: the verdict,
    the p-value and the interval cannot disagree. One-sided, the bound on the side of the
    alternative uses ``z_(1 - alpha)`` and the other is -1 or 1.

    The exact conditional test (a binomial on the discordant pairs, :func:`mcnemar_test`)
    has no interval for ``delta`` that inverts it: the conditional interval scaled by the
    discordant share ignores the share's own variance and covers as little as 35-78% of
    true differences at 20-300 pairs when one kind of discordance dominates. The score
    test's size stays close to alpha even for a few discordant pairs (Fagerland et al.).

    Args:
        only_control_passed: Pairs where control passed and treatment failed (``b``).
        only_treatment_passed: Pairs where treatment passed and control failed (``c``).
        pairs: All pairs, concordant ones included.
        alpha: Significance level; the interval has confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns:
        A :class:`McNemarScoreResult`; ``too_few_units`` (NaN numbers) when there are no
        pairs. Without discordant pairs the statistic is 0 and the p-value 1 (two-sided).

    Raises:
        ValidationError: negative counts, or more discordant pairs than pairs.

    References:
        Tango, T. (1998). Equivalence test and confidence interval for the difference in
        proportions for the paired-sample design. Statistics in Medicine 17(8), 891-908
        (the statistic and the constrained estimate, equations 3 and 5).
        Fagerland, M. W., Lydersen, S., Laake, P. (2013). The McNemar test for binary
        matched-pairs data: mid-p and asymptotic are better than exact conditional. BMC
        Medical Research Methodology 13, 91.
        Fagerland, M. W., Lydersen, S., Laake, P. (2014). Recommended tests and confidence
        intervals for paired binomial proportions. Statistics in Medicine 33(16),
        2850-2875 (Tango's interval among the recommended ones).

    Examples:
        >>> from ablab.stats import mcnemar_score_test
        >>> result = mcnemar_score_test(only_control_passed=16, only_treatment_passed=6, pairs=161)
        >>> round(result.p_value, 6), [round(bound, 4) for bound in result.difference_ci]
        (0.033006, [-0.124, -0.0054])
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    control_only, treatment_only, total = _paired_counts(
        only_control_passed, only_treatment_passed, pairs
    )
    if total == 0:
        return McNemarScoreResult(
            status=Status.TOO_FEW_UNITS,
            alternative=hypothesis,
            alpha=level,
            pairs=0,
            only_control_passed=0,
            only_treatment_passed=0,
            difference=math.nan,
            difference_ci=NAN_INTERVAL,
            statistic=math.nan,
            p_value=math.nan,
            significant=False,
        )
    discordant = control_only + treatment_only
    statistic = (treatment_only - control_only) / math.sqrt(discordant) if discordant else 0.0
    if hypothesis == "two-sided":
        p_value = float(erfc(abs(statistic) / math.sqrt(2.0)))
        critical = float(ndtri(1.0 - level / 2.0))
    else:
        p_value = float(ndtr(-statistic if hypothesis == "greater" else statistic))
        critical = float(ndtri(1.0 - level))
    score = partial(_tango_statistic, control_only, treatment_only, total, statistic)
    estimate = (treatment_only - control_only) / total
    lower = upper = math.nan
    if hypothesis != "less":
        lower = _bound(lambda d: score(d) - critical, -1.0, estimate)
    if hypothesis != "greater":
        upper = _bound(lambda d: score(d) + critical, estimate, 1.0)
    return McNemarScoreResult(
        status=Status.OK,
        alternative=hypothesis,
        alpha=level,
        pairs=total,
        only_control_passed=control_only,
        only_treatment_passed=treatment_only,
        difference=estimate,
        difference_ci=(-1.0 if math.isnan(lower) else lower, 1.0 if math.isnan(upper) else upper),
        statistic=statistic,
        p_value=p_value,
        significant=p_value < level,
    )


def _paired_counts(
    only_control_passed: int, only_treatment_passed: int, pairs: int
) -> tuple[int, int, int]:
    control_only = check_count(only_control_passed, "only_control_passed")
    treatment_only = check_count(only_treatment_passed, "only_treatment_passed")
    total = check_count(pairs, "pairs")
    if control_only + treatment_only > total:
        raise ValidationError(
            f"discordant pairs ({control_only + treatment_only}) cannot exceed pairs ({total})",
            details={
                "only_control_passed": control_only,
                "only_treatment_passed": treatment_only,
                "pairs": total,
            },
        )
    return control_only, treatment_only, total


def _tango_statistic(
    control_only: int, treatment_only: int, pairs: int, at_zero: float, difference: float
) -> float:
    """Tango's ``T(d)``; ``T(0)`` is passed in, computed as McNemar's statistic, so that the
    interval and the test compare the very same number with the critical value."""
    if difference == 0.0:
        return at_zero
    a = 2.0 * pairs
    b = -control_only - treatment_only + (2.0 * pairs - treatment_only + control_only) * difference
    c = -control_only * difference * (1.0 - difference)
    # Non-negative in exact arithmetic; max() keeps rounding from taking a root of -1e-17.
    only_control = (math.sqrt(max(0.0, b * b - 4.0 * a * c)) - b) / (2.0 * a)
    variance = pairs * (2.0 * only_control + difference * (1.0 - difference))
    numerator = treatment_only - control_only - pairs * difference
    if variance <= 0.0:  # at d = -1 or 1 with a table that allows nothing else
        return 0.0 if numerator == 0.0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def _bound(excess: Callable[[float], float], low: float, high: float) -> float:
    """The root of the decreasing ``excess`` in ``[low, high]``, or the end of the range
    when it keeps one sign there (the bound is then -1 or 1).

    When 0 lies inside, the search first picks the side of 0 that ``excess(0)`` points to,
    so a bound lands on the same side of 0 as the test's verdict, to the last bit.
    """
    if excess(low) <= 0.0:
        return low
    if excess(high) >= 0.0:
        return high
    if low < 0.0 < high:
        if excess(0.0) > 0.0:
            low = 0.0
        else:
            high = 0.0
    if excess(low) <= 0.0:  # the root is 0 itself
        return low
    if excess(high) >= 0.0:
        return high
    root = float(brentq(excess, low, high, xtol=1e-15, rtol=4 * sys.float_info.epsilon))
    # brentq may answer with a bracket's end; never 0 when excess(0) said the root is past it.
    return max(low, min(high, root))
