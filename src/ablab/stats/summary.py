"""One row of the results JSON from a comparison and its sequential and Bayesian views."""

from __future__ import annotations

import math
from typing import Any

from ablab.stats.results import BayesianResult, ComparisonResult, Interval, SequentialResult

__all__ = ["comparison_summary"]


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _interval(bounds: Interval) -> list[float | None]:
    return [_number(bounds[0]), _number(bounds[1])]


def comparison_summary(
    comparison: ComparisonResult,
    sequential: SequentialResult | None = None,
    bayesian: BayesianResult | None = None,
) -> dict[str, Any]:
    """The fields of one ``comparisons`` row of the results JSON.

    NaN and infinite numbers (the open bound of a one-sided interval) become None, as strict
    JSON has neither. ``significant`` is the fixed-horizon decision; when ``sequential`` is
    given, ``sequential_significant`` carries the always-valid one. ``cuped`` is None unless
    the comparison is CUPED, then ``{"variance_reduction", "theta"}``.

    Examples:
        >>> from ablab.stats import Moments, two_proportion_z_test
        >>> result = two_proportion_z_test(
        ...     Moments.from_successes(100, 1000), Moments.from_successes(130, 1000)
        ... )
        >>> row = comparison_summary(result)
        >>> row["absolute_lift"], row["significant"], row["cuped"]
        (0.03, True, None)
    """
    cuped: dict[str, float | None] | None = None
    if comparison.variance_reduction is not None:
        cuped = {
            "variance_reduction": _number(comparison.variance_reduction),
            "theta": _number(comparison.cuped_theta),
        }
    return {
        "method": comparison.method,
        "status": str(comparison.status),
        "control_value": _number(comparison.control_value),
        "treatment_value": _number(comparison.treatment_value),
        "absolute_lift": _number(comparison.absolute_lift),
        "absolute_ci": _interval(comparison.absolute_ci),
        "relative_lift": _number(comparison.relative_lift),
        "relative_ci": _interval(comparison.relative_ci),
        "p_value": _number(comparison.p_value),
        "always_valid_p_value": None
        if sequential is None
        else _number(sequential.always_valid_p_value),
        "msprt_log_lr": None if sequential is None else _number(sequential.log_likelihood_ratio),
        "confidence_sequence": None
        if sequential is None
        else _interval(sequential.confidence_sequence),
        "sequential_significant": None if sequential is None else sequential.significant,
        "prob_beat_control": None
        if bayesian is None
        else _number(bayesian.probability_to_beat_control),
        "significant": comparison.significant,
        "cuped": cuped,
    }
