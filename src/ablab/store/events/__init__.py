"""The event stores: DuckDB (embedded, default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from ablab.errors import ValidationError
from ablab.services.ports import EventStore
from ablab.store.events.duckdb_store import DuckDBEventStore
from ablab.store.events.postgres_store import DEFAULT_MAX_CONNECTIONS, PostgresEventStore

__all__ = ["EVENTS_FILE", "DuckDBEventStore", "PostgresEventStore", "open_event_store"]

EVENTS_FILE = "events.duckdb"


def open_event_store(
    home: Path,
    events_url: str | None,
    *,
    pool_size: int = DEFAULT_MAX_CONNECTIONS,
    duckdb_memory_limit: str | None = None,
    duckdb_threads: int | None = None,
) -> EventStore:
    """PostgreSQL when ``events_url`` is a ``postgresql://`` URL, else ``$ABLAB_HOME``'s DuckDB.

    Args:
        home: The folder of the embedded stores.
        events_url: A PostgreSQL URL, or None for DuckDB.
        pool_size: Most connections of the PostgreSQL store's pool.
        duckdb_memory_limit: DuckDB's ``memory_limit`` (``"4GB"``); None for ablab's default
            (``duckdb_settings.DEFAULT_MEMORY_LIMIT``).
        duckdb_threads: Threads per DuckDB query; None for DuckDB's default.
    """
    if events_url is None:
        return DuckDBEventStore(
            home / EVENTS_FILE, memory_limit=duckdb_memory_limit, threads=duckdb_threads
        )
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if events_url.startswith(prefix):
            events_url = "postgresql://" + events_url[len(prefix) :]
    if not events_url.startswith("postgresql://"):
        raise ValidationError(
            "ABLAB_EVENTS_URL must be a postgresql:// URL (leave it unset for DuckDB)"
        )
    return PostgresEventStore(events_url, max_connections=pool_size)
