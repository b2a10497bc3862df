"""The event tables, one per event type, as both engines create them.

Column names and order come from ``services.ports.EVENT_COLUMNS``; JSON payloads
(attributes, output, label) are kept as JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass

from ablab.services.ports import EVENT_COLUMNS

__all__ = ["EVENT_TABLES", "Column", "EventTable"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    duckdb_type: str
    postgres_type: str


@dataclass(frozen=True, slots=True)
class EventTable:
    """One event type's table. ``owner`` is the column that scopes ``event_id``: an event id
    is unique within an experiment (or a project, for labels and metrics), so two tenants
    choosing the same ids never drop each other's events as duplicates."""

    kind: str
    name: str
    columns: tuple[Column, ...]
    owner: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_TEXT = ("VARCHAR", "TEXT")
_TIME = ("TIMESTAMPTZ", "TIMESTAMPTZ")
# Canonical JSON text (sorted keys) on both engines: a label is scored by comparing its
# text with the output's, which must mean the same on DuckDB and PostgreSQL.
_JSON = ("VARCHAR", "TEXT")
_DOUBLE = ("DOUBLE", "DOUBLE PRECISION")
_BOOLEAN = ("BOOLEAN", "BOOLEAN")

# The engine types of every column named in services.ports.EVENT_COLUMNS.
_TYPES: dict[str, tuple[str, str]] = {
    "event_id": _TEXT,
    "experiment_id": _TEXT,
    "project_id": _TEXT,
    "unit_id": _TEXT,
    "variant": _TEXT,
    "prediction_id": _TEXT,
    "name": _TEXT,
    "latency_ms": _DOUBLE,
    "value": _DOUBLE,
    "error": _BOOLEAN,
    "shadow": _BOOLEAN,
    "correct": _BOOLEAN,
    "attributes": _JSON,
    "output": _JSON,
    "label": _JSON,
    "ts": _TIME,
    "received_at": _TIME,
}

_TABLE_NAMES = {
    "exposure": "exposures",
    "prediction": "predictions",
    "label": "labels",
    "metric": "metrics",
}

EVENT_TABLES: dict[str, EventTable] = {
    kind: EventTable(
        kind,
        _TABLE_NAMES[kind],
        tuple(Column(name, *_TYPES[name]) for name in names),
        "experiment_id" if kind in ("exposure", "prediction") else "project_id",
    )
    for kind, names in EVENT_COLUMNS.items()
}
