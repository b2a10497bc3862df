"""The PostgreSQL event store's connection pool: a reader held up inside PostgreSQL holds up
neither the writer nor the other readers (one shared connection behind a lock did)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pyarrow as pa
import pytest
from psycopg_pool import PoolClosed

from ablab.services.ports import EVENT_COLUMNS, EventBatch
from ablab.store.events import PostgresEventStore
from tests.conftest import scratch_postgres_database

pytestmark = pytest.mark.postgres

# The advisory lock a reader waits on, held by the test ("pool" in ASCII).
_HELD = 0x706F6F6C


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    with scratch_postgres_database(postgres_url, "ablab_pool") as url:
        yield url


def exposures(*event_ids: str) -> EventBatch:
    at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    n = len(event_ids)
    columns = {
        "event_id": list(event_ids),
        "experiment_id": ["exp_1"] * n,
        "unit_id": [f"unit_{i}" for i in range(n)],
        "variant": ["control"] * n,
        "ts": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
        "attributes": pa.array([None] * n, pa.string()),
        "received_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
    }
    assert tuple(columns) == EVENT_COLUMNS["exposure"]
    batch = EventBatch()
    batch.tables["exposure"] = pa.table(columns)
    return batch


def finishes(call: Callable[[], object], bound: float = 60) -> object:
    """``call``'s result, from a thread that must end within ``bound`` seconds (liveness: a
    store that serialised its connection would wait for the held reader forever)."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), "held up behind the waiting reader"
    assert result, "the call raised (see the thread's traceback above)"
    return result[0]


def waiting_for_advisory_lock(database: str) -> bool:
    with psycopg.connect(database, autocommit=True) as probe:
        found = probe.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
    return bool(found and found[0])


def test_a_waiting_reader_holds_up_neither_the_writer_nor_other_readers(database: str) -> None:
    store = PostgresEventStore(database, max_connections=4)
    waited: list[object] = []
    try:
        with psycopg.connect(database, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", [_HELD])
            # An analysis query that waits inside PostgreSQL until the test lets it go.
            reader = threading.Thread(
                target=lambda: waited.append(
                    store._fetch("SELECT pg_advisory_xact_lock_shared(%s) AS held", [_HELD])
                )
            )
            reader.start()
            try:
                deadline = time.monotonic() + 60
                while not waiting_for_advisory_lock(database):
                    assert time.monotonic() < deadline, "the reader never reached its lock"
                    time.sleep(0.05)
                assert finishes(lambda: store.append(exposures("e1", "e2"))) == 2
                assert finishes(lambda: store.count("exposure")) == 2
                assert finishes(store.ping) is None
                assert waited == []  # the reader still waits meanwhile
            finally:
                holder.execute("SELECT pg_advisory_unlock(%s)", [_HELD])
                reader.join(60)
        assert waited == [(["held"], [("",)])]
    finally:
        store.close()


def test_a_closed_store_hands_out_no_connection(database: str) -> None:
    store = PostgresEventStore(database)
    assert store.append(exposures("e1")) == 1
    assert store.append(exposures("e1")) == 0  # a retried batch adds nothing
    store.close()
    with pytest.raises(PoolClosed):
        store.ping()
