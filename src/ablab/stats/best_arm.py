"""A/B/n: the posterior probability that each arm is best, and each arm's expected loss."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import betainc, ndtr

from ablab.errors import ValidationError
from ablab.stats._posteriors import (
    BETA_WINDOW_IN_SCALES,
    NORMAL_WINDOW_IN_SCALES,
    SQRT_TWO_PI,
    log_beta,
    means_status,
    normal_posterior,
)
from ablab.stats._quadrature import Vector, best_arm_integrals
from ablab.stats.moments import Moments
from ablab.stats.priors import JEFFREYS, BetaPrior
from ablab.stats.proportions import check_binary
from ablab.stats.results import BestArmResult, Status

__all__ = ["probability_best_means", "probability_best_proportions"]


def _check_arms(arms: Sequence[Moments]) -> None:
    if len(arms) < 2:
        raise ValidationError(
            "an A/B/n comparison needs at least two arms", details={"arms": len(arms)}
        )


def _best_arm_result(
    method: str, centres: Vector, probability_best: Vector, expected_maximum: float
) -> BestArmResult:
    probabilities = tuple(float(min(1.0, max(0.0, value))) for value in probability_best)
    losses = tuple(max(0.0, expected_maximum - float(centre)) for centre in centres)
    return BestArmResult(method, Status.OK, probabilities, losses)


def probability_best_proportions(
    arms: Sequence[Moments], *, prior: BetaPrior = JEFFREYS
) -> BestArmResult:
    """Beta-Binomial probability that each arm has the highest rate, and each arm's loss.

    ``P(k best) = integral f_k(x) prod_{j != k} F_j(x) dx`` over the ``Beta(a + x, b + n -
    x)`` posteriors of the prior ``Beta(a, b)``; the expected loss of choosing ``k`` is
    ``E[max_j p_j] - E[p_k]``.

    Args:
        arms: Each arm as a proportion, control first by convention.
        prior: The Beta prior of each arm's rate (Jeffreys' by default, as
            :func:`ablab.stats.bayesian_proportions`).

    Returns:
        A :class:`BestArmResult` in the order of ``arms``; ``empty_arm`` (empty tuples) when
        an arm has no units.

    Raises:
        ValidationError: fewer than two arms, or an arm's values are not 0/1.

    References:
        Miller, E. (2015). Formulas for Bayesian A/B Testing. evanmiller.org (three or more
        Beta arms).
        Scott, S. L. (2010). A modern Bayesian look at the multi-armed bandit. Applied
        Stochastic Models in Business and Industry 26(6), 639-658 (the probability each arm
        is optimal).

    Examples:
        >>> from ablab.stats import Moments, probability_best_proportions
        >>> arms = [Moments.from_successes(x, 1000) for x in (100, 110, 125)]
        >>> [round(p, 3) for p in probability_best_proportions(arms).probability_best]
        [0.026, 0.142, 0.832]
    """
    _check_arms(arms)
    for index, arm in enumerate(arms):
        check_binary(arm, f"arms[{index}]")
    if any(arm.n == 0 for arm in arms):
        return BestArmResult("beta_binomial", Status.EMPTY_ARM, (), ())
    alphas = np.array([arm.sum + prior.alpha for arm in arms])
    betas = np.array([arm.n - arm.sum + prior.beta for arm in arms])
    totals = alphas + betas
    centres = alphas / totals
    scales = np.sqrt(centres * (1.0 - centres) / (totals + 1.0))
    log_betas = [log_beta(float(a), float(b)) for a, b in zip(alphas, betas, strict=True)]

    def log_density(arm: int, x: Vector) -> Vector:
        result: Vector = (
            (alphas[arm] - 1.0) * np.log(x) + (betas[arm] - 1.0) * np.log1p(-x) - log_betas[arm]
        )
        return result

    def cdf(arm: int, x: Vector) -> Vector:
        result: Vector = betainc(alphas[arm], betas[arm], x)
        return result

    probability_best, expected_maximum = best_arm_integrals(
        centres,
        scales,
        BETA_WINDOW_IN_SCALES,
        support=(0.0, 1.0),
        log_density=log_density,
        cdf=cdf,
    )
    return _best_arm_result("beta_binomial", centres, probability_best, expected_maximum)


def probability_best_means(arms: Sequence[Moments]) -> BestArmResult:
    """Normal-approximation probability that each arm has the highest mean, and losses.

    Each arm's mean is ``N(mean, s**2 / n)`` (a flat prior on each mean: an A/B/n choice has
    no single relative effect to put gbstats' prior on).

    Args:
        arms: Each arm's statistics, control first by convention.

    Returns:
        A :class:`BestArmResult`; ``empty_arm``, ``too_few_units`` or ``zero_variance``
        (an arm whose values are all equal: its posterior is a point) with empty tuples.

    Raises:
        ValidationError: fewer than two arms.

    References:
        Scott, S. L. (2010). A modern Bayesian look at the multi-armed bandit. Applied
        Stochastic Models in Business and Industry 26(6), 639-658.

    Examples:
        >>> from ablab.stats import Moments, probability_best_means
        >>> arms = [
        ...     Moments(n=100, sum=1000.0, sum_sq=10_400.0),
        ...     Moments(n=100, sum=1050.0, sum_sq=11_425.0),
        ... ]
        >>> [round(p, 4) for p in probability_best_means(arms).probability_best]
        [0.0393, 0.9607]
    """
    _check_arms(arms)
    status = means_status(arms)
    if status is not Status.OK:
        return BestArmResult("normal", status, (), ())
    posteriors = [normal_posterior(arm) for arm in arms]
    if any(error == 0.0 for _, error in posteriors):
        return BestArmResult("normal", Status.ZERO_VARIANCE, (), ())
    centres = np.array([centre for centre, _ in posteriors])
    scales = np.array([error for _, error in posteriors])

    def log_density(arm: int, x: Vector) -> Vector:
        standardised = (x - centres[arm]) / scales[arm]
        result: Vector = -0.5 * standardised * standardised - math.log(scales[arm] * SQRT_TWO_PI)
        return result

    def cdf(arm: int, x: Vector) -> Vector:
        result: Vector = ndtr((x - centres[arm]) / scales[arm])
        return result

    probability_best, expected_maximum = best_arm_integrals(
        centres,
        scales,
        NORMAL_WINDOW_IN_SCALES,
        support=(-math.inf, math.inf),
        log_density=log_density,
        cdf=cdf,
    )
    return _best_arm_result("normal", centres, probability_best, expected_maximum)
