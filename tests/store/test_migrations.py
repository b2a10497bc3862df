"""Alembic migrations: the recorded head is the real head, and the schema matches the tables."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ablab.store.metadata import SqlMetadataStore, open_metadata_store
from ablab.store.metadata.migrate import (
    HEAD_REVISION,
    current_revision,
    head_revision,
    is_metadata_object,
)
from ablab.store.metadata.tables import Base


def test_recorded_head_is_the_scripts_head() -> None:
    assert head_revision() == HEAD_REVISION


def test_migrated_schema_matches_the_tables(metadata_store: SqlMetadataStore) -> None:
    with metadata_store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": is_metadata_object}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert current_revision(metadata_store.engine) == HEAD_REVISION


def test_store_file_is_created_on_first_use_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "ablab.db"
    store = open_metadata_store(f"sqlite:///{path}")
    store.close()
    assert path.is_file()
    reopened = open_metadata_store(f"sqlite:///{path}")
    assert current_revision(reopened.engine) == HEAD_REVISION
    with reopened.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    reopened.close()
    assert mode == "wal"


def test_event_tables_in_the_same_database_are_not_alembics(
    metadata_store: SqlMetadataStore,
) -> None:
    """The event tables may share PostgreSQL with the metadata: migrations leave them be."""
    with metadata_store.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE someone_elses_events (event_id TEXT)")
    try:
        with metadata_store.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": is_metadata_object}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        with metadata_store.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE someone_elses_events")
