"""Verdicts that agree with their own data, through the service path on both engines.

Counts named the same way and the minimum-samples rule stated in them; the maximum duration
on an injected clock (days left before it, a futility stop after it); a shadow experiment's
shadow check; a stopped experiment that is never told to promote; promotion only on
evidence unless forced, and audited as forced.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from statsmodels.stats.power import NormalIndPower

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.contract.metrics import MetricCreate
from ablab.domain.lifecycle import Action
from ablab.errors import Conflict, InvalidTransition
from ablab.services.access.audit import list_audit
from ablab.services.analysis.decision import decision_of
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment, transition
from ablab.services.experiments.metrics import define_metric
from ablab.services.ports import EventStore
from ablab.services.rollouts.promotion import promote_experiment

LAUNCH = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


def at(ctx: Context, moment: datetime) -> Context:
    return replace(ctx, clock=lambda: moment)


def launch(ctx: Context, name: str, **options: Any) -> None:
    for version in ("1", "2"):
        register_model_version(
            ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    create_experiment(
        at(ctx, LAUNCH),
        ExperimentCreate(
            name=name, model_id="m", control_version="1", treatment_version="2", **options
        ),
    )


def exposure(experiment: str, unit: str, variant: str, when: datetime) -> dict[str, Any]:
    return {
        "event_id": f"x-{experiment}-{unit}",
        "type": "exposure",
        "experiment": experiment,
        "unit_id": unit,
        "variant": variant,
        "timestamp": when.isoformat(),
    }


def prediction(experiment: str, unit: str, variant: str, pid: str, when: datetime,
               **fields: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "event_id": f"p-{experiment}-{pid}",
        "type": "prediction",
        "experiment": experiment,
        "unit_id": unit,
        "variant": variant,
        "prediction_id": pid,
        "latency_ms": 20.0,
        "error": False,
        "timestamp": when.isoformat(),
        **fields,
    }


def label(pid: str, correct: bool, when: datetime) -> dict[str, Any]:
    return {"event_id": f"l-{pid}", "type": "label", "prediction_id": pid, "correct": correct,
            "timestamp": when.isoformat()}  # fmt: skip


def ingest(ctx: Context, events: EventStore, stream: list[dict[str, Any]]) -> None:
    assert ingest_events(ctx, events, stream).rejected == []


# Counts and the minimum-samples rule


def test_a_conversion_test_counts_exposed_units_not_predictions(
    ctx: Context, events: EventStore
) -> None:
    """About 400 units per arm, exposures and conversions only: no "0" anywhere it matters."""
    define_metric(ctx, MetricCreate(name="converted", aggregation="any", kind="proportion"))
    launch(ctx, "checkout", primary_metric="converted")
    day = LAUNCH + timedelta(days=1)
    stream = []
    converted = {"control": 80, "treatment": 96}
    for variant, units in (("control", 400), ("treatment", 410)):
        for i in range(units):
            unit = f"{variant}-{i}"
            stream.append(exposure("checkout", unit, variant, day))
            if i < converted[variant]:
                stream.append({"event_id": f"m-{unit}", "type": "metric", "experiment": "checkout",
                               "unit_id": unit, "name": "converted", "value": 1,
                               "timestamp": day.isoformat()})  # fmt: skip
    now = at(ctx, LAUNCH + timedelta(days=2))
    ingest(now, events, stream)
    results = experiment_results(now, events, "checkout")
    counts = {
        v.name: (v.units_exposed, v.units, v.units_with_predictions, v.units_with_labels,
                 v.predictions, v.labels, v.conversions)
        for v in results.variants
    }  # fmt: skip
    assert counts == {
        "control": (400, 400, 0, 0, 0, 0, 80),
        "treatment": (410, 410, 0, 0, 0, 0, 96),
    }
    rule = results.min_samples_rule
    assert rule is not None
    assert (rule.counts, rule.reached, results.min_samples_reached) == ("units_exposed", True, True)
    assert (
        rule.statement == "min_samples (100) counts units exposed per variant: reached by every one"
    )
    assert {c.variant: c.metric for c in results.comparisons} == {"treatment": "converted"}
    comparison = results.comparisons[0]
    assert comparison.control_value == pytest.approx(80 / 400)


def test_accuracy_counts_units_with_labels_for_the_minimum(
    ctx: Context, events: EventStore
) -> None:
    launch(ctx, "scans", min_samples=35)
    day = LAUNCH + timedelta(days=1)
    stream = []
    # control: 50 units with two predictions each; 30 with both labelled, 10 with one, 10
    # with none; 10 more units only exposed. treatment: the same with 30 units labelled.
    for variant, labelled_both, labelled_one in (("control", 30, 10), ("treatment", 20, 10)):
        for i in range(60):
            unit = f"{variant}-{i}"
            stream.append(exposure("scans", unit, variant, day))
            if i >= 50:
                continue
            for k in range(2):
                pid = f"{unit}-{k}"
                stream.append(prediction("scans", unit, variant, pid, day))
                if i < labelled_both or (i < labelled_both + labelled_one and k == 0):
                    stream.append(label(pid, correct=(i + k) % 3 > 0, when=day))
    now = at(ctx, LAUNCH + timedelta(days=2))
    ingest(now, events, stream)
    results = experiment_results(now, events, "scans")
    counts = {
        v.name: (v.units_exposed, v.units_with_predictions, v.units_with_labels, v.predictions,
                 v.labels, v.conversions)
        for v in results.variants
    }  # fmt: skip
    assert counts == {
        "control": (60, 50, 40, 100, 70, None),
        "treatment": (60, 50, 30, 100, 50, None),
    }
    rule = results.min_samples_rule
    assert rule is not None
    assert (rule.counts, rule.reached, results.min_samples_reached) == (
        "units_with_labels",
        False,
        False,
    )
    assert "counts units with labels per variant: not reached yet, fewest 30 in treatment" in (
        rule.statement
    )
    # The decision counts what the rule counts, and says so.
    assert results.recommendation.action == "continue"
    assert "only 30 units with labels in the smallest arm, below the minimum of 35" in (
        results.recommendation.reason
    )


# The maximum duration, on an injected clock


def _aa_conversions(ctx: Context, events: EventStore, name: str, days: float) -> None:
    """300 units per arm over ``days`` days, 60 and 62 of them converted (no real effect)."""
    stream = []
    for variant, hits in (("control", 60), ("treatment", 62)):
        for i in range(300):
            unit = f"{variant}-{i}"
            when = LAUNCH + timedelta(days=days * (i + 0.5) / 300)
            stream.append(exposure(name, unit, variant, when))
            if i < hits:
                stream.append({"event_id": f"m-{unit}", "type": "metric", "experiment": name,
                               "unit_id": unit, "name": "converted", "value": 1,
                               "timestamp": when.isoformat()})  # fmt: skip
    ingest(at(ctx, LAUNCH + timedelta(days=days)), events, stream)


def test_days_left_before_the_maximum_duration_and_futility_after_it(
    ctx: Context, events: EventStore
) -> None:
    define_metric(ctx, MetricCreate(name="converted", aggregation="any", kind="proportion"))
    launch(ctx, "slow", primary_metric="converted", mde=0.05, max_duration_days=7)
    _aa_conversions(ctx, events, "slow", days=3)

    early = experiment_results(at(ctx, LAUNCH + timedelta(days=3)), events, "slow")
    assert not early.is_significant
    duration = early.duration
    assert duration is not None
    assert duration.days_run == pytest.approx(3.0)
    assert (duration.max_duration_days, duration.max_duration_reached) == (7, False)
    # The plan, from an independent power calculation: 20% conversion, +5% relative.
    effect = 0.05 * 0.2 / (0.2 * 0.8) ** 0.5
    planned = NormalIndPower().solve_power(effect, alpha=0.05, power=0.8, ratio=1.0)
    assert duration.planned_units["control"] == pytest.approx(planned, rel=0.01)
    assert duration.units_in_test == {"control": 300, "treatment": 300}
    assert duration.units_per_day["control"] == pytest.approx(100.0)
    assert duration.days_left == pytest.approx((planned - 300) / 100.0, rel=0.01)
    recommendation = early.recommendation
    assert (recommendation.action, recommendation.decision) == ("continue", "extend_test")
    assert f"about {duration.days_left:.1f} days left to the planned sample size" in (
        recommendation.reason
    )
    assert "4.0 of the maximum 7 days left" in recommendation.reason
    assert "will not be reached in time" in recommendation.reason

    late = experiment_results(at(ctx, LAUNCH + timedelta(days=7, hours=1)), events, "slow")
    assert late.duration is not None
    assert late.duration.max_duration_reached
    assert (late.recommendation.action, late.recommendation.decision) == (
        "keep_control",
        "stop_for_futility",
    )
    assert "the maximum duration of 7 days: stop for futility" in late.recommendation.reason
    assert decision_of(late).decision == "fail"


def test_without_a_maximum_duration_an_inconclusive_test_still_waits(
    ctx: Context, events: EventStore
) -> None:
    define_metric(ctx, MetricCreate(name="converted", aggregation="any", kind="proportion"))
    launch(ctx, "open", primary_metric="converted")
    _aa_conversions(ctx, events, "open", days=3)
    results = experiment_results(at(ctx, LAUNCH + timedelta(days=400)), events, "open")
    assert results.recommendation.action == "continue"
    assert results.duration is not None
    assert results.duration.days_left is None
    assert "no MDE set" in results.duration.basis


# Shadow mode


def _mirrored(ctx: Context, events: EventStore, name: str, pairs: int, *,
              disagree: int = 0, shadow_errors: int = 0) -> Context:  # fmt: skip
    day = LAUNCH + timedelta(days=1)
    stream = []
    for i in range(pairs):
        unit, pid = f"u{i}", f"{name}-p{i}"
        stream.append(prediction(name, unit, "control", pid, day, output="normal",
                                 latency_ms=20.0 + i % 3))  # fmt: skip
        mirrored = prediction(name, unit, "treatment", pid, day, latency_ms=22.0 + i % 3,
                              output="abnormal" if i < disagree else "normal",
                              error=i < shadow_errors, shadow=True)  # fmt: skip
        mirrored["event_id"] = f"s-{pid}"
        stream.append(mirrored)
    now = at(ctx, LAUNCH + timedelta(days=2))
    ingest(now, events, stream)
    return now


def test_a_shadow_experiment_gets_a_shadow_verdict(ctx: Context, events: EventStore) -> None:
    launch(ctx, "mirror", shadow=True)
    now = _mirrored(ctx, events, "mirror", 150, disagree=4)
    results = experiment_results(now, events, "mirror")
    treatment = next(v for v in results.variants if v.name == "treatment")
    assert treatment.units_with_predictions == 0  # the shadow never served anyone
    (report,) = results.shadow or []
    assert report.verdict is not None
    assert report.verdict.decision == "shadow_passed"
    recommendation = results.recommendation
    assert (recommendation.action, recommendation.decision) == ("keep_control", "shadow_passed")
    assert "treatment passed the shadow check on 150 mirrored predictions" in recommendation.reason
    assert "agrees on 97.3%" in recommendation.reason
    assert "latency +2.0 ms" in recommendation.reason
    assert "collect" not in recommendation.reason
    assert "0 units" not in recommendation.reason
    rule = results.min_samples_rule
    assert rule is not None
    assert (rule.counts, rule.reached) == ("mirrored_predictions", True)


def test_a_shadow_that_fails_more_often_fails_its_check(ctx: Context, events: EventStore) -> None:
    launch(ctx, "flaky", shadow=True)
    now = _mirrored(ctx, events, "flaky", 150, shadow_errors=30)
    recommendation = experiment_results(now, events, "flaky").recommendation
    assert (recommendation.action, recommendation.decision) == ("keep_control", "shadow_failed")
    assert "fails more often than the served model (20.0% vs 0.0%)" in recommendation.reason


def test_a_young_shadow_waits_for_mirrored_predictions(ctx: Context, events: EventStore) -> None:
    launch(ctx, "young", shadow=True)
    now = _mirrored(ctx, events, "young", 40)
    recommendation = experiment_results(now, events, "young").recommendation
    assert recommendation.action == "continue"
    assert "only 40 mirrored predictions of treatment, below the minimum of 100" in (
        recommendation.reason
    )


# Status and promotion


def _winning(ctx: Context, events: EventStore, name: str) -> Context:
    """400 labelled units per arm: 70% against 85% correct."""
    day = LAUNCH + timedelta(days=1)
    stream = []
    for variant, correct in (("control", 280), ("treatment", 340)):
        for i in range(400):
            unit, pid = f"{variant}-{i}", f"{name}-{variant}-{i}"
            stream += [prediction(name, unit, variant, pid, day), label(pid, i < correct, day)]
    now = at(ctx, LAUNCH + timedelta(days=2))
    ingest(now, events, stream)
    return now


def test_a_stopped_experiment_is_never_told_to_promote(ctx: Context, events: EventStore) -> None:
    launch(ctx, "won")
    now = _winning(ctx, events, "won")
    running = experiment_results(now, events, "won")
    assert running.recommendation.action == "promote"
    transition(now, "won", Action.STOP)
    stopped = experiment_results(now, events, "won")
    assert (stopped.recommendation.action, stopped.recommendation.decision) == ("none", "ended")
    assert "it was stopped and the control kept" in stopped.recommendation.reason
    assert "run a new experiment or a rollout" in stopped.recommendation.reason
    assert [d.action for d in stopped.decisions] == ["none"]
    assert decision_of(stopped).decision == "fail"
    with pytest.raises(InvalidTransition, match="cannot promote"):
        promote_experiment(now, events, "won", force=True)


def test_promoting_without_evidence_needs_force_and_is_audited(
    ctx: Context, events: EventStore
) -> None:
    launch(ctx, "empty")
    now = at(ctx, LAUNCH + timedelta(days=1))
    with pytest.raises(Conflict, match="no evidence to promote treatment: only 0 units") as info:
        promote_experiment(now, events, "empty", rollout=None)
    assert info.value.details["force_required"] is True
    assert experiment_results(now, events, "empty").experiment.status.value == "running"
    promoted = promote_experiment(now, events, "empty", rollout=None, force=True)
    assert (promoted.status.value, promoted.winner) == ("promoted", "treatment")
    entries = list_audit(now, object_id=promoted.id)
    assert [e.action for e in entries[:2]] == ["forced_promotion", "promote"]
    forced = entries[0].after or {}
    assert forced["winner"] == "treatment"
    assert "only 0 units with labels" in forced["without_evidence"]


def test_promoting_on_evidence_needs_no_force(ctx: Context, events: EventStore) -> None:
    launch(ctx, "clear")
    now = _winning(ctx, events, "clear")
    promoted = promote_experiment(now, events, "clear", rollout=None)
    assert promoted.winner == "treatment"
    actions = [e.action for e in list_audit(now, object_id=promoted.id)]
    assert "forced_promotion" not in actions
    assert actions[0] == "promote"
    after = experiment_results(now, events, "clear")
    assert after.recommendation.action == "none"
    assert "treatment is the winner" in after.recommendation.reason
    assert decision_of(after).decision == "pass"
