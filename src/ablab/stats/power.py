"""Power and sample size of two-arm z tests, for proportions and for means."""

from __future__ import annotations

import math
from typing import Literal, TypeAlias

from ablab.errors import ValidationError
from ablab.stats._sample_size import (
    means_total_units,
    normal_test_power,
    sample_size_record,
    solve_total_units,
)
from ablab.stats._validation import (
    Alternative,
    check_alpha,
    check_alternative,
    check_fraction,
    check_positive,
)
from ablab.stats.results import SampleSize

__all__ = [
    "MdeType",
    "power_means",
    "power_proportions",
    "sample_size_means",
    "sample_size_proportions",
]

MdeType: TypeAlias = Literal["relative", "absolute"]


def _treatment_rate(baseline: float, mde: float, mde_type: str) -> float:
    if mde_type == "relative":
        rate = baseline * (1.0 + mde)
    elif mde_type == "absolute":
        rate = baseline + mde
    else:
        raise ValidationError(
            f"mde_type must be 'relative' or 'absolute', got {mde_type!r}",
            details={"mde_type": mde_type},
        )
    if not 0.0 < rate < 1.0:
        raise ValidationError(
            f"baseline {baseline} with a {mde_type} MDE of {mde} gives a treatment rate "
            f"of {rate}, outside (0, 1)",
            details={"baseline": baseline, "mde": mde, "mde_type": mde_type},
        )
    return rate


def _check_direction(difference: float, alternative: Alternative) -> None:
    wrong = (
        difference == 0.0
        or (alternative == "greater" and difference < 0.0)
        or (alternative == "less" and difference > 0.0)
    )
    if wrong:
        raise ValidationError(
            f"mde must be non-zero and point the way of the alternative ({alternative}), "
            f"got a difference of {difference}",
            details={"difference": difference, "alternative": alternative},
        )


def _proportion_errors(
    control_rate: float, treatment_rate: float, control_units: float, treatment_units: float
) -> tuple[float, float]:
    pooled = (control_units * control_rate + treatment_units * treatment_rate) / (
        control_units + treatment_units
    )
    null = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control_units + 1.0 / treatment_units))
    alternative = math.sqrt(
        control_rate * (1.0 - control_rate) / control_units
        + treatment_rate * (1.0 - treatment_rate) / treatment_units
    )
    return null, alternative


def power_proportions(
    baseline: float,
    mde: float,
    *,
    control_units: float,
    treatment_units: float,
    mde_type: MdeType = "relative",
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Power of the two-proportion z test (:func:`two_proportion_z_test`).

    The test statistic has the pooled standard error under the null and the unpooled one
    under the alternative, as the test itself uses the pooled one:
    ``s0 = sqrt(p (1 - p) (1/n_c + 1/n_t))`` with ``p`` the allocation-weighted mean of the
    two rates, ``s1 = sqrt(p_c (1 - p_c) / n_c + p_t (1 - p_t) / n_t)``.

    Args:
        baseline: Control rate, in (0, 1).
        mde: Effect to detect: relative (``0.1`` = +10%) by default, absolute with
            ``mde_type="absolute"``. Negative for a decrease.
        control_units: Units in control.
        treatment_units: Units in treatment.
        mde_type: ``"relative"`` or ``"absolute"``.
        alpha: Significance level.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns:
        The probability that the test rejects when the effect is ``mde``.

    References:
        Fleiss, J. L., Levin, B., Paik, M. C. (2003). Statistical Methods for Rates and
        Proportions, 3rd ed. Wiley, Chapter 4 (sample size to detect a difference between two
        proportions: null variance from the pooled rate, alternative variance unpooled).

    Examples:
        >>> round(power_proportions(0.10, 0.10, control_units=14_750, treatment_units=14_750), 3)
        0.8
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    control_rate = check_fraction(baseline, "baseline")
    treatment_rate = _treatment_rate(control_rate, mde, mde_type)
    _check_direction(treatment_rate - control_rate, hypothesis)
    null, alternative_error = _proportion_errors(
        control_rate,
        treatment_rate,
        check_positive(control_units, "control_units"),
        check_positive(treatment_units, "treatment_units"),
    )
    return normal_test_power(
        treatment_rate - control_rate, null, alternative_error, level, hypothesis
    )


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    mde_type: MdeType = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    treatment_share: float = 0.5,
    traffic_share: float = 1.0,
    daily_units: float | None = None,
) -> SampleSize:
    """Units per arm for the two-proportion z test to reach ``power`` at the MDE.

    Solves :func:`power_proportions` (both tails of a two-sided test) for the total number
    of units, split ``1 - treatment_share : treatment_share``, and rounds each arm up.

    Args:
        baseline: Control rate, in (0, 1).
        mde: Effect to detect, relative by default (``0.05`` = +5%); negative for a decrease.
        mde_type: ``"relative"`` or ``"absolute"``.
        alpha: Significance level.
        power: Target power, in (0, 1).
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        treatment_share: Fraction of the experiment's units in treatment (0.1 for 90/10).
        traffic_share: Fraction of all daily units that enter the experiment.
        daily_units: Units arriving per day; when given, ``days`` is filled in.

    Returns:
        A :class:`SampleSize`.

    References:
        Fleiss, J. L., Levin, B., Paik, M. C. (2003). Statistical Methods for Rates and
        Proportions, 3rd ed. Wiley, Chapter 4.

    Examples:
        >>> size = sample_size_proportions(0.10, 0.10, daily_units=5_000, traffic_share=0.5)
        >>> size.control_units, size.treatment_units, size.days
        (14751, 14751, 12)
    """
    level = check_alpha(alpha)
    target = check_alpha(power, "power")
    hypothesis = check_alternative(alternative)
    share = check_fraction(treatment_share, "treatment_share")
    traffic = check_fraction(traffic_share, "traffic_share", allow_one=True)
    daily = None if daily_units is None else check_positive(daily_units, "daily_units")
    control_rate = check_fraction(baseline, "baseline")
    treatment_rate = _treatment_rate(control_rate, mde, mde_type)
    difference = treatment_rate - control_rate
    _check_direction(difference, hypothesis)

    def power_at(total: float) -> float:
        null, alternative_error = _proportion_errors(
            control_rate, treatment_rate, total * (1.0 - share), total * share
        )
        return normal_test_power(difference, null, alternative_error, level, hypothesis)

    total = solve_total_units(power_at, target)
    return sample_size_record(
        total,
        treatment_share=share,
        alpha=level,
        power=target,
        absolute_mde=difference,
        traffic_share=traffic,
        daily_units=daily,
    )


