"""Wire schemas of models, versions, device groups, assignments and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ablab.contract.base import Schema
from ablab.domain.assignments import Assignment, AssignmentReason
from ablab.domain.audit import AuditEntry
from ablab.domain.groups import DeviceGroup
from ablab.domain.models import BackendKind, Model, ModelVersion

__all__ = [
    "AssignRequest",
    "AssignmentPublic",
    "AuditEntryPublic",
    "GroupCreate",
    "GroupPublic",
    "ModelPublic",
    "ModelVersionCreate",
    "ModelVersionPublic",
]


class ModelVersionCreate(Schema):
    """Register ``model``/``version``; the model is created on its first version."""

    model: str
    version: str
    endpoint: str | None = None
    artifact: str | None = None
    description: str = ""


class ModelVersionPublic(Schema):
    version: str
    backend: BackendKind
    backend_uri: str
    created_at: datetime

    @classmethod
    def from_domain(cls, version: ModelVersion) -> ModelVersionPublic:
        return cls.model_validate(version)


class ModelPublic(Schema):
    id: str
    name: str
    description: str
    created_at: datetime
    versions: list[ModelVersionPublic]

    @classmethod
    def from_domain(cls, model: Model, versions: list[ModelVersion]) -> ModelPublic:
        return cls(
            id=model.id,
            name=model.name,
            description=model.description,
            created_at=model.created_at,
            versions=[ModelVersionPublic.from_domain(v) for v in versions],
        )


class GroupCreate(Schema):
    """A device group: a ``rule`` on unit attributes or a list of ``members``, not both."""

    name: str
    rule: dict[str, Any] | None = None
    members: list[str] | None = None
    description: str = ""


class GroupPublic(Schema):
    id: str
    name: str
    rule: dict[str, Any] | None
    member_count: int
    description: str
    created_at: datetime

    @classmethod
    def from_domain(cls, group: DeviceGroup) -> GroupPublic:
        return cls(
            id=group.id,
            name=group.name,
            rule=dict(group.condition) if group.condition is not None else None,
            member_count=len(group.members),
            description=group.description,
            created_at=group.created_at,
        )


class AssignRequest(Schema):
    experiment: str
    unit_id: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class AssignmentPublic(Schema):
    experiment: str
    unit_id: str
    variant: str | None
    model_version: str | None
    in_experiment: bool
    reason: AssignmentReason

    @classmethod
    def from_domain(cls, assignment: Assignment) -> AssignmentPublic:
        return cls.model_validate(assignment)


class AuditEntryPublic(Schema):
    id: int | None
    actor: str
    action: str
    object_type: str
    object_id: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def from_domain(cls, entry: AuditEntry) -> AuditEntryPublic:
        return cls.model_validate(entry)
