"""mSPRT: always-valid p-values and confidence sequences (normal mixture).

The test watches the estimated difference ``d_n = treatment - control`` and its estimated
variance ``V_n`` at every look ``n``. With a normal mixing distribution ``N(theta0, tau**2)``
over the true difference, the mixture likelihood ratio against ``theta0`` is

    Lambda_n = sqrt(V_n / (V_n + tau**2)) * exp(tau**2 (d_n - theta0)**2 / (2 V_n (V_n + tau**2)))

which under the null is a (asymptotically) nonnegative martingale with mean 1, so by Ville's
inequality ``P(sup_n Lambda_n >= 1/alpha) <= alpha``. The always-valid p-value is
``p_n = min(p_{n-1}, 1 / Lambda_n)``, and ``{theta : Lambda_n(theta) < 1/alpha}`` is the
confidence sequence ``d_n -/+ sqrt(V_n (V_n + tau**2) / tau**2 * (log((V_n + tau**2) / V_n)
- 2 log alpha))``. For two arms of ``n`` units with variance ``sigma**2``, ``V_n =
2 sigma**2 / n`` recovers the two-stream form of Johari et al.; passing the estimated
variance instead lets unequal arms, ratio metrics and CUPED plug in unchanged.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ablab.errors import ValidationError
from ablab.stats._validation import check_alpha, check_finite, check_positive
from ablab.stats.results import NAN_INTERVAL, ComparisonResult, SequentialResult, Status

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


def _unavailable(
    status: Status,
    alpha: float,
    difference: float,
    mixing_variance: float,
    previous: float | None,
) -> SequentialResult:
    carried = math.nan if previous is None else previous
    return SequentialResult(
        status=status,
        alpha=alpha,
        difference=difference,
        standard_error=math.nan,
        mixing_variance=mixing_variance,
        log_likelihood_ratio=math.nan,
        always_valid_p_value=carried,
        confidence_sequence=NAN_INTERVAL,
        significant=carried < alpha,
    )


def msprt_from_difference(
    difference: float,
    variance: float,
    *,
    mixing_variance: float,
    alpha: float = 0.05,
    previous_p_value: float | None = None,
    null_difference: float = 0.0,
) -> SequentialResult:
    """mSPRT at one look, from the estimated difference and its variance.

    Args:
        difference: Estimated ``treatment - control`` at this look.
        variance: Estimated variance of ``difference`` (``se**2``), e.g.
            ``s_c**2 / n_c + s_t**2 / n_t``, or a ratio/CUPED variance.
        mixing_variance: ``tau**2`` of the normal mixture; choose it before the experiment
            with :func:`mixing_variance_from_mde` or :func:`mixing_variance_for_horizon`.
        alpha: Level of the test and confidence sequence.
        previous_p_value: The always-valid p-value of the previous look, carried forward so
            that the p-value never increases (None at the first look).
        null_difference: ``theta0``, the difference under the null.

    Returns:
        A :class:`SequentialResult` (two-sided). ``zero_variance`` when ``variance`` is 0 or
        NaN; the carried p-value is then kept.

    References:
        Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
        Annals of Mathematical Statistics 41(5), 1397-1409 (mixture likelihood ratios).
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the mSPRT with a
        normal mixture; always-valid p-value ``min(p_{n-1}, 1/Lambda_n)``; confidence
        sequence ``{theta : Lambda_n(theta) < 1/alpha}``).
        Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). Peeking at A/B tests: why it
        matters, and what to do about it. KDD '17, 1517-1525.

    Examples:
        >>> from ablab.stats import msprt_from_difference
        >>> first = msprt_from_difference(0.010, 0.004**2, mixing_variance=0.01**2)
        >>> round(first.log_likelihood_ratio, 3), round(first.always_valid_p_value, 4)
        (1.703, 0.1821)
        >>> previous = first.always_valid_p_value
        >>> later = msprt_from_difference(
        ...     0.002, 0.003**2, mixing_variance=0.01**2, previous_p_value=previous
        ... )
        >>> later.always_valid_p_value == first.always_valid_p_value
        True
    """
    level = check_alpha(alpha)
    tau_sq = check_positive(mixing_variance, "mixing_variance")
    previous = _check_previous(previous_p_value)
    return _look(
        difference - null_difference,
        difference,
        variance,
        tau_sq=tau_sq,
        level=level,
        previous_p_value=previous_p_value,
        previous=previous,
    )


def _look(
    centred: float,
    difference: float,
    variance: float,
    *,
    tau_sq: float,
    level: float,
    previous_p_value: float | None,
    previous: float,
) -> SequentialResult:
    if not variance > 0.0:
        return _unavailable(Status.ZERO_VARIANCE, level, difference, tau_sq, previous_p_value)
    total = variance + tau_sq
    log_ratio_of_variances = math.log1p(tau_sq / variance)
    log_likelihood_ratio = -0.5 * log_ratio_of_variances + tau_sq * centred * centred / (
        2.0 * variance * total
    )
    p_value = min(previous, math.exp(-max(log_likelihood_ratio, 0.0)))
    half_width = math.sqrt(
        variance * total / tau_sq * (log_ratio_of_variances - 2.0 * math.log(level))
    )
    return SequentialResult(
        status=Status.OK,
        alpha=level,
        difference=difference,
        standard_error=math.sqrt(variance),
        mixing_variance=tau_sq,
        log_likelihood_ratio=log_likelihood_ratio,
        always_valid_p_value=p_value,
        confidence_sequence=(difference - half_width, difference + half_width),
        significant=p_value < level,
    )


def msprt(
    comparison: ComparisonResult,
    *,
    mixing_variance: float,
    previous_p_value: float | None = None,
) -> SequentialResult:
    """mSPRT at one look on a fixed-horizon comparison's difference and standard error.

    Uses ``comparison.absolute_lift`` and the square of its (unpooled) ``standard_error``,
    and the comparison's ``alpha``; works for every comparison method. A comparison whose
    status leaves no difference to test (empty arm, too few units, zero variance...) gives
    that status, NaN numbers and the carried p-value.

    Args:
        comparison: A result of :func:`two_proportion_z_test`, :func:`welch_t_test`,
            :func:`ratio_test` or :func:`cuped_test`.
        mixing_variance: ``tau**2`` of the normal mixture.
        previous_p_value: The always-valid p-value of the previous look.

    Returns:
        A :class:`SequentialResult`.

    References:
        Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
        Annals of Mathematical Statistics 41(5), 1397-1409 (mixture likelihood ratios).
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the mSPRT with a
        normal mixture; always-valid p-value ``min(p_{n-1}, 1/Lambda_n)``; confidence
        sequence ``{theta : Lambda_n(theta) < 1/alpha}``).
        Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). Peeking at A/B tests: why it
        matters, and what to do about it. KDD '17, 1517-1525.

    Examples:
        >>> from ablab.stats import Moments, msprt, two_proportion_z_test
        >>> comparison = two_proportion_z_test(
        ...     Moments.from_successes(1_000, 10_000), Moments.from_successes(1_120, 10_000)
        ... )
        >>> result = msprt(comparison, mixing_variance=0.01**2)
        >>> result.significant, round(result.always_valid_p_value, 4)
        (False, 0.1026)
    """
    tau_sq = check_positive(mixing_variance, "mixing_variance")
    previous = _check_previous(previous_p_value)
    if comparison.status not in (Status.OK, Status.ZERO_BASELINE):
        return _unavailable(
            comparison.status, comparison.alpha, comparison.absolute_lift, tau_sq, previous_p_value
        )
    difference = comparison.absolute_lift
    variance = comparison.standard_error * comparison.standard_error
    return _look(
        difference,
        difference,
        variance,
        tau_sq=tau_sq,
        level=comparison.alpha,
        previous_p_value=previous_p_value,
        previous=previous,
    )


def always_valid_p_values(
    differences: ArrayLike,
    variances: ArrayLike,
    *,
    mixing_variance: float,
    null_difference: float = 0.0,
) -> NDArray[np.float64]:
    """Always-valid p-values along the last axis of arrays of looks (vectorised).

    Row ``i`` of a 2-D input is one experiment's sequence of looks; the result is the
    running minimum of ``min(1, 1 / Lambda)``, as :func:`msprt_from_difference` would carry
    it look by look. Looks with a non-positive variance leave the running value unchanged.

    Args:
        differences: Estimated differences, looks along the last axis.
        variances: Their variances, same shape.
        mixing_variance: ``tau**2`` of the normal mixture.
        null_difference: ``theta0``.

    Returns:
        An array of the same shape with the carried always-valid p-values.

    References:
        Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
        Annals of Mathematical Statistics 41(5), 1397-1409 (mixture likelihood ratios).
        Johari, R., Pekelis, L., Walsh, D. J. (2022). Always valid inference: continuous
        monitoring of A/B tests. Operations Research 70(3), 1806-1821 (the mSPRT with a
        normal mixture; always-valid p-value ``min(p_{n-1}, 1/Lambda_n)``; confidence
        sequence ``{theta : Lambda_n(theta) < 1/alpha}``).
        Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). Peeking at A/B tests: why it
        matters, and what to do about it. KDD '17, 1517-1525.

    Examples:
        >>> from ablab.stats import always_valid_p_values
        >>> differences = [0.01, 0.0, 0.012]
        >>> variances = [0.005**2, 0.004**2, 0.003**2]
        >>> always_valid_p_values(differences, variances, mixing_variance=1e-4).round(4)
        array([0.4515, 0.4515, 0.0023])
    """
    tau_sq = check_positive(mixing_variance, "mixing_variance")
    difference = np.asarray(differences, dtype=np.float64)
    variance = np.asarray(variances, dtype=np.float64)
    if difference.shape != variance.shape:
        raise ValidationError(
            "differences and variances must have the same shape",
            details={"differences": list(difference.shape), "variances": list(variance.shape)},
        )
    valid = variance > 0.0
    safe_variance = np.where(valid, variance, 1.0)
    centred = difference - null_difference
    log_likelihood_ratio = -0.5 * np.log1p(tau_sq / safe_variance) + tau_sq * centred * centred / (
        2.0 * safe_variance * (safe_variance + tau_sq)
    )
    p_values = np.where(valid, np.exp(-np.maximum(log_likelihood_ratio, 0.0)), 1.0)
    return np.minimum.accumulate(p_values, axis=-1)