def power_means(
    standard_deviation: float,
    mde: float,
    *,
    control_units: float,
    treatment_units: float,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Power of a two-sample z test of means with a common standard deviation.

    The difference of means has standard error ``sd * sqrt(1/n_c + 1/n_t)``; the power is
    that of the normal test on it (the large-sample form of Welch's test).

    Args:
        standard_deviation: Per-unit standard deviation of the metric.
        mde: Absolute difference to detect, in the metric's units; negative for a decrease.
        control_units: Units in control.
        treatment_units: Units in treatment.
        alpha: Significance level.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns:
        The probability that the test rejects when the difference is ``mde``.

    References:
        Chow, S.-C., Shao, J., Wang, H. (2008). Sample Size Calculations in Clinical
        Research, 2nd ed. Chapman & Hall/CRC, Section 3.2 (two-sample parallel design,
        test for equality).

    Examples:
        >>> round(power_means(1.0, 0.2, control_units=393, treatment_units=393), 3)
        0.801
    """
    level = check_alpha(alpha)
    hypothesis = check_alternative(alternative)
    deviation = check_positive(standard_deviation, "standard_deviation")
    _check_direction(mde, hypothesis)
    error = deviation * math.sqrt(
        1.0 / check_positive(control_units, "control_units")
        + 1.0 / check_positive(treatment_units, "treatment_units")
    )
    return normal_test_power(mde, error, error, level, hypothesis)


def sample_size_means(
    standard_deviation: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    treatment_share: float = 0.5,
    traffic_share: float = 1.0,
    daily_units: float | None = None,
) -> SampleSize:
    """Units per arm for a test of means to reach ``power`` at an absolute MDE.

    Solves :func:`power_means` for the total, split ``1 - treatment_share :
    treatment_share``; each arm is rounded up.

    Args:
        standard_deviation: Per-unit standard deviation of the metric.
        mde: Absolute difference to detect; negative for a decrease.
        alpha: Significance level.
        power: Target power, in (0, 1).
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        treatment_share: Fraction of the experiment's units in treatment.
        traffic_share: Fraction of all daily units that enter the experiment.
        daily_units: Units arriving per day; when given, ``days`` is filled in.

    Returns:
        A :class:`SampleSize`.

    References:
        Chow, S.-C., Shao, J., Wang, H. (2008). Sample Size Calculations in Clinical
        Research, 2nd ed. Chapman & Hall/CRC, Section 3.2.

    Examples:
        >>> size = sample_size_means(1.0, 0.2)
        >>> size.control_units, size.treatment_units
        (393, 393)
    """
    level = check_alpha(alpha)
    target = check_alpha(power, "power")
    hypothesis = check_alternative(alternative)
    deviation = check_positive(standard_deviation, "standard_deviation")
    share = check_fraction(treatment_share, "treatment_share")
    traffic = check_fraction(traffic_share, "traffic_share", allow_one=True)
    daily = None if daily_units is None else check_positive(daily_units, "daily_units")
    _check_direction(mde, hypothesis)
    total = means_total_units(
        deviation, mde, share=share, level=level, target=target, hypothesis=hypothesis
    )
    return sample_size_record(
        total,
        treatment_share=share,
        alpha=level,
        power=target,
        absolute_mde=mde,
        traffic_share=traffic,
        daily_units=daily,
    )
