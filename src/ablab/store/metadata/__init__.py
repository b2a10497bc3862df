"""The metadata store: experiments, models, groups, assignments, audit log (SQLAlchemy)."""

from ablab.store.metadata.store import SqlMetadataStore, metadata_url, open_metadata_store

__all__ = ["SqlMetadataStore", "metadata_url", "open_metadata_store"]
