"""Independent references for the Bayesian figures (not collected as tests).

Beta posteriors by adaptive quadrature (scipy.integrate.quad) in ``u = sqrt(x)``, where a
density with a parameter below 1 (Jeffreys' prior with no successes) is finite; the effect
model by the formulas of GrowthBook's gbstats (``EffectBayesianABTest``), written out here
with scipy's normal and truncated-normal distributions.
"""

from __future__ import annotations

import math

from scipy import integrate, optimize, special
from scipy import stats as scipy_stats


def _beta_integral(a: float, b: float, function: object) -> float:
    """``E[function(X)]`` for ``X ~ Beta(a, b)`` by quad over ``u = sqrt(X)``."""
    log_norm = special.betaln(a, b)
    distribution = scipy_stats.beta(a, b)
    high = math.sqrt(float(distribution.isf(1e-17)))
    low = math.sqrt(float(distribution.ppf(1e-17))) if a >= 2 else 0.0
    mean = math.sqrt(a / (a + b))

    def integrand(u: float) -> float:
        x = u * u
        log_density = (2 * a - 1) * math.log(u) if u > 0 else (0.0 if a == 0.5 else -math.inf)
        log_density += (b - 1) * math.log1p(-x) - log_norm + math.log(2.0)
        return math.exp(log_density) * function(x)  # type: ignore[operator,no-any-return]

    value, _ = integrate.quad(
        integrand,
        low,
        high,
        points=[min(max(mean, low), high)],
        limit=500,
        epsabs=1e-15,
        epsrel=1e-12,
    )
    return float(value)


def beta_chance_to_win(control: tuple[float, float], treatment: tuple[float, float]) -> float:
    """``P(T > C) = E_C[1 - F_T(C)]``."""
    return _beta_integral(*control, lambda x: float(special.betaincc(*treatment, x)))


def beta_loss_of_treatment(control: tuple[float, float], treatment: tuple[float, float]) -> float:
    """``E[max(C - T, 0)] = E_C[E[max(x - T, 0)]]`` with the inner expectation by quad."""

    def shortfall(x: float) -> float:
        value, _ = integrate.quad(
            lambda t: special.betainc(*treatment, t), 0.0, x, epsabs=1e-16, epsrel=1e-12
        )
        return float(value)  # integral of F_T up to x

    return _beta_integral(*control, shortfall)


def beta_relative_quantile(
    control: tuple[float, float], treatment: tuple[float, float], probability: float
) -> float:
    """The quantile of ``T / C - 1`` from ``P(T <= (1 + r) C) = E_C[F_T((1 + r) C)]``."""

    def cdf(lift: float) -> float:
        return _beta_integral(
            *control, lambda x: float(special.betainc(*treatment, min(1.0, (1 + lift) * x)))
        )

    low, high = -1.0 + 1e-12, 1.0
    while cdf(high) < probability:
        high *= 4
    return float(optimize.brentq(lambda r: cdf(r) - probability, low, high, xtol=1e-12))


def gbstats_effect(
    control_mean: float,
    control_variance_of_mean: float,
    treatment_mean: float,
    treatment_variance_of_mean: float,
    *,
    prior_mean: float = 0.0,
    prior_variance: float = 1.0,
    proper: bool = False,
    alpha: float = 0.05,
) -> dict[str, float]:
    """gbstats' EffectBayesianABTest on the relative scale, its formulas written out.

    ``data_mean = (mean_b - mean_a) / |mean_a|``, ``data_variance`` the delta method's
    ``var_b / mean_a**2 + mean_b**2 var_a / mean_a**4``; ``post_prec = 1 / data_variance
    (+ 1 / prior_variance if proper)``; ``mean_diff`` the precision-weighted mean;
    ``chance_to_win = norm.sf(0, mean_diff, std_diff)``; ``ci = norm.ppf([alpha / 2, 1 -
    alpha / 2], mean_diff, std_diff)``; ``risk = [P(D > 0) E[D | D > 0], -P(D < 0) E[D | D <
    0]]`` (control's, treatment's).
    """
    data_mean = (treatment_mean - control_mean) / abs(control_mean)
    data_variance = (
        treatment_variance_of_mean / control_mean**2
        + treatment_mean**2 * control_variance_of_mean / control_mean**4
    )
    precision = 1 / data_variance + (1 / prior_variance if proper else 0)
    mean = (
        (data_mean / data_variance + prior_mean / prior_variance) / precision
        if proper
        else data_mean
    )
    scale = math.sqrt(1 / precision)
    posterior = scipy_stats.norm(mean, scale)
    below = posterior.cdf(0.0)
    negative_mean = scipy_stats.truncnorm.mean(-math.inf, (0 - mean) / scale, mean, scale)
    positive_mean = scipy_stats.truncnorm.mean((0 - mean) / scale, math.inf, mean, scale)
    low, high = posterior.ppf([alpha / 2, 1 - alpha / 2])
    return {
        "mean": mean,
        "chance_to_win": float(posterior.sf(0.0)),
        "ci_low": float(low),
        "ci_high": float(high),
        "risk_control": float((1 - below) * positive_mean),
        "risk_treatment": float(-below * negative_mean),
    }
