"""The domain's values and the wire's schemas stay in step (issue 15: contract/ at the doors).

Services take specs and return result values; the doors turn a request into a spec with
``to_spec()`` and a value into a wire schema with ``model_validate`` (or ``from_domain``).
That only works while both sides name the same fields, so these tests pin it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest

from ablab.contract import analysis as wire_analysis
from ablab.contract import decision as wire_decision
from ablab.contract import llm as wire_llm
from ablab.contract import results as wire_results
from ablab.contract import timeseries as wire_timeseries
from ablab.contract.analysis import DecisionPublic
from ablab.contract.catalogue import GroupCreate, ModelVersionCreate
from ablab.contract.experiments import (
    ExperimentCreate,
    ExperimentPublic,
    ExperimentUpdate,
    VariantCreate,
)
from ablab.contract.llm import LlmExperimentCreate, LlmTaskCreate, LlmVariantCreate
from ablab.contract.metrics import MetricCreate
from ablab.contract.rollouts import RolloutCheckPublic, RolloutPublic
from ablab.domain import llm_results, llm_specs, specs
from ablab.domain.decisions import Recommendation, RecommendedAction, RolloutDecision
from ablab.domain.experiments import Experiment, Variant
from ablab.domain.guardrails import Bound, parse_guardrail
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.results import (
    checks,
    comparisons,
    experiment,
    report,
    segments,
    shadow,
    timeseries,
    variants,
    verdicts,
)
from ablab.domain.rollouts import Rollout, RolloutCheck, RolloutStatus, StepState
from ablab.domain.snapshots import experiment_record
from ablab.services.access.audit import experiment_snapshot
from ablab.services.experiments.rollout_start import rollout_snapshot

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# Each result value and the wire schema a door reads it into.
RESULTS: list[tuple[type[Any], type[pydantic.BaseModel]]] = [
    (comparisons.Cuped, wire_analysis.CupedPublic),
    (comparisons.SequentialSummary, wire_analysis.SequentialPublic),
    (comparisons.NoveltyCheck, wire_analysis.NoveltyPublic),
    (comparisons.Comparison, wire_analysis.ComparisonPublic),
    (checks.SrmPeriod, wire_analysis.SrmPeriodPublic),
    (checks.SrmCheck, wire_analysis.SrmPublic),
    (checks.GuardrailResult, wire_results.GuardrailResult),
    (Recommendation, DecisionPublic),
    (verdicts.MinSamplesRule, wire_analysis.MinSamplesRule),
    (verdicts.Duration, wire_analysis.DurationPublic),
    (verdicts.DecisionEvidence, wire_decision.DecisionEvidence),
    (verdicts.ExperimentDecision, wire_decision.ExperimentDecision),
    (variants.MetricValue, wire_results.MetricValue),
    (variants.VariantResults, wire_results.VariantResults),
    (variants.BanditArm, wire_results.BanditArm),
    (segments.SegmentVariant, wire_results.SegmentVariant),
    (segments.SegmentComparison, wire_results.SegmentComparison),
    (segments.SegmentResult, wire_results.SegmentResult),
    (segments.SegmentBreakdown, wire_results.SegmentBreakdown),
    (shadow.ShadowValue, wire_results.ShadowValue),
    (shadow.ShadowReport, wire_results.ShadowReport),
    (experiment.ExperimentResults, wire_results.ExperimentResults),
    (timeseries.VariantPoint, wire_timeseries.VariantPoint),
    (timeseries.LiftPoint, wire_timeseries.LiftPoint),
    (timeseries.ExperimentTimeseries, wire_timeseries.ExperimentTimeseries),
    (report.VariantFigures, wire_analysis.VariantFigures),
    (report.AnalysisReport, wire_analysis.AnalysisReport),
    (RolloutCheck, RolloutCheckPublic),
    (llm_results.LlmProgress, wire_llm.LlmProgress),
    (llm_results.LlmMcNemar, wire_llm.LlmMcNemar),
    (llm_results.LlmEvaluatorDelta, wire_llm.LlmEvaluatorDelta),
    (llm_results.LlmTaskOutcome, wire_llm.LlmTaskOutcome),
    (llm_results.LlmVariantResult, wire_llm.LlmVariantResult),
    (llm_results.LlmResults, wire_llm.LlmResults),
]

# Each request schema and the spec its to_spec() gives.
REQUESTS: list[tuple[type[pydantic.BaseModel], type[Any]]] = [
    (ExperimentCreate, specs.ExperimentSpec),
    (VariantCreate, specs.VariantSpec),
    (ExperimentUpdate, specs.ExperimentChanges),
    (ModelVersionCreate, specs.ModelVersionSpec),
    (GroupCreate, specs.GroupSpec),
    (MetricCreate, specs.MetricSpec),
    (LlmTaskCreate, llm_specs.LlmTaskSpec),
    (LlmExperimentCreate, llm_specs.LlmExperimentSpec),
    (LlmVariantCreate, llm_specs.LlmVariantSpec),
]


@pytest.mark.parametrize(("value", "schema"), RESULTS, ids=lambda t: t.__name__)
def test_every_wire_field_is_read_off_the_value(
    value: type[Any], schema: type[pydantic.BaseModel]
) -> None:
    """A schema reads its fields off the value by name: each must be there (a field, or a
    property such as Recommendation.action)."""
    readable = {f.name for f in dataclasses.fields(value)} | {
        name for name in dir(value) if isinstance(getattr(value, name, None), property)
    }
    assert set(schema.model_fields) <= readable, set(schema.model_fields) - readable


@pytest.mark.parametrize(("value", "schema"), RESULTS, ids=lambda t: t.__name__)
def test_values_are_frozen(value: type[Any], schema: type[pydantic.BaseModel]) -> None:
    del schema
    if dataclasses.is_dataclass(value):
        assert value.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _default(field: Any) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _wire_default(field: Any) -> Any:
    if field.is_required():
        return dataclasses.MISSING
    found = field.get_default(call_default_factory=True)
    return tuple(found) if isinstance(found, list) else found


@pytest.mark.parametrize(("schema", "spec"), REQUESTS, ids=lambda t: t.__name__)
def test_a_spec_has_its_request_fields_and_defaults(
    schema: type[pydantic.BaseModel], spec: type[Any]
) -> None:
    fields = {f.name: _default(f) for f in dataclasses.fields(spec)}
    wire = {name: _wire_default(f) for name, f in schema.model_fields.items()}
    assert fields == wire


def test_to_spec_carries_every_value_given() -> None:
    body = ExperimentCreate(
        name="trial",
        model_id="m",
        variants=[
            VariantCreate(name="control", weight=60, is_control=True, config={"k": 1}),
            VariantCreate(name="b", weight=40),
        ],
        guardrails=["error_rate<=0.01"],
        secondary_metrics=["latency_ms"],
        alpha=0.01,
        draft=True,
    )
    found = body.to_spec()
    assert found.variants == (
        specs.VariantSpec("control", None, 60.0, {"k": 1}, is_control=True),
        specs.VariantSpec("b", None, 40.0),
    )
    assert (found.guardrails, found.secondary_metrics) == (("error_rate<=0.01",), ("latency_ms",))
    assert (found.name, found.model_id, found.alpha, found.draft) == ("trial", "m", 0.01, True)
    changes = ExperimentUpdate(weights={"control": 50, "b": 50}, expected_version=3).to_spec()
    assert changes == specs.ExperimentChanges(
        weights={"control": 50.0, "b": 50.0}, expected_version=3
    )


def _experiment() -> Experiment:
    return Experiment(
        "exp_1",
        "prj_1",
        "trial",
        ExperimentStatus.RUNNING,
        "salt",
        NOW,
        NOW,
        variants=(
            Variant("control", 50.0, "v1", is_control=True),
            Variant("b", 50.0, "v2", config={"temperature": 0.2}),
        ),
        model="m",
        guardrails=(parse_guardrail("latency_ms<=+10%"), parse_guardrail("error_rate<=0.01")),
        started_at=NOW,
    )


def test_the_audit_snapshot_is_the_api_json() -> None:
    """The audit log keeps what the API shows of an experiment, to the byte."""
    found = _experiment()
    shown = ExperimentPublic.from_domain(found).model_dump(mode="json")
    assert json.dumps(experiment_snapshot(found)) == json.dumps(shown)
    assert experiment_record(found)["model_id"] == "m"
    rollout = Rollout(
        "rol_1", "prj_1", "m", "v2", "v1", "exp_1", RolloutStatus.RUNNING,
        (10.0, 50.0, 100.0), 1, NOW, NOW, NOW,
    )  # fmt: skip
    shown_rollout = RolloutPublic.from_domain(rollout).model_dump(mode="json")
    assert json.dumps(rollout_snapshot(rollout)) == json.dumps(shown_rollout)
    assert shown_rollout["share"] == 50.0


def test_nested_values_read_into_their_schemas() -> None:
    """Enums become their strings, a nested Experiment or Rollout its public form."""
    guardrail = checks.GuardrailResult(
        metric="error_rate",
        variant="b",
        bound=Bound.AT_MOST,
        threshold=0.01,
        relative=False,
        limit=0.01,
        value=0.03,
        control_value=0.01,
        state=checks.GuardrailState.FAIL,
        violated=True,
    )
    promote = Recommendation(RolloutDecision.FULL_ROLLOUT, "clear win", "b")
    srm = checks.SrmCheck(None, False, {"control": 0, "b": 0}, {}, 0.001, checked=False)
    value = experiment.ExperimentResults(
        experiment=_experiment(),
        primary_metric="accuracy",
        variants=(),
        comparisons=(),
        srm=srm,
        guardrails=(guardrail,),
        is_significant=False,
        min_samples_reached=False,
        recommendation=promote,
        decisions=(promote,),
    )
    wire = wire_results.ExperimentResults.model_validate(value)
    assert wire.recommendation == DecisionPublic(
        action="promote", decision="full_rollout", variant="b", reason="clear win"
    )
    assert promote.action is RecommendedAction.PROMOTE
    assert (wire.guardrails[0].state, wire.guardrails[0].bound) == ("fail", "<=")
    assert wire.experiment == ExperimentPublic.from_domain(_experiment())
    assert wire.srm.checked is False
    rollout = Rollout(
        "rol_1", "prj_1", "m", "v2", "v1", "exp_1", RolloutStatus.RUNNING,
        (10.0, 100.0), 0, NOW, NOW, NOW,
    )  # fmt: skip
    check = RolloutCheck(rollout, StepState.HARM, "broken", {"v1": 3}, 1.5, (guardrail,))
    wire_check = RolloutCheckPublic.model_validate(check)
    assert wire_check.state == "harm"
    assert wire_check.rollout == RolloutPublic.from_domain(rollout)
    decision = verdicts.ExperimentDecision(
        experiment="trial",
        status=ExperimentStatus.RUNNING,
        decision=verdicts.ControllerVerdict.FAIL,
        action=RecommendedAction.ROLLBACK,
        variant="b",
        reason="harm",
        evidence=verdicts.DecisionEvidence(
            "accuracy", None, (None, None), None, None, False, False, False, ("b: x",), {}
        ),
    )
    dumped = wire_decision.ExperimentDecision.model_validate(decision).model_dump(mode="json")
    assert (dumped["decision"], dumped["status"], dumped["action"]) == (
        "fail",
        "running",
        "rollback",
    )
    assert dumped["evidence"]["broken_guardrails"] == ["b: x"]
