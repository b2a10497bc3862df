"""An experiment's verdict: the counts it rests on, where it stands in time, what to do.

- **Counts.** :func:`with_unit_counts` names each variant's counts the same way everywhere (units
  exposed, with predictions, with labels; predictions, labels, conversions), and
  :func:`rule_count` says which of them the minimum-samples rule reads: the units that
  carry the primary metric (with labels for accuracy, with predictions for latency and
  error rate, exposed for metrics from events; mirrored predictions in shadow mode).
- **Time.** The days run since launch, against ``max_duration_days``; before it, the days
  left to the planned sample size: the units per arm a fixed-horizon test needs to detect
  the MDE at the experiment's power (:func:`ablab.stats.sample_size_means`, with the
  per-unit deviation read off the control's standard error and the arms split as their
  weights), at the rate of units per day observed so far.
- **Recommendation.** Each treatment's evidence goes through seed 001's rules
  (:func:`ablab.domain.decisions.decide`; a shadow experiment through
  :func:`ablab.domain.shadow_verdict.decide_shadow`), one overall decision is drawn, and
  both are restated in the actions the experiment's status allows.
- **Go/no-go** for a deployment controller (Argo Rollouts, Flagger), :func:`decision_of`:
  ``pass`` promote (a promotion recommended, or already made); ``fail`` roll back or keep
  the control (harm, a broken guardrail, a mismatch, a futility stop, an experiment
  stopped); ``inconclusive`` keep waiting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ablab.domain.decisions import (
    Recommendation,
    RecommendedAction,
    days_run,
    decide,
    decide_overall,
    within_status,
)
from ablab.domain.experiments import Experiment
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.metrics import CustomMetric, MetricKind
from ablab.domain.results.checks import GuardrailResult
from ablab.domain.results.experiment import ExperimentResults
from ablab.domain.results.shadow import ShadowReport
from ablab.domain.results.variants import VariantResults
from ablab.domain.results.verdicts import (
    ControllerVerdict,
    DecisionEvidence,
    Duration,
    ExperimentDecision,
    MinSamplesRule,
)
from ablab.domain.shadow_verdict import shadow_overall
from ablab.errors import ValidationError
from ablab.services.analysis.comparisons import Arm, evidence_for, oriented_lift
from ablab.services.analysis.guardrails import broken_guardrails
from ablab.services.analysis.metric_request import Definition
from ablab.services.analysis.metric_tests import metric_sums
from ablab.services.analysis.shadow_report import shadow_verdict
from ablab.services.ports import VariantSums
from ablab.stats import sample_size_means

__all__ = [
    "COUNT_WORDS",
    "Verdict",
    "decision_of",
    "rule_count",
    "verdict_of",
    "with_unit_counts",
]

COUNT_WORDS = {
    "units_exposed": "units exposed",
    "units_with_predictions": "units with predictions",
    "units_with_labels": "units with labels",
    "mirrored_predictions": "mirrored predictions",
}


def rule_count(experiment: Experiment, primary: Definition) -> str:
    """The count the minimum-samples rule reads (a key of :data:`COUNT_WORDS`)."""
    if experiment.shadow:
        return "mirrored_predictions"
    if isinstance(primary, CustomMetric):
        return "units_exposed"  # every exposed unit counts, as 0 without events
    if primary.name == "accuracy":
        return "units_with_labels"
    return "units_with_predictions"


def with_unit_counts(
    row: VariantResults, primary: Definition | None, sums: VariantSums
) -> VariantResults:
    """``row`` with its counts, named the same way everywhere (see :class:`VariantResults`).

    ``conversions`` counts the units converted when ``primary`` is a proportion metric
    (None otherwise, and when the caller analyses other metrics only).
    """
    conversions = None
    if isinstance(primary, CustomMetric) and primary.kind is MetricKind.PROPORTION:
        conversions = round(metric_sums(sums, primary.name).numerator_sum)
    return replace(
        row,
        units_exposed=sums.seen,
        units_with_predictions=sums.units,
        units_with_labels=sums.units_with_labels,
        labels=round(metric_sums(sums, "accuracy").denominator_sum),
        conversions=conversions,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    recommendation: Recommendation
    decisions: tuple[Recommendation, ...]
    min_samples_rule: MinSamplesRule
    duration: Duration


@dataclass(frozen=True, slots=True)
class _Plan:
    """One treatment's planned sample size against the control, and the days to reach it."""

    control_units: int | None = None
    treatment_units: int | None = None
    days_left: float | None = None
    reached: bool = False


