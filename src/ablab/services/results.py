"""An experiment's results: from stored events to the results contract and a verdict.

events (store) -> per-unit, then per-variant sums in SQL -> stats -> report -> decision.
The built-in model metrics are ratios over units, compared by the delta method; every
(treatment, metric) pair is one member of the Holm family; SRM compares the units seen
with the variants' current weights.
"""

from __future__ import annotations

import math

from ablab.contract.analysis import DecisionPublic, SrmPublic
from ablab.contract.experiments import ExperimentPublic
from ablab.contract.results import ExperimentResults, GuardrailResult, MetricValue, VariantResults
from ablab.domain.decisions import Evidence, decide, decide_overall
from ablab.domain.experiments import Experiment
from ablab.domain.metrics import BUILTIN_METRICS
from ablab.errors import ValidationError
from ablab.services.comparisons import (
    Arm,
    comparison_row,
    evaluate,
    finite,
    interval,
    is_significant,
)
from ablab.services.context import Context
from ablab.services.experiments import get_experiment
from ablab.services.ports import EventStore, ModelMetricSums
from ablab.stats import (
    RatioMoments,
    adjust_p_values,
    ratio_interval,
    ratio_test,
    sample_ratio_mismatch,
)

__all__ = ["COMPARED_METRICS", "experiment_results"]

# The built-in metrics compared by a test; latency_p95_ms is reported and guarded.
COMPARED_METRICS = ("accuracy", "latency_ms", "error_rate")


def experiment_results(ctx: Context, events: EventStore, ref: str) -> ExperimentResults:
    """The results of experiment ``ref`` as of now.

    Raises:
        NotFound: no such experiment.
        ValidationError: the experiment has no variants yet, or its primary metric is not
            one of the built-in model metrics (custom metrics come with their definitions).
    """
    experiment = get_experiment(ctx, ref)
    if len(experiment.variants) < 2:
        raise ValidationError(f"experiment {experiment.name!r} has no variants to compare yet")
    if experiment.primary_metric not in BUILTIN_METRICS:
        raise ValidationError(
            f"results for the custom metric {experiment.primary_metric!r} are not available "
            f"yet; built-in metrics: {', '.join(BUILTIN_METRICS)}"
        )
    sums = events.model_metrics(experiment.id)
    seen = events.units_per_variant(experiment.id)
    empty = ModelMetricSums(
        0, 0, RatioMoments.empty(), RatioMoments.empty(), RatioMoments.empty(), None
    )
    per_variant = {v.name: sums.get(v.name, empty) for v in experiment.variants}
    metrics = [
        m
        for m in (experiment.primary_metric, *experiment.secondary_metrics)
        if m in COMPARED_METRICS
    ]
    control = experiment.control
    pairs = [(t.name, m) for t in experiment.treatments for m in metrics]
    arms = [
        evaluate(
            ratio_test(
                _moments(per_variant[control.name], m),
                _moments(per_variant[t], m),
                alpha=experiment.alpha,
            ),
            mde=experiment.mde,
        )
        for t, m in pairs
    ]
    fixed = adjust_p_values([a.comparison.p_value for a in arms], "holm")
    valid = adjust_p_values([a.sequential.always_valid_p_value for a in arms], "holm")
    significance = [
        is_significant(a, experiment.analysis_method, fixed_adjusted=f, valid_adjusted=v)
        for a, f, v in zip(arms, fixed, valid, strict=True)
    ]
    comparisons = [
        comparison_row(t, m, a, fixed_adjusted=f, valid_adjusted=v, significant=s)
        for (t, m), a, f, v, s in zip(pairs, arms, fixed, valid, significance, strict=True)
    ]
    variants = [
        _variant_results(experiment, v.name, per_variant[v.name], seen) for v in experiment.variants
    ]
    srm = _srm(experiment, seen)
    guardrails = _guardrails(experiment, variants)
    min_samples_reached = all(v.units >= experiment.min_samples for v in variants)
    primary = {
        t: (a, s)
        for (t, m), a, s in zip(pairs, arms, significance, strict=True)
        if m == experiment.primary_metric
    }
    recommendations = [
        decide(
            _evidence(
                experiment,
                t.name,
                primary[t.name][0],
                significant=primary[t.name][1],
                srm_mismatch=srm.mismatch,
                guardrails=guardrails,
            )
        )
        for t in experiment.treatments
    ]
    lifts = [
        _oriented(experiment, primary[t.name][0].comparison.relative_lift)
        for t in experiment.treatments
    ]
    overall = decide_overall(recommendations, lifts)
    return ExperimentResults(
        experiment=ExperimentPublic.from_domain(experiment),
        primary_metric=experiment.primary_metric,
        variants=variants,
        comparisons=comparisons,
        srm=srm,
        guardrails=guardrails,
        is_significant=any(s for _, s in primary.values()),
        min_samples_reached=min_samples_reached,
        recommendation=DecisionPublic(
            action=overall.action.value,
            decision=overall.decision.value,
            variant=overall.variant,
            reason=overall.reason,
        ),
    )


