"""Posterior integrals shared by the Bayesian methods (two arms and A/B/n).

Proportions: Beta(x + 1, n - x + 1) posteriors (uniform prior). Means: N(mean, s**2 / n)
(flat prior, normal approximation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.special import betainc, ndtr

from ablab.stats._quadrature import weighted_rule
from ablab.stats.moments import Moments, centered_sum_of_squares
from ablab.stats.results import Status

SQRT_TWO_PI = math.sqrt(2.0 * math.pi)
# A Beta posterior with both parameters at least this large is close enough to normal for
# a 16-point Gauss-Hermite rule around its mean; below it, 48-point Gauss-Legendre on a
# window of +-20 standard deviations (clipped to [0, 1]); an exponential tail holds less
# than 1e-9 beyond it.
HERMITE_MINIMUM_PARAMETER = 50.0
HERMITE_POINTS = 16
LEGENDRE_POINTS = 48
BETA_WINDOW_IN_SCALES = 20.0
NORMAL_WINDOW_IN_SCALES = 12.0


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def beta_two_arm(
    control_alpha: float, control_beta: float, treatment_alpha: float, treatment_beta: float
) -> tuple[float, float, float]:
    """``P(T > C)``, ``E[max(C - T, 0)]`` and ``E[max(T - C, 0)]`` for two Beta posteriors.

    Integrates over the arm with the narrower posterior (``N``), against which the other
    arm's (``O``) distribution function is smooth:
    ``P(O < N) = integral f_N(x) F_O(x) dx`` and
    ``E[max(N - O, 0)] = integral f_N(x) E[max(x - O, 0)] dx`` with, for ``O ~ Beta(a, b)``,
    ``E[max(x - O, 0)] = (x - mean_O) F_O(x) + x (1 - x) f_O(x) / (a + b)``.
    The other expected loss follows from ``E[max(T - C, 0)] - E[max(C - T, 0)] = E[T] - E[C]``.
    """
    control_total = control_alpha + control_beta
    treatment_total = treatment_alpha + treatment_beta
    control_mean = control_alpha / control_total
    treatment_mean = treatment_alpha / treatment_total
    control_variance = control_mean * (1.0 - control_mean) / (control_total + 1.0)
    treatment_variance = treatment_mean * (1.0 - treatment_mean) / (treatment_total + 1.0)
    control_is_narrow = control_variance <= treatment_variance
    if control_is_narrow:
        a, b, mean, variance = control_alpha, control_beta, control_mean, control_variance
        other_a, other_b, other_mean = treatment_alpha, treatment_beta, treatment_mean
    else:
        a, b, mean, variance = treatment_alpha, treatment_beta, treatment_mean, treatment_variance
        other_a, other_b, other_mean = control_alpha, control_beta, control_mean
    scale = math.sqrt(variance)
    if a >= HERMITE_MINIMUM_PARAMETER and b >= HERMITE_MINIMUM_PARAMETER:
        # With a, b >= 50 the mean is more than sqrt(50) = 7.07 standard deviations from 0
        # and from 1, beyond the outermost node (6.63), so every node lies inside (0, 1).
        nodes, log_weights = weighted_rule(HERMITE_POINTS, hermite=True)
        centre, spread = mean, scale
        narrow_offset = math.log(scale * SQRT_TWO_PI) - log_beta(a, b)
    else:
        nodes, log_weights = weighted_rule(LEGENDRE_POINTS, hermite=False)
        low = max(0.0, mean - BETA_WINDOW_IN_SCALES * scale)
        spread = 0.5 * (min(1.0, mean + BETA_WINDOW_IN_SCALES * scale) - low)
        centre = low + spread
        narrow_offset = math.log(spread) - log_beta(a, b)
    x = centre + spread * nodes
    other_cdf = betainc(other_a, other_b, x).tolist()
    other_offset = log_beta(other_a, other_b) + math.log(other_a + other_b)
    narrow_a, narrow_b = a - 1.0, b - 1.0
    log, log1p, exp = math.log, math.log1p, math.exp
    # At most 48 nodes: plain floats cost less here than numpy's overhead per call.
    other_below = narrow_minus_other = 0.0
    for node, cdf, log_weight in zip(x.tolist(), other_cdf, log_weights, strict=True):
        log_x, log_one_minus_x = log(node), log1p(-node)
        weight = exp(narrow_a * log_x + narrow_b * log_one_minus_x + (log_weight + narrow_offset))
        other_tail = exp(other_a * log_x + other_b * log_one_minus_x - other_offset)
        other_below += weight * cdf
        narrow_minus_other += weight * ((node - other_mean) * cdf + other_tail)
    narrow_minus_other = max(0.0, narrow_minus_other)
    difference = treatment_mean - control_mean
    if control_is_narrow:
        probability = 1.0 - other_below
        loss_treatment = narrow_minus_other
        loss_control = narrow_minus_other + difference
    else:
        probability = other_below
        loss_control = narrow_minus_other
        loss_treatment = narrow_minus_other - difference
    return min(1.0, max(0.0, probability)), max(0.0, loss_treatment), max(0.0, loss_control)


def normal_two_arm(
    control_mean: float,
    control_standard_error: float,
    treatment_mean: float,
    treatment_standard_error: float,
) -> tuple[float, float, float]:
    """``P(T > C)`` and both expected losses for independent normal posteriors.

    With ``D = T - C ~ N(d, s**2)``: ``P(D > 0) = Phi(d / s)``,
    ``E[max(-D, 0)] = s phi(d / s) - d Phi(-d / s)`` and
    ``E[max(D, 0)] = s phi(d / s) + d Phi(d / s)``.
    """
    difference = treatment_mean - control_mean
    scale = math.sqrt(control_standard_error**2 + treatment_standard_error**2)
    standardised = difference / scale
    density = math.exp(-0.5 * standardised * standardised) / SQRT_TWO_PI
    upper = float(ndtr(standardised))
    loss_treatment = max(0.0, scale * density - difference * (1.0 - upper))
    loss_control = max(0.0, scale * density + difference * upper)
    return upper, loss_treatment, loss_control


def normal_posterior(statistics: Moments) -> tuple[float, float]:
    n = statistics.n
    variance = centered_sum_of_squares(n, statistics.sum, statistics.sum_sq) / (n - 1)
    return statistics.sum / n, math.sqrt(variance / n)


def means_status(arms: Sequence[Moments]) -> Status:
    if any(arm.n == 0 for arm in arms):
        return Status.EMPTY_ARM
    if any(arm.n < 2 for arm in arms):
        return Status.TOO_FEW_UNITS
    return Status.OK
