"""Frozen result records and the statuses that report expected data conditions.

A method never raises for a data problem. It returns its record with a ``status`` other than
``"ok"`` and NaN in the numbers it could not compute:

==================== ====================================================================
status               meaning
==================== ====================================================================
``ok``               everything was computed
``empty_arm``        an arm has no units (or no values)
``too_few_units``    an arm has fewer units than the method needs (Welch needs 2 per arm)
``zero_variance``    the difference has no sampling variance (both arms constant)
``zero_denominator`` a ratio metric's denominator sums to zero in an arm (no labels yet)
``zero_baseline``    the control value is 0: the relative lift is NaN, the rest is valid
==================== ====================================================================

:func:`ablab.stats.comparison_summary` maps a comparison, its sequential test and its
Bayesian view onto the fields of one ``comparisons`` row of the results JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from ablab.stats._validation import Alternative

__all__ = [
    "BayesianResult",
    "BestArmResult",
    "ComparisonResult",
    "McNemarResult",
    "QuantileEstimate",
    "SampleSize",
    "SequentialPowerCost",
    "SequentialResult",
    "SrmResult",
    "Status",
]

Interval = tuple[float, float]
NAN_INTERVAL: Interval = (math.nan, math.nan)


class Status(StrEnum):
    """Why a result is, or is not, fully computed. Members are plain strings on the wire."""

    OK = "ok"
    EMPTY_ARM = "empty_arm"
    TOO_FEW_UNITS = "too_few_units"
    ZERO_VARIANCE = "zero_variance"
    ZERO_DENOMINATOR = "zero_denominator"
    ZERO_BASELINE = "zero_baseline"


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    """A fixed-horizon comparison of one treatment against the control.

    Attributes:
        method: ``"two_proportion_z_test"``, ``"welch_t_test"``, ``"ratio_delta_method"``,
            ``"cuped_welch_t_test"`` or ``"quantile_difference"``.
        status: See :class:`Status`. With ``zero_baseline`` only the relative fields are NaN.
        alternative: ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.
        alpha: Significance level; intervals have confidence ``1 - alpha``.
        control_units: Units in the control arm.
        treatment_units: Units in the treatment arm.
        control_value: The control estimate (mean, proportion, ratio, CUPED-adjusted mean).
        treatment_value: The treatment estimate.
        control_standard_error: Standard error of ``control_value``.
        treatment_standard_error: Standard error of ``treatment_value``.
        absolute_lift: ``treatment_value - control_value``.
        absolute_ci: Interval for ``absolute_lift``; one-sided tests give an infinite bound.
        relative_lift: ``treatment_value / control_value - 1``.
        relative_ci: Interval for ``relative_lift`` that inverts the same test (Fieller's,
            or the ratio score interval for proportions); ``(-inf, inf)`` when the control
            value is too close to 0 for a bounded one, the verdict then follows
            ``absolute_ci``.
        standard_error: Standard error of ``absolute_lift`` under the test's variance
            convention (pooled for the two-proportion z test, per-arm otherwise), so that
            ``statistic == absolute_lift / standard_error``.
        statistic: The z or t statistic of the test.
        degrees_of_freedom: Welch-Satterthwaite degrees of freedom; ``inf`` for z tests.
        p_value: The test's p-value.
        significant: ``p_value < alpha``.
        variance_reduction: CUPED only: ``1 - Var(adjusted lift) / Var(raw lift)``.
        cuped_theta: CUPED only: the regression coefficient of metric on covariate.
    """

    method: str
    status: Status
    alternative: Alternative
    alpha: float
    control_units: int
    treatment_units: int
    control_value: float
    treatment_value: float
    control_standard_error: float
    treatment_standard_error: float
    absolute_lift: float
    absolute_ci: Interval
    relative_lift: float
    relative_ci: Interval
    standard_error: float
    statistic: float
    degrees_of_freedom: float
    p_value: float
    significant: bool
    variance_reduction: float | None = None
    cuped_theta: float | None = None


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """An mSPRT always-valid test of the difference ``treatment - control``.

    Attributes:
        status: See :class:`Status`.
        alpha: Level of the test and of the confidence sequence.
        difference: The estimated difference.
        standard_error: Standard error of ``difference``.
        mixing_variance: The variance ``tau**2`` of the normal mixing distribution.
        log_likelihood_ratio: Log of the mixture likelihood ratio against no difference.
        always_valid_p_value: ``min(previous, 1, 1 / likelihood_ratio)``.
        confidence_sequence: Always-valid interval for the difference: the intersection of
            the looks' intervals when the previous one was passed in; one-sided tests give
            an infinite bound.
        significant: ``always_valid_p_value < alpha``, i.e. ``null_difference`` lies outside
            ``confidence_sequence``.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        null_difference: The difference under the null (``theta0``).
    """

    status: Status
    alpha: float
    difference: float
    standard_error: float
    mixing_variance: float
    log_likelihood_ratio: float
    always_valid_p_value: float
    confidence_sequence: Interval
    significant: bool
    alternative: Alternative = "two-sided"
    null_difference: float = 0.0


@dataclass(frozen=True, slots=True)
class BayesianResult:
    """Posterior view of treatment against control.

    Attributes:
        method: ``"beta_binomial"`` (proportions: a Beta prior on each arm's rate) or
            ``"normal"`` (a normal posterior for the relative effect, as gbstats).
        status: See :class:`Status`.
        control_value: Posterior mean of the control metric (``"normal"``: its estimate).
        treatment_value: Posterior mean of the treatment metric (``"normal"``: its estimate).
        probability_to_beat_control: The chance to win: the posterior probability that the
            relative lift is above 0 (treatment above control).
        expected_loss_treatment: ``E[max(control - treatment, 0)]``, the expected shortfall
            if treatment ships, on the metric's scale.
        expected_loss_control: ``E[max(treatment - control, 0)]``, the expected shortfall if
            control is kept, on the metric's scale.
        prior: The prior, in words (``"Beta(0.5, 0.5) (Jeffreys) on each arm's rate"``).
        relative_lift: The posterior median of the relative lift.
        relative_credible_interval: Its equal-tailed ``1 - alpha`` credible interval; its
            lower bound is above 0 exactly when the chance to win exceeds ``1 - alpha / 2``.
        relative_expected_loss_treatment: The expected loss of shipping treatment as a
            fraction of the control (``"normal"``: ``E[max(-effect, 0)]``, as gbstats;
            ``"beta_binomial"``: ``expected_loss_treatment / E[control]``).
        relative_expected_loss_control: The same for keeping control.
        alpha: One minus the credible interval's level.
    """

    method: str
    status: Status
    control_value: float
    treatment_value: float
    probability_to_beat_control: float
    expected_loss_treatment: float
    expected_loss_control: float
    prior: str = ""
    relative_lift: float = math.nan
    relative_credible_interval: Interval = NAN_INTERVAL
    relative_expected_loss_treatment: float = math.nan
    relative_expected_loss_control: float = math.nan
    alpha: float = 0.05


@dataclass(frozen=True, slots=True)
class BestArmResult:
    """Posterior view of an A/B/n test, one entry per arm in input order.

    Attributes:
        method: ``"beta_binomial"`` or ``"normal"``.
        status: See :class:`Status`.
        probability_best: Posterior probability that each arm has the highest metric.
        expected_loss: ``E[max_j value_j - value_k]`` for each arm ``k``.
    """

    method: str
    status: Status
    probability_best: tuple[float, ...]
    expected_loss: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SrmResult:
    """Sample ratio mismatch check.

    Attributes:
        status: ``ok`` or ``too_few_units`` (no units at all).
        statistic: Pearson's chi-square statistic.
        degrees_of_freedom: Number of arms minus one.
        p_value: Upper tail of the chi-square distribution at ``statistic``.
        observed: Observed units per arm.
        expected: Expected units per arm under the configured weights.
        threshold: The alarm threshold on ``p_value``.
        mismatch: ``p_value < threshold``.
    """

    status: Status
    statistic: float
    degrees_of_freedom: int
    p_value: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    threshold: float
    mismatch: bool


@dataclass(frozen=True, slots=True)
class SampleSize:
    """Units a two-arm test needs, and the calendar time given the traffic.

    Attributes:
        control_units: Units needed in the control arm.
        treatment_units: Units needed in the treatment arm.
        total_units: ``control_units + treatment_units``.
        days: Days to collect ``total_units`` at ``daily_units * traffic_share`` per day;
            None when the daily traffic was not given.
        alpha: Significance level.
        power: Target power.
        absolute_mde: Minimum detectable effect on the metric's own scale.
    """

    control_units: int
    treatment_units: int
    total_units: int
    days: int | None
    alpha: float
    power: float
    absolute_mde: float


@dataclass(frozen=True, slots=True)
class SequentialPowerCost:
    """What always-valid monitoring costs in units, at the same MDE, alpha and power.

    Attributes:
        fixed: Sample size of the fixed-horizon z test.
        sequential: Sample size at which the mSPRT reaches the power (see
            :func:`ablab.stats.sequential_power_cost` for the approximation).
        inflation: ``sequential.total_units / fixed.total_units``.
    """

    fixed: SampleSize
    sequential: SampleSize
    inflation: float


@dataclass(frozen=True, slots=True)
class McNemarResult:
    """Exact McNemar test for paired pass/fail outcomes.

    Attributes:
        status: ``ok`` or ``too_few_units`` (no pairs).
        alternative: ``"two-sided"``, ``"greater"`` (treatment passes more) or ``"less"``.
        alpha: Significance level.
        pairs: Number of pairs.
        only_control_passed: Discordant pairs where only control passed.
        only_treatment_passed: Discordant pairs where only treatment passed.
        difference: Paired difference in pass rates, treatment minus control.
        difference_ci: Agresti-Min interval for ``difference``.
        p_value: Exact binomial p-value on the discordant pairs.
        significant: ``p_value < alpha``.
    """

    status: Status
    alternative: Alternative
    alpha: float
    pairs: int
    only_control_passed: int
    only_treatment_passed: int
    difference: float
    difference_ci: Interval
    p_value: float
    significant: bool


@dataclass(frozen=True, slots=True)
class QuantileEstimate:
    """A sample quantile with a distribution-free confidence interval.

    Attributes:
        status: ``ok``, ``empty_arm`` or ``too_few_units`` (an interval bound is unattainable
            at this confidence with so few values; that bound is NaN).
        quantile: The quantile level, e.g. 0.95.
        n: Number of values.
        estimate: The sample quantile (linear interpolation between order statistics).
        ci: Order-statistic interval with coverage at least ``1 - alpha``.
        alpha: One minus the confidence level.
    """

    status: Status
    quantile: float
    n: int
    estimate: float
    ci: Interval
    alpha: float
