"""Independent reference computations for the statistics tests (not collected as tests).

Each function implements a published formula directly, or defers to scipy/statsmodels, so
that ablab.stats is never checked against itself.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special
from scipy import stats as scipy_stats


def beta_probability_exact(
    control_alpha: int, control_beta: int, treatment_alpha: int, treatment_beta: int
) -> float:
    """P(T > C) for C ~ Beta(aC, bC), T ~ Beta(aT, bT) with integer aT (Evan Miller, 2015).

    sum_{i=0}^{aT-1} B(aC + i, bC + bT) / ((bT + i) B(1 + i, bT) B(aC, bC)).
    """
    i = np.arange(int(treatment_alpha), dtype=np.float64)
    terms = (
        special.betaln(control_alpha + i, control_beta + treatment_beta)
        - np.log(treatment_beta + i)
        - special.betaln(1.0 + i, treatment_beta)
        - special.betaln(control_alpha, control_beta)
    )
    return math.fsum(np.exp(terms))


def beta_loss_exact(
    control_alpha: int, control_beta: int, treatment_alpha: int, treatment_beta: int
) -> float:
    """E[max(C - T, 0)] = E[C] P(C' > T) - E[T] P(C > T'), C' and T' size-biased (Stucchio)."""
    control_mean = control_alpha / (control_alpha + control_beta)
    treatment_mean = treatment_alpha / (treatment_alpha + treatment_beta)
    control_wins_biased = 1.0 - beta_probability_exact(
        control_alpha + 1, control_beta, treatment_alpha, treatment_beta
    )
    control_wins = 1.0 - beta_probability_exact(
        control_alpha, control_beta, treatment_alpha + 1, treatment_beta
    )
    return control_mean * control_wins_biased - treatment_mean * control_wins


def probability_best_by_quad(
    distributions: list[scipy_stats.rv_continuous], lower: float, upper: float
) -> list[float]:
    """P(arm k is best) by adaptive quadrature of f_k * prod F_j (scipy.integrate.quad)."""
    results = []
    for index, arm in enumerate(distributions):
        others = [other for position, other in enumerate(distributions) if position != index]
        start = max(lower, float(arm.ppf(1e-13)))
        stop = min(upper, float(arm.isf(1e-13)))
        points = sorted({float(np.clip(other.mean(), start, stop)) for other in distributions})

        def integrand(
            x: float, arm: scipy_stats.rv_continuous = arm, others: list = others
        ) -> float:  # type: ignore[type-arg]
            value = float(arm.pdf(x))
            for other in others:
                value *= float(other.cdf(x))
            return value

        value, _ = integrate.quad(
            integrand, start, stop, points=points, limit=500, epsabs=1e-13, epsrel=1e-11
        )
        results.append(value)
    return results


def normal_mixture_likelihood_ratio(
    difference: float, variance: float, mixing_variance: float, null: float = 0.0
) -> float:
    """The mSPRT statistic by integrating the likelihood ratio over the N(null, tau^2) mixture."""
    scale = math.sqrt(variance)
    mixing_scale = math.sqrt(mixing_variance)

    def integrand(theta: float) -> float:
        log_ratio = scipy_stats.norm.logpdf(difference, theta, scale) - scipy_stats.norm.logpdf(
            difference, null, scale
        )
        return float(np.exp(log_ratio) * scipy_stats.norm.pdf(theta, null, mixing_scale))

    centre = difference * mixing_variance / (mixing_variance + variance) + null * variance / (
        mixing_variance + variance
    )
    width = 12.0 * math.sqrt(variance * mixing_variance / (variance + mixing_variance))
    value, _ = integrate.quad(
        integrand, centre - width, centre + width, limit=200, epsabs=0.0, epsrel=1e-12
    )
    return value
