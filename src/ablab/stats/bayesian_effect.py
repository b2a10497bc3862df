"""The effect model of the Bayesian analysis, for every metric but proportions.

The relative effect ``(t - c) / |c|`` is estimated with its delta-method variance and
combined with a normal prior on it (flat by default); the chance to win, credible interval
and expected losses come from that normal posterior, as in GrowthBook's gbstats. The Beta
model of proportions and the choice between the two are in :mod:`ablab.stats.bayesian`.
"""

from __future__ import annotations

import math

from ablab.stats._posteriors import (
    effect_posterior,
    means_status,
    normal_interval,
    normal_posterior,
    normal_summary,
)
from ablab.stats._validation import check_alpha
from ablab.stats.lift import relative_lift_parts
from ablab.stats.moments import Moments
from ablab.stats.priors import FLAT, NormalPrior
from ablab.stats.results import NAN_INTERVAL, BayesianResult, ComparisonResult, Status

__all__ = ["bayesian_from_comparison", "bayesian_means"]


def _unavailable(
    method: str,
    status: Status,
    control_value: float,
    treatment_value: float,
    *,
    prior: str,
    alpha: float,
) -> BayesianResult:
    """A result without figures (NaN), for a status that leaves nothing to compute."""
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
