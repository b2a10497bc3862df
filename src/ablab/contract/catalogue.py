"""Wire schemas of models, versions, device groups, assignments and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from ablab.assignment.decide import Assignment, AssignmentReason
from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Attributes, ConfigObject, Identifier, Label, Location, Text
from ablab.contract.renamed import one_spelling, renamed
from ablab.domain.audit import AuditEntry
from ablab.domain.groups import DeviceGroup
from ablab.domain.limits import MAX_MEMBERS
from ablab.domain.models import BackendKind, Model, ModelVersion
from ablab.domain.specs import GroupSpec, ModelVersionSpec

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


class ModelVersionCreate(RequestSchema):
    """Register ``model_id``/``version``; the model is created on its first version.

    ``model_id`` is the name experiments use for the model; ``model``, this body's first
    name for it, is still accepted (not both at once).
    """

    model_id: Label = renamed("model_id", "model")
    version: Label
    endpoint: Location | None = None
    artifact: Location | None = None
    description: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        return one_spelling(cls, data)

    def to_spec(self) -> ModelVersionSpec:
        return ModelVersionSpec(
            model_id=self.model_id,
            version=self.version,
            endpoint=self.endpoint,
            artifact=self.artifact,
            description=self.description,
        )


class ModelVersionPublic(Schema):
    id: str = Field(description="names this version in /metrics (its breaker's backend label)")
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


class GroupCreate(RequestSchema):
    """A device group: a ``rule`` on unit attributes or a list of ``members``, not both."""

    name: Label
    rule: ConfigObject | None = None
    members: list[Identifier] | None = Field(default=None, max_length=MAX_MEMBERS)
    description: Text = ""

    def to_spec(self) -> GroupSpec:
        return GroupSpec(
            name=self.name,
            rule=self.rule,
            members=tuple(self.members) if self.members is not None else None,
            description=self.description,
        )


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


# The server reads this body by hand (contract.body); the SDK validates it on every
# client.assign through parse(), so it is a plain schema: RequestSchema's __init__ would
# cost 2 to 4 us a call there (measured).
class AssignRequest(Schema):
    experiment: Identifier
    unit_id: Identifier
    attributes: Attributes = Field(default_factory=dict)


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
