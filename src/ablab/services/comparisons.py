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
)

__all__ = ["Arm", "comparison_row", "evaluate", "finite", "interval", "is_significant"]


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