def verdict_of(
    experiment: Experiment,
    primary_arms: Mapping[str, Arm],
    significant: Mapping[str, bool],
    *,
    higher_is_better: bool,
    counts: str,
    variants: Sequence[VariantResults],
    srm_mismatch: bool,
    guardrails: Sequence[GuardrailResult],
    shadow: Sequence[ShadowReport] | None,
    now: datetime,
) -> Verdict:
    """The recommendation, each treatment's decision, the minimum-samples rule and the time.

    ``primary_arms`` and ``significant`` are by treatment, on the primary metric;
    ``counts`` is :func:`rule_count`'s answer.
    """
    run = days_run(experiment.started_at, experiment.ended_at, now)
    rule = _min_samples_rule(experiment, counts, variants, shadow)
    if experiment.shadow:
        verdicts = {r.variant: r.verdict for r in shadow or () if r.verdict is not None}
        recommendations = [
            verdicts[t.name]
            if t.name in verdicts
            else shadow_verdict(experiment, t.name, None, now)
            for t in experiment.treatments
        ]
        overall = shadow_overall(recommendations)
        duration = _duration(experiment, run, {}, primary_arms, shadow_mode=True)
    else:
        plans = {t.name: _plan(experiment, t.name, primary_arms[t.name], run)
                 for t in experiment.treatments}  # fmt: skip
        by_name = {v.name: v for v in variants}
        control = experiment.control.name
        recommendations = []
        for treatment in experiment.treatments:
            arm, plan = primary_arms[treatment.name], plans[treatment.name]
            base = evidence_for(
                treatment.name,
                arm,
                higher_is_better=higher_is_better,
                significant=significant[treatment.name],
                min_samples=experiment.min_samples,
                planned_units_reached=plan.reached,
                srm_mismatch=srm_mismatch,
                violated_guardrails=broken_guardrails(guardrails, treatment.name),
            )
            evidence = replace(
                base,
                control_units=_count(by_name[control], counts),
                treatment_units=_count(by_name[treatment.name], counts),
                counted=COUNT_WORDS[counts],
                mde=experiment.mde,
                days_run=run,
                max_duration_days=experiment.max_duration_days,
                days_left=plan.days_left,
            )
            recommendations.append(decide(evidence))
        lifts = [oriented_lift(primary_arms[t.name], higher_is_better)
                 for t in experiment.treatments]  # fmt: skip
        overall = decide_overall(recommendations, lifts)
        duration = _duration(experiment, run, plans, primary_arms, shadow_mode=False)
    status, winner = experiment.status, experiment.winner
    return Verdict(
        recommendation=within_status(overall, status, winner),
        decisions=tuple(within_status(r, status, winner) for r in recommendations),
        min_samples_rule=rule,
        duration=duration,
    )


def _count(variant: VariantResults, counts: str) -> int:
    value = getattr(variant, counts)
    return int(value) if value is not None else 0


def _min_samples_rule(
    experiment: Experiment,
    counts: str,
    variants: Sequence[VariantResults],
    shadow: Sequence[ShadowReport] | None,
) -> MinSamplesRule:
    minimum, words = experiment.min_samples, COUNT_WORDS[counts]
    if counts == "mirrored_predictions":
        pairs = {r.variant: r.pairs for r in shadow or ()}
        counted = {t.name: pairs.get(t.name, 0) for t in experiment.treatments}
        scope = "per treatment (each shadow report's pairs)"
    else:
        counted = {v.name: _count(v, counts) for v in variants}
        scope = "per variant"
    reached = bool(counted) and all(n >= minimum for n in counted.values())
    statement = f"min_samples ({minimum}) counts {words} {scope}: "
    if reached:
        statement += "reached by every one"
    elif counted:
        fewest = min(counted, key=lambda name: counted[name])
        statement += f"not reached yet, fewest {counted[fewest]} in {fewest}"
    else:
        statement += "nothing to count yet"
    return MinSamplesRule(min_samples=minimum, counts=counts, reached=reached, statement=statement)


def _plan(experiment: Experiment, treatment: str, arm: Arm, run: float | None) -> _Plan:
    """The units per arm that detect the MDE at the planned power, and the days to them.

    The per-unit standard deviation is ``se * sqrt(n)`` of the control (for every kind of
    metric, including ratios by the delta method), the split is the arms' current weights.
    The days left extrapolate each arm's units per day since launch; None before launch,
    before any unit or without an MDE.
    """
    comparison = arm.comparison
    mde = experiment.mde
    if (
        mde is None
        or comparison.status != "ok"
        or not math.isfinite(comparison.control_value)
        or comparison.control_value == 0
    ):
        return _Plan()
    deviation = comparison.control_standard_error * math.sqrt(comparison.control_units)
    if not (math.isfinite(deviation) and deviation > 0):
        return _Plan()
    weight_control = experiment.control.weight
    weight_treatment = experiment.variant(treatment).weight
    share = 0.5
    if weight_control > 0 and weight_treatment > 0:
        share = weight_treatment / (weight_control + weight_treatment)
    effect = abs(mde * comparison.control_value)
    if not (math.isfinite(effect) and effect > 0):
        return _Plan()
    try:
        size = sample_size_means(
            deviation,
            -effect if comparison.alternative == "less" else effect,
            alpha=comparison.alpha,
            power=experiment.power,
            alternative=comparison.alternative,
            treatment_share=share,
        )
    except (ArithmeticError, ValidationError):
        # An MDE so small against the spread that no finite sample detects it: no plan,
        # which the results say (days left unknown), rather than no results at all.
        return _Plan()
    have = (comparison.control_units, comparison.treatment_units)
    need = (size.control_units, size.treatment_units)
    reached = all(h >= n for h, n in zip(have, need, strict=True))
    days_left = None
    if run is not None and run > 0 and all(h > 0 for h in have):
        days_left = max(max(0.0, (n - h) / (h / run)) for h, n in zip(have, need, strict=True))
    return _Plan(size.control_units, size.treatment_units, days_left, reached)


