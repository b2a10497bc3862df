"""Opening the stores a ``Settings`` names, written once for the server, the SDK and the CLI.

- Metadata: ``ABLAB_DATABASE_URL`` (PostgreSQL or another SQLAlchemy URL), else SQLite at
  ``$ABLAB_HOME/ablab.db``. Opening creates the schema of an empty database and refuses one
  at an older revision; ``upgrade_metadata`` (``ablab db upgrade``) upgrades it.
- Events: ``ABLAB_EVENTS_URL`` (``postgresql://``), else DuckDB at
  ``$ABLAB_HOME/events.duckdb``.
"""

from __future__ import annotations

from ablab.services.ports import EventStore, MetadataStore
from ablab.settings import Settings
from ablab.store.events import open_event_store
from ablab.store.metadata import SqlMetadataStore, metadata_url, open_metadata_store
from ablab.store.metadata.migrate import upgrade_to_head
from ablab.store.warehouse.analysis_engines import AnalysisEngines
from ablab.store.warehouse.sourced_events import SourcedEvents

__all__ = [
    "analysis_engines",
    "open_events",
    "open_metadata",
    "open_stores",
    "sourced",
    "upgrade_metadata",
]


def open_metadata(settings: Settings) -> SqlMetadataStore:
    """The metadata store of ``settings``; an empty database gets the newest schema.

    Raises:
        ValidationError: a malformed database URL or an engine ablab does not support.
        SchemaOutdated: the database is at an older schema revision (``upgrade_metadata``).
        Unavailable: the database is at a revision newer than this ablab knows.
    """
    return open_metadata_store(_metadata_url(settings))


def upgrade_metadata(settings: Settings) -> tuple[str | None, str]:
    """Upgrade the metadata database of ``settings`` to the newest schema revision.

    Returns the revision before (None for an empty database) and after; both are the same
    when it was up to date. Replicas upgrading at once queue: one migrates, the others find
    the database at the newest revision.

    Raises:
        ValidationError: a malformed database URL or an engine ablab does not support.
        Unavailable: the database is at a revision newer than this ablab knows.
    """
    store = open_metadata_store(_metadata_url(settings), migrate=False)
    try:
        return upgrade_to_head(store.engine)
    finally:
        store.close()


def _metadata_url(settings: Settings) -> str:
    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    return metadata_url(settings.home, database_url)


def open_events(settings: Settings) -> EventStore:
    """The event store of ``settings``, with its pool size (PostgreSQL) or its memory and
    thread bounds (DuckDB).

    Raises:
        ValidationError: ``ABLAB_EVENTS_URL`` is not a PostgreSQL URL.
    """
    events_url = settings.events_url.get_secret_value() if settings.events_url else None
    return open_event_store(
        settings.home,
        events_url,
        pool_size=settings.events_pool_size,
        duckdb_memory_limit=settings.duckdb_memory_limit,
        duckdb_threads=settings.duckdb_threads,
    )


def open_stores(settings: Settings) -> tuple[SqlMetadataStore, EventStore]:
    """Both stores of ``settings``; the metadata store is closed again if the events fail.

    The event store reads each experiment from its analysis source, if it names one
    (``store/warehouse/sourced_events.py``), on the engines ``settings`` set up.
    """
    metadata = open_metadata(settings)
    try:
        return metadata, sourced(open_events(settings), metadata, settings)
    except BaseException:
        metadata.close()
        raise


def sourced(events: EventStore, metadata: MetadataStore, settings: Settings) -> SourcedEvents:
    """``events`` for writes, each experiment's source for reads."""
    return SourcedEvents(events, metadata, analysis_engines(settings))


def analysis_engines(settings: Settings) -> AnalysisEngines:
    """The engines the operator set up for analysis sources (``ABLAB_SOURCE_FOLDERS``,
    ``ABLAB_SPARK_MASTER``, ``ABLAB_CLICKHOUSE``, ``ABLAB_SOURCE_SELECT``)."""
    return AnalysisEngines.from_settings(settings)
