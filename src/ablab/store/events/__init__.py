"""The event stores: DuckDB (embedded, default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from ablab.errors import ValidationError
from ablab.services.ports import EventStore
from ablab.store.events.duckdb_store import DuckDBEventStore
from ablab.store.events.postgres_store import PostgresEventStore

__all__ = ["EVENTS_FILE", "DuckDBEventStore", "PostgresEventStore", "open_event_store"]

EVENTS_FILE = "events.duckdb"


def open_event_store(home: Path, events_url: str | None) -> EventStore:
    """PostgreSQL when ``events_url`` is a ``postgresql://`` URL, else ``$ABLAB_HOME``'s DuckDB."""
    if events_url is None:
        return DuckDBEventStore(home / EVENTS_FILE)
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if events_url.startswith(prefix):
            events_url = "postgresql://" + events_url[len(prefix) :]
    if not events_url.startswith("postgresql://"):
        raise ValidationError(
            "ABLAB_EVENTS_URL must be a postgresql:// URL (leave it unset for DuckDB)"
        )
    return PostgresEventStore(events_url)
