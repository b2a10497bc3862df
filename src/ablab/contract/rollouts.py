"""Wire schema of ``/v1/rollouts`` and of how ``POST /v1/experiments/{ref}/promote`` rolls out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.experiments import GuardrailPublic
from ablab.contract.fields import Flag, Label, Share, StepMinutes, StepUnits, Text
from ablab.contract.results import GuardrailResult
from ablab.domain.limits import MAX_LIST_ITEMS
from ablab.domain.rollouts import DEFAULT_STEPS, Rollout, RolloutSettings, RolloutStatus
from ablab.domain.snapshots import rollout_record

__all__ = ["PromoteRequest", "RolloutActionRequest", "RolloutCheckPublic", "RolloutPublic"]


class PromoteRequest(RequestSchema):
    """``rollout: false`` serves the winner to everyone at once. ``force: true`` promotes
    without evidence (the results do not recommend promoting the variant: no data, an
    inconclusive test, a lift below the MDE...); the promotion is then audited as forced."""

    variant: Label | None = Field(default=None, description="default: the only treatment")
    rollout: Flag = True
    force: Flag = Field(
        default=False,
        description="promote even though the results do not recommend it (audited as a "
        "forced promotion); without it such a promotion is refused with 409",
    )
    steps: list[Share] = Field(
        default_factory=lambda: list(DEFAULT_STEPS), min_length=1, max_length=MAX_LIST_ITEMS
    )
    min_step_minutes: StepMinutes = 60.0
    min_step_units: StepUnits = 100

    def settings(self) -> RolloutSettings | None:
        if not self.rollout:
            return None
        return RolloutSettings(tuple(self.steps), self.min_step_minutes, self.min_step_units)


class RolloutActionRequest(RequestSchema):
    reason: Text = Field(default="", max_length=500)


class RolloutPublic(Schema):
    id: str
    model: str
    version: str = Field(description="the version rolled out")
    previous_version: str
    experiment_id: str | None
    status: RolloutStatus
    share: float = Field(description="percent of units on the new version now")
    steps: list[float]
    step: int = Field(description="index into steps")
    step_started_at: datetime
    min_step_minutes: float
    min_step_units: int
    guardrails: list[GuardrailPublic]
    reason: str = Field(description="why it last changed")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _read_domain(cls, data: Any) -> Any:
        # A rollout inside a result value (``RolloutCheckPublic.model_validate(check)``).
        return cls.from_domain(data) if isinstance(data, Rollout) else data

    @classmethod
    def from_domain(cls, rollout: Rollout) -> RolloutPublic:
        return cls.model_validate(rollout_record(rollout))


class RolloutCheckPublic(Schema):
    """The current step's evidence: the new version against the previous one since the step
    began. ``state``: ``harm`` (a guardrail is broken: roll back), ``ready`` (the step's time
    and units are reached with no guardrail broken: advance), ``waiting`` (not yet)."""

    rollout: RolloutPublic
    state: Literal["harm", "ready", "waiting"]
    reason: str
    units: dict[str, int] = Field(description="units seen in this step, by version")
    minutes_in_step: float
    guardrails: list[GuardrailResult]
