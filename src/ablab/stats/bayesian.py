"""Bayesian chance to win, credible interval of the relative lift, and expected loss.

Two models, each with a prior chosen per analysis (:mod:`ablab.stats.priors`):

* proportions: a ``Beta(a, b)`` prior on each arm's rate (Jeffreys' by default), so an arm
  with ``x`` successes in ``n`` units has posterior ``Beta(a + x, b + n - x)``. Every figure
  is computed from the two Beta posteriors without approximation, by quadrature (no random
  draws): the chance to win ``P(T / C - 1 > 0) = P(T > C)``, the posterior median and
  equal-tailed credible interval of the relative lift ``T / C - 1`` (quantiles of its
  distribution), and the expected losses.
* every other metric: GrowthBook's effect model. The relative effect ``(t - c) / |c|`` is
  estimated with its delta-method variance and combined with a normal prior on it (flat by
  default); the chance to win, credible interval and expected losses come from that normal
  posterior.

Both report the chance to win on the relative scale, as gbstats does; for proportions it is
the exact probability rather than gbstats' normal approximation. The Beta model and the choice
between the two models are here; the effect model is in :mod:`ablab.stats.bayesian_effect`,
whose functions this module re-exports.
"""

from __future__ import annotations

import math

from ablab.stats._posteriors import BetaPair
from ablab.stats._validation import check_alpha
from ablab.stats.bayesian_effect import bayesian_from_comparison, bayesian_means
from ablab.stats.moments import Moments
from ablab.stats.priors import JEFFREYS, BetaPrior, Prior
from ablab.stats.proportions import check_binary
from ablab.stats.results import BayesianResult, ComparisonResult, Status

__all__ = [
    "bayesian_for_comparison",
    "bayesian_from_comparison",
    "bayesian_means",
    "bayesian_proportions",
]


def bayesian_proportions(
    control: Moments,
    treatment: Moments,
    *,
    prior: BetaPrior = JEFFREYS,
    alpha: float = 0.05,
) -> BayesianResult:
    """Beta-Binomial chance to win, relative credible interval and expected losses.

    Needs, per arm, ``n`` and ``sum`` (successes) of a 0/1 metric. Posteriors are
    ``Beta(a + x, b + n - x)`` for the prior ``Beta(a, b)``. With ``R = T / C - 1``:

    * ``probability_to_beat_control = P(R > 0) = P(T > C)``;
    * ``relative_lift`` is the median of ``R`` and ``relative_credible_interval`` its
      ``alpha / 2`` and ``1 - alpha / 2`` quantiles, from ``P(R <= r) =
      P(T <= (1 + r) C)`` (one-dimensional quadrature, then Brent's method);
    * ``expected_loss_treatment = E[max(C - T, 0)]`` and ``expected_loss_control =
      E[max(T - C, 0)]``; their relative forms divide by ``E[C]``.

    Args:
        control: Control arm as a proportion.
        treatment: Treatment arm as a proportion.
        prior: The Beta prior of each arm's rate (:data:`ablab.stats.priors.JEFFREYS`).
        alpha: One minus the credible interval's level.

    Returns:
        A :class:`BayesianResult` with posterior means; ``empty_arm`` (NaN numbers) when an
        arm has no units.

    Raises:
        ValidationError: an arm's values are not 0/1, or ``alpha`` is outside (0, 1).

    References:
        Miller, E. (2015). Formulas for Bayesian A/B Testing. evanmiller.org (the
        probability that one Beta variable exceeds another).
        Stucchio, C. (2015). Bayesian A/B Testing at VWO. VWO whitepaper (expected
        loss ``E[max(C - T, 0)]`` as the decision criterion).
        Jeffreys, H. (1946). An invariant form for the prior probability in estimation
        problems. Proceedings of the Royal Society A 186(1007), 453-461.

    Examples:
        >>> from ablab.stats import Moments, bayesian_proportions
        >>> control = Moments.from_successes(100, 1000)
        >>> treatment = Moments.from_successes(125, 1000)
        >>> result = bayesian_proportions(control, treatment)
        >>> round(result.probability_to_beat_control, 4), round(result.relative_lift, 4)
        (0.9617, 0.2495)
        >>> [round(bound, 3) for bound in result.relative_credible_interval]
        [-0.024, 0.604]
        >>> result.prior
        "Beta(0.5, 0.5) (Jeffreys) on each arm's rate"
    """
    level = check_alpha(alpha)
    check_binary(control, "control")
    check_binary(treatment, "treatment")
    described = prior.describe()
    if control.n == 0 or treatment.n == 0:
        nan = math.nan  # nothing to compute: no chance to win, no losses
        return BayesianResult(
            "beta_binomial",
            Status.EMPTY_ARM,
            control.mean,
            treatment.mean,
            nan,
            nan,
            nan,
            prior=described,
            alpha=level,
        )
    pair = BetaPair.of(
        prior.alpha + control.sum,
        prior.beta + control.n - control.sum,
        prior.alpha + treatment.sum,
        prior.beta + treatment.n - treatment.sum,
    )
    probability, loss_treatment, loss_control = pair.two_arm()
    control_mean = pair.control.mean
    return BayesianResult(
        "beta_binomial",
        Status.OK,
        control_mean,
        pair.treatment.mean,
        probability,
        loss_treatment,
        loss_control,
        prior=described,
        relative_lift=pair.relative_quantile(0.5),
        relative_credible_interval=(
            pair.relative_quantile(level / 2.0),
            pair.relative_quantile(1.0 - level / 2.0),
        ),
        relative_expected_loss_treatment=loss_treatment / control_mean,
        relative_expected_loss_control=loss_control / control_mean,
        alpha=level,
    )


PROPORTION_METHOD = "two_proportion_z_test"


def bayesian_for_comparison(comparison: ComparisonResult, prior: Prior) -> BayesianResult:
    """The Bayesian view of a comparison under ``prior``, the model chosen by its method.

    A two-proportion comparison carries its counts (each arm's rate times its units, exact
    in floating point below 2**52 units): it gets the Beta model with ``prior.proportions``.
    Any other comparison gets the effect model with ``prior.effect``.

    The credible interval is the equal-tailed one at ``1 - 2 alpha`` (90% at alpha 0.05):
    its bounds are the lift's ``alpha`` and ``1 - alpha`` quantiles, so it excludes 0
    exactly when the chance to win is above ``1 - alpha`` or below ``alpha``, the Bayesian
    verdict's thresholds. A 95% interval beside a 95% threshold would contradict the
    verdict whenever the chance lies between 95% and 97.5%.

    Examples:
        >>> from ablab.stats import Moments, parse_prior, two_proportion_z_test
        >>> comparison = two_proportion_z_test(
        ...     Moments.from_successes(100, 1000), Moments.from_successes(125, 1000)
        ... )
        >>> result = bayesian_for_comparison(comparison, parse_prior("uniform"))
        >>> result.method, round(result.probability_to_beat_control, 4)
        ('beta_binomial', 0.9614)
    """
    tails = 2.0 * comparison.alpha if comparison.alpha < 0.5 else comparison.alpha
    if comparison.method != PROPORTION_METHOD:
        return bayesian_from_comparison(comparison, prior=prior.effect, alpha=tails)
    control, treatment = (
        Moments.from_successes(round(value * units), units) if units else Moments.empty()
        for value, units in (
            (comparison.control_value, comparison.control_units),
            (comparison.treatment_value, comparison.treatment_units),
        )
    )
    return bayesian_proportions(control, treatment, prior=prior.proportions, alpha=tails)
