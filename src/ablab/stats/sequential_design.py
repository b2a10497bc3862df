"""Choosing the mSPRT mixing variance, and what always-valid monitoring costs in power."""

from __future__ import annotations

import math
from typing import Literal

from scipy.special import erfcx, lambertw, ndtr

from ablab.errors import ValidationError
from ablab.stats._sample_size import means_total_units, sample_size_record, solve_total_units
from ablab.stats._validation import (
    Alternative,
    check_alpha,
    check_alternative,
    check_finite,
    check_fraction,
    check_positive,
)
from ablab.stats.power import sample_size_proportions
from ablab.stats.results import SequentialPowerCost

__all__ = [
    "mixing_variance_for_horizon",
    "mixing_variance_for_tuning_units",
    "mixing_variance_from_mde",
    "sequential_power_cost",
    "sequential_rho",
    "truncation_optimal_mixing_variance",
]


def sequential_rho(
    alpha: float, tuning_units: float, *, alternative: Alternative = "two-sided"
) -> float:
    """gbstats' mixing scale ``rho(N*)``: ``tau = rho * s``, ``s`` the per-unit deviation.

    ``rho = sqrt((-2 log a + log(1 - 2 log a)) / N*)`` with ``a = alpha`` for a two-sided
    test and ``a = 2 alpha`` for a one-sided one. With ``tau**2 = rho**2 s**2`` and the
    difference's variance ``s**2 / n`` after ``n`` units, the normal-mixture confidence
    sequence is (to the approximation of Waudby-Smith et al.) narrowest at ``n = N*``: the
    tuning sample size says *when* the test should be sharpest, and is chosen before the
    data. ``N*`` counts the units of both arms together (gbstats' ``n = n_a + n_b``; its
    default is 5,000).

    Args:
        alpha: Level of the test.
        tuning_units: ``N*``, units of control and treatment together.
        alternative: ``"two-sided"``, or ``"greater"``/``"less"`` (uses ``2 alpha``).

    Returns:
        ``rho``, the mixture's spread in units of the per-unit standard deviation.

    References:
        Waudby-Smith, I., Arbour, D., Sinha, R., Kennedy, E. H., Ramdas, A. (2023).
        Time-uniform central limit theory and asymptotic confidence sequences.
        arXiv:2103.06476v7, eq. 161 (the choice of rho for a target sample size), eq. 9
        (the two-sided asymptotic confidence sequence it tunes).
        GrowthBook gbstats, ``packages/stats/gbstats/frequentist/tests.py``
        (``sequential_rho``; ``SequentialConfig.sequential_tuning_parameter = 5000``).

    Examples:
        >>> round(sequential_rho(0.05, 5_000), 5)
        0.03984
        >>> round(sequential_rho(0.05, 5_000, alternative="greater"), 5)
        0.03558

        gbstats' own test (``test_sequential_test_runs``: estimate 0.50336, standard error
        0.33341, 6,461 units, N* = 1,000) publishes the interval (-0.55844, 1.56516):

        >>> from ablab.stats import msprt_from_difference
        >>> rho, se, units = sequential_rho(0.05, 1_000), 0.33341, 6_461
        >>> tau_sq = mixing_variance_for_tuning_units(se**2 * units, 1_000)
        >>> result = msprt_from_difference(0.50336, se**2, mixing_variance=tau_sq)
        >>> [round(bound, 4) for bound in result.confidence_sequence]
        [-0.5584, 1.5652]
    """
    level = check_alpha(alpha)
    units = check_positive(tuning_units, "tuning_units")
    side = check_alternative(alternative)
    effective = level if side == "two-sided" else 2.0 * level
    if effective >= 1.0:
        raise ValidationError(
            f"a one-sided test needs alpha below 0.5, got {alpha!r}", details={"alpha": alpha}
        )
    log_level = math.log(effective)
    return math.sqrt((-2.0 * log_level + math.log(1.0 - 2.0 * log_level)) / units)


