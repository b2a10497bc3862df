"""An experiment at a glance, for the list: its leading lift with the interval shown beside
it, the verdict, the progress toward the planned sample size, and the days left.

Everything is read off the experiment's results (``ExperimentResults``), so the list never
says something the full view would not: the lift and interval are the primary comparison's,
the verdict is the recommendation's action.
"""

from __future__ import annotations

from dataclasses import dataclass

from ablab.contract.analysis import ComparisonPublic, Interval
from ablab.contract.results import ExperimentResults

__all__ = ["Glance", "deciding_interval", "glance"]

VERDICTS = {
    "promote": "promote",
    "keep_control": "keep the control",
    "continue": "keep collecting",
    "rollback": "roll back",
    "none": "no action",
}


def deciding_interval(comparison: ComparisonPublic, method: str) -> tuple[Interval, str]:
    """The relative interval that ``significant`` is read from, and its name, so the flag and
    the interval beside it always agree.

    - sequential: the confidence sequence of the difference (at the family-adjusted level)
      divided by the control's value; dividing keeps 0 where it was, so it excludes 0
      exactly when the always-valid p-value is below alpha (Johari et al. 2022);
    - bayesian: the credible interval, which excludes 0 exactly when the chance to beat
      the control is above 1 - alpha or below alpha;
    - fixed: the 95% interval of the relative lift; with several treatments significance
      is read from Holm-adjusted p-values, so an interval that disagrees says it is
      unadjusted.
    """
    if method == "sequential":
        low, high = comparison.confidence_sequence
        control = comparison.control_value
        if low is None or high is None or not control:
            return (None, None), "confidence sequence"
        first, second = low / control, high / control
        return ((second, first) if control < 0 else (first, second)), "confidence sequence"
    if method == "bayesian":
        return comparison.credible_interval, "credible interval"
    low, high = comparison.relative_ci
    excludes_zero = low is not None and high is not None and (low > 0 or high < 0)
    if excludes_zero != comparison.significant:
        return comparison.relative_ci, "95% interval, before the Holm correction"
    return comparison.relative_ci, "95% interval"


@dataclass(frozen=True, slots=True)
class Glance:
    variant: str | None
    lift: float | None
    interval: Interval
    interval_name: str
    significant: bool
    verdict: str
    action: str
    progress: float | None  # 0..1 of the planned units (or of the minimum samples)
    progress_basis: str
    days_left: float | None


def _leading(results: ExperimentResults) -> ComparisonPublic | None:
    """The primary metric's comparison to show: the recommended variant's, else the one with
    the largest lift in the metric's good direction, else the first."""
    primary = [c for c in results.comparisons if c.metric == results.primary_metric]
    if not primary:
        return None
    chosen = results.recommendation.variant
    for comparison in primary:
        if comparison.variant == chosen:
            return comparison
    measured = [c for c in primary if c.relative_lift is not None]
    return max(measured, key=lambda c: abs(c.relative_lift or 0.0)) if measured else primary[0]


def _progress(results: ExperimentResults) -> tuple[float | None, str]:
    """The share of the planned sample size the slowest variant has reached (capped at 1);
    without a plan (no MDE), the share of the minimum samples."""
    duration = results.duration
    if duration is not None and duration.planned_units:
        shares = [
            duration.units_in_test.get(name, 0) / planned
            for name, planned in duration.planned_units.items()
            if planned > 0
        ]
        if shares:
            return min(1.0, *shares), "of the planned sample size"
    minimum = results.experiment.min_samples
    if minimum > 0 and results.variants:
        # The count the minimum-samples rule reads (units with labels for accuracy...).
        field = results.min_samples_rule.counts if results.min_samples_rule else "units"
        counted = min(int(getattr(v, field, v.units) or 0) for v in results.variants)
        return min(1.0, counted / minimum), "of the minimum samples"
    return None, ""


def glance(results: ExperimentResults) -> Glance:
    leading = _leading(results)
    progress, basis = _progress(results)
    method = results.experiment.analysis_method.value
    interval, name = deciding_interval(leading, method) if leading else ((None, None), "")
    action = results.recommendation.action
    return Glance(
        variant=leading.variant if leading else None,
        lift=leading.relative_lift if leading else None,
        interval=interval,
        interval_name=name,
        significant=bool(leading and leading.significant),
        verdict=VERDICTS.get(action, action.replace("_", " ")),
        action=action,
        progress=progress,
        progress_basis=basis,
        days_left=results.duration.days_left if results.duration else None,
    )