def _moments(sums: ModelMetricSums, metric: str) -> RatioMoments:
    moments: RatioMoments = getattr(sums, metric)
    return moments


def _variant_results(
    experiment: Experiment, name: str, sums: ModelMetricSums, seen: dict[str, int]
) -> VariantResults:
    metrics: dict[str, MetricValue] = {}
    for metric in COMPARED_METRICS:
        moments = _moments(sums, metric)
        value = moments.numerator_sum / moments.denominator_sum if moments.denominator_sum else None
        metrics[metric] = MetricValue(
            value=finite(value),
            n=moments.n,
            ci=interval(ratio_interval(moments, alpha=experiment.alpha)),
        )
    metrics["latency_p95_ms"] = MetricValue(
        value=finite(sums.latency_p95_ms), n=sums.predictions, ci=(None, None)
    )
    variant = experiment.variant(name)
    return VariantResults(
        name=name,
        model_version=variant.model_version,
        weight=variant.weight,
        units=seen.get(name, 0),
        predictions=sums.predictions,
        metrics=metrics,
    )


def _srm(experiment: Experiment, seen: dict[str, int]) -> SrmPublic:
    names = [v.name for v in experiment.variants]
    observed = [seen.get(n, 0) for n in names]
    weights = [v.weight for v in experiment.variants]
    if sum(observed) == 0 or any(w <= 0 for w in weights):
        # Nothing to test yet, or a variant meant to get no traffic (a 0% arm).
        return SrmPublic(
            p_value=None,
            mismatch=False,
            observed=dict(zip(names, observed, strict=True)),
            expected={},
            threshold=0.001,
        )
    result = sample_ratio_mismatch(observed, weights)
    return SrmPublic(
        p_value=finite(result.p_value),
        mismatch=result.mismatch,
        observed=dict(zip(names, observed, strict=True)),
        expected=dict(zip(names, result.expected, strict=True)),
        threshold=result.threshold,
    )


def _guardrails(experiment: Experiment, variants: list[VariantResults]) -> list[GuardrailResult]:
    treatments = {t.name for t in experiment.treatments}
    results = []
    for guardrail in experiment.guardrails:
        for variant in variants:
            if variant.name not in treatments:
                continue
            value = variant.metric(guardrail.metric)
            results.append(
                GuardrailResult(
                    metric=guardrail.metric,
                    variant=variant.name,
                    bound=guardrail.bound.value,
                    threshold=guardrail.threshold,
                    value=value,
                    violated=value is not None and guardrail.is_violated_by(value),
                )
            )
    return results


def _oriented(experiment: Experiment, lift: float) -> float:
    """The lift with its sign turned so that positive means better."""
    return lift if BUILTIN_METRICS[experiment.primary_metric].higher_is_better else -lift


def _evidence(
    experiment: Experiment,
    variant: str,
    arm: Arm,
    *,
    significant: bool,
    srm_mismatch: bool,
    guardrails: list[GuardrailResult],
) -> Evidence:
    comparison = arm.comparison
    higher_is_better = BUILTIN_METRICS[experiment.primary_metric].higher_is_better
    low, high = comparison.relative_ci
    difference = comparison.absolute_lift
    return Evidence(
        variant=variant,
        significant=significant,
        improved=(difference > 0) if higher_is_better else (difference < 0),
        relative_lift=_oriented(experiment, comparison.relative_lift),
        relative_ci=(low, high) if higher_is_better else (-high, -low),
        control_units=comparison.control_units,
        treatment_units=comparison.treatment_units,
        min_samples=experiment.min_samples,
        srm_mismatch=srm_mismatch,
        violated_guardrails=tuple(
            f"{g.metric}{g.bound}{g.threshold:g} (observed {g.value:.4g})"
            for g in guardrails
            if g.violated
            and g.variant == variant
            and g.value is not None
            and not math.isnan(g.value)
        ),
    )