def mixing_variance_for_tuning_units(
    unit_variance: float,
    tuning_units: float,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """``tau**2 = rho(N*)**2 * s**2``: the mixture fixed by a tuning sample size.

    Only ``s**2``, the per-unit variance, comes from the data, and it settles as units
    arrive; ``N*`` is fixed before the data. For a two-sample difference with variance
    ``V = s_c**2 / n_c + s_t**2 / n_t``, the per-unit variance is ``V * (n_c + n_t)`` (for
    equal arms ``2 (s_c**2 + s_t**2)``), as gbstats computes it. Never pass the current
    ``V`` itself: a mixture that shrinks with the data is a fixed cut-off on ``|z|``, and a
    fixed cut-off crossed at any of many looks is not always valid.

    Args:
        unit_variance: ``s**2``, the variance per unit of the difference's estimator.
        tuning_units: ``N*``, units of both arms together where the test is sharpest.
        alpha: Level of the test.
        alternative: The test's alternative (one-sided tests use ``2 alpha`` in ``rho``).

    Returns:
        The mixing variance ``tau**2``.

    References:
        Waudby-Smith, I., Arbour, D., Sinha, R., Kennedy, E. H., Ramdas, A. (2023).
        Time-uniform central limit theory and asymptotic confidence sequences.
        arXiv:2103.06476v7, eq. 9 and 161.
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the mixing
        distribution is chosen before the test; the variance is a plug-in).

    Examples:
        >>> round(mixing_variance_for_tuning_units(4.0, 5_000), 6)
        0.006349
    """
    variance = check_positive(unit_variance, "unit_variance")
    rho = sequential_rho(alpha, tuning_units, alternative=alternative)
    return rho * rho * variance


def truncation_optimal_mixing_variance(
    effect_variance: float,
    truncation_units: float,
    *,
    alpha: float = 0.05,
    unit_variance: float = 1.0,
) -> float:
    """Johari et al.'s ``tau**2`` for a test that stops at ``M`` observations at the latest.

    Effects ``theta ~ N(0, effect_variance)`` (the prior the user has in mind); the mSPRT
    rejects after about ``T(theta) = 2 v log(1/alpha) / theta**2`` observations of
    variance ``v``, plus ``(v / theta**2) log tau**2 + v / tau**2`` from the mixture
    (Johari et al., expansion of ``log Lambda_n``). Only effects with
    ``theta**2 > theta_M**2 = 2 v log(1/alpha) / M`` are detected before the truncation;
    minimising their expected run length over ``tau**2`` gives the harmonic mean of
    ``theta**2`` over them, which for the normal prior is

        tau**2 = effect_variance * Phi(-b) / (phi(b) / b - Phi(-b)),
        b = theta_M / sqrt(effect_variance) = sqrt(2 v log(1/alpha) / (M effect_variance)).

    It is computed through the Mills ratio ``Phi(-b) / phi(b)`` (scaled erfc), so large
    ``b`` does not underflow. For two arms in Johari et al.'s two-stream form an
    observation is a pair of units, one per arm: ``M`` is units per arm and ``v`` the
    variance of one pair's difference (``s_c**2 + s_t**2``).

    Args:
        effect_variance: Prior variance of the true difference (metric units squared).
        truncation_units: ``M``, the most observations the test will take.
        alpha: Level of the test.
        unit_variance: ``v``, the variance of one observation.

    Returns:
        The mixing variance ``tau**2``, to leading order as ``alpha -> 0``.

    References:
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the truncated mSPRT
        and the mixing variance that minimises its expected run length for a normal prior:
        ``tau**2 = sigma**2 Phi(-b) / (phi(b) / b - Phi(-b))``).
        Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). Peeking at A/B tests: why it
        matters, and what to do about it. KDD '17, 1517-1525.

    Examples:
        Effects of typical size 0.1 on a metric of unit variance per arm (so 2 per pair), a
        test of 10,000 units per arm at most:

        >>> round(truncation_optimal_mixing_variance(0.01, 10_000, unit_variance=2.0), 6)
        0.005058

        Small effects that the truncation leaves undetectable pull ``tau**2`` towards the
        smallest detectable effect, ``theta_M**2 = 2 v log(1/alpha) / M``:

        >>> theta_m_sq = 2 * 2.0 * math.log(20) / 1_000
        >>> tau_sq = truncation_optimal_mixing_variance(1e-5, 1_000, unit_variance=2.0)
        >>> round(tau_sq / theta_m_sq, 2)
        1.0
    """
    prior = check_positive(effect_variance, "effect_variance")
    truncation = check_positive(truncation_units, "truncation_units")
    level = check_alpha(alpha)
    variance = check_positive(unit_variance, "unit_variance")
    b = math.sqrt(2.0 * variance * -math.log(level) / (truncation * prior))
    # Phi(-b) / phi(b) = sqrt(pi / 2) erfcx(b / sqrt 2).
    mills = math.sqrt(math.pi / 2.0) * float(erfcx(b / math.sqrt(2.0)))
    return prior * mills / (1.0 / b - mills)


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


def rate_test_plan(
    baseline: float,
    mde: float,
    *,
    mde_type: Literal["relative", "absolute"] = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
    treatment_share: float = 0.5,
    traffic_share: float = 1.0,
    daily_units: float | None = None,
) -> SequentialPowerCost:
    """The units a test of a rate needs: looking once at the end (the two-proportion z test of
    :func:`sample_size_proportions`), and looking at any time (the mSPRT of
    :func:`sequential_power_cost`), with ``inflation`` the ratio of the two totals shown.

    The mSPRT's per-unit variance is the mean of the two rates' ``p (1 - p)`` (the control's
    and the one the MDE reaches), the same two rates the fixed-horizon size is read from, so
    the two rows answer one question; its mixing variance is tuned to the MDE
    (:func:`mixing_variance_from_mde`), as ablab's sequential tests choose it.

    Raises:
        ValidationError: a setting out of range, or figures so extreme that no finite
            sample size answers them (an effect that underflows, a share near 0).

    Examples:
        >>> plan = rate_test_plan(0.15, 0.1)
        >>> plan.fixed.total_units, plan.sequential.total_units, round(plan.inflation, 2)
        (18514, 35868, 1.94)
    """
    try:
        fixed = sample_size_proportions(
            baseline, mde, mde_type=mde_type, alpha=alpha, power=power,
            treatment_share=treatment_share, traffic_share=traffic_share,
            daily_units=daily_units,
        )  # fmt: skip
        reached = baseline + fixed.absolute_mde
        deviation = math.sqrt((baseline * (1 - baseline) + reached * (1 - reached)) / 2)
        cost = sequential_power_cost(
            deviation,
            fixed.absolute_mde,
            mixing_variance=mixing_variance_from_mde(fixed.absolute_mde),
            alpha=alpha,
            power=power,
            treatment_share=treatment_share,
            traffic_share=traffic_share,
            daily_units=daily_units,
        )
    except ArithmeticError:
        raise ValidationError(
            "no finite sample size answers these figures: the effect, the rates or the "
            "shares are too close to 0"
        ) from None
    sequential = cost.sequential
    return SequentialPowerCost(fixed, sequential, sequential.total_units / fixed.total_units)
