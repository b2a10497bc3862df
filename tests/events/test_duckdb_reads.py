"""DuckDB reads run beside ingestion: a query answers while a write transaction is open."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from ablab.services.ports import EVENT_COLUMNS, EventBatch
from ablab.store.events import DuckDBEventStore

WAIT = 30.0  # seconds; a read that waits for the writer never returns before the commit


def _labels(ids: range) -> EventBatch:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    columns: dict[str, list[object]] = {name: [None] * len(ids) for name in EVENT_COLUMNS["label"]}
    columns |= {
        "event_id": [f"l{i}" for i in ids],
        "project_id": ["p"] * len(ids),
        "prediction_id": [f"x{i}" for i in ids],
        "correct": [True] * len(ids),
        "ts": [now] * len(ids),
        "received_at": [now] * len(ids),
    }
    batch = EventBatch()
    batch.tables["label"] = pa.table({name: columns[name] for name in EVENT_COLUMNS["label"]})
    return batch


def test_a_read_answers_while_an_ingestion_transaction_is_open(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        assert store.append(_labels(range(3))) == 3
        inserted, read_done = threading.Event(), threading.Event()
        seen: list[int] = []
        answered_while_open: list[bool] = []

        def ingest() -> None:
            """What ``append`` does, held open between its insert and its commit."""
            with store._lock:
                cursor = store._cursor()
                cursor.execute("BEGIN TRANSACTION")
                cursor.execute(
                    "INSERT INTO labels (event_id, project_id, prediction_id, ts, received_at)"
                    " SELECT 'open' || i, 'p', 'y' || i, now(), now() FROM range(5) AS t(i)"
                )
                inserted.set()
                # A read that queues behind this transaction cannot answer before the commit below,
                # so the wait times out; one that runs beside it answers first.
                answered_while_open.append(read_done.wait(WAIT))
                cursor.execute("COMMIT")
                cursor.close()

        def read() -> None:
            seen.append(store.count("label"))
            read_done.set()

        writer = threading.Thread(target=ingest)
        writer.start()
        assert inserted.wait(WAIT)
        reader = threading.Thread(target=read)
        reader.start()
        writer.join(2 * WAIT)
        reader.join(WAIT)
        assert answered_while_open == [True], "the read waited for the ingestion transaction"
        assert seen == [3]  # the open transaction's rows are not visible
        assert store.count("label") == 8  # and are once committed
        assert store.append(_labels(range(3, 5))) == 2  # the writer is free again
    finally:
        store.close()
