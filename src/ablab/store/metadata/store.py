"""``SqlMetadataStore``: the metadata store on SQLite (embedded, default) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ablab.errors import ValidationError
from ablab.extras import needs_extra
from ablab.store.metadata.migrate import upgrade_to_head
from ablab.store.metadata.session import SqlMetadataSession

__all__ = ["SqlMetadataStore", "metadata_url", "open_metadata_store"]

METADATA_FILE = "ablab.db"


def metadata_url(home: Path, database_url: str | None) -> str:
    """The SQLAlchemy URL of the metadata store.

    ``postgresql://`` and ``postgres://`` URLs get the psycopg 3 driver; without a URL the
    store is ``$ABLAB_HOME/ablab.db``.
    """
    if database_url is None:
        return f"sqlite:///{home / METADATA_FILE}"
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


class SqlMetadataStore:
    """Sessions over one engine; each ``session()`` block is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[SqlMetadataSession]:
        with self._sessions.begin() as session:
            yield SqlMetadataSession(session)

    def raw_session(self) -> Session:
        """A plain SQLAlchemy session, for tests and migrations checks."""
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()


def open_metadata_store(url: str, *, migrate: bool = True) -> SqlMetadataStore:
    """Open the store at ``url``, creating the file and upgrading the schema if needed.

    Raises:
        ValidationError: the URL is malformed or names an engine ablab does not support.
        MissingExtra: a PostgreSQL URL where psycopg is not installed (``ablab[postgres]``).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValidationError(f"invalid database URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url, parsed.database)
    elif backend == "postgresql":
        # SQLAlchemy imports the driver (psycopg) here.
        with needs_extra("postgres", feature="a PostgreSQL metadata store", package="psycopg"):
            engine = create_engine(url, pool_pre_ping=True)
    else:
        raise ValidationError(
            f"unsupported metadata database {backend!r}: use sqlite or postgresql",
            details={"url": parsed.render_as_string(hide_password=True)},
        )
    if migrate:
        upgrade_to_head(engine)
    return SqlMetadataStore(engine)


def _sqlite_engine(url: str, database: str | None) -> Engine:
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
    # write lock up front, so a read-then-write never fails half-way on a busy database.
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
