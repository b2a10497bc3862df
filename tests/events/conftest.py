"""Fixtures of the event tests: an event store on the engine of the metadata store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.services.context import Context
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.ports import EventStore
from ablab.store.events import DuckDBEventStore, PostgresEventStore
from ablab.store.events.schema import EVENT_TABLES
from ablab.store.metadata import SqlMetadataStore


@pytest.fixture
def events(metadata_store: SqlMetadataStore, tmp_path: Path) -> Iterator[EventStore]:
    """The event store on the same engine family as the metadata store of the test."""
    if metadata_store.engine.dialect.name == "sqlite":
        store: EventStore = DuckDBEventStore(tmp_path / "events.duckdb")
    else:
        url = metadata_store.engine.url.set(drivername="postgresql")
        plain = url.render_as_string(hide_password=False)
        store = PostgresEventStore(plain)
        with psycopg.connect(plain, autocommit=True) as connection:
            tables = ", ".join(t.name for t in EVENT_TABLES.values())
            connection.execute(f"TRUNCATE {tables}")
    yield store
    store.close()


@pytest.fixture
def trial(ctx: Context) -> str:
    for version in ("1.0.0", "2.0.0"):
        register_model_version(
            ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/x")
        )
    create_experiment(
        ctx,
        ExperimentCreate(
            name="trial", model_id="m", control_version="1.0.0", treatment_version="2.0.0"
        ),
    )
    return "trial"
