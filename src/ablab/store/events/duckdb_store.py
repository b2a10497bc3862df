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
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ablab.errors import Conflict
from ablab.services.ports import EventBatch
from ablab.store.events.dialects import DUCKDB
from ablab.store.events.queries import AggregateQueries
from ablab.store.events.schema import EVENT_TABLES, EventTable

__all__ = ["DuckDBEventStore"]


class DuckDBEventStore(AggregateQueries):
    """One connection, serialised by a lock; each ``append`` is one durable transaction."""

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
        self._lock = threading.Lock()
        for table in EVENT_TABLES.values():
            columns = ", ".join(f"{c.name} {c.duckdb_type}" for c in table.columns)
            self._connection.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})")

    def append(self, batch: EventBatch) -> int:
        stored = 0
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN TRANSACTION")
            try:
                for kind, incoming in batch.tables.items():
                    if incoming.num_rows:
                        stored += self._insert_new(cursor, EVENT_TABLES[kind], incoming)
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()
        return stored

    @staticmethod
    def _insert_new(
        cursor: duckdb.DuckDBPyConnection, table: EventTable, incoming: pa.Table
    ) -> int:
        cursor.register("incoming", incoming)
        # DISTINCT ON costs a tenth of the insert: only a batch that repeats an id needs it.
        ids = incoming.column("event_id")
        repeated = pc.count_distinct(ids).as_py() < len(ids)
        source = "(SELECT DISTINCT ON (event_id) * FROM incoming)" if repeated else "incoming"
        # The time range as constants: DuckDB prunes row groups by their min/max on ``ts``
        # only for a filter it knows when planning, so the check stays cheap as data grows.
        bounds = pc.min_max(incoming.column("ts"))
        try:
            result = cursor.execute(
                f"""
                INSERT INTO {table.name}
                SELECT * FROM {source} AS new
                WHERE NOT EXISTS (
                    SELECT 1 FROM {table.name} AS old
                    WHERE old.ts BETWEEN ? AND ? AND old.event_id = new.event_id
                )
                """,
                [bounds["min"].as_py(), bounds["max"].as_py()],
            ).fetchone()
        finally:
            cursor.unregister("incoming")
        return int(result[0]) if result else 0

    def _fetch(
        self, sql: str, params: Sequence[object]
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        with self._lock:
            cursor = self._connection.execute(sql, list(params))
            names = [column[0] for column in cursor.description or ()]
            return names, cursor.fetchall()

    def count(self, kind: str) -> int:
        table = EVENT_TABLES[kind]
        with self._lock:
            found = self._connection.execute(f"SELECT count(*) FROM {table.name}").fetchone()
        return int(found[0]) if found else 0

    def close(self) -> None:
        with self._lock:
            self._connection.close()
