"""Rows to domain objects and back. Nowhere else knows the column names."""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ablab.domain.allocations import AllocationPeriod, AllocationReason
from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import AnalysisMethod, Experiment, Variant
from ablab.domain.groups import DeviceGroup
from ablab.domain.guardrails import Bound, Guardrail
from ablab.domain.keys import ApiKey, Scope
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.llm import LlmStatus, LlmVariant, Parameter
from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask, RunState
from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind
from ablab.domain.models import BackendKind, Model, ModelVersion
from ablab.domain.projects import Project
from ablab.domain.rollouts import Rollout, RolloutStatus
from ablab.domain.sequential import SequentialDesign, SequentialState, alternative_of
from ablab.domain.sources import AnalysisSource, SourceTable
from ablab.domain.users import ConsoleSession, User
from ablab.store.metadata.tables import (
    AllocationPeriodRow,
    ApiKeyRow,
    AuditRow,
    ConsoleSessionRow,
    ExperimentRow,
    GroupRow,
    LlmExperimentRow,
    LlmRunRow,
    LlmTaskRow,
    MetricRow,
    ModelRow,
    ModelVersionRow,
    ProjectRow,
    RolloutRow,
    SequentialStateRow,
    SourceRow,
    UserRow,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

__all__ = [
    "allocation_period_from_row",
    "allocation_period_to_row",
    "audit_from_row",
    "experiment_columns",
    "experiment_from_row",
    "group_from_row",
    "group_to_row",
    "key_from_row",
    "key_to_row",
    "metric_from_row",
    "metric_to_row",
    "model_from_row",
    "model_to_row",
    "model_version_from_row",
    "model_version_to_row",
    "project_from_row",
    "project_to_row",
    "rollout_columns",
    "rollout_from_row",
    "sequential_state_columns",
    "sequential_state_from_row",
    "source_from_row",
    "source_to_row",
]


def _from_row(cls: type[T], row: object, **converted: Any) -> T:
    """Build ``cls`` from the row attributes of the same names, with ``converted`` overrides."""
    values = {f.name: getattr(row, f.name) for f in fields(cls) if f.name not in converted}
    return cls(**values, **converted)


def _columns(item: Any, **converted: Any) -> dict[str, Any]:
    """The dataclass ``item`` as column values, with ``converted`` overrides."""
    return {f.name: getattr(item, f.name) for f in fields(item)} | converted


def project_from_row(row: ProjectRow) -> Project:
    return _from_row(Project, row)


def project_to_row(project: Project) -> ProjectRow:
    return ProjectRow(**_columns(project))


def model_from_row(row: ModelRow) -> Model:
    return _from_row(Model, row)


def model_to_row(model: Model) -> ModelRow:
    return ModelRow(**_columns(model))


def model_version_from_row(row: ModelVersionRow) -> ModelVersion:
    return _from_row(ModelVersion, row, backend=BackendKind(row.backend))


def model_version_to_row(version: ModelVersion) -> ModelVersionRow:
    return ModelVersionRow(**_columns(version, backend=version.backend.value))


def group_from_row(row: GroupRow) -> DeviceGroup:
    return _from_row(DeviceGroup, row, members=frozenset(row.members))


def group_to_row(group: DeviceGroup) -> GroupRow:
    condition = dict(group.condition) if group.condition is not None else None
    return GroupRow(**_columns(group, condition=condition, members=sorted(group.members)))


def key_from_row(row: ApiKeyRow) -> ApiKey:
    return _from_row(ApiKey, row, scopes=frozenset(Scope(s) for s in row.scopes))


def key_to_row(key: ApiKey) -> ApiKeyRow:
    return ApiKeyRow(**_columns(key, scopes=sorted(s.value for s in key.scopes)))


def user_from_row(row: UserRow) -> User:
    return _from_row(User, row, role=Scope(row.role))


def user_to_row(user: User) -> UserRow:
    return UserRow(**_columns(user, role=user.role.value))


def console_session_from_row(row: ConsoleSessionRow) -> ConsoleSession:
    return _from_row(ConsoleSession, row, role=Scope(row.role))


def console_session_to_row(session: ConsoleSession) -> ConsoleSessionRow:
    return ConsoleSessionRow(**_columns(session, role=session.role.value))


def llm_task_from_row(row: LlmTaskRow) -> LlmTask:
    return _from_row(LlmTask, row, evaluators=tuple(row.evaluators))


def llm_task_to_row(task: LlmTask) -> LlmTaskRow:
    return LlmTaskRow(**_columns(task, evaluators=[dict(e) for e in task.evaluators]))


def _variant_from_json(raw: dict[str, Any]) -> LlmVariant:
    created = raw.get("created_at")
    return LlmVariant(
        id=raw["id"],
        name=raw["name"],
        parent_id=raw.get("parent_id"),
        step=raw["step"],
        parameter=Parameter(raw["parameter"]),
        value=raw["value"],
        hypothesis=raw.get("hypothesis", ""),
        created_at=datetime.fromisoformat(created) if created else None,
    )


def _variant_to_json(variant: LlmVariant) -> dict[str, Any]:
    return {
        "id": variant.id,
        "name": variant.name,
        "parent_id": variant.parent_id,
        "step": variant.step,
        "parameter": variant.parameter.value,
        "value": variant.value,
        "hypothesis": variant.hypothesis,
        "created_at": variant.created_at.isoformat() if variant.created_at else None,
    }


def llm_experiment_from_row(row: LlmExperimentRow) -> LlmExperiment:
    return _from_row(
        LlmExperiment,
        row,
        status=LlmStatus(row.status),
        steps=tuple(row.steps),
        task_ids=tuple(row.task_ids),
        variants=tuple(_variant_from_json(v) for v in row.variants),
    )


# Written only by the lease methods (a conditional UPDATE each): a record read before a
# renewal and written after it must not put the older expiry back.
_LEASE_COLUMNS = ("run_owner", "lease_expires_at")


def llm_experiment_columns(experiment: LlmExperiment) -> dict[str, Any]:
    """The columns of an add or update; never the lease's (see ``_LEASE_COLUMNS``)."""
    columns = _columns(
        experiment,
        status=experiment.status.value,
        steps=list(experiment.steps),
        task_ids=list(experiment.task_ids),
        baseline={step: dict(values) for step, values in experiment.baseline.items()},
        variants=[_variant_to_json(v) for v in experiment.variants],
    )
    for name in _LEASE_COLUMNS:
        del columns[name]
    return columns


def llm_run_from_row(row: LlmRunRow) -> LlmRun:
    return _from_row(LlmRun, row, state=RunState(row.state), verdicts=tuple(row.verdicts))


def llm_run_columns(run: LlmRun) -> dict[str, Any]:
    return _columns(run, state=run.state.value, verdicts=[dict(v) for v in run.verdicts])


def metric_from_row(row: MetricRow) -> CustomMetric:
    return _from_row(
        CustomMetric, row, aggregation=Aggregation(row.aggregation), kind=MetricKind(row.kind)
    )


def metric_to_row(metric: CustomMetric) -> MetricRow:
    return MetricRow(
        **_columns(metric, aggregation=metric.aggregation.value, kind=metric.kind.value)
    )


def source_from_row(row: SourceRow) -> AnalysisSource:
    tables = {kind: SourceTable(**table) for kind, table in row.tables.items()}
    return _from_row(AnalysisSource, row, tables=tables)


def source_to_row(source: AnalysisSource) -> SourceRow:
    tables = {
        kind: {f.name: getattr(t, f.name) for f in fields(t)} | {"columns": dict(t.columns)}
        for kind, t in source.tables.items()
    }
    return SourceRow(**_columns(source, tables=tables))


def experiment_from_row(row: ExperimentRow) -> Experiment:
    return _from_row(
        Experiment,
        row,
        status=ExperimentStatus(row.status),
        variants=tuple(
            Variant(
                name=v["name"],
                weight=float(v["weight"]),
                model_version=v["model_version"],
                config=v["config"],
                is_control=v["is_control"],
            )
            for v in row.variants
        ),
        secondary_metrics=tuple(row.secondary_metrics),
        guardrails=tuple(
            Guardrail(
                g["metric"], Bound(g["bound"]), float(g["threshold"]), bool(g.get("relative"))
            )
            for g in row.guardrails
        ),
        analysis_method=AnalysisMethod(row.analysis_method),
    )


def experiment_columns(experiment: Experiment) -> dict[str, Any]:
    """Column values of ``experiment``, keyed by ExperimentRow attribute names."""
    return _columns(
        experiment,
        status=experiment.status.value,
        variants=[
            {
                "name": v.name,
                "weight": v.weight,
                "model_version": v.model_version,
                "config": dict(v.config),
                "is_control": v.is_control,
            }
            for v in experiment.variants
        ],
        secondary_metrics=list(experiment.secondary_metrics),
        guardrails=[
            {
                "metric": g.metric,
                "bound": g.bound.value,
                "threshold": g.threshold,
                "relative": g.relative,
            }
            for g in experiment.guardrails
        ],
        analysis_method=experiment.analysis_method.value,
    )


def audit_from_row(row: AuditRow) -> AuditEntry:
    return _from_row(AuditEntry, row)


def allocation_period_from_row(row: AllocationPeriodRow) -> AllocationPeriod:
    weights = {name: float(weight) for name, weight in row.weights.items()}
    return _from_row(AllocationPeriod, row, weights=weights, reason=AllocationReason(row.reason))


def allocation_period_to_row(period: AllocationPeriod) -> AllocationPeriodRow:
    return AllocationPeriodRow(
        **_columns(period, weights=dict(period.weights), reason=period.reason.value)
    )


def _guardrails(rows: list[Any]) -> tuple[Guardrail, ...]:
    return tuple(
        Guardrail(g["metric"], Bound(g["bound"]), float(g["threshold"]), bool(g.get("relative")))
        for g in rows
    )


def _guardrail_rows(guardrails: tuple[Guardrail, ...]) -> list[dict[str, Any]]:
    return [
        {"metric": g.metric, "bound": g.bound.value, "threshold": g.threshold,
         "relative": g.relative}
        for g in guardrails
    ]  # fmt: skip


def rollout_from_row(row: RolloutRow) -> Rollout:
    return _from_row(
        Rollout,
        row,
        status=RolloutStatus(row.status),
        steps=tuple(float(s) for s in row.steps),
        guardrails=_guardrails(row.guardrails),
    )


def rollout_columns(rollout: Rollout) -> dict[str, Any]:
    return _columns(
        rollout,
        status=rollout.status.value,
        steps=list(rollout.steps),
        guardrails=_guardrail_rows(rollout.guardrails),
    )


def sequential_state_from_row(row: SequentialStateRow) -> SequentialState | None:
    """The state of a row, or None for the empty row a first look creates and locks."""
    if row.looks == 0 or row.tuning_units is None or row.level is None:
        return None
    assert row.always_valid_p_value is not None
    assert row.updated_at is not None
    return SequentialState(
        experiment_id=row.experiment_id,
        metric=row.metric,
        variant=row.variant,
        design=SequentialDesign(
            tuning_units=row.tuning_units,
            level=row.level,
            alternative=alternative_of(row.alternative or "two-sided"),
            null_difference=row.null_difference or 0.0,
        ),
        looks=row.looks,
        always_valid_p_value=row.always_valid_p_value,
        lower=row.lower,
        upper=row.upper,
        mixing_variance=row.mixing_variance if row.mixing_variance is not None else math.nan,
        updated_at=row.updated_at,
    )


def sequential_state_columns(state: SequentialState) -> dict[str, Any]:
    """Column values of ``state``, keyed by SequentialStateRow attribute names."""
    design = state.design
    return {
        "tuning_units": design.tuning_units,
        "level": design.level,
        "alternative": design.alternative,
        "null_difference": design.null_difference,
        "looks": state.looks,
        "always_valid_p_value": state.always_valid_p_value,
        "lower": state.lower,
        "upper": state.upper,
        "mixing_variance": state.mixing_variance if math.isfinite(state.mixing_variance) else None,
        "updated_at": state.updated_at,
    }
