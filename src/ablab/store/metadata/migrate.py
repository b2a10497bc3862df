"""Bring a database to the newest schema with Alembic, cheaply when it is already there."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from ablab.store.metadata.tables import Base

__all__ = [
    "HEAD_REVISION",
    "alembic_config",
    "current_revision",
    "is_metadata_object",
    "upgrade_to_head",
]

# The newest migration. A test checks it against the scripts, so opening an up-to-date store
# costs one query instead of loading every migration script.
HEAD_REVISION = "0012"

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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade_to_head(engine: Engine) -> None:
    if current_revision(engine) == HEAD_REVISION:
        return
    with _one_migrator(engine):
        # Alembic reads the revision again under the lock: a replica that waited finds the
        # database at head and does nothing.
        command.upgrade(alembic_config(engine), "head")


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
