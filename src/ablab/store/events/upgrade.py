"""Bring a DuckDB event store file to the layout this version of ablab writes."""

from __future__ import annotations

import duckdb

from ablab.store.events.schema import EVENT_TABLES

__all__ = ["upgrade"]


def upgrade(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the event tables that are missing."""
    for table in EVENT_TABLES.values():
        columns = ", ".join(f"{c.name} {c.duckdb_type}" for c in table.columns)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})")
