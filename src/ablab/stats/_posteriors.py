"""Posterior integrals shared by the Bayesian methods (two arms and A/B/n).

Proportions: ``Beta(a + x, b + n - x)`` posteriors from a ``Beta(a, b)`` prior; every
integral is a quadrature over the arm with the narrower posterior (see :class:`BetaRule`).
Other metrics: a normal posterior for the relative effect (see :func:`effect_posterior`),
or, for A/B/n, ``N(mean, s**2 / n)`` per arm (flat prior, normal approximation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import (
    betainc,
    betaincc,
    betainccinv,
    betaincinv,
    ndtr,
    ndtri,
    roots_jacobi,
)

from ablab.stats._quadrature import Vector, weighted_rule
from ablab.stats.moments import Moments, centered_sum_of_squares
from ablab.stats.priors import NormalPrior
from ablab.stats.results import Status

SQRT_TWO_PI = math.sqrt(2.0 * math.pi)
LOG_TWO = math.log(2.0)
# A Beta posterior with both parameters at least this large is close enough to normal for
# a 16-point Gauss-Hermite rule around its mean; below it, 48-point Gauss-Legendre on each
# side of the mean, over the window between the 1e-15 quantiles.
HERMITE_MINIMUM_PARAMETER = 50.0
HERMITE_POINTS = 16
LEGENDRE_POINTS = 48
WINDOW_TAIL = 1e-15
# Below this parameter the density is infinite at its end (< 1) or not smooth enough there
# for Gauss-Legendre to reach 1e-10 (fractional powers up to 2; measured on the loss
# identity E[T - C]+ - E[C - T]+ = E[T] - E[C] over random priors).
ROUGH_BELOW = 3.0
# For the A/B/n rules (best_arm).
BETA_WINDOW_IN_SCALES = 20.0
NORMAL_WINDOW_IN_SCALES = 12.0


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


@functools.lru_cache(maxsize=64)
def _jacobi_rule(alpha: float, beta: float) -> tuple[Vector, Vector]:
    """Gauss-Jacobi nodes and log-weights for ``(1 - t)**alpha (1 + t)**beta`` on [-1, 1].

    Cached: the exponents that reach here are few (a posterior parameter below 3 means an
    arm with at most two successes or failures, so with a fixed prior the same few recur).
    """
    nodes, weights = roots_jacobi(LEGENDRE_POINTS, alpha, beta)
    return nodes, np.log(weights)


def _piece(a: float, b: float, low: float, high: float, end: str) -> tuple[Vector, Vector]:
    """Nodes and weights of ``integral_low^high Beta(a, b) density * g`` by one Gauss rule.

    ``end`` names an end of ``[0, 1]`` that the piece reaches and where the density is
    infinite or rough (a parameter below 3): ``"low"`` (``low`` is 0) or ``"high"``
    (``high`` is 1). There the piece is integrated in ``u = sqrt(x)`` (``sqrt(1 - x)``) by a
    Gauss-Jacobi rule whose weight function is the density's power of ``u``, exactly: the
    square root also turns the other arm's distribution function, which behaves like
    ``x**a'`` there, into a polynomial when ``a'`` is a whole or half number (the posteriors
    of the uniform and Jeffreys priors). Elsewhere Gauss-Legendre serves.
    """
    offset = -log_beta(a, b)
    if end == "low":
        nodes, log_weights = _jacobi_rule(0.0, 2.0 * a - 1.0)
        half = 0.5 * math.sqrt(high)
        x = (half * (nodes + 1.0)) ** 2
        log_density = (b - 1.0) * np.log1p(-x) + (LOG_TWO + 2.0 * a * math.log(half))
    elif end == "high":
        nodes, log_weights = _jacobi_rule(0.0, 2.0 * b - 1.0)
        half = 0.5 * math.sqrt(1.0 - low)
        x = 1.0 - (half * (nodes + 1.0)) ** 2
        log_density = (a - 1.0) * np.log(x) + (LOG_TWO + 2.0 * b * math.log(half))
    else:
        legendre, legendre_log_weights = weighted_rule(LEGENDRE_POINTS, hermite=False)
        nodes, log_weights = legendre, np.asarray(legendre_log_weights)
        half = 0.5 * (high - low)
        x = low + half * (nodes + 1.0)
        log_density = (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) + math.log(half)
    return x, np.exp(log_density + log_weights + offset)


@dataclass(frozen=True, slots=True)
class BetaRule:
    """Nodes and weights with ``sum(w * g(x)) ~ E[g(X)]`` for ``X ~ Beta(a, b)``.

    With both parameters at least 50 the density is close to normal and a Gauss-Hermite rule
    around its mean serves. Otherwise a Gauss-Legendre rule on each side of the mean, out to
    the ``1e-15`` quantiles; where a parameter below 3 makes the density infinite or rough at
    an end of ``[0, 1]`` (Jeffreys' prior with no successes, say), that side reaches the end
    and is integrated by Gauss-Jacobi with that end's power as the weight function.

    References:
        Golub, G. H., Welsch, J. H. (1969). Calculation of Gauss quadrature rules.
        Mathematics of Computation 23(106), 221-230 (Gauss-Jacobi rules for weights
        ``(1 - t)**alpha (1 + t)**beta``).
    """

    a: float
    b: float
    nodes: Vector
    weights: Vector

    @classmethod
    def of(cls, a: float, b: float) -> BetaRule:
        total = a + b
        mean = a / total
        scale = math.sqrt(mean * (1.0 - mean) / (total + 1.0))
        if a >= HERMITE_MINIMUM_PARAMETER and b >= HERMITE_MINIMUM_PARAMETER:
            # With a, b >= 50 the mean is more than sqrt(50) = 7.07 standard deviations from
            # 0 and from 1, beyond the outermost node (6.63), so every node is inside (0, 1).
            nodes, log_weights = weighted_rule(HERMITE_POINTS, hermite=True)
            x = mean + scale * nodes
            offset = math.log(scale * SQRT_TWO_PI) - log_beta(a, b)
            log_density = (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x)
            return cls(a, b, x, np.exp(log_density + np.asarray(log_weights) + offset))
        # The window holds all but 2e-15 of the mass, however skewed the density is; at
        # an end where the density is infinite or not smooth (a parameter below 3), the
        # window reaches that end and a Gauss-Jacobi rule takes the power there exactly.
        rough_low, rough_high = a < ROUGH_BELOW, b < ROUGH_BELOW
        low = 0.0 if rough_low else float(betaincinv(a, b, WINDOW_TAIL))
        high = 1.0 if rough_high else float(betainccinv(a, b, WINDOW_TAIL))
        if rough_low != rough_high:
            # One rough end: one piece over the whole window, so that the rough end's
            # power is the rule's weight even where the mass sits right next to that end.
            x, weights = _piece(a, b, low, high, "low" if rough_low else "high")
            return cls(a, b, x, weights)
        left = _piece(a, b, low, mean, "low" if rough_low else "")
        right = _piece(a, b, mean, high, "high" if rough_high else "")
        return cls(a, b, np.concatenate((left[0], right[0])), np.concatenate((left[1], right[1])))

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def variance(self) -> float:
        mean = self.mean
        return mean * (1.0 - mean) / (self.a + self.b + 1.0)

    def cdf(self, x: Vector) -> Vector:
        result: Vector = betainc(self.a, self.b, x)
        return result

    def sf(self, x: Vector) -> Vector:
        result: Vector = betaincc(self.a, self.b, x)
        return result

    def pdf(self, x: Vector) -> Vector:
        a, b = self.a, self.b
        with np.errstate(divide="ignore"):
            log_density = (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - log_beta(a, b)
        result: Vector = np.exp(log_density)
        return result

    def shortfall(self, x: Vector) -> Vector:
        """``E[max(x - X, 0)] = (x - mean) F(x) + x (1 - x) f(x) / (a + b)``."""
        a, b = self.a, self.b
        with np.errstate(divide="ignore"):
            log_density = a * np.log(x) + b * np.log1p(-x) - (log_beta(a, b) + math.log(a + b))
        result: Vector = (x - self.mean) * self.cdf(x) + np.exp(log_density)
        return result


@dataclass(frozen=True, slots=True)
class BetaPair:
    """Two independent Beta posteriors, control ``C`` and treatment ``T``.

    Every integral runs over the arm with the narrower posterior, against which the other
    arm's distribution function is smooth.
    """

    control: BetaRule
    treatment: BetaRule

    @classmethod
    def of(
        cls,
        control_alpha: float,
        control_beta: float,
        treatment_alpha: float,
        treatment_beta: float,
    ) -> BetaPair:
        return cls(
            BetaRule.of(control_alpha, control_beta), BetaRule.of(treatment_alpha, treatment_beta)
        )

    @property
    def control_is_narrow(self) -> bool:
        return self.control.variance <= self.treatment.variance

    def two_arm(self) -> tuple[float, float, float]:
        """``P(T > C)``, ``E[max(C - T, 0)]`` and ``E[max(T - C, 0)]``.

        ``P(T > C) = E_C[1 - F_T(C)]`` or ``E_T[F_C(T)]``; the shortfall of the narrow arm
        ``N`` below the other ``O`` is ``E_N[E[max(x - O, 0)]]``; the other expected loss
        follows from ``E[max(T - C, 0)] - E[max(C - T, 0)] = E[T] - E[C]``.
        """
        difference = self.treatment.mean - self.control.mean
        if self.control_is_narrow:
            rule, other = self.control, self.treatment
            probability = float(rule.weights @ other.sf(rule.nodes))
            loss_treatment = max(0.0, float(rule.weights @ other.shortfall(rule.nodes)))
            loss_control = loss_treatment + difference
        else:
            rule, other = self.treatment, self.control
            probability = float(rule.weights @ other.cdf(rule.nodes))
            loss_control = max(0.0, float(rule.weights @ other.shortfall(rule.nodes)))
            loss_treatment = loss_control - difference
        return min(1.0, max(0.0, probability)), max(0.0, loss_treatment), max(0.0, loss_control)

    def relative_cdf(self, lift: float) -> tuple[float, float]:
        """``P(T / C - 1 <= lift)`` and its density at ``lift``.

        ``P(T <= (1 + lift) C)`` is ``E_C[F_T((1 + lift) C)]`` or ``E_T[1 - F_C(T / (1 +
        lift))]``, whichever integrates over the narrower of ``(1 + lift) C`` and ``T`` (the
        other's distribution function is then smooth on the rule's scale); the density
        differentiates under the integral.
        """
        factor = 1.0 + lift
        if factor <= 0.0:
            return 0.0, 0.0
        if factor * factor * self.control.variance <= self.treatment.variance:
            rule, other = self.control, self.treatment
            x = factor * rule.nodes
            inside = x < 1.0
            x = np.where(inside, x, 0.5)
            value = float(rule.weights @ np.where(inside, other.cdf(x), 1.0))
            density = float(rule.weights @ np.where(inside, rule.nodes * other.pdf(x), 0.0))
        else:
            rule, other = self.treatment, self.control
            y = rule.nodes / factor
            inside = y < 1.0
            y = np.where(inside, y, 0.5)
            value = float(rule.weights @ np.where(inside, other.sf(y), 0.0))
            density = float(rule.weights @ np.where(inside, y / factor * other.pdf(y), 0.0))
        return min(1.0, max(0.0, value)), max(0.0, density)

    def relative_quantile(self, probability: float) -> float:
        """The ``probability`` quantile of ``T / C - 1``.

        Solved on ``u = log(T / C)``, where the distribution is close to normal even when
        ``C``'s posterior piles up at 0 and the lift's tail runs to ``1e10`` (0 successes
        under a ``Beta(0.2, b)`` prior): Newton's method from the quantile of the
        log-normal that matches both arms' means and variances, each step at most one
        ``e``-fold, inside a bracket that shrinks with every step (bisection in ``u`` when a
        step would leave it). On the lift's own scale a first Newton step from a point of
        negligible density could land at ``1e62``, and halving back from there took more
        than 200 steps.
        """
        control, treatment = self.control, self.treatment
        log_scale = math.sqrt(
            treatment.variance / treatment.mean**2 + control.variance / control.mean**2
        )
        u = math.log(treatment.mean / control.mean) + log_scale * float(ndtri(probability))
        low, high = -math.inf, math.inf
        for _ in range(200):
            value, density = self.relative_cdf(math.expm1(u))
            gap = value - probability
            if gap == 0.0:
                break
            if gap < 0.0:
                low = u
            else:
                high = u
            slope = density * math.exp(u)  # dF/du = f(lift) * (1 + lift)
            step = gap / slope if slope > 0.0 else math.nan
            candidate = u - max(-_MAX_LOG_STEP, min(_MAX_LOG_STEP, step))
            if not low < candidate < high:  # NaN lands here too
                if math.isfinite(low) and math.isfinite(high):
                    candidate = 0.5 * (low + high)
                else:
                    candidate = u + _MAX_LOG_STEP if gap < 0.0 else u - _MAX_LOG_STEP
            if abs(candidate - u) <= 1e-13 * max(1.0, abs(candidate)):
                u = candidate
                break
            u = candidate
        return math.expm1(u)


# The largest Newton step of relative_quantile on log(T / C): one e-fold.
_MAX_LOG_STEP = 1.0


def beta_two_arm(
    control_alpha: float, control_beta: float, treatment_alpha: float, treatment_beta: float
) -> tuple[float, float, float]:
    """``P(T > C)``, ``E[max(C - T, 0)]`` and ``E[max(T - C, 0)]`` for two Beta posteriors."""
    return BetaPair.of(control_alpha, control_beta, treatment_alpha, treatment_beta).two_arm()


def normal_two_arm(
    control_mean: float,
    control_standard_error: float,
    treatment_mean: float,
    treatment_standard_error: float,
) -> tuple[float, float, float]:
    """``P(T > C)`` and both expected losses for independent normal posteriors.

    With ``D = T - C ~ N(d, s**2)``: see :func:`normal_summary`.
    """
    scale = math.sqrt(control_standard_error**2 + treatment_standard_error**2)
    return normal_summary(treatment_mean - control_mean, scale)


def normal_summary(mean: float, scale: float) -> tuple[float, float, float]:
    """``P(D > 0)``, ``E[max(-D, 0)]`` and ``E[max(D, 0)]`` for ``D ~ N(mean, scale**2)``.

    ``P(D > 0) = Phi(m / s)``, ``E[max(-D, 0)] = s phi(m / s) - m Phi(-m / s)`` and
    ``E[max(D, 0)] = s phi(m / s) + m Phi(m / s)``.
    """
    standardised = mean / scale
    density = math.exp(-0.5 * standardised * standardised) / SQRT_TWO_PI
    upper = float(ndtr(standardised))
    loss_treatment = max(0.0, scale * density - mean * (1.0 - upper))
    loss_control = max(0.0, scale * density + mean * upper)
    return upper, loss_treatment, loss_control


def normal_interval(mean: float, scale: float, alpha: float) -> tuple[float, float]:
    """The equal-tailed ``1 - alpha`` interval of ``N(mean, scale**2)``."""
    margin = float(ndtri(1.0 - alpha / 2.0)) * scale
    return (mean - margin, mean + margin)


def effect_posterior(
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
    prior: NormalPrior,
) -> tuple[float, float]:
    """Posterior mean and standard deviation of the relative effect ``(T - C) / |C|``.

    The data give the estimate ``d = (t - c) / |c|`` with the delta-method variance
    ``v = s_t**2 / c**2 + t**2 s_c**2 / c**4``; with a proper prior ``N(m, w)`` the posterior
    is normal with precision ``1 / v + 1 / w`` and mean ``(d / v + m / w) / (1 / v + 1 / w)``,
    and with a flat prior it is ``N(d, v)``. Needs ``c != 0``; the standard deviation is 0
    when ``v`` is 0 and the prior is flat.

    References:
        GrowthBook gbstats, ``EffectBayesianABTest.compute_result`` (the posterior of the
        relative effect under a Gaussian prior) and ``frequentist_variance``
        (``variance_of_ratios``, the delta-method variance of the relative difference).
        Gelman, A. et al. (2013). Bayesian Data Analysis, 3rd ed. CRC Press, Section 2.5
        (the normal mean with known variance and a normal prior).
    """
    scale = abs(control_value)
    estimate = (treatment_value - control_value) / scale
    ratio = treatment_value / control_value
    # Each term divided before squaring, so that a tiny control value cannot underflow.
    variance = math.hypot(treatment_standard_error / scale, ratio * control_standard_error / scale)
    variance *= variance
    if not prior.proper:
        return estimate, math.sqrt(variance)
    prior_precision = 1.0 / prior.variance
    if variance == 0.0:
        return estimate, 0.0
    precision = 1.0 / variance + prior_precision
    mean = (estimate / variance + prior.mean * prior_precision) / precision
    return mean, math.sqrt(1.0 / precision)


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
