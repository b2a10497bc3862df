"""``SqlMetadataStore``: the metadata store on SQLite (embedded, default) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ablab.errors import ValidationError
from ablab.extras import needs_extra
from ablab.store.metadata.engines import postgres_engine, read_only_engine, sqlite_engine
from ablab.store.metadata.migrate import ensure_schema
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
    """Sessions over one engine; each ``session()`` block is one transaction.

    Read-only sessions share the engine's pool, with read-only transactions
    (``engines.read_only_engine``).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(read_only_engine(engine), expire_on_commit=False)

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[SqlMetadataSession]:
        with (self._read_sessions if read_only else self._sessions).begin() as session:
            yield SqlMetadataSession(session)

    def raw_session(self) -> Session:
        """A plain SQLAlchemy session, for tests and migrations checks."""
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()


def open_metadata_store(url: str, *, migrate: bool = True) -> SqlMetadataStore:
    """Open the store at ``url``, creating the file and the schema of an empty database.

    A database at the newest schema opens after one read of its revision; one behind it is
    refused (``ablab db upgrade``, ``ablab.store.open.upgrade_metadata``, upgrades it).
    With ``migrate=False`` the database opens as it is, unchecked (migration tests, the
    upgrade itself).

    Raises:
        ValidationError: the URL is malformed or names an engine ablab does not support.
        MissingExtra: a PostgreSQL URL where psycopg is not installed (``ablab[postgres]``).
        SchemaOutdated: the database's schema is older than this ablab's.
        Unavailable: the database's schema is newer than this ablab knows.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValidationError(f"invalid database URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = sqlite_engine(url, parsed.database)
    elif backend == "postgresql":
        # SQLAlchemy imports the driver (psycopg) here.
        with needs_extra("postgres", feature="a PostgreSQL metadata store", package="psycopg"):
            engine = postgres_engine(url)
    else:
        raise ValidationError(
            f"unsupported metadata database {backend!r}: use sqlite or postgresql",
            details={"url": parsed.render_as_string(hide_password=True)},
        )
    if migrate:
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
    return SqlMetadataStore(engine)
