"""Opening the stores a ``Settings`` names, written once for the server, the SDK and the CLI.

- Metadata: ``ABLAB_DATABASE_URL`` (PostgreSQL or another SQLAlchemy URL), else SQLite at
  ``$ABLAB_HOME/ablab.db``; the schema is upgraded to the newest migration on opening.
- Events: ``ABLAB_EVENTS_URL`` (``postgresql://``), else DuckDB at
  ``$ABLAB_HOME/events.duckdb``.
"""

from __future__ import annotations

from ablab.services.ports import EventStore
from ablab.settings import Settings
from ablab.store.events import open_event_store
from ablab.store.metadata import SqlMetadataStore, metadata_url, open_metadata_store

__all__ = ["open_events", "open_metadata", "open_stores"]


def open_metadata(settings: Settings) -> SqlMetadataStore:
    """The metadata store of ``settings``, migrated to the newest schema.

    Raises:
        ValidationError: a malformed database URL or an engine ablab does not support.
    """
    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    return open_metadata_store(metadata_url(settings.home, database_url))


def open_events(settings: Settings) -> EventStore:
    """The event store of ``settings``.

    Raises:
        ValidationError: ``ABLAB_EVENTS_URL`` is not a PostgreSQL URL.
    """
    events_url = settings.events_url.get_secret_value() if settings.events_url else None
    return open_event_store(settings.home, events_url)


def open_stores(settings: Settings) -> tuple[SqlMetadataStore, EventStore]:
    """Both stores of ``settings``; the metadata store is closed again if the events fail."""
    metadata = open_metadata(settings)
    try:
        return metadata, open_events(settings)
    except BaseException:
        metadata.close()
        raise
