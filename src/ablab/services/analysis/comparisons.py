"""One treatment against the control, as every report shows it.

The fixed-horizon test comes from the caller (it depends on the metric). This module adds
what every comparison row carries: the mSPRT, the Bayesian probability to beat control,
the significance under the experiment's method, and the public row.

The mSPRT's mixing variance is fixed before the data: ``tau**2 = rho(N*)**2 * s**2``
(``ablab.stats.mixing_variance_for_tuning_units``), ``N*`` the experiment's tuning sample
size (units of control and treatment together; 5,000 by default, as in gbstats) and
``s**2 = se**2 * (n_c + n_t)`` the per-unit variance, the only quantity estimated from the
data. It is never derived from the current standard error: a mixture that shrinks with
the sample turns the test into a fixed ``|z|`` cut-off, which many looks eventually cross.
The MDE does not set it either: an MDE is relative to a control mean nobody knows before
the data, so it would bring in a second plug-in; plan with ``ablab sample-size`` and give
the planned units as the tuning sample size instead.

One look's test is :func:`sequential_look`; ``services.analysis.sequential_looks`` carries it over
the looks taken (running minimum of the p-value, running intersection of the interval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ablab.domain.decisions import Evidence
from ablab.domain.experiments import AnalysisMethod
from ablab.domain.results.comparisons import Comparison, Cuped, SequentialSummary
from ablab.domain.sequential import DEFAULT_TUNING_UNITS, SequentialDesign, SequentialState
from ablab.stats import (
    BayesianResult,
    ComparisonResult,
    SequentialResult,
    Status,
    bayesian_for_comparison,
    mixing_variance_for_tuning_units,
    msprt,
    sample_size_means,
    sequential_rho,
)
from ablab.stats.priors import DEFAULT_PRIOR, Prior

__all__ = [
    "Arm",
    "adjusted_always_valid",
    "bonferroni_family",
    "comparison_row",
    "default_design",
    "evaluate",
    "evidence_for",
    "finite",
    "interval",
    "is_significant",
    "oriented_lift",
    "planned_units_reached",
    "sequential_look",
    "unit_variance",
]


@dataclass(frozen=True, slots=True)
class Arm:
    """A comparison with its always-valid test (``design``, after ``looks`` looks)."""

    comparison: ComparisonResult
    sequential: SequentialResult
    bayesian: BayesianResult
    design: SequentialDesign | None = None
    looks: int = 1


def default_design(
    comparison: ComparisonResult, tuning_units: int | None = None
) -> SequentialDesign:
    """The design of a comparison's own test: its alpha and alternative, no margin."""
    return SequentialDesign(
        tuning_units=DEFAULT_TUNING_UNITS if tuning_units is None else tuning_units,
        level=comparison.alpha,
        alternative=comparison.alternative,
    )


def unit_variance(comparison: ComparisonResult) -> float | None:
    """``s**2 = se**2 * (n_c + n_t)``: the per-unit variance of the difference (gbstats').

    None when the comparison has no positive, finite standard error.
    """
    error = comparison.standard_error
    units = comparison.control_units + comparison.treatment_units
    if not (math.isfinite(error) and error > 0.0 and units > 0):
        return None
    return error * error * units


def sequential_look(
    comparison: ComparisonResult,
    design: SequentialDesign,
    previous: SequentialState | None = None,
) -> SequentialResult:
    """The mSPRT at this look, carried on from ``previous`` when it holds for ``design``.

    A ``previous`` state of another design (other tuning units, level, alternative or
    null) is ignored: the running values restart at this look.
    """
    variance = unit_variance(comparison)
    tau_sq = 1.0  # unused: without a standard error msprt reports the comparison's status
    if variance is not None:
        tau_sq = mixing_variance_for_tuning_units(
            variance, design.tuning_units, alpha=design.level, alternative=design.alternative
        )
    carried = previous if previous is not None and previous.design == design else None
    return msprt(
        comparison,
        mixing_variance=tau_sq,
        previous_p_value=None if carried is None else carried.always_valid_p_value,
        previous_interval=None if carried is None else carried.interval,
        alternative=design.alternative,
        null_difference=design.null_difference,
        alpha=design.level,
    )


def adjusted_always_valid(arms: Sequence[Arm]) -> list[float]:
    """The family-adjusted always-valid p-values: ``min(1, p * alpha / level)``.

    Each arm's test runs at its Bonferroni level (``alpha / m``), so this is below alpha
    exactly when the arm's own (running) interval excludes the null. NaN (nothing tested
    yet) stays NaN.
    """
    adjusted = []
    for arm in arms:
        p_value = arm.sequential.always_valid_p_value * arm.comparison.alpha / arm.sequential.alpha
        adjusted.append(p_value if math.isnan(p_value) else min(1.0, p_value))
    return adjusted


def bonferroni_family(arms: Sequence[Arm]) -> tuple[list[Arm], list[float]]:
    """One look of each arm's test at ``alpha / m`` (``m = len(arms)``), and the adjusted
    always-valid p-values that agree with those arms' intervals (for single-look reports
    such as ``ablab analyze``; live experiments go through ``services.analysis.sequential_looks``).
    """
    family = max(len(arms), 1)
    tested = []
    for arm in arms:
        design = arm.design or default_design(arm.comparison)
        shared = replace(design, level=arm.comparison.alpha / family)
        tested.append(
            replace(arm, sequential=sequential_look(arm.comparison, shared), design=shared)
        )
    return tested, adjusted_always_valid(tested)


