"""The events room's ports: a validated batch, column-wise, and the write side of the event
store (``services.events``)."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

__all__ = ["EVENT_COLUMNS", "EventBatch", "EventWriter"]


# The columns of each event type, in storage order. ``ts`` and ``received_at`` are aware
# datetimes; JSON payloads (attributes, output, label) are JSON text.
EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "exposure": (
        "event_id", "experiment_id", "unit_id", "variant", "ts", "attributes", "received_at",
    ),
    "prediction": (
        "event_id", "experiment_id", "unit_id", "variant", "prediction_id", "latency_ms",
        "error", "shadow", "output", "ts", "received_at",
    ),
    "label": (
        "event_id", "project_id", "prediction_id", "correct", "label", "ts", "received_at",
    ),
    "metric": (
        "event_id", "project_id", "experiment_id", "unit_id", "name", "value", "ts",
        "received_at",
    ),
}  # fmt: skip


class EventBatch:
    """Validated events of one batch: one Arrow table per type, columns as EVENT_COLUMNS.

    Columnar from the start: the store hands each table to the engine as it is.
    """

    __slots__ = ("tables",)

    def __init__(self) -> None:
        self.tables: dict[str, pa.Table] = {}

    def count(self, kind: str) -> int:
        table = self.tables.get(kind)
        return table.num_rows if table is not None else 0

    def __len__(self) -> int:
        return sum(self.count(kind) for kind in EVENT_COLUMNS)


class EventWriter(Protocol):
    """The write side of the event store: idempotent appends, durable when they return."""

    def append(self, batch: EventBatch) -> int:
        """Store the events not stored before (by event id); durable when it returns.

        Returns how many were new: a retried batch adds nothing.
        """
        ...

    def count(self, kind: str) -> int:
        """Stored events of one type: exposure, prediction, label or metric."""
        ...
