"""The metadata store's engines: SQLite's connection settings, and read-only transactions.

A read-only transaction never takes the write lock and the database itself refuses a write
in it, which surfaces as ``ReadOnlySessionError``:

- SQLite (WAL): ``BEGIN`` (deferred) with ``PRAGMA query_only=ON``. A deferred transaction
  takes a read snapshot at its first SELECT and no lock at all, so the one writer (which
  begins ``BEGIN IMMEDIATE``) never waits for it and it never waits for the writer.
- PostgreSQL: ``REPEATABLE READ, READ ONLY``: one snapshot for the whole transaction, as on
  SQLite; a read-only transaction at that level never fails to serialize.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext

__all__ = ["READ_ONLY", "postgres_engine", "read_only_engine", "sqlite_engine"]

# The execution option that marks a connection's transactions as read-only.
READ_ONLY = "ablab_read_only"

# PostgreSQL's SQLSTATE for a write in a READ ONLY transaction (read_only_sql_transaction).
_PG_READ_ONLY_TRANSACTION = "25006"


def read_only_engine(engine: Engine) -> Engine:
    """``engine`` with read-only transactions: the same pool, other execution options.

    The options are set on each connection when it is checked out and undone when it goes
    back to the pool, so the writers' connections are unaffected.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True, **{READ_ONLY: True}
        )
    return engine.execution_options(**{READ_ONLY: True})


def sqlite_engine(url: str, database: str | None) -> Engine:
    """An engine on a SQLite file in WAL mode, its transactions begun by ablab (see
    ``_on_begin``), and its read-only transactions' refused writes named."""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Pooled connections keep their PRAGMAs; WAL lets other processes read and write the
    # same file meanwhile.
    engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # pysqlite's own transaction handling breaks SAVEPOINTs; take over. IMMEDIATE takes the
    # write lock up front, so a read-then-write never fails half-way on a busy database; a
    # read-only transaction begins deferred and takes no lock.
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = bool(connection.get_execution_options().get(READ_ONLY))
        # query_only stays with the pooled connection: set it only when it changes.
        if connection.info.get(READ_ONLY, False) != read_only:
            connection.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
            connection.info[READ_ONLY] = read_only
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    _name_refused_writes(engine)
    return engine


def postgres_engine(url: str) -> Engine:
    """An engine on PostgreSQL; SQLAlchemy's pool, checked before use (see ``store.py``)."""
    engine = create_engine(url, pool_pre_ping=True)
    _name_refused_writes(engine)
    return engine


def _name_refused_writes(engine: Engine) -> None:
    """A write the database refuses in a read-only transaction raises
    ``ReadOnlySessionError``, whichever engine refused it."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        connection = context.connection
        if connection is None or not connection.get_execution_options().get(READ_ONLY):
            return None
        if not _refused_as_read_only(context.original_exception):
            return None
        # Imported here: the ports pull in pyarrow, which opening a store does not need.
        from ablab.services.ports import ReadOnlySessionError  # noqa: PLC0415

        return ReadOnlySessionError(
            "a write in a read-only session: open the session with session() to write "
            f"({context.original_exception})"
        )


def _refused_as_read_only(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        # The extended code's low byte is the primary one (SQLITE_READONLY).
        return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY
    return getattr(error, "sqlstate", None) == _PG_READ_ONLY_TRANSACTION
