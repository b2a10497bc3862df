"""Alembic environment: runs on the engine the store hands over (never a URL from a file)."""

from __future__ import annotations

from alembic import context

from ablab.store.metadata.migrate import is_metadata_object
from ablab.store.metadata.tables import Base

engine = context.config.attributes.get("engine")
if engine is None:
    raise RuntimeError("ablab migrations run through ablab.store.metadata.migrate")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=is_metadata_object,
    )
    context.run_migrations()
