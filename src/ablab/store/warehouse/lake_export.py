"""Copy a managed event store's events into a lake (``lake``), a UTC day at a time.

Each day of each table is one file, written beside its final name and renamed into place,
so a reader never sees half a day, and exporting a day again replaces it: export the days
since the last run (``since``), as often as wanted. A table with no events at all gets an
empty file, so every engine finds each table and its columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa

from ablab.store.events.schema import EVENT_TABLES, EventTable
from ablab.store.warehouse.lake import table_folder, write_parquet

__all__ = ["ArrowReader", "LakeExport", "arrow_schema", "export_lake", "land_recent"]

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
}
_EMPTY_DAY = "day=1970-01-01"
_FILE = "events.parquet"


@runtime_checkable
class ArrowReader(Protocol):
    """A store that answers a read-only query as Arrow (``?`` markers)."""

    def read_arrow(self, sql: str, params: Sequence[object]) -> pa.Table: ...


@dataclass(frozen=True, slots=True)
class LakeExport:
    """What one export wrote: rows and day files per table."""

    rows: dict[str, int]
    days: dict[str, int]


def arrow_schema(table: EventTable) -> pa.Schema:
    return pa.schema([(column.name, _ARROW_TYPES[column.duckdb_type]) for column in table.columns])


def export_lake(
    store: ArrowReader, root: Path, *, since: date | None = None, until: date | None = None
) -> LakeExport:
    """Write the events of the UTC days [since, until) of every table to the lake at ``root``.

    Without ``since`` the export starts at the first event; without ``until`` it ends after
    the last.
    """
    rows: dict[str, int] = {}
    days: dict[str, int] = {}
    for table in EVENT_TABLES.values():
        folder = table_folder(root, table.name)
        schema = arrow_schema(table)
        rows[table.name] = days[table.name] = 0
        for day in _days(store, table, since, until):
            start = datetime.combine(day, time(), UTC)
            data = store.read_arrow(
                f"SELECT {', '.join(table.column_names)} FROM {table.name} "
                "WHERE ts >= ? AND ts < ? ORDER BY ts",
                [start, start + timedelta(days=1)],
            )
            write_parquet(data.cast(schema), folder / f"day={day.isoformat()}" / _FILE)
            rows[table.name] += data.num_rows
            days[table.name] += 1
        if not any(folder.glob("day=*/*.parquet")):
            write_parquet(schema.empty_table(), folder / _EMPTY_DAY / _FILE)
    return LakeExport(rows, days)


def land_recent(store: ArrowReader, root: Path, today: date | None = None) -> LakeExport:
    """Rewrite yesterday's and today's files (UTC): the days still receiving events, late
    ones included, while the days before stay as they were last written."""
    today = today or datetime.now(UTC).date()
    return export_lake(
        store, root, since=today - timedelta(days=1), until=today + timedelta(days=1)
    )


def _days(
    store: ArrowReader, table: EventTable, since: date | None, until: date | None
) -> list[date]:
    where, params = [], list[object]()
    if since is not None:
        where.append("ts >= ?")
        params.append(datetime.combine(since, time(), UTC))
    if until is not None:
        where.append("ts < ?")
        params.append(datetime.combine(until, time(), UTC))
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    found = store.read_arrow(
        f"SELECT DISTINCT CAST(ts AT TIME ZONE 'UTC' AS DATE) AS day FROM {table.name}"
        f"{condition} ORDER BY day",
        params,
    )
    return [day for day in found.column("day").to_pylist() if isinstance(day, date)]
