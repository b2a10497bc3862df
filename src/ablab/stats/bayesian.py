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
the exact probability rather than gbstats' normal approximation.
"""

from __future__ import annotations

import math

from ablab.stats._posteriors import (
    BetaPair,
    effect_posterior,
    means_status,
    normal_interval,
    normal_posterior,
    normal_summary,
)
from ablab.stats._validation import check_alpha
from ablab.stats.lift import relative_lift_parts
from ablab.stats.moments import Moments
from ablab.stats.priors import FLAT, JEFFREYS, BetaPrior, NormalPrior, Prior
from ablab.stats.proportions import check_binary
from ablab.stats.results import NAN_INTERVAL, BayesianResult, ComparisonResult, Status

__all__ = [
    "bayesian_for_comparison",
    "bayesian_from_comparison",
    "bayesian_means",
    "bayesian_proportions",
]


def _unavailable(
    method: str,
    status: Status,
    control_value: float,
    treatment_value: float,
    *,
    prior: str,
    alpha: float,
) -> BayesianResult:
    return BayesianResult(
        method,
        status,
        control_value,
        treatment_value,
        math.nan,
        math.nan,
        math.nan,
        prior=prior,
        alpha=alpha,
    )


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
        return _unavailable(
            "beta_binomial",
            Status.EMPTY_ARM,
            control.mean,
            treatment.mean,
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


def _effect_result(
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
    *,
    prior: NormalPrior,
    alpha: float,
) -> BayesianResult:
    """The effect model's result for two arm estimates (``control_value`` not 0)."""
    described = prior.describe()
    mean, scale = effect_posterior(
        control_value, control_standard_error, treatment_value, treatment_standard_error, prior
    )
    if scale == 0.0:
        return _unavailable(
            "normal",
            Status.ZERO_VARIANCE,
            control_value,
            treatment_value,
            prior=described,
            alpha=alpha,
        )
    probability, relative_loss_treatment, relative_loss_control = normal_summary(mean, scale)
    size = abs(control_value)
    return BayesianResult(
        "normal",
        Status.OK,
        control_value,
        treatment_value,
        probability,
        relative_loss_treatment * size,
        relative_loss_control * size,
        prior=described,
        relative_lift=mean,
        relative_credible_interval=normal_interval(mean, scale, alpha),
        relative_expected_loss_treatment=relative_loss_treatment,
        relative_expected_loss_control=relative_loss_control,
        alpha=alpha,
    )


def _zero_baseline(
    control_value: float,
    control_standard_error: float,
    treatment_value: float,
    treatment_standard_error: float,
    *,
    prior: NormalPrior,
    alpha: float,
) -> BayesianResult:
    """A control value of 0 has no relative effect: under a flat prior the chance to win is
    still ``P(T - C > 0)`` on the metric's scale; a prior on the relative effect cannot be
    used (gbstats reports the same case as an error)."""
    described = prior.describe()
    scale = math.hypot(control_standard_error, treatment_standard_error)
    if prior.proper or scale == 0.0:
        return _unavailable(
            "normal",
            Status.ZERO_BASELINE,
            control_value,
            treatment_value,
            prior=described,
            alpha=alpha,
        )
    probability, loss_treatment, loss_control = normal_summary(
        treatment_value - control_value, scale
    )
    return BayesianResult(
        "normal",
        Status.ZERO_BASELINE,
        control_value,
        treatment_value,
        probability,
        loss_treatment,
        loss_control,
        prior=described,
        relative_credible_interval=NAN_INTERVAL,
        alpha=alpha,
    )


def _effect_or_zero_baseline(
    arms: tuple[float, float, float, float], *, prior: NormalPrior, alpha: float
) -> BayesianResult:
    """The effect model, unless the control value is 0 (or so close that the relative
    effect overflows, as :func:`ablab.stats.lift.relative_lift_parts` judges)."""
    relative, error = relative_lift_parts(*arms)
    # Beyond 1e150 the variance overflows: the control is 0 at the scale of its error.
    if math.isnan(relative) or error > 1e150:
        return _zero_baseline(*arms, prior=prior, alpha=alpha)
    return _effect_result(*arms, prior=prior, alpha=alpha)


