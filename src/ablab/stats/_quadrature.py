"""Quadrature rules for the Bayesian posteriors (computed on first use, then cached).

References:
    Abramowitz, M., Stegun, I. A. (1964). Handbook of Mathematical Functions. National Bureau
    of Standards, 25.4.29 (Gauss-Legendre) and 25.4.46 (Gauss-Hermite).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float64]

# Points per piece of the composite rule; each piece spans at most PIECE_IN_SCALES posterior
# standard deviations of every arm whose mass it holds, where an 8-point rule is exact to
# far below the precision anyone reads a probability at.
POINTS_PER_PIECE = 8
PIECE_IN_SCALES = 1.5


@functools.cache
def normal_rule(points: int) -> tuple[Vector, Vector, Vector]:
    """Nodes ``z`` and weights ``w`` with ``sum(w * g(z)) ~ E[g(Z)]`` for ``Z ~ N(0, 1)``.

    The third array is ``z**2 / 2``, the log of the inverse standard normal density up to a
    constant, which turns the rule into one for any density close to normal.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    return nodes, weights / math.sqrt(2.0 * math.pi), 0.5 * nodes * nodes


@functools.cache
def legendre_rule(points: int) -> tuple[Vector, Vector]:
    """Gauss-Legendre nodes and weights on ``[-1, 1]``."""
    nodes, weights = np.polynomial.legendre.leggauss(points)
    return nodes, weights


@functools.cache
def weighted_rule(points: int, *, hermite: bool) -> tuple[Vector, tuple[float, ...]]:
    """Nodes and log-weights of a rule for integrals against a density near normal.

    Hermite: ``sum(exp(lw_i) f(x_i)) ~ integral f`` over ``x = mean + scale z_i`` once the
    caller adds ``log(scale sqrt(2 pi))``; the log-weights hold ``log w_i + z_i**2 / 2`` so
    that ``exp(lw_i) f(x_i)`` weighs ``f`` against the standard normal weight function.
    Legendre: plain ``log w_i`` on ``[-1, 1]``; the caller adds ``log(half width)``.
    """
    if hermite:
        nodes, weights, half_square = normal_rule(points)
        log_weights = np.log(weights) + half_square
    else:
        nodes, weights = legendre_rule(points)
        log_weights = np.log(weights)
    return nodes, tuple(log_weights.tolist())


def composite_rule(breakpoints: Vector) -> tuple[Vector, Vector]:
    """Gauss-Legendre on every piece between consecutive sorted ``breakpoints``."""
    nodes, weights = legendre_rule(POINTS_PER_PIECE)
    half = 0.5 * np.diff(breakpoints)
    middle = breakpoints[:-1] + half
    return (middle[:, None] + half[:, None] * nodes).ravel(), (half[:, None] * weights).ravel()


def best_arm_integrals(
    centres: Vector,
    scales: Vector,
    half_width_in_scales: float,
    *,
    support: tuple[float, float],
    log_density: Callable[[int, Vector], Vector],
    cdf: Callable[[int, Vector], Vector],
) -> tuple[Vector, float]:
    """``P(arm k is best)`` for each arm and ``E[max_k X_k]`` for independent arms.

    ``P(k best) = integral f_k(x) prod_{j != k} F_j(x) dx`` over arm k's window
    (``centre -/+ half_width_in_scales * scale``, clipped to ``support``) and
    ``E[max] = sum_k integral x f_k(x) prod_{j != k} F_j(x) dx``. Each window is cut at a
    grid of every arm's own spacing, so no piece is wider than any arm's scale where that
    arm's density or distribution function changes.
    """
    lower, upper = support
    offsets = np.arange(
        -half_width_in_scales, half_width_in_scales + PIECE_IN_SCALES / 2, PIECE_IN_SCALES
    )
    grids = np.clip(centres[:, None] + scales[:, None] * offsets, lower, upper).ravel()
    arms = centres.size
    probability_best = np.empty(arms)
    expected_maximum = 0.0
    for arm in range(arms):
        start = max(lower, centres[arm] - half_width_in_scales * scales[arm])
        stop = min(upper, centres[arm] + half_width_in_scales * scales[arm])
        inside = grids[(grids > start) & (grids < stop)]
        breakpoints = np.unique(np.concatenate(([start, stop], inside)))
        nodes, weights = composite_rule(breakpoints)
        integrand = weights * np.exp(log_density(arm, nodes))
        for other in range(arms):
            if other != arm:
                integrand = integrand * cdf(other, nodes)
        probability_best[arm] = integrand.sum()
        expected_maximum += float(integrand @ nodes)
    return probability_best, expected_maximum
