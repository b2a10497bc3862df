"""Two-proportion z test (conversion, pass rate, error rate per unit)."""

from __future__ import annotations

import math

from ablab.errors import ValidationError
from ablab.stats._comparison import compare, unavailable
from ablab.stats._validation import check_alpha, check_alternative
from ablab.stats.moments import Moments
from ablab.stats.results import ComparisonResult, Status

__all__ = ["two_proportion_z_test"]

METHOD = "two_proportion_z_test"


def check_binary(statistics: Moments, arm: str) -> None:
    """Refuse a :class:`Moments` whose values cannot all be 0 or 1."""
    tolerance = 1e-9 * max(1.0, statistics.sum)
    if not (
        0.0 <= statistics.sum <= statistics.n
        and abs(statistics.sum_sq - statistics.sum) <= tolerance
    ):
        raise ValidationError(
            f"{arm} is not a proportion: its values must be 0 or 1 (sum_sq == sum <= n)",
            details={
                "arm": arm,
                "n": statistics.n,
                "sum": statistics.sum,
                "sum_sq": statistics.sum_sq,
            },
        )


def two_proportion_z_test(
    control: Moments,
    treatment: Moments,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> ComparisonResult:
    """Compare two proportions with a z test.

    Needs, per arm, ``n`` and ``sum`` (successes) of a 0/1 metric. With ``p_c = x_c / n_c``,
    ``p_t = x_t / n_t`` and the pooled ``p = (x_c + x_t) / (n_c + n_t)``:

    * the **test** uses the pooled standard error, the one that holds under the null of
      equal proportions: ``z = (p_t - p_c) / sqrt(p (1 - p) (1/n_c + 1/n_t))``;
    * the **interval** uses the unpooled (Wald) standard error, the one that holds at the
      estimate: ``sqrt(p_c (1 - p_c) / n_c + p_t (1 - p_t) / n_t)``.

    The two can disagree at the margin (p just under alpha with an interval touching 0).
    The relative lift ``p_t / p_c - 1`` gets a delta-method interval
    (:func:`ablab.stats.relative_lift`).

    Args:
        control: Control arm as a proportion, e.g. ``Moments.from_successes(120, 1000)``.
        treatment: Treatment arm.
        alpha: Significance level; the intervals have confidence ``1 - alpha``.
        alternative: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.

    Returns:
        A :class:`ComparisonResult`; ``empty_arm`` when an arm has no units,
        ``zero_variance`` when both arms are all 0 or all 1, ``zero_baseline`` when the
        control proportion is 0 (the relative lift is then NaN).

    Raises:
        ValidationError: an arm's values are not 0/1, or ``alpha``/``alternative`` is invalid.

    References:
        Fleiss, J. L., Levin, B., Paik, M. C. (2003). Statistical Methods for Rates and
        Proportions, 3rd ed. Wiley, Chapter 2 (the pooled z statistic for a fourfold table;
        its square is Pearson's chi-square).
        Newcombe, R. G. (1998). Interval estimation for the difference between independent
        proportions: comparison of eleven methods. Statistics in Medicine 17, 873-890,
        method 1 (the simple asymptotic, Wald, interval).

    Examples:
        >>> from ablab.stats import Moments, two_proportion_z_test
        >>> result = two_proportion_z_test(
        ...     Moments.from_successes(200, 2000), Moments.from_successes(250, 2000)
        ... )
        >>> result.status, round(result.p_value, 4), round(result.relative_lift, 3)
        (<Status.OK: 'ok'>, 0.0124, 0.25)
        >>> [round(bound, 4) for bound in result.absolute_ci]
        [0.0054, 0.0446]
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    check_binary(control, "control")
    check_binary(treatment, "treatment")
    control_units, treatment_units = control.n, treatment.n
    if control_units == 0 or treatment_units == 0:
        return unavailable(
            METHOD,
            Status.EMPTY_ARM,
            level,
            hypothesis,
            control_units=control_units,
            treatment_units=treatment_units,
            control_value=control.mean,
            treatment_value=treatment.mean,
        )
    control_rate = control.sum / control_units
    treatment_rate = treatment.sum / treatment_units
    pooled = (control.sum + treatment.sum) / (control_units + treatment_units)
    pooled_standard_error = math.sqrt(
        pooled * (1.0 - pooled) * (1.0 / control_units + 1.0 / treatment_units)
    )
    return compare(
        METHOD,
        level,
        hypothesis,
        control_units=control_units,
        treatment_units=treatment_units,
        control_value=control_rate,
        control_standard_error=math.sqrt(control_rate * (1.0 - control_rate) / control_units),
        treatment_value=treatment_rate,
        treatment_standard_error=math.sqrt(
            treatment_rate * (1.0 - treatment_rate) / treatment_units
        ),
        degrees_of_freedom=math.inf,
        test_standard_error=pooled_standard_error,
    )
