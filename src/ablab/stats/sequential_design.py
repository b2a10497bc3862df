"""Choosing the mSPRT mixing variance, and what always-valid monitoring costs in power."""

from __future__ import annotations

import math

from scipy.special import lambertw, ndtr

from ablab.stats._sample_size import means_total_units, sample_size_record, solve_total_units
from ablab.stats._validation import check_alpha, check_finite, check_fraction, check_positive
from ablab.stats.results import SequentialPowerCost

__all__ = ["mixing_variance_for_horizon", "mixing_variance_from_mde", "sequential_power_cost"]


def mixing_variance_from_mde(mde: float) -> float:
    """``tau**2 = mde**2``: put the mixture's spread at the effect worth detecting.

    The mixture then gives most weight to effects of the size the experiment was planned
    for; much smaller effects take longer to detect, much larger ones are still detected
    quickly.

    Args:
        mde: The minimum detectable effect on the difference scale (absolute, in the
            metric's units; for a relative MDE on a proportion use ``baseline * mde``).

    Returns:
        The mixing variance ``tau**2``.

    References:
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (tau is chosen from
        the distribution of effects the user expects).

    Examples:
        >>> mixing_variance_from_mde(0.02)
        0.0004
    """
    magnitude = check_positive(abs(check_finite(mde, "mde")), "mde")
    return magnitude * magnitude


def mixing_variance_for_horizon(variance_at_horizon: float, alpha: float = 0.05) -> float:
    """The ``tau**2`` that makes the confidence sequence tightest at a planned sample size.

    The squared half-width of the confidence sequence at variance ``V`` is
    ``V (1 + 1/r) (log(1 + r) - 2 log alpha)`` with ``r = tau**2 / V``. Setting its
    derivative in ``r`` to zero gives ``r - log(1 + r) = -2 log alpha``, whose positive root
    is ``r* = -W_{-1}(-alpha**2 / e) - 1`` (``W_{-1}`` the lower branch of Lambert's W), so
    ``tau**2 = r* V``. For alpha = 0.05, ``r*`` is about 8.2.

    Args:
        variance_at_horizon: Variance of the difference estimate expected at the planned
            sample size, e.g. ``sd**2 * (1/n_c + 1/n_t)``.
        alpha: Level of the test.

    Returns:
        The mixing variance ``tau**2``.

    References:
        Derived above from the confidence sequence of the normal mixture; the same
        optimisation appears in Howard, S. R., Ramdas, A., McAuliffe, J., Sekhon, J. (2021).
        Time-uniform, nonparametric, nonasymptotic confidence sequences. Annals of
        Statistics 49(2), 1055-1080 (tuning the normal-mixture boundary for a target time).

    Examples:
        >>> round(mixing_variance_for_horizon(1.0), 4)
        8.212
    """
    variance = check_positive(variance_at_horizon, "variance_at_horizon")
    level = check_alpha(alpha)
    ratio = -float(lambertw(-level * level / math.e, k=-1).real) - 1.0
    return ratio * variance


def msprt_power_at(
    difference: float, variance: float, mixing_variance: float, alpha: float
) -> float:
    """Probability that one look at variance ``variance`` rejects, when the truth is ``difference``.

    The look rejects when the confidence sequence excludes 0, i.e. ``|d| > w`` with ``w``
    its half-width; ``d`` is normal around ``difference`` with variance ``variance``.
    """
    half_width = math.sqrt(
        variance
        * (variance + mixing_variance)
        / mixing_variance
        * (math.log1p(mixing_variance / variance) - 2.0 * math.log(alpha))
    )
    scale = math.sqrt(variance)
    magnitude = abs(difference)
    return float(ndtr((magnitude - half_width) / scale) + ndtr((-magnitude - half_width) / scale))


def sequential_power_cost(
    standard_deviation: float,
    mde: float,
    *,
    mixing_variance: float,
    alpha: float = 0.05,
    power: float = 0.8,
    treatment_share: float = 0.5,
    traffic_share: float = 1.0,
    daily_units: float | None = None,
) -> SequentialPowerCost:
    """Units the mSPRT needs for the MDE at the target power, against the fixed-horizon test.

    Both tests are two-sided at ``alpha``. The fixed horizon is the z test of
    :func:`sample_size_means`. For the mSPRT this computes, exactly and without
    simulation, the smallest total ``N`` at which a **single** look at ``N`` rejects with
    probability ``power``: the estimate is normal with variance
    ``V = sd**2 / (N s (1 - s))`` (``s`` the treatment share) and rejects when it lies
    outside the always-valid boundary. Monitoring before ``N`` can only add rejections, so
    ``N`` is an upper bound on the sample that continuous monitoring needs: the reported
    ``inflation`` is the worst case of the power cost, paid only by an experiment that runs
    to the end.

    Args:
        standard_deviation: Per-unit standard deviation (``sqrt(p (1 - p))`` for a rate).
        mde: Absolute difference to detect.
        mixing_variance: ``tau**2`` of the mixture.
        alpha: Level of both tests.
        power: Target power, in (0, 1).
        treatment_share: Fraction of the experiment's units in treatment.
        traffic_share: Fraction of all daily units that enter the experiment.
        daily_units: Units arriving per day; when given, ``days`` is filled in.

    Returns:
        A :class:`SequentialPowerCost` with both sample sizes and their ratio.

    References:
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the power and
        run-length trade-off of the mSPRT).

    Examples:
        >>> cost = sequential_power_cost(1.0, 0.1, mixing_variance=mixing_variance_from_mde(0.1))
        >>> cost.fixed.control_units, cost.sequential.control_units, round(cost.inflation, 2)
        (1570, 3043, 1.94)
    """
    deviation = check_positive(standard_deviation, "standard_deviation")
    difference = check_positive(abs(check_finite(mde, "mde")), "mde")
    tau_sq = check_positive(mixing_variance, "mixing_variance")
    level = check_alpha(alpha)
    target = check_alpha(power, "power")
    share = check_fraction(treatment_share, "treatment_share")
    traffic = check_fraction(traffic_share, "traffic_share", allow_one=True)
    daily = None if daily_units is None else check_positive(daily_units, "daily_units")
    spread = deviation * deviation / (share * (1.0 - share))
    fixed_total = means_total_units(
        deviation, difference, share=share, level=level, target=target, hypothesis="two-sided"
    )
    sequential_total = solve_total_units(
        lambda total: msprt_power_at(difference, spread / total, tau_sq, level), target
    )
    common = {"treatment_share": share, "alpha": level, "power": target, "absolute_mde": difference}
    fixed = sample_size_record(fixed_total, traffic_share=traffic, daily_units=daily, **common)
    sequential = sample_size_record(
        sequential_total, traffic_share=traffic, daily_units=daily, **common
    )
    return SequentialPowerCost(fixed, sequential, sequential.total_units / fixed.total_units)
