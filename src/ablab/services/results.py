"""An experiment's results: from stored events to the results contract and a verdict.

events (store) -> per-unit, then per-variant sums in SQL -> stats -> report -> decision.
The built-in model metrics are ratios over units, compared by the delta method; every
(treatment, metric) pair is one member of the Holm family; SRM judges the units first seen
in each weight period against that period's weights. Holm adjusts each metric's p-values
across treatments (secondary metrics do not cost the primary decision power).
"""

from __future__ import annotations

import math
from datetime import datetime

from ablab.contract.analysis import DecisionPublic, SrmPublic
from ablab.contract.experiments import ExperimentPublic
from ablab.contract.results import ExperimentResults, GuardrailResult, MetricValue, VariantResults
from ablab.domain.decisions import decide, decide_overall
from ablab.domain.experiments import Experiment
from ablab.domain.guardrails import Bound
from ablab.domain.metrics import BUILTIN_METRICS, TESTED_METRICS
from ablab.errors import ValidationError
from ablab.services.audit import list_audit
from ablab.services.comparisons import (
    Arm,
    comparison_row,
    evaluate,
    evidence_for,
    finite,
    interval,
    is_significant,
    oriented_lift,
    planned_units_reached,
)
from ablab.services.context import Context
from ablab.services.experiments import get_experiment
from ablab.services.ports import EventStore, ModelMetricSums
from ablab.stats import (
    RatioMoments,
    adjust_p_values,
    ratio_interval,
    ratio_test,
    sample_ratio_mismatch_over_periods,
)

__all__ = ["COMPARED_METRICS", "experiment_results", "weight_periods"]

# Weight changes are rare; an experiment with more audit entries than this is unusual.
_AUDIT_LIMIT = 10_000

COMPARED_METRICS = TESTED_METRICS


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
    if experiment.primary_metric not in TESTED_METRICS:
        raise ValidationError(
            f"results for the metric {experiment.primary_metric!r} are not available yet; "
            f"primary metrics: {', '.join(TESTED_METRICS)}"
        )
    sums = events.model_metrics(ctx.project_id, experiment.id)
    periods = weight_periods(ctx, experiment)
    by_period = events.units_by_period(experiment.id, [start for start, _ in periods[1:]])
    seen = {v.name: sum(p.get(v.name, 0) for p in by_period) for v in experiment.variants}
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
    fixed, valid = _holm_per_metric(pairs, arms)
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
    srm = _srm(experiment, periods, by_period)
    guardrails = _guardrails(experiment, variants)
    planned = {
        t: planned_units_reached(a, mde=experiment.mde, power=experiment.power)
        for (t, m), a in zip(pairs, arms, strict=True)
        if m == experiment.primary_metric
    }
    min_samples_reached = all(v.units >= experiment.min_samples for v in variants)
    primary = {
        t: (a, s)
        for (t, m), a, s in zip(pairs, arms, significance, strict=True)
        if m == experiment.primary_metric
    }
    recommendations = [
        decide(
            evidence_for(
                t.name,
                primary[t.name][0],
                higher_is_better=_higher_is_better(experiment),
                significant=primary[t.name][1],
                min_samples=experiment.min_samples,
                planned_units_reached=planned[t.name],
                srm_mismatch=srm.mismatch,
                violated_guardrails=_broken(guardrails, t.name),
            )
        )
        for t in experiment.treatments
    ]
    lifts = [
        oriented_lift(primary[t.name][0], _higher_is_better(experiment))
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


def weight_periods(ctx: Context, experiment: Experiment) -> list[tuple[datetime, dict[str, float]]]:
    """The weights in force since launch, one entry per change, read from the audit log.

    Each entry is (start, weights by variant); the first starts at launch. A split change
    applies to units not assigned before, so each period's weights judge the units first
    seen in it.
    """
    history: list[tuple[datetime, dict[str, float]]] = []
    for entry in reversed(list_audit(ctx, object_id=experiment.id, limit=_AUDIT_LIMIT)):
        after = entry.after or {}
        if not after.get("started_at") or not after.get("variants"):
            continue
        weights = {v["name"]: float(v["weight"]) for v in after["variants"]}
        if not history or history[-1][1] != weights:
            history.append((entry.at, weights))
    if not history:
        start = experiment.started_at or experiment.created_at
        history.append((start, {v.name: v.weight for v in experiment.variants}))
    return history


def _srm(
    experiment: Experiment,
    periods: list[tuple[datetime, dict[str, float]]],
    by_period: list[dict[str, int]],
) -> SrmPublic:
    names = [v.name for v in experiment.variants]
    result = sample_ratio_mismatch_over_periods(
        [
            ([seen.get(n, 0) for n in names], [weights.get(n, 0.0) for n in names])
            for (_, weights), seen in zip(periods, by_period, strict=True)
        ]
    )
    return SrmPublic(
        p_value=finite(result.p_value),
        mismatch=result.mismatch,
        observed=dict(zip(names, result.observed, strict=True)),
        expected=dict(zip(names, result.expected, strict=True)),
        threshold=result.threshold,
    )


def _guardrails(experiment: Experiment, variants: list[VariantResults]) -> list[GuardrailResult]:
    """Each treatment against each guardrail; ``violated`` only on a confident breach.

    A breach counts once the arm has ``min_samples`` units and the whole interval of the
    metric lies beyond the threshold (the point estimate for p95 latency, which has none),
    so one early failed prediction cannot stop an experiment.
    """
    treatments = {t.name for t in experiment.treatments}
    results = []
    for guardrail in experiment.guardrails:
        for variant in variants:
            if variant.name not in treatments:
                continue
            measured = variant.metrics.get(guardrail.metric)
            value = measured.value if measured is not None else None
            violated = False
            if (
                measured is not None
                and value is not None
                and variant.units >= experiment.min_samples
            ):
                low, high = measured.ci
                edge = low if guardrail.bound is Bound.AT_MOST else high
                violated = guardrail.is_violated_by(value if edge is None else edge)
            results.append(
                GuardrailResult(
                    metric=guardrail.metric,
                    variant=variant.name,
                    bound=guardrail.bound.value,
                    threshold=guardrail.threshold,
                    value=value,
                    violated=violated,
                )
            )
    return results


def _higher_is_better(experiment: Experiment) -> bool:
    return BUILTIN_METRICS[experiment.primary_metric].higher_is_better


def _holm_per_metric(
    pairs: list[tuple[str, str]], arms: list[Arm]
) -> tuple[list[float], list[float]]:
    """Holm-adjusted fixed and always-valid p-values, one family per metric across treatments.

    Secondary metrics then never cost the primary decision power.
    """
    fixed = [math.nan] * len(arms)
    valid = [math.nan] * len(arms)
    for metric in dict.fromkeys(m for _, m in pairs):
        members = [i for i, (_, m) in enumerate(pairs) if m == metric]
        adjusted_fixed = adjust_p_values([arms[i].comparison.p_value for i in members], "holm")
        adjusted_valid = adjust_p_values(
            [arms[i].sequential.always_valid_p_value for i in members], "holm"
        )
        for i, f, v in zip(members, adjusted_fixed, adjusted_valid, strict=True):
            fixed[i], valid[i] = f, v
    return fixed, valid


def _broken(guardrails: list[GuardrailResult], variant: str) -> tuple[str, ...]:
    return tuple(
        f"{g.metric}{g.bound}{g.threshold:g} (observed {g.value:.4g})"
        for g in guardrails
        if g.violated and g.variant == variant and g.value is not None
    )