def _duration(
    experiment: Experiment,
    run: float | None,
    plans: Mapping[str, _Plan],
    primary_arms: Mapping[str, Arm],
    *,
    shadow_mode: bool,
) -> Duration:
    limit = experiment.max_duration_days
    reached = limit is not None and run is not None and run >= limit
    control = experiment.control.name
    in_test: dict[str, int] = {}
    planned: dict[str, int] = {}
    for name, arm in primary_arms.items():
        in_test[control] = max(in_test.get(control, 0), arm.comparison.control_units)
        in_test[name] = arm.comparison.treatment_units
        plan = plans.get(name)
        if plan is not None and plan.control_units is not None:
            planned[control] = max(planned.get(control, 0), plan.control_units)
            planned[name] = plan.treatment_units or 0
    per_day = (
        {name: units / run for name, units in in_test.items()}
        if run is not None and run > 0
        else {}
    )
    known = [p.days_left for p in plans.values() if p.days_left is not None]
    days_left = max(known) if plans and len(known) == len(plans) else None
    if shadow_mode:
        basis = "shadow mode: judged on mirrored predictions, no planned sample size"
    elif run is None:
        basis = "not launched yet"
    elif experiment.mde is None:
        basis = "no MDE set: no planned sample size, so no days-left estimate"
    elif days_left is None:
        basis = (
            f"planned sample size for the MDE ({experiment.mde:g}) at {experiment.power:.0%} "
            f"power: not estimable yet (no units or no variance in the "
            f"{experiment.primary_metric} test)"
        )
    else:
        basis = (
            f"planned sample size for the MDE ({experiment.mde:g}) at {experiment.power:.0%} "
            f"power and alpha {experiment.alpha:g}, in the units of the "
            f"{experiment.primary_metric} test, at the units per day seen since launch"
        )
    return Duration(
        days_run=run,
        max_duration_days=limit,
        max_duration_reached=reached,
        planned_units=planned,
        units_in_test=in_test,
        units_per_day=per_day,
        days_left=days_left,
        basis=basis,
    )


_VERDICTS = {
    RecommendedAction.PROMOTE: ControllerVerdict.PASS,
    RecommendedAction.ROLLBACK: ControllerVerdict.FAIL,
    RecommendedAction.KEEP_CONTROL: ControllerVerdict.FAIL,
}


def decision_of(results: ExperimentResults) -> ExperimentDecision:
    """The go/no-go a deployment controller reads off the results."""
    recommendation = results.recommendation
    verdict = _VERDICTS.get(recommendation.action, ControllerVerdict.INCONCLUSIVE)
    experiment = results.experiment
    if (
        recommendation.action is RecommendedAction.NONE
        and experiment.status is not ExperimentStatus.DRAFT
    ):
        # It has ended: what was decided stands.
        winner = experiment.winner is not None
        verdict = ControllerVerdict.PASS if winner else ControllerVerdict.FAIL
    if any(g.violated for g in results.guardrails) or results.srm.mismatch:
        verdict = ControllerVerdict.FAIL
    primary = results.primary_comparison
    return ExperimentDecision(
        experiment=experiment.name,
        status=experiment.status,
        decision=verdict,
        action=recommendation.action,
        variant=recommendation.variant,
        reason=recommendation.reason,
        evidence=DecisionEvidence(
            metric=results.primary_metric,
            relative_lift=primary.relative_lift if primary else None,
            relative_ci=primary.relative_ci if primary else (None, None),
            p_value=primary.p_value if primary else None,
            always_valid_p_value=primary.always_valid_p_value if primary else None,
            significant=results.is_significant,
            min_samples_reached=results.min_samples_reached,
            srm_mismatch=results.srm.mismatch,
            broken_guardrails=tuple(
                f"{g.variant}: {g.metric}{g.bound}{g.threshold:g}"
                for g in results.guardrails
                if g.violated
            ),
            units={v.name: v.units for v in results.variants},
        ),
    )
