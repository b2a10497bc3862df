"""One treatment against the control, as every report shows it.

The fixed-horizon test comes from the caller (it depends on the metric). This module adds
what every comparison row carries: the mSPRT (tau from the MDE when planned, otherwise
from the current sample as the horizon), the Bayesian probability to beat control, the
significance under the experiment's method, and the public row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ablab.contract.analysis import ComparisonPublic, CupedPublic
from ablab.domain.decisions import Evidence
from ablab.domain.experiments import AnalysisMethod
from ablab.stats import (
    BayesianResult,
    ComparisonResult,
    Moments,
    SequentialResult,
    bayesian_from_comparison,
    bayesian_proportions,
    mixing_variance_for_horizon,
    mixing_variance_from_mde,
    msprt,
    sample_size_means,
)

__all__ = [
    "Arm",
    "comparison_row",
    "evaluate",
    "evidence_for",
    "finite",
    "interval",
    "is_significant",
    "oriented_lift",
    "planned_units_reached",
]


@dataclass(frozen=True, slots=True)
class Arm:
    comparison: ComparisonResult
    sequential: SequentialResult
    bayesian: BayesianResult


def evaluate(
    comparison: ComparisonResult,
    *,
    mde: float | None,
    proportions: tuple[Moments, Moments] | None = None,
) -> Arm:
    """Add the mSPRT and the Bayesian figures to a fixed-horizon comparison.

    ``mde`` is relative (0.05 is +5%); ``proportions`` (control, treatment) switches the
    Bayesian model to Beta-Binomial.
    """
    if mde is not None and math.isfinite(comparison.control_value):
        tau2 = mixing_variance_from_mde(abs(mde * comparison.control_value) or mde)
    elif math.isfinite(comparison.standard_error) and comparison.standard_error > 0:
        tau2 = mixing_variance_for_horizon(comparison.standard_error**2, comparison.alpha)
    else:
        tau2 = 1.0  # unused: the comparison's status already says why there is no test
    sequential = msprt(comparison, mixing_variance=tau2)
    if proportions is not None:
        bayesian = bayesian_proportions(*proportions)
    else:
        bayesian = bayesian_from_comparison(comparison)
    return Arm(comparison, sequential, bayesian)


def is_significant(
    arm: Arm, method: AnalysisMethod, *, fixed_adjusted: float, valid_adjusted: float
) -> bool:
    """Significance under ``method``, from p-values already adjusted for multiplicity."""
    if arm.comparison.status != "ok":
        return False
    alpha = arm.comparison.alpha
    if method is AnalysisMethod.FIXED:
        return fixed_adjusted < alpha
    if method is AnalysisMethod.SEQUENTIAL:
        return valid_adjusted < alpha
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
    cuped: CupedPublic | None = None,
) -> ComparisonPublic:
    c, s, b = arm.comparison, arm.sequential, arm.bayesian
    return ComparisonPublic(
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
        significant=significant,
        cuped=cuped,
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
