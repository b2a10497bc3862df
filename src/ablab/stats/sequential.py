"""mSPRT: always-valid p-values and confidence sequences (normal mixtures).

The test watches the estimated difference ``d_n = treatment - control`` and its estimated
variance ``V_n`` at every look ``n``. Write ``x = d_n - theta0`` for the distance from the
null, ``r = tau**2 / V_n`` and ``k**2 = tau**2 / (V_n (V_n + tau**2))``.

**Two-sided** (mixing distribution ``N(theta0, tau**2)``, Robbins 1970; Johari et al.):

    Lambda_n = (1 + r)**(-1/2) * exp(k**2 x**2 / 2)

**One-sided** (``greater``: the treatment is better by more than ``theta0``): the same
normal mixture restricted to the alternative's side, i.e. a half-normal mixing
distribution with density ``2 phi((theta - theta0) / tau) / tau`` on ``theta > theta0``.
Integrating the Gaussian likelihood ratio against it gives

    Lambda_n = 2 (1 + r)**(-1/2) * exp(k**2 x**2 / 2) * Phi(k x)

(``less`` uses ``x = theta0 - d_n``). Every member of either mixture is a likelihood ratio
with mean 1 under ``theta0`` (and, one-sided, at most 1 under any ``theta`` on the null's
side), so the mixture is a nonnegative (super)martingale and Ville's inequality gives
``P(sup_n Lambda_n >= 1/alpha) <= alpha``. With a known variance the guarantee is exact;
with ``V_n`` estimated it holds as the plug-in settles (Johari et al. 2022, Section 5).
``Lambda_n`` is increasing in ``x`` in both forms (``Phi(u) / phi(u)`` grows with ``u``), and
one-sided it stays below 1 whenever the estimate is on the null's side, so a one-sided test
is never significant in the wrong direction.

The always-valid p-value is ``p_n = min(p_{n-1}, 1 / Lambda_n)`` and the confidence sequence
is the running intersection of ``{theta : Lambda_n(theta) < 1/alpha}`` over the looks taken:

- two-sided: ``d_n -/+ sqrt(log(1 + r) - 2 log alpha) / k`` (closed form);
- one-sided: ``[d_n - u* / k, +inf)`` for ``greater`` (``(-inf, d_n + u* / k]`` for
  ``less``), ``u*`` the root of ``u**2 / 2 + log Phi(u) = log(1 / (2 alpha)) + log(1 + r) / 2``.

Because the p-value and the interval come from the same ``Lambda_n(theta)`` at the same
looks, ``p < alpha`` exactly when ``theta0`` lies outside the running intersection: the
significance flag and the interval shown beside it cannot disagree. The intersection can
come out empty (its bounds cross) only when every difference has been rejected at some look,
an event of probability at most alpha when the model holds; the test is then significant.
For two arms of ``n``
units with variance ``sigma**2``, ``V_n = 2 sigma**2 / n`` recovers the two-stream form of
Johari et al.; passing the estimated variance lets unequal arms, ratio metrics and CUPED
plug in unchanged.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ablab.errors import ValidationError
from ablab.stats import _mixture
from ablab.stats._validation import (
    Alternative,
    check_alpha,
    check_alternative,
    check_finite,
    check_positive,
)
from ablab.stats.results import NAN_INTERVAL, ComparisonResult, Interval, SequentialResult, Status

__all__ = ["always_valid_p_values", "msprt", "msprt_from_difference"]


def _check_previous(previous_p_value: float | None) -> float:
    if previous_p_value is None:
        return 1.0
    value = check_finite(previous_p_value, "previous_p_value")
    if not 0.0 <= value <= 1.0:
        raise ValidationError(
            f"previous_p_value must lie in [0, 1], got {previous_p_value!r}",
            details={"previous_p_value": previous_p_value},
        )
    return value


def _check_interval(previous_interval: Interval | None) -> Interval:
    if previous_interval is None:
        return (-math.inf, math.inf)
    low, high = (float(bound) for bound in previous_interval)
    if math.isnan(low) or math.isnan(high):
        raise ValidationError(
            f"previous_interval must not hold NaN, got {previous_interval!r}",
            details={"previous_interval": list(previous_interval)},
        )
    return (low, high)


def _signed(alternative: Alternative, centred: float) -> float:
    """The distance from the null towards the alternative (``less`` counts downwards)."""
    return -centred if alternative == "less" else centred


def _carried(
    status: Status,
    difference: float,
    *,
    level: float,
    mixing_variance: float,
    previous_p_value: float | None,
    previous_interval: Interval | None,
    alternative: Alternative,
    null_difference: float,
) -> SequentialResult:
    """No test at this look: the running p-value and interval are carried unchanged."""
    carried = math.nan if previous_p_value is None else previous_p_value
    return SequentialResult(
        status=status,
        alpha=level,
        difference=difference,
        standard_error=math.nan,
        mixing_variance=mixing_variance,
        log_likelihood_ratio=math.nan,
        always_valid_p_value=carried,
        confidence_sequence=NAN_INTERVAL if previous_interval is None else previous_interval,
        significant=carried < level,
        alternative=alternative,
        null_difference=null_difference,
    )


def _look(
    difference: float,
    variance: float,
    *,
    tau_sq: float,
    level: float,
    alternative: Alternative,
    null_difference: float,
    previous_p_value: float | None,
    previous_interval: Interval | None,
) -> SequentialResult:
    if not variance > 0.0:
        return _carried(
            Status.ZERO_VARIANCE,
            difference,
            level=level,
            mixing_variance=tau_sq,
            previous_p_value=previous_p_value,
            previous_interval=previous_interval,
            alternative=alternative,
            null_difference=null_difference,
        )
    x = _signed(alternative, difference - null_difference)
    log_likelihood_ratio = _mixture.log_likelihood_ratio(
        x, variance, tau_sq, alternative != "two-sided"
    )
    p_value = min(_check_previous(previous_p_value), math.exp(-max(log_likelihood_ratio, 0.0)))
    low, high = _mixture.bounds(difference, variance, tau_sq, level, alternative)
    previous_low, previous_high = _check_interval(previous_interval)
    return SequentialResult(
        status=Status.OK,
        alpha=level,
        difference=difference,
        standard_error=math.sqrt(variance),
        mixing_variance=tau_sq,
        log_likelihood_ratio=log_likelihood_ratio,
        always_valid_p_value=p_value,
        confidence_sequence=(max(low, previous_low), min(high, previous_high)),
        significant=p_value < level,
        alternative=alternative,
        null_difference=null_difference,
    )


def msprt_from_difference(
    difference: float,
    variance: float,
    *,
    mixing_variance: float,
    alpha: float = 0.05,
    previous_p_value: float | None = None,
    previous_interval: Interval | None = None,
    null_difference: float = 0.0,
    alternative: Alternative = "two-sided",
) -> SequentialResult:
    """mSPRT at one look, from the estimated difference and its variance.

    Args:
        difference: Estimated ``treatment - control`` at this look.
        variance: Estimated variance of ``difference`` (``se**2``), e.g.
            ``s_c**2 / n_c + s_t**2 / n_t``, or a ratio/CUPED variance.
        mixing_variance: ``tau**2`` of the normal mixture, fixed before the data: see
            :func:`mixing_variance_for_tuning_units` (only the per-unit variance in it may
            be a plug-in), never derived from the current standard error.
        alpha: Level of the test and confidence sequence.
        previous_p_value: The always-valid p-value after the previous look, carried forward
            so that the p-value never increases (None at the first look).
        previous_interval: The confidence sequence after the previous look; the result is
            its intersection with this look's (None at the first look).
        null_difference: ``theta0``, the difference under the null (a non-inferiority
            margin shifts it).
        alternative: ``"two-sided"``, ``"greater"`` (treatment above ``theta0``) or
            ``"less"``. One-sided tests use the half-normal mixture on the alternative's
            side and give a one-sided confidence sequence.

    Returns:
        A :class:`SequentialResult`. ``zero_variance`` when ``variance`` is 0 or NaN; the
        carried p-value and interval are then kept.

    References:
        Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
        Annals of Mathematical Statistics 41(5), 1397-1409 (mixture likelihood ratios).
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the mSPRT with a
        normal mixture; always-valid p-value ``min(p_{n-1}, 1/Lambda_n)``; confidence
        sequence ``{theta : Lambda_n(theta) < 1/alpha}``).
        Howard, S. R., Ramdas, A., McAuliffe, J., Sekhon, J. (2021). Time-uniform,
        nonparametric, nonasymptotic confidence sequences. Annals of Statistics 49(2),
        1055-1080 (one-sided normal mixtures; running intersections of confidence sequences
        stay valid).

    Examples:
        >>> from ablab.stats import msprt_from_difference
        >>> first = msprt_from_difference(0.010, 0.004**2, mixing_variance=0.01**2)
        >>> round(first.log_likelihood_ratio, 3), round(first.always_valid_p_value, 4)
        (1.703, 0.1821)
        >>> later = msprt_from_difference(
        ...     0.002, 0.003**2, mixing_variance=0.01**2,
        ...     previous_p_value=first.always_valid_p_value,
        ...     previous_interval=first.confidence_sequence,
        ... )
        >>> later.always_valid_p_value == first.always_valid_p_value
        True
        >>> greater = msprt_from_difference(
        ...     -0.010, 0.004**2, mixing_variance=0.01**2, alternative="greater"
        ... )
        >>> greater.significant, greater.confidence_sequence[1]
        (False, inf)
    """
    level = check_alpha(alpha)
    tau_sq = check_positive(mixing_variance, "mixing_variance")
    side = check_alternative(alternative)
    null = check_finite(null_difference, "null_difference")
    _check_previous(previous_p_value)
    _check_interval(previous_interval)
    return _look(
        difference,
        variance,
        tau_sq=tau_sq,
        level=level,
        alternative=side,
        null_difference=null,
        previous_p_value=previous_p_value,
        previous_interval=previous_interval,
    )


def msprt(
    comparison: ComparisonResult,
    *,
    mixing_variance: float,
    previous_p_value: float | None = None,
    previous_interval: Interval | None = None,
    alternative: Alternative | None = None,
    null_difference: float = 0.0,
    alpha: float | None = None,
) -> SequentialResult:
    """mSPRT at one look on a fixed-horizon comparison's difference and standard error.

    Uses ``comparison.absolute_lift`` and the square of its (unpooled) ``standard_error``,
    and by default the comparison's ``alpha`` and ``alternative``, so a one-sided analysis
    gets a one-sided always-valid test; works for every comparison method. A comparison
    whose status leaves no difference to test (empty arm, too few units, zero variance...)
    gives that status, NaN numbers and the carried p-value and interval.

    Args:
        comparison: A result of :func:`two_proportion_z_test`, :func:`welch_t_test`,
            :func:`ratio_test` or :func:`cuped_test`.
        mixing_variance: ``tau**2`` of the normal mixture, fixed before the data.
        previous_p_value: The always-valid p-value after the previous look.
        previous_interval: The confidence sequence after the previous look.
        alternative: Overrides ``comparison.alternative``.
        null_difference: ``theta0`` (e.g. a non-inferiority margin on the difference).
        alpha: Overrides ``comparison.alpha`` (e.g. a Bonferroni share of it).

    Returns:
        A :class:`SequentialResult`.

    References:
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821.
        Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). Peeking at A/B tests: why it
        matters, and what to do about it. KDD '17, 1517-1525.

    Examples:
        >>> from ablab.stats import Moments, msprt, two_proportion_z_test, welch_t_test
        >>> comparison = welch_t_test(
        ...     Moments.from_successes(1_000, 10_000), Moments.from_successes(1_120, 10_000)
        ... )
        >>> result = msprt(comparison, mixing_variance=0.01**2)
        >>> result.significant, round(result.always_valid_p_value, 4)
        (False, 0.1027)
        >>> harm = two_proportion_z_test(
        ...     Moments.from_successes(1_120, 10_000), Moments.from_successes(1_000, 10_000),
        ...     alternative="greater",
        ... )
        >>> msprt(harm, mixing_variance=0.01**2).always_valid_p_value
        1.0
    """
    tau_sq = check_positive(mixing_variance, "mixing_variance")
    side = check_alternative(alternative or comparison.alternative)
    level = comparison.alpha if alpha is None else check_alpha(alpha)
    null = check_finite(null_difference, "null_difference")
    _check_previous(previous_p_value)
    _check_interval(previous_interval)
    if comparison.status not in (Status.OK, Status.ZERO_BASELINE):
        return _carried(
            comparison.status,
            comparison.absolute_lift,
            level=level,
            mixing_variance=tau_sq,
            previous_p_value=previous_p_value,
            previous_interval=previous_interval,
            alternative=side,
            null_difference=null,
        )
    return _look(
        comparison.absolute_lift,
        comparison.standard_error * comparison.standard_error,
        tau_sq=tau_sq,
        level=level,
        alternative=side,
        null_difference=null,
        previous_p_value=previous_p_value,
        previous_interval=previous_interval,
    )


def always_valid_p_values(
    differences: ArrayLike,
    variances: ArrayLike,
    *,
    mixing_variance: ArrayLike,
    null_difference: float = 0.0,
    alternative: Alternative = "two-sided",
) -> NDArray[np.float64]:
    """Always-valid p-values along the last axis of arrays of looks (vectorised).

    Row ``i`` of a 2-D input is one experiment's sequence of looks; the result is the
    running minimum of ``min(1, 1 / Lambda)``, as :func:`msprt_from_difference` would carry
    it look by look. Looks with a non-positive variance leave the running value unchanged.
    Since ``theta`` lies in the running intersection of the confidence sequences exactly
    when this running p-value at ``null_difference=theta`` stays at or above ``alpha``, the
    same function measures coverage.

    Args:
        differences: Estimated differences, looks along the last axis.
        variances: Their variances, same shape.
        mixing_variance: ``tau**2`` of the normal mixture: a number, or an array that
            broadcasts against ``differences`` (a per-look plug-in of the unit variance).
        null_difference: ``theta0``.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns:
        An array of the same shape with the carried always-valid p-values.

    References:
        Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
        Annals of Mathematical Statistics 41(5), 1397-1409 (mixture likelihood ratios).
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the mSPRT with a
        normal mixture; always-valid p-value ``min(p_{n-1}, 1/Lambda_n)``).

    Examples:
        >>> from ablab.stats import always_valid_p_values
        >>> differences = [0.01, 0.0, 0.012]
        >>> variances = [0.005**2, 0.004**2, 0.003**2]
        >>> always_valid_p_values(differences, variances, mixing_variance=1e-4).round(4)
        array([0.4515, 0.4515, 0.0023])
        >>> always_valid_p_values(
        ...     differences, variances, mixing_variance=1e-4, alternative="less"
        ... ).round(4)
        array([1., 1., 1.])
    """
    side = check_alternative(alternative)
    null = check_finite(null_difference, "null_difference")
    tau_sq = np.asarray(mixing_variance, dtype=np.float64)
    if not (np.all(np.isfinite(tau_sq)) and np.all(tau_sq > 0.0)):
        raise ValidationError(
            "mixing_variance must be finite and greater than 0",
            details={"mixing_variance": tau_sq.tolist()},
        )
    difference = np.asarray(differences, dtype=np.float64)
    variance = np.asarray(variances, dtype=np.float64)
    if difference.shape != variance.shape:
        raise ValidationError(
            "differences and variances must have the same shape",
            details={"differences": list(difference.shape), "variances": list(variance.shape)},
        )
    valid = variance > 0.0
    safe_variance = np.where(valid, variance, 1.0)
    x = difference - null
    if side == "less":
        x = -x
    log_likelihood_ratio = _mixture.log_likelihood_ratios(
        x, safe_variance, tau_sq, side != "two-sided"
    )
    p_values = np.where(valid, np.exp(-np.maximum(log_likelihood_ratio, 0.0)), 1.0)
    return np.minimum.accumulate(p_values, axis=-1)
