"""Exact McNemar test for paired pass/fail outcomes (the same tasks run by two variants)."""

from __future__ import annotations

import math

from scipy.special import bdtr, bdtrc, ndtri

from ablab.errors import ValidationError
from ablab.stats._validation import check_alpha, check_alternative, check_count
from ablab.stats.results import NAN_INTERVAL, McNemarResult, Status

__all__ = ["mcnemar_test"]


def mcnemar_test(
    only_control_passed: int,
    only_treatment_passed: int,
    pairs: int,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
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
    interval runs to -1 or 1.

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