def evaluate(
    comparison: ComparisonResult,
    *,
    prior: Prior = DEFAULT_PRIOR,
    design: SequentialDesign | None = None,
) -> Arm:
    """Add one look's mSPRT and the Bayesian figures to a fixed-horizon comparison.

    ``design`` fixes the mixture (default: :func:`default_design`, the comparison's alpha
    and alternative with the default tuning sample size). ``prior`` is the analysis's
    Bayesian prior: a two-proportion comparison gets the Beta-Binomial model, any other
    the effect model (``stats.bayesian_for_comparison``), computed once here.
    """
    chosen = default_design(comparison) if design is None else design
    sequential = sequential_look(comparison, chosen)
    return Arm(comparison, sequential, bayesian_for_comparison(comparison, prior), chosen, 1)


def is_significant(
    arm: Arm, method: AnalysisMethod, *, fixed_adjusted: float, valid_adjusted: float
) -> bool:
    """Significance under ``method``, from p-values already adjusted for multiplicity.

    The sequential verdict is the running one: a look without a test (no data in an arm
    yet, no variance) carries the p-value and interval of the looks before it, and NaN (no
    look has tested anything) is not significant.
    """
    alpha = arm.comparison.alpha
    if method is AnalysisMethod.SEQUENTIAL:
        return valid_adjusted < alpha
    if arm.comparison.status != "ok":
        return False
    if method is AnalysisMethod.FIXED:
        return fixed_adjusted < alpha
    probability = arm.bayesian.probability_to_beat_control
    return probability > 1 - alpha or probability < alpha


def comparison_row(
    variant: str,
    metric: str,
    arm: Arm,
    *,
    fixed_adjusted: float,
    valid_adjusted: float,
    significant: bool,
    cuped: Cuped | None = None,
    correction: str = "holm",
) -> Comparison:
    c, s, b = arm.comparison, arm.sequential, arm.bayesian
    return Comparison(
        variant=variant,
        metric=metric,
        method=c.method,
        status=str(c.status),
        control_value=finite(c.control_value),
        treatment_value=finite(c.treatment_value),
        absolute_lift=finite(c.absolute_lift),
        absolute_ci=interval(c.absolute_ci),
        relative_lift=finite(c.relative_lift),
        relative_ci=interval(c.relative_ci),
        p_value=finite(c.p_value),
        adjusted_p_value=finite(fixed_adjusted),
        always_valid_p_value=finite(valid_adjusted),
        msprt_log_lr=finite(s.log_likelihood_ratio),
        confidence_sequence=interval(s.confidence_sequence),
        prob_beat_control=finite(b.probability_to_beat_control),
        expected_loss=finite(b.expected_loss_treatment),
        prior=b.prior or None,
        credible_interval=interval(b.relative_credible_interval),
        relative_expected_loss=finite(b.relative_expected_loss_treatment),
        significant=significant,
        cuped=cuped,
        sequential=_sequential_summary(arm),
        correction=correction,
    )


def _sequential_summary(arm: Arm) -> SequentialSummary | None:
    design, result = arm.design, arm.sequential
    if design is None:
        return None
    tested = result.status == Status.OK
    return SequentialSummary(
        tuning_units=design.tuning_units,
        rho=sequential_rho(design.level, design.tuning_units, alternative=design.alternative),
        mixing_variance=finite(result.mixing_variance) if tested else None,
        level=design.level,
        alternative=design.alternative,
        null_difference=design.null_difference,
        looks=arm.looks,
    )


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def interval(bounds: tuple[float, float]) -> tuple[float | None, float | None]:
    return (finite(bounds[0]), finite(bounds[1]))


def oriented_lift(arm: Arm, higher_is_better: bool) -> float:
    """The relative lift, signed so that positive means better."""
    lift = arm.comparison.relative_lift
    return lift if higher_is_better else -lift


def planned_units_reached(arm: Arm, *, mde: float | None, power: float) -> bool:
    """Whether each arm has the units a fixed test needs to detect the relative ``mde``.

    The per-unit standard deviation is read off the comparison (``se * sqrt(n)`` of the
    control, whatever the metric's kind), then :func:`ablab.stats.sample_size_means` gives
    the units per arm at the comparison's alpha and this ``power``.
    """
    comparison = arm.comparison
    if mde is None or comparison.status != "ok" or comparison.control_value == 0:
        return False
    deviation = comparison.control_standard_error * math.sqrt(comparison.control_units)
    if not deviation > 0:
        return False
    needed = sample_size_means(
        deviation, abs(mde * comparison.control_value), alpha=comparison.alpha, power=power
    )
    return (
        comparison.control_units >= needed.control_units
        and comparison.treatment_units >= needed.treatment_units
    )


def evidence_for(
    variant: str,
    arm: Arm,
    *,
    higher_is_better: bool,
    significant: bool,
    min_samples: int,
    planned_units_reached: bool,
    srm_mismatch: bool,
    violated_guardrails: tuple[str, ...] = (),
) -> Evidence:
    """What the decision rules need, oriented so that "improved" means better.

    The direction comes from the absolute difference: a relative lift flips its sign when
    the control's mean is negative.
    """
    comparison = arm.comparison
    low, high = comparison.relative_ci
    difference = comparison.absolute_lift
    return Evidence(
        variant=variant,
        significant=significant,
        improved=difference > 0 if higher_is_better else difference < 0,
        relative_lift=oriented_lift(arm, higher_is_better),
        relative_ci=(low, high) if higher_is_better else (-high, -low),
        control_units=comparison.control_units,
        treatment_units=comparison.treatment_units,
        min_samples=min_samples,
        planned_units_reached=planned_units_reached,
        srm_mismatch=srm_mismatch,
        violated_guardrails=violated_guardrails,
    )