def bayesian_from_comparison(
    comparison: ComparisonResult,
    *,
    prior: NormalPrior = FLAT,
    alpha: float | None = None,
) -> BayesianResult:
    """The effect model on any comparison's two arm estimates (means, ratios, CUPED).

    The relative effect ``d = (t - c) / |c|`` has the delta-method variance
    ``v = s_t**2 / c**2 + t**2 s_c**2 / c**4`` from the arms' standard errors; with a proper
    prior ``N(m, w)`` on it the posterior is ``N((d / v + m / w) / (1 / v + 1 / w),
    1 / (1 / v + 1 / w))``, and with the flat prior ``N(d, v)``. The chance to win is
    ``Phi(mean / sd)``, the credible interval ``mean -/+ z(1 - alpha / 2) sd``, the relative
    expected losses ``E[max(-effect, 0)]`` and ``E[max(effect, 0)]`` (truncated-normal
    means), and the losses on the metric's scale those times ``|c|``.

    Args:
        comparison: A fixed-horizon comparison result.
        prior: The prior on the relative effect (flat by default, as in GrowthBook).
        alpha: One minus the credible interval's level; the comparison's alpha if None.

    Returns:
        A :class:`BayesianResult`; the comparison's status when it has no estimates,
        ``zero_variance`` when the effect has no variance and the prior is flat, and
        ``zero_baseline`` when the control value is 0 (then, under a flat prior, the chance
        to win on the metric's scale; with a proper prior, NaN).

    References:
        GrowthBook gbstats, ``gbstats/bayesian/tests.py`` (``EffectBayesianABTest``: the
        Gaussian prior on the relative effect, chance to win ``norm.sf(0, mean, sd)``, risk
        from truncated-normal means) and ``gbstats/utils.py`` (``frequentist_diff``,
        ``frequentist_variance``).
        Johnson, N. L., Kotz, S., Balakrishnan, N. (1994). Continuous Univariate
        Distributions, Vol. 1, 2nd ed. Wiley, Chapter 13 (moments of the truncated normal).

    Examples:
        >>> from ablab.stats import Moments, bayesian_from_comparison, welch_t_test
        >>> comparison = welch_t_test(
        ...     Moments(n=400, sum=4_000.0, sum_sq=41_600.0),
        ...     Moments(n=400, sum=4_200.0, sum_sq=45_700.0),
        ... )
        >>> result = bayesian_from_comparison(comparison)
        >>> round(result.probability_to_beat_control, 4), round(result.relative_lift, 3)
        (0.9997, 0.05)
    """
    level = comparison.alpha if alpha is None else check_alpha(alpha)
    described = prior.describe()
    if comparison.status not in (Status.OK, Status.ZERO_BASELINE, Status.ZERO_VARIANCE):
        return _unavailable(
            "normal",
            comparison.status,
            comparison.control_value,
            comparison.treatment_value,
            prior=described,
            alpha=level,
        )
    arms = (
        comparison.control_value,
        comparison.control_standard_error,
        comparison.treatment_value,
        comparison.treatment_standard_error,
    )
    return _effect_or_zero_baseline(arms, prior=prior, alpha=level)


def bayesian_means(
    control: Moments,
    treatment: Moments,
    *,
    prior: NormalPrior = FLAT,
    alpha: float = 0.05,
) -> BayesianResult:
    """The effect model on two arms' means (see :func:`bayesian_from_comparison`).

    Each arm's mean has the standard error ``s / sqrt(n)`` (sample variance ``s**2``).

    Args:
        control: Control arm statistics.
        treatment: Treatment arm statistics.
        prior: The prior on the relative effect (flat by default).
        alpha: One minus the credible interval's level.

    Returns:
        A :class:`BayesianResult`; ``empty_arm``, ``too_few_units`` (an arm with one unit)
        or ``zero_variance`` (both arms constant) with NaN numbers; ``zero_baseline`` when
        the control mean is 0.

    References:
        GrowthBook gbstats, ``gbstats/bayesian/tests.py`` (``EffectBayesianABTest``).

    Examples:
        >>> from ablab.stats import Moments, bayesian_means
        >>> control = Moments.from_values([1.0, 2.0, 3.0])
        >>> treatment = Moments.from_values([2.0, 3.0, 4.0])
        >>> result = bayesian_means(control, treatment)
        >>> round(result.probability_to_beat_control, 4), round(result.relative_lift, 2)
        (0.8317, 0.5)
    """
    level = check_alpha(alpha)
    status = means_status((control, treatment))
    if status is not Status.OK:
        return _unavailable(
            "normal", status, control.mean, treatment.mean, prior=prior.describe(), alpha=level
        )
    control_mean, control_error = normal_posterior(control)
    treatment_mean, treatment_error = normal_posterior(treatment)
    if control_error == 0.0 and treatment_error == 0.0:
        return _unavailable(
            "normal",
            Status.ZERO_VARIANCE,
            control_mean,
            treatment_mean,
            prior=prior.describe(),
            alpha=level,
        )
    arms = (control_mean, control_error, treatment_mean, treatment_error)
    return _effect_or_zero_baseline(arms, prior=prior, alpha=level)


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
