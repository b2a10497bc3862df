"""The event tables, one per event type, as both engines create them.

Column order matches ``services.ports.EventRows``. JSON payloads (attributes, output, label)
are kept as JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENT_TABLES", "Column", "EventTable"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    duckdb_type: str
    postgres_type: str


@dataclass(frozen=True, slots=True)
class EventTable:
    kind: str
    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_TEXT = ("VARCHAR", "TEXT")
_TIME = ("TIMESTAMPTZ", "TIMESTAMPTZ")
_JSON = ("VARCHAR", "JSONB")


def _columns(*pairs: tuple[str, tuple[str, str]]) -> tuple[Column, ...]:
    return tuple(Column(name, duck, postgres) for name, (duck, postgres) in pairs)


EVENT_TABLES: dict[str, EventTable] = {
    table.kind: table
    for table in (
        EventTable(
            "exposure",
            "exposures",
            _columns(
                ("event_id", _TEXT),
                ("experiment_id", _TEXT),
                ("unit_id", _TEXT),
                ("variant", _TEXT),
                ("ts", _TIME),
                ("attributes", _JSON),
                ("received_at", _TIME),
            ),
        ),
        EventTable(
            "prediction",
            "predictions",
            _columns(
                ("event_id", _TEXT),
                ("experiment_id", _TEXT),
                ("unit_id", _TEXT),
                ("variant", _TEXT),
                ("prediction_id", _TEXT),
                ("latency_ms", ("DOUBLE", "DOUBLE PRECISION")),
                ("error", ("BOOLEAN", "BOOLEAN")),
                ("shadow", ("BOOLEAN", "BOOLEAN")),
                ("output", _JSON),
                ("ts", _TIME),
                ("received_at", _TIME),
            ),
        ),
        EventTable(
            "label",
            "labels",
            _columns(
                ("event_id", _TEXT),
                ("prediction_id", _TEXT),
                ("correct", ("BOOLEAN", "BOOLEAN")),
                ("label", _JSON),
                ("ts", _TIME),
                ("received_at", _TIME),
            ),
        ),
        EventTable(
            "metric",
            "metrics",
            _columns(
                ("event_id", _TEXT),
                ("experiment_id", _TEXT),
                ("unit_id", _TEXT),
                ("name", _TEXT),
                ("value", ("DOUBLE", "DOUBLE PRECISION")),
                ("ts", _TIME),
                ("received_at", _TIME),
            ),
        ),
    )
}
