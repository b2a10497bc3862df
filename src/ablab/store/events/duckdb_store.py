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
from ablab.store.events.duckdb_settings import duckdb_config
from ablab.store.events.engines import DUCKDB
from ablab.store.events.queries import AggregateQueries
from ablab.store.events.schema import EVENT_TABLES, EventTable
from ablab.store.events.upgrade import upgrade

__all__ = ["DuckDBEventStore"]


class DuckDBEventStore(AggregateQueries):
    """One writer connection, serialised by a lock, and a cursor of its own for each read.

    Each commit is durable before ``append`` returns. Reads do not take the writer's lock:
    a cursor (``connection.cursor()``) is another connection to the same database, and
    DuckDB's MVCC gives it the data committed when its query starts, so a long analysis
    query neither waits for ingestion nor holds it up.

    ``memory_limit`` and ``threads`` (DuckDB's spellings, e.g. ``"4GB"`` and ``2``) bound
    what one analysis takes; see :func:`duckdb_config`.
    """

    engine = DUCKDB

    def __init__(
        self, path: Path, *, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._connection = duckdb.connect(
                str(path), config=duckdb_config(path, memory_limit, threads)
            )
        except duckdb.IOException as exc:
            # Another process (a server, another command) holds DuckDB's file lock.
            raise Conflict(
                f"the event store {path} is in use by another process: stop it, or share "
                "a server (ablab serve) or PostgreSQL (ABLAB_EVENTS_URL)",
                details={"reason": str(exc).splitlines()[0]},
            ) from None
        self._lock = threading.Lock()  # the writer holds it
        # Making a cursor reads the parent connection: one thread at a time, briefly.
        self._cursor_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiting] = []
        try:
            upgrade(self._connection)
        except BaseException:
            self._connection.close()
            raise

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._cursor_lock:
            cursor = self._connection.cursor()
        # A setting of each connection, not of the database: a long query would otherwise
        # draw a progress bar on the terminal of ``ablab results``.
        cursor.execute("SET enable_progress_bar = false")
        return cursor

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
        cursor = self._cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")
            for table in EVENT_TABLES.values():
                _insert_group(cursor, table, group)
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
        cursor = self._cursor()
        try:
            cursor.execute(sql, list(params))
            names = [column[0] for column in cursor.description or ()]
            return names, cursor.fetchall()
        finally:
            cursor.close()

    def read_arrow(self, sql: str, params: Sequence[object]) -> pa.Table:
        """Run one read-only query (``?`` markers): its result as Arrow."""
        cursor = self._cursor()
        try:
            return cursor.sql(sql, params=list(params)).to_arrow_table()
        finally:
            cursor.close()

    def ping(self) -> None:
        self._fetch("SELECT 1", ())

    def count(self, kind: str) -> int:
        _, rows = self._fetch(f"SELECT count(*) FROM {EVENT_TABLES[kind].name}", ())
        return int(str(rows[0][0])) if rows else 0

    def close(self) -> None:
        with self._lock, self._cursor_lock:
            self._connection.close()


@dataclass(eq=False, slots=True)
class _Waiting:
    """One caller's batch in the group commit queue, and what became of it."""

    batch: EventBatch
    stored: int = 0
    error: BaseException | None = None
    done: bool = False


def _insert_group(
    cursor: duckdb.DuckDBPyConnection, table: EventTable, group: list[_Waiting]
) -> None:
    """Insert the group's new events of one type; credit each caller with its new ones.

    The batches are tagged with their caller's position and scanned by the engine as one
    Arrow table. The usual group repeats no event and resends none stored before: one
    query finds that out, and a plain insert follows: 13 ms for a group of 8,000 events
    here, against 25 ms for the careful path (:func:`_insert_checked`), which otherwise
    keeps only the new events.
    """
    parts = [
        (i, w.batch.tables[table.kind]) for i, w in enumerate(group) if w.batch.count(table.kind)
    ]
    if not parts:
        return
    callers = pa.array(
        np.repeat([i for i, _ in parts], [t.num_rows for _, t in parts]), type=pa.int32()
    )
    incoming = pa.concat_tables([t for _, t in parts]).append_column("caller", callers)
    bounds = pc.min_max(incoming.column("ts"))
    span = [bounds["min"].as_py(), bounds["max"].as_py()]
    # Not unregistered on an error: a failed statement aborts the transaction, in which
    # unregistering fails too and would hide the error; the writer closes the cursor.
    cursor.register("incoming", incoming)
    found = cursor.execute(_SEEN_SQL.format(table=table.name, owner=table.owner), span)
    repeated, stored_before = found.fetchone() or (0, 0)
    if repeated or stored_before:
        _insert_checked(cursor, table, group, span)
    else:
        cursor.execute(
            f"INSERT INTO {table.name} SELECT {', '.join(table.column_names)} FROM incoming"
        )
        for i, part in parts:
            group[i].stored += part.num_rows
    cursor.unregister("incoming")


# Whether an incoming event (``new``) was stored before. Two ``?``: the incoming events'
# time range, as constants: DuckDB prunes row groups by their min/max on ``ts`` only for a
# filter it knows when planning, so the look at the stored events stays cheap as the table
# grows. A retried event carries its original timestamp.
_STORED_BEFORE = """EXISTS (
    SELECT 1 FROM {table} AS old
    WHERE old.ts BETWEEN ? AND ? AND old.event_id = new.event_id
      AND old.{owner} = new.{owner})"""

_SEEN_SQL = f"""
    SELECT count(*) - count(DISTINCT ({{owner}}, event_id)),
           count(*) FILTER (WHERE {_STORED_BEFORE})
    FROM incoming AS new"""


def _insert_checked(
    cursor: duckdb.DuckDBPyConnection,
    table: EventTable,
    group: list[_Waiting],
    span: list[object],
) -> None:
    """Insert only the events of ``incoming`` not stored before, each (owner, id) once.

    The new rows are kept in a temporary table and counted per caller by the engine: no
    per-row work in Python, which would compete for the GIL with the threads still
    checking their batches. An event sent by two callers at once is credited to the first.
    """
    owner = table.owner
    stored_before = _STORED_BEFORE.format(table=table.name, owner=owner)
    cursor.execute(
        f"""CREATE OR REPLACE TEMP TABLE fresh AS
        SELECT * FROM (
            SELECT DISTINCT ON ({owner}, event_id) * FROM incoming
            ORDER BY {owner}, event_id, caller
        ) AS new
        WHERE NOT {stored_before}""",
        span,
    )
    cursor.execute(f"INSERT INTO {table.name} SELECT {', '.join(table.column_names)} FROM fresh")
    counts = cursor.execute("SELECT caller, count(*) FROM fresh GROUP BY caller")
    for caller, count in counts.fetchall():
        group[caller].stored += int(count)
    cursor.execute("DROP TABLE fresh")
