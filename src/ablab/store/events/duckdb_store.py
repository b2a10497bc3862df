"""``DuckDBEventStore``: events in one DuckDB file under ``$ABLAB_HOME``.

Idempotency without an index: a DuckDB primary key (an ART index) cut ingestion about three
times on this kind of machine, so instead each batch is checked against the stored events
of its own time range. A retried event carries its original timestamp, and DuckDB's min/max
per row group on ``ts`` skips every other row group, so the check costs almost nothing
while data arrives roughly in time order. An event id resent with another timestamp is a
new event.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ablab.errors import Conflict
from ablab.services.ports import EventBatch
from ablab.store.events.dialects import DUCKDB
from ablab.store.events.queries import AggregateQueries
from ablab.store.events.schema import EVENT_TABLES, EventTable

__all__ = ["DuckDBEventStore"]


class DuckDBEventStore(AggregateQueries):
    """One connection, serialised by a lock; each commit is durable before ``append`` returns."""

    dialect = DUCKDB

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._connection = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            # Another process (a server, another command) holds DuckDB's file lock.
            raise Conflict(
                f"the event store {path} is in use by another process: stop it, or share "
                "a server (ablab serve) or PostgreSQL (ABLAB_EVENTS_URL)",
                details={"reason": str(exc).splitlines()[0]},
            ) from None
        self._connection.execute("SET enable_progress_bar = false")
        self._lock = threading.Lock()  # the writer (and every reader) holds it
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiting] = []
        for table in EVENT_TABLES.values():
            columns = ", ".join(f"{c.name} {c.duckdb_type}" for c in table.columns)
            self._connection.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})")

    def append(self, batch: EventBatch) -> int:
        """Store ``batch`` durably, committing together with the batches of other threads.

        Group commit: a thread that finds the writer busy queues its batch; the next writer
        takes every queued batch into one transaction. Each call still returns only after
        its own events are committed, with its own count of new events.
        """
        waiting = _Waiting(batch)
        with self._queue_lock:
            self._queue.append(waiting)
        with self._lock:
            if not waiting.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._write(group)
        if waiting.error is not None:
            raise waiting.error
        return waiting.stored

    def _write(self, group: list[_Waiting]) -> None:
        cursor = self._connection.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")
            if len(group) == 1:
                (only,) = group
                only.stored = sum(
                    _insert_new(cursor, EVENT_TABLES[kind], table)
                    for kind, table in only.batch.tables.items()
                    if table.num_rows
                )
            else:
                _insert_group(cursor, group)
            cursor.execute("COMMIT")
        except BaseException as exc:
            cursor.execute("ROLLBACK")
            for waiting in group:
                waiting.stored, waiting.error = 0, exc
        finally:
            cursor.close()
            for waiting in group:
                waiting.done = True

    def _fetch(
        self, sql: str, params: Sequence[object]
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        with self._lock:
            cursor = self._connection.execute(sql, list(params))
            names = [column[0] for column in cursor.description or ()]
            return names, cursor.fetchall()

    def ping(self) -> None:
        with self._lock:
            self._connection.execute("SELECT 1").fetchone()

    def count(self, kind: str) -> int:
        table = EVENT_TABLES[kind]
        with self._lock:
            found = self._connection.execute(f"SELECT count(*) FROM {table.name}").fetchone()
        return int(found[0]) if found else 0

    def close(self) -> None:
        with self._lock:
            self._connection.close()


@dataclass(eq=False, slots=True)
class _Waiting:
    """One caller's batch in the group commit queue, and what became of it."""

    batch: EventBatch
    stored: int = 0
    error: BaseException | None = None
    done: bool = False


def _new_rows_sql(table: EventTable, source: str) -> str:
    """The rows of ``source`` not stored before (two ``?``: the batch's time range).

    The time range as constants: DuckDB prunes row groups by their min/max on ``ts`` only
    for a filter it knows when planning, so the check stays cheap as the table grows.
    """
    return f"""
        SELECT * FROM {source} AS new
        WHERE NOT EXISTS (
            SELECT 1 FROM {table.name} AS old
            WHERE old.ts BETWEEN ? AND ? AND old.event_id = new.event_id
              AND old.{table.owner} = new.{table.owner}
        )"""


def _deduplicated(incoming: pa.Table, table: EventTable, order: str = "") -> str:
    """``incoming``, or its first row per (owner, event id) when the batch repeats one."""
    owner = table.owner
    keys = pc.binary_join_element_wise(incoming.column(owner), incoming.column("event_id"), "\x1f")
    if pc.count_distinct(keys).as_py() == len(keys):
        return "incoming"  # DISTINCT ON costs a tenth of the insert: skip it when it can
    return (
        f"(SELECT DISTINCT ON ({owner}, event_id) * FROM incoming "
        f"ORDER BY {owner}, event_id{order})"
    )


def _bounds(incoming: pa.Table) -> list[object]:
    bounds = pc.min_max(incoming.column("ts"))
    return [bounds["min"].as_py(), bounds["max"].as_py()]


def _insert_new(cursor: duckdb.DuckDBPyConnection, table: EventTable, incoming: pa.Table) -> int:
    """Insert the events of ``incoming`` not stored before; how many that was."""
    cursor.register("incoming", incoming)
    try:
        sql = _new_rows_sql(table, _deduplicated(incoming, table))
        found = cursor.execute(f"INSERT INTO {table.name} {sql}", _bounds(incoming)).fetchone()
    finally:
        cursor.unregister("incoming")
    return int(found[0]) if found else 0


def _insert_group(cursor: duckdb.DuckDBPyConnection, group: list[_Waiting]) -> None:
    """The batches of several callers as one insert per type; each caller's new count.

    The batches are tagged with their caller's position, the new rows kept in a temporary
    table, and counted per caller by the engine: no per-row work in Python, which would
    compete for the GIL with the threads still checking their batches. An event sent by
    two callers at once is credited to the first.
    """
    for kind, table in EVENT_TABLES.items():
        parts = [(i, w.batch.tables[kind]) for i, w in enumerate(group) if w.batch.count(kind)]
        if not parts:
            continue
        callers = pa.array(
            np.repeat([i for i, _ in parts], [t.num_rows for _, t in parts]), type=pa.int32()
        )
        incoming = pa.concat_tables([t for _, t in parts]).append_column("caller", callers)
        names = ", ".join(table.column_names)
        cursor.register("incoming", incoming)
        try:
            sql = _new_rows_sql(table, _deduplicated(incoming, table, ", caller"))
            cursor.execute(f"CREATE OR REPLACE TEMP TABLE fresh AS {sql}", _bounds(incoming))
            cursor.execute(f"INSERT INTO {table.name} SELECT {names} FROM fresh")
            counts = cursor.execute("SELECT caller, count(*) FROM fresh GROUP BY caller")
            for caller, count in counts.fetchall():
                group[caller].stored += int(count)
            cursor.execute("DROP TABLE fresh")
        finally:
            cursor.unregister("incoming")
