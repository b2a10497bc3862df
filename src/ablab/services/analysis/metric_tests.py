"""Which test each metric gets, with or without CUPED, from its sums over units.

- Ratios (accuracy, latency, error rate, a custom ``mean``): the delta method over units,
  CUPED-adjusted by the same ratio before launch (or an explicit covariate).
- Proportions (custom, units converted or not): the two-proportion z test, or Welch's t on
  CUPED-adjusted 0/1 values when a covariate carries information.
- Continuous (custom sum, count, any): Welch's t test, or CUPED's adjusted Welch test.

CUPED applies only when the experiment asks for it and the covariate varies in the data;
otherwise the plain test runs and the row says no CUPED was applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ablab.domain.experiments import Experiment
from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind
from ablab.domain.results.comparisons import Cuped
from ablab.services.analysis.comparisons import Arm, evaluate, finite, interval
from ablab.services.analysis.metric_request import AnalysisSetup, Definition, covariate_label
from ablab.services.ports import VariantSums
from ablab.stats import (
    ComparisonResult,
    CovariateMoments,
    Moments,
    RatioCovariateMoments,
    cuped_test,
    mean_interval,
    ratio_cuped_test,
    ratio_interval,
    ratio_test,
    two_proportion_z_test,
    welch_t_test,
)
from ablab.stats.priors import DEFAULT_PRIOR, Prior

__all__ = [
    "MetricTest",
    "compare_metric",
    "compare_variants",
    "is_ratio",
    "metric_sums",
    "metric_value",
    "variant_sums",
]


@dataclass(frozen=True, slots=True)
class MetricTest:
    arm: Arm
    cuped: Cuped | None


def is_ratio(definition: Definition) -> bool:
    """Whether the metric is a ratio of per-unit sums (its denominator is not 1 per unit)."""
    if isinstance(definition, CustomMetric):
        return (
            definition.aggregation is Aggregation.MEAN and definition.kind is MetricKind.CONTINUOUS
        )
    return definition.kind is MetricKind.RATIO


def _unit_values(sums: RatioCovariateMoments) -> Moments:
    return Moments(sums.n, sums.numerator_sum, sums.numerator_sum_sq)


def _with_covariate(sums: RatioCovariateMoments) -> CovariateMoments:
    return CovariateMoments(
        sums.n,
        sums.numerator_sum,
        sums.numerator_sum_sq,
        sums.covariate_numerator_sum,
        sums.covariate_numerator_sum_sq,
        sums.numerator_covariate_numerator_sum,
    )


def _covariate_varies(control: RatioCovariateMoments, treatment: RatioCovariateMoments) -> bool:
    pooled = control + treatment
    if pooled.n < 2 or pooled.covariate_denominator_sum == 0:
        return False
    mean = pooled.covariate_numerator_sum / pooled.n
    return pooled.covariate_numerator_sum_sq - pooled.n * mean * mean > 0


def compare_metric(
    definition: Definition,
    control: RatioCovariateMoments,
    treatment: RatioCovariateMoments,
    *,
    alpha: float,
    mde: float | None,
    cuped: bool,
    covariate_label: str,
    prior: Prior = DEFAULT_PRIOR,
) -> MetricTest:
    """The fixed-horizon comparison (CUPED when asked and possible), mSPRT and Bayesian.

    ``mde`` is accepted for the callers' sake: the mixture is fixed by the tuning sample
    size, not the MDE (``services.analysis.comparisons``).
    """
    del mde
    adjust = cuped and _covariate_varies(control, treatment)
    comparison: ComparisonResult
    if is_ratio(definition):
        if adjust:
            comparison = ratio_cuped_test(control, treatment, alpha=alpha)
        else:
            comparison = ratio_test(control.metric, treatment.metric, alpha=alpha)
    elif adjust:
        comparison = cuped_test(_with_covariate(control), _with_covariate(treatment), alpha=alpha)
    elif definition.kind is MetricKind.PROPORTION:
        comparison = two_proportion_z_test(
            _unit_values(control), _unit_values(treatment), alpha=alpha
        )
    else:
        comparison = welch_t_test(_unit_values(control), _unit_values(treatment), alpha=alpha)
    arm = evaluate(comparison, prior=prior)
    if not adjust:
        return MetricTest(arm, None)
    return MetricTest(
        arm,
        Cuped(
            covariate=covariate_label,
            theta=finite(comparison.cuped_theta),
            variance_reduction=finite(comparison.variance_reduction),
        ),
    )


def metric_value(
    definition: Definition, sums: RatioCovariateMoments, alpha: float
) -> tuple[float | None, tuple[float | None, float | None]]:
    """One arm's value of the metric and its interval (no CUPED: the arm's own figure)."""
    if is_ratio(definition):
        ratio = sums.metric
        value = ratio.numerator_sum / ratio.denominator_sum if ratio.denominator_sum else None
        return finite(value), interval(ratio_interval(ratio, alpha=alpha))
    values = _unit_values(sums)
    value = values.sum / values.n if values.n else None
    return finite(value), interval(mean_interval(values, alpha=alpha))


def metric_sums(sums: VariantSums, metric: str) -> RatioCovariateMoments:
    """One variant's sums of ``metric`` (empty before any data)."""
    return sums.metrics.get(metric) or RatioCovariateMoments.empty()


def compare_variants(
    setup: AnalysisSetup,
    metric: str,
    control: VariantSums,
    treatment: VariantSums,
    *,
    prior: Prior = DEFAULT_PRIOR,
) -> MetricTest:
    """:func:`compare_metric` with the experiment's settings and the analysis's ``prior``."""
    experiment = setup.experiment
    return compare_metric(
        setup.definitions[metric],
        metric_sums(control, metric),
        metric_sums(treatment, metric),
        alpha=experiment.alpha,
        mde=experiment.mde,
        cuped=experiment.cuped,
        covariate_label=covariate_label(experiment, metric),
        prior=prior,
    )


def variant_sums(experiment: Experiment, found: Sequence[VariantSums]) -> dict[str, VariantSums]:
    """The sums of each variant of ``experiment`` (empty ones for a variant without data)."""
    by_variant = {s.variant: s for s in found if s.segment is None}
    return {
        v.name: by_variant.get(v.name) or VariantSums(v.name, None, 0, 0, None, {})
        for v in experiment.variants
    }
