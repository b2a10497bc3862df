"""The metadata schema's revisions: created on an empty database, upgraded only on request.

Opening a store (``ensure_schema``) creates the schema of an empty database, so a fresh
``$ABLAB_HOME`` works with nothing to run first, and otherwise only reads the revision: a
database behind the newest one is refused with ``SchemaOutdated`` until an operator runs
``ablab db upgrade`` (``upgrade_to_head``), so no replica changes a shared schema on its own
while other replicas of an older release still serve from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from ablab.errors import SchemaOutdated, Unavailable
from ablab.store.metadata.engines import read_only_engine
from ablab.store.metadata.tables import Base

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "alembic_config",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "is_metadata_object",
    "upgrade_to_head",
]

# The newest migration. A test checks it against the scripts, so opening an up-to-date store
# costs one query instead of loading every migration script; Alembic itself (about 0.1 s to
# import here) is imported only when a migration runs or a revision must be looked up.
HEAD_REVISION = "0014"

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# PostgreSQL advisory lock key of the migrations ("ablab" in ASCII): replicas that start
# together on a fresh database migrate one after the other instead of failing on each
# other's CREATE TABLE.
_MIGRATION_LOCK = 0x61626C6162


def is_metadata_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's ``include_object``: only the metadata tables are Alembic's to manage.

    The event tables may share the database (PostgreSQL for both); a migration must never
    see them as strays to drop.
    """
    table = getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return (
        table_name is None or table_name in Base.metadata.tables or table_name == "alembic_version"
    )


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415 - only when migrating (see HEAD_REVISION)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    """The database's revision, None when it has none (an empty database).

    Read in a read-only transaction: on SQLite it does not wait for a writer's lock.
    """
    with read_only_engine(engine).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str | None:
    """The newest revision of the migration scripts (loads them all: ``HEAD_REVISION`` is
    what the code uses, and a test keeps the two equal)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see HEAD_REVISION

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def ensure_schema(engine: Engine) -> None:
    """Create the schema of an empty database; accept one at ``HEAD_REVISION``; refuse the
    rest.

    An up-to-date database costs one read of its revision, no migration script is loaded.

    Raises:
        SchemaOutdated: the database is at an older revision (``ablab db upgrade``).
        Unavailable: the database is at a revision this ablab does not know (a newer one).
    """
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        return
    if revision is None:
        with _one_migrator(engine):
            # Replicas starting together on an empty database: the first creates the
            # schema, the others find it there when the lock lets them by (on SQLite, the
            # migration's BEGIN IMMEDIATE queues them and Alembic reads the revision again
            # inside it).
            revision = current_revision(engine)
            if revision is None:
                _upgrade(engine)
                return
    if revision != HEAD_REVISION:
        raise _refusal(revision)


def upgrade_to_head(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the database to ``HEAD_REVISION``; its revisions before and after.

    Raises:
        Unavailable: the database is at a revision this ablab does not know (a newer one).
    """
    with _one_migrator(engine):
        # Read under the lock: a replica that waited finds the database at head.
        before = current_revision(engine)
        if before != HEAD_REVISION:
            if before is not None and not _known(before):
                raise _refusal(before)
            _upgrade(engine)
    return before, current_revision(engine) or HEAD_REVISION


def _upgrade(engine: Engine) -> None:
    from alembic import command  # noqa: PLC0415 - see HEAD_REVISION

    command.upgrade(alembic_config(engine), "head")


def _known(revision: str) -> bool:
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see HEAD_REVISION
    from alembic.util import CommandError  # noqa: PLC0415

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _refusal(revision: str) -> Unavailable:
    details = {"revision": revision, "head": HEAD_REVISION}
    if _known(revision):
        return SchemaOutdated(
            f"the metadata database is at schema revision {revision}, older than this "
            f"ablab's {HEAD_REVISION}: run `ablab db upgrade`",
            details=details,
        )
    return Unavailable(
        f"the metadata database is at schema revision {revision}, which this ablab (newest "
        f"{HEAD_REVISION}) does not know: it was upgraded by a newer ablab; upgrade ablab",
        details=details,
    )


@contextmanager
def _one_migrator(engine: Engine) -> Iterator[None]:
    """Hold the migration lock meanwhile: an advisory lock on PostgreSQL; on SQLite the
    migration's own ``BEGIN IMMEDIATE`` transaction already serialises the writers."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
