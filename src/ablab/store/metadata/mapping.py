"""Rows to domain objects and back. Nowhere else knows the column names."""

from __future__ import annotations

from typing import Any

from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import AnalysisMethod, Experiment, Variant
from ablab.domain.groups import DeviceGroup
from ablab.domain.guardrails import Bound, Guardrail
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.models import BackendKind, Model, ModelVersion
from ablab.domain.projects import Project
from ablab.store.metadata.tables import (
    AuditRow,
    ExperimentRow,
    GroupRow,
    ModelRow,
    ModelVersionRow,
    ProjectRow,
)

__all__ = [
    "audit_from_row",
    "experiment_columns",
    "experiment_from_row",
    "group_from_row",
    "group_to_row",
    "model_from_row",
    "model_to_row",
    "model_version_from_row",
    "model_version_to_row",
    "project_from_row",
    "project_to_row",
]


def project_from_row(row: ProjectRow) -> Project:
    return Project(id=row.id, name=row.name, created_at=row.created_at)


def project_to_row(project: Project) -> ProjectRow:
    return ProjectRow(id=project.id, name=project.name, created_at=project.created_at)


def model_from_row(row: ModelRow) -> Model:
    return Model(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        created_at=row.created_at,
        description=row.description,
    )


def model_to_row(model: Model) -> ModelRow:
    return ModelRow(
        id=model.id,
        project_id=model.project_id,
        name=model.name,
        description=model.description,
        created_at=model.created_at,
    )


def model_version_from_row(row: ModelVersionRow) -> ModelVersion:
    return ModelVersion(
        id=row.id,
        model_id=row.model_id,
        version=row.version,
        backend=BackendKind(row.backend),
        backend_uri=row.backend_uri,
        created_at=row.created_at,
    )


def model_version_to_row(version: ModelVersion) -> ModelVersionRow:
    return ModelVersionRow(
        id=version.id,
        model_id=version.model_id,
        version=version.version,
        backend=version.backend.value,
        backend_uri=version.backend_uri,
        created_at=version.created_at,
    )


def group_from_row(row: GroupRow) -> DeviceGroup:
    return DeviceGroup(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        created_at=row.created_at,
        condition=row.condition,
        members=frozenset(row.members),
        description=row.description,
    )


def group_to_row(group: DeviceGroup) -> GroupRow:
    return GroupRow(
        id=group.id,
        project_id=group.project_id,
        name=group.name,
        condition=dict(group.condition) if group.condition is not None else None,
        members=sorted(group.members),
        description=group.description,
        created_at=group.created_at,
    )


def experiment_from_row(row: ExperimentRow) -> Experiment:
    return Experiment(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        status=ExperimentStatus(row.status),
        salt=row.salt,
        created_at=row.created_at,
        updated_at=row.updated_at,
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
        model=row.model,
        hypothesis=row.hypothesis,
        coverage=row.coverage,
        group=row.group,
        primary_metric=row.primary_metric,
        secondary_metrics=tuple(row.secondary_metrics),
        guardrails=tuple(
            Guardrail(g["metric"], Bound(g["bound"]), float(g["threshold"])) for g in row.guardrails
        ),
        min_samples=row.min_samples,
        max_duration_days=row.max_duration_days,
        alpha=row.alpha,
        power=row.power,
        mde=row.mde,
        analysis_method=AnalysisMethod(row.analysis_method),
        cuped=row.cuped,
        bandit=row.bandit,
        shadow=row.shadow,
        auto_promote=row.auto_promote,
        winner=row.winner,
        started_at=row.started_at,
        ended_at=row.ended_at,
        version=row.version,
    )


def experiment_columns(experiment: Experiment) -> dict[str, Any]:
    """Column values of ``experiment``, keyed by ExperimentRow attribute names."""
    return {
        "id": experiment.id,
        "project_id": experiment.project_id,
        "name": experiment.name,
        "status": experiment.status.value,
        "salt": experiment.salt,
        "model": experiment.model,
        "hypothesis": experiment.hypothesis,
        "variants": [
            {
                "name": v.name,
                "weight": v.weight,
                "model_version": v.model_version,
                "config": dict(v.config),
                "is_control": v.is_control,
            }
            for v in experiment.variants
        ],
        "coverage": experiment.coverage,
        "group": experiment.group,
        "primary_metric": experiment.primary_metric,
        "secondary_metrics": list(experiment.secondary_metrics),
        "guardrails": [
            {"metric": g.metric, "bound": g.bound.value, "threshold": g.threshold}
            for g in experiment.guardrails
        ],
        "min_samples": experiment.min_samples,
        "max_duration_days": experiment.max_duration_days,
        "alpha": experiment.alpha,
        "power": experiment.power,
        "mde": experiment.mde,
        "analysis_method": experiment.analysis_method.value,
        "cuped": experiment.cuped,
        "bandit": experiment.bandit,
        "shadow": experiment.shadow,
        "auto_promote": experiment.auto_promote,
        "winner": experiment.winner,
        "version": experiment.version,
        "created_at": experiment.created_at,
        "updated_at": experiment.updated_at,
        "started_at": experiment.started_at,
        "ended_at": experiment.ended_at,
    }


def audit_from_row(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        project_id=row.project_id,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        at=row.at,
        before=row.before,
        after=row.after,
    )
