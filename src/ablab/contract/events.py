"""Wire schemas of event ingestion: the batch in, the per-event verdict out."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Identifier

__all__ = ["EventBatch", "IngestResultPublic", "RejectedEvent"]


class EventBatch(RequestSchema):
    """``{"events": [...]}``: each event as in DESIGN.md; each is checked on its own
    (``services.events.validation``, with the limits of README.md, "Limits")."""

    events: list[Any] = Field(max_length=10_000)
    experiment: Identifier | None = Field(
        default=None, description="the experiment of the events that name none"
    )


class RejectedEvent(Schema):
    index: int
    event_id: str | None
    reason: str


class IngestResultPublic(Schema):
    """``accepted`` events were valid; ``stored`` were new (a retried batch stores none)."""

    received: int
    accepted: int
    stored: int
    duplicates: int
    rejected: list[RejectedEvent]
