"""Bayesian probability that treatment beats control, and the expected loss of each choice.

Proportions use the Beta-Binomial model with a uniform Beta(1, 1) prior: an arm with ``x``
successes in ``n`` units has posterior ``Beta(x + 1, n - x + 1)``. Means use the normal
approximation with a flat prior: posterior ``N(mean, s**2 / n)``. Probabilities and losses
are computed without random draws: in closed form for normals, by one-dimensional quadrature
for two Beta arms (see :func:`ablab.stats._posteriors.beta_two_arm`).
"""

from __future__ import annotations

import math

from ablab.stats._posteriors import beta_two_arm, means_status, normal_posterior, normal_two_arm
from ablab.stats.moments import Moments
from ablab.stats.proportions import check_binary
from ablab.stats.results import BayesianResult, ComparisonResult, Status

__all__ = ["bayesian_from_comparison", "bayesian_means", "bayesian_proportions"]


def _unavailable(
    method: str, status: Status, control_value: float, treatment_value: float
) -> BayesianResult:
    return BayesianResult(
        method, status, control_value, treatment_value, math.nan, math.nan, math.nan
    )


def bayesian_proportions(control: Moments, treatment: Moments) -> BayesianResult:
    """Beta-Binomial probability that treatment beats control, and both expected losses.

    Needs, per arm, ``n`` and ``sum`` (successes) of a 0/1 metric. Posteriors are
    ``Beta(x + 1, n - x + 1)`` (uniform prior).

    Args:
        control: Control arm as a proportion.
        treatment: Treatment arm as a proportion.

    Returns:
        A :class:`BayesianResult` with posterior means; ``empty_arm`` (NaN numbers) when an
        arm has no units.

    Raises:
        ValidationError: an arm's values are not 0/1.

    References:
        Miller, E. (2015). Formulas for Bayesian A/B Testing. evanmiller.org (the
        probability that one Beta variable exceeds another).
        Stucchio, C. (2015). Bayesian A/B Testing at VWO. VWO whitepaper (expected
        loss ``E[max(C - T, 0)]`` as the decision criterion).

    Examples:
        >>> from ablab.stats import Moments, bayesian_proportions
        >>> control = Moments.from_successes(100, 1000)
        >>> treatment = Moments.from_successes(125, 1000)
        >>> result = bayesian_proportions(control, treatment)
        >>> round(result.probability_to_beat_control, 4), round(result.expected_loss_treatment, 6)
        (0.9614, 0.00022)
    """
    check_binary(control, "control")
    check_binary(treatment, "treatment")
    if control.n == 0 or treatment.n == 0:
        return _unavailable("beta_binomial", Status.EMPTY_ARM, control.mean, treatment.mean)
    control_alpha, treatment_alpha = control.sum + 1.0, treatment.sum + 1.0
    control_beta, treatment_beta = control.n - control.sum + 1.0, treatment.n - treatment.sum + 1.0
    probability, loss_treatment, loss_control = beta_two_arm(
        control_alpha, control_beta, treatment_alpha, treatment_beta
    )
    return BayesianResult(
        "beta_binomial",
        Status.OK,
        control_alpha / (control.n + 2.0),
        treatment_alpha / (treatment.n + 2.0),
        probability,
        loss_treatment,
        loss_control,
    )


def bayesian_from_comparison(comparison: ComparisonResult) -> BayesianResult:
    """Normal-approximation posterior view of any comparison's two arm estimates.

    Treats each arm's estimate as normal around its value with its standard error (a flat
    prior), which covers means, ratio metrics and CUPED-adjusted means alike.

    Args:
        comparison: A fixed-horizon comparison result.

    Returns:
        A :class:`BayesianResult`; the comparison's status when it has no estimates, and
        ``zero_variance`` when both standard errors are 0.

    References:
        Johnson, N. L., Kotz, S., Balakrishnan, N. (1994). Continuous Univariate
        Distributions, Vol. 1, 2nd ed. Wiley, Chapter 13 (moments of the truncated normal,
        which give ``E[max(D, 0)]``).

    Examples:
        >>> from ablab.stats import Moments, bayesian_from_comparison, welch_t_test
        >>> comparison = welch_t_test(
        ...     Moments(n=400, sum=4_000.0, sum_sq=41_600.0),
        ...     Moments(n=400, sum=4_200.0, sum_sq=45_700.0),
        ... )
        >>> round(bayesian_from_comparison(comparison).probability_to_beat_control, 4)
        0.9998
    """
    if comparison.status not in (Status.OK, Status.ZERO_BASELINE, Status.ZERO_VARIANCE):
        return _unavailable(
            "normal", comparison.status, comparison.control_value, comparison.treatment_value
        )
    if comparison.standard_error == 0.0:
        return _unavailable(
            "normal", Status.ZERO_VARIANCE, comparison.control_value, comparison.treatment_value
        )
    probability, loss_treatment, loss_control = normal_two_arm(
        comparison.control_value,
        comparison.control_standard_error,
        comparison.treatment_value,
        comparison.treatment_standard_error,
    )
    return BayesianResult(
        "normal",
        Status.OK,
        comparison.control_value,
        comparison.treatment_value,
        probability,
        loss_treatment,
        loss_control,
    )


def bayesian_means(control: Moments, treatment: Moments) -> BayesianResult:
    """Normal-approximation probability that treatment's mean beats control's, and losses.

    Each arm's posterior is ``N(mean, s**2 / n)`` (flat prior, sample variance ``s**2``).

    Args:
        control: Control arm statistics.
        treatment: Treatment arm statistics.

    Returns:
        A :class:`BayesianResult`; ``empty_arm``, ``too_few_units`` (an arm with one unit)
        or ``zero_variance`` (both arms constant) with NaN numbers.

    References:
        Johnson, N. L., Kotz, S., Balakrishnan, N. (1994). Continuous Univariate
        Distributions, Vol. 1, 2nd ed. Wiley, Chapter 13.

    Examples:
        >>> from ablab.stats import Moments, bayesian_means
        >>> control = Moments.from_values([1.0, 2.0, 3.0])
        >>> treatment = Moments.from_values([2.0, 3.0, 4.0])
        >>> result = bayesian_means(control, treatment)
        >>> round(result.probability_to_beat_control, 4)
        0.8897
    """
    status = means_status((control, treatment))
    if status is not Status.OK:
        return _unavailable("normal", status, control.mean, treatment.mean)
    control_mean, control_error = normal_posterior(control)
    treatment_mean, treatment_error = normal_posterior(treatment)
    if control_error == 0.0 and treatment_error == 0.0:
        return _unavailable("normal", Status.ZERO_VARIANCE, control_mean, treatment_mean)
    probability, loss_treatment, loss_control = normal_two_arm(
        control_mean, control_error, treatment_mean, treatment_error
    )
    return BayesianResult(
        "normal", Status.OK, control_mean, treatment_mean, probability, loss_treatment, loss_control
    )
