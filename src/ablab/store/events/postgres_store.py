"""``PostgresEventStore``: events in PostgreSQL, for a server shared by a team.

A primary key on (owner, ``event_id``) makes ingestion idempotent; rows arrive by COPY into a
temporary table and move with ``INSERT ... ON CONFLICT DO NOTHING``, in one transaction.

The COPY text is Arrow's CSV of the batch, written in one call: nulls unquoted and empty,
every string quoted (so an empty string stays one), timestamps in UTC with a ``Z``, which is
PostgreSQL's CSV format. Feeding COPY row by row from Python ran at about 15k events/s here.

Connections come from a ``psycopg_pool.ConnectionPool``: a reader (an analysis query, a
count, a health check) and a writer each hold a connection of their own for their
transaction, so a long analysis query never holds up an append, nor an append a query, as
one shared connection behind a lock did. Overlapping batches appended at once (a client's
retry while the first attempt still runs, or another server worker) meet in PostgreSQL:
the later waits for the earlier's rows, then skips them; ``DISTINCT ON`` sorts each batch by
key, so two batches lock keys in the same order and never deadlock.

psycopg and psycopg-pool are the ``postgres`` extra, imported when a store opens: ablab
imports without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pa_csv

from ablab.extras import needs_extra
from ablab.services.ports import EventBatch
from ablab.store.events.engines import POSTGRES
from ablab.store.events.queries import AggregateQueries
from ablab.store.events.schema import EVENT_TABLES

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

__all__ = ["DEFAULT_MAX_CONNECTIONS", "PostgresEventStore"]

# Connections one store (one server process) may hold at once: the writer and several
# concurrent readers. Each server worker has its own pool; PostgreSQL's default limit is 100.
DEFAULT_MAX_CONNECTIONS = 10

# Set for each analysis read, for its transaction only. Before autovacuum has analysed a
# table that just filled, PostgreSQL estimates one row per scan and joins each prediction
# to the latest labels by a nested loop that ranks every label again per prediction: 9,177
# predictions of a test took 35 s, 24 ms once analysed. The analysis statements scan and
# aggregate whole experiments, where a nested loop never wins, so it is off; so is JIT,
# which added about 2 s to the 5M-prediction report (docs/scaling.md).
_ANALYSIS_SETTINGS = ("SET LOCAL enable_nestloop = off", "SET LOCAL jit = off")

# How long a caller waits for a free connection when all are busy, before PoolTimeout.
_CHECKOUT_TIMEOUT_SECONDS = 30.0


class PostgresEventStore(AggregateQueries):
    """Events in PostgreSQL over a pool of at most ``max_connections`` connections."""

    engine = POSTGRES

    def __init__(self, url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        with needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"):
            import psycopg  # noqa: PLC0415 - the optional extra ablab[postgres]
        with needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg-pool"):
            from psycopg_pool import ConnectionPool  # noqa: PLC0415 - the same extra

        # A connection of its own first: where nothing answers it fails at once, where the
        # pool would retry in the background until its timeout.
        with psycopg.connect(url) as connection:
            _create_tables(connection)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            open=False,
            # A connection is checked before it is handed out: one that the server closed
            # (a restart, an idle timeout) is replaced instead of failing a request.
            check=ConnectionPool.check_connection,
            timeout=_CHECKOUT_TIMEOUT_SECONDS,
            name="ablab-events",
        )
        self._pool.open(wait=True, timeout=_CHECKOUT_TIMEOUT_SECONDS)

    def append(self, batch: EventBatch) -> int:
        stored = 0
        with (
            self._pool.connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            for kind, table in EVENT_TABLES.items():
                if not batch.count(kind):
                    continue
                staging = f"incoming_{table.name}"
                names = ", ".join(table.column_names)
                # Temporary tables belong to the connection: each pooled one makes its own.
                cursor.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
                    f"(LIKE {table.name}) ON COMMIT DELETE ROWS"
                )
                rows = _csv(batch.tables[kind].select(list(table.column_names)))
                with cursor.copy(f"COPY {staging} ({names}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(rows)
                cursor.execute(
                    f"INSERT INTO {table.name} ({names}) "
                    f"SELECT DISTINCT ON ({table.owner}, event_id) {names} FROM {staging} "
                    f"ON CONFLICT ({table.owner}, event_id) DO NOTHING"
                )
                stored += cursor.rowcount
        return stored

    def _fetch(
        self, sql: str, params: Sequence[object]
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        with self._pool.connection() as connection, connection.transaction():
            for setting in _ANALYSIS_SETTINGS:
                connection.execute(setting)
            cursor = connection.execute(sql, list(params))
            names = [column.name for column in cursor.description or ()]
            return names, cursor.fetchall()

    def read_arrow(self, sql: str, params: Sequence[object]) -> pa.Table:
        """Run one read-only query (``?`` markers): its result as Arrow."""
        return self._fetch_arrow(sql.replace("?", "%s"), params)

    def ping(self) -> None:
        with self._pool.connection() as connection:
            connection.execute("SELECT 1").fetchone()

    def count(self, kind: str) -> int:
        with self._pool.connection() as connection:
            found = connection.execute(f"SELECT count(*) FROM {EVENT_TABLES[kind].name}").fetchone()
        return int(found[0]) if found else 0

    def close(self) -> None:
        self._pool.close()


def _create_tables(connection: psycopg.Connection[TupleRow]) -> None:
    """Create the event tables and their indexes, if any is missing.

    Only then: ``CREATE INDEX IF NOT EXISTS`` takes a SHARE lock on its table before it
    looks for the index, so run at every start it waited for the open writes of the
    server's other workers, and the writes queued behind it waited too (a worker started
    3.0 s late behind one 3 s transaction). Looking the names up in the catalog takes no
    table lock. Processes creating at once queue on an advisory lock, since ``IF NOT
    EXISTS`` does not hold against a concurrent ``CREATE`` (the loser fails on a duplicate
    type name).
    """
    if not _missing_relations(connection):
        return
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", [_CREATE_LOCK])
        for table in EVENT_TABLES.values():
            columns = ", ".join(f"{c.name} {c.postgres_type}" for c in table.columns)
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {table.name} "
                f"({columns}, PRIMARY KEY ({table.owner}, event_id))"
            )
            connection.execute(
                f"CREATE INDEX IF NOT EXISTS {_ts_index(table.name)} ON {table.name} (ts)"
            )


def _missing_relations(connection: psycopg.Connection[TupleRow]) -> int:
    names = [n for table in EVENT_TABLES.values() for n in (table.name, _ts_index(table.name))]
    with connection.transaction():
        found = connection.execute(
            "SELECT count(*) FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
            [names],
        ).fetchone()
    return int(found[0]) if found else 0


# The advisory lock number under which processes create the event tables ("ablab" in ASCII).
_CREATE_LOCK = 0x61626C6162


def _ts_index(table: str) -> str:
    return f"{table}_ts"


_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def _csv(table: pa.Table) -> memoryview:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, _CSV)
    return memoryview(sink.getvalue())
