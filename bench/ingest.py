"""Benchmark: in-process event ingestion beside a raw DuckDB insert of the same rows.

Ours: ``ingest_events`` on 500,000 prediction events given as dicts (the wire format), in
batches of 50,000: validation, the experiment lookup, conversion to Arrow and the
idempotent insert, one durable transaction per batch, into a DuckDB file.
Anchor: the same rows, already columnar in Arrow tables, inserted into a DuckDB file with
``INSERT INTO ... SELECT * FROM arrow`` and one commit per batch (no validation, no dedupe).

Each run times the anchor, then ours; the figures are medians of ``--runs`` runs (3; 1 with
``--quick``, which also takes 200,000 events).

Run: ``.venv/bin/python bench/ingest.py [--quick] [--runs N]`` (about 25 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.store.events import DuckDBEventStore
from ablab.store.events.schema import EVENT_TABLES
from ablab.store.metadata import open_metadata_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import at_least, figure, median

BATCH = 50_000
START = datetime(2026, 11, 23, tzinfo=UTC)


def make_events(count: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"evt-{i:09d}",
            "type": "prediction",
            "experiment": "bench",
            "unit_id": f"device-{i % 100_000}",
            "variant": "control" if i % 2 else "treatment",
            "prediction_id": f"pred-{i:09d}",
            "latency_ms": 20.0 + i % 50,
            "error": i % 100 == 0,
            "timestamp": (START + timedelta(milliseconds=i)).isoformat(),
        }
        for i in range(count)
    ]


def context(folder: Path) -> Context:
    store = open_metadata_store(f"sqlite:///{folder / 'ablab.db'}")
    ctx = Context(
        store, ensure_project(store, "bench").id, "bench", clock=lambda: START + timedelta(days=1)
    )
    for version in ("1", "2"):
        register_model_version(
            ctx,
            ModelVersionCreate(
                model="m", version=version, endpoint="http://127.0.0.1:9/"
            ).to_spec(),
        )
    create_experiment(
        ctx,
        ExperimentCreate(
            name="bench", model_id="m", control_version="1", treatment_version="2"
        ).to_spec(),
    )
    return ctx


def ours(events: list[dict[str, object]]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        ctx = context(Path(folder))
        store = DuckDBEventStore(Path(folder) / "events.duckdb")
        started = time.perf_counter()
        for start in range(0, len(events), BATCH):
            result = ingest_events(ctx, store, events[start : start + BATCH])
            assert result.stored == BATCH, result
        elapsed = time.perf_counter() - started
        store.close()
    return len(events) / elapsed


def anchor(tables: list[pa.Table]) -> float:
    columns = ", ".join(f"{c.name} {c.duckdb_type}" for c in EVENT_TABLES["prediction"].columns)
    with tempfile.TemporaryDirectory() as folder:
        connection = duckdb.connect(str(Path(folder) / "raw.duckdb"))
        connection.execute(f"CREATE TABLE predictions ({columns})")
        started = time.perf_counter()
        for table in tables:
            connection.register("incoming", table)
            connection.execute("BEGIN TRANSACTION")
            connection.execute("INSERT INTO predictions SELECT * FROM incoming")
            connection.execute("COMMIT")
            connection.unregister("incoming")
        elapsed = time.perf_counter() - started
        connection.close()
    rows: int = sum(table.num_rows for table in tables)
    return rows / elapsed


def arrow_batches(events: list[dict[str, object]]) -> list[pa.Table]:
    received = START + timedelta(days=1)
    rows = [
        (
            e["event_id"],
            "exp_bench",
            e["unit_id"],
            e["variant"],
            e["prediction_id"],
            e["latency_ms"],
            e["error"],
            False,
            None,
            datetime.fromisoformat(str(e["timestamp"])),
            received,
        )
        for e in events
    ]
    names = list(EVENT_TABLES["prediction"].column_names)
    return [
        pa.Table.from_pylist(
            [dict(zip(names, row, strict=True)) for row in rows[start : start + BATCH]]
        )
        for start in range(0, len(rows), BATCH)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of 200,000 events")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    runs, count = (1, 200_000) if options.quick else (options.runs, 500_000)
    events = make_events(count)
    tables = arrow_batches(events)
    ours_rates, anchor_rates = [], []
    for _ in range(runs):
        anchor_rates.append(anchor(tables))
        ours_rates.append(ours(events))
    ours_rate, anchor_rate = median(ours_rates), median(anchor_rates)
    print(f"ingest: {count:,} prediction events in batches of {BATCH:,}, medians of {runs} run(s)")
    print(f"  ours (dicts -> validated -> idempotent insert): {ours_rate / 1e3:,.0f}k events/s")
    print(f"  raw DuckDB insert from Arrow:                    {anchor_rate / 1e3:,.0f}k rows/s")
    figure(
        "ingest_events",
        ours_rate / 1e3,
        anchor_rate / 1e3,
        "kevents/s",
        anchor_is="raw DuckDB INSERT ... SELECT from the same rows as Arrow tables, a commit "
        "per batch, no validation or dedupe",
        goal=at_least(0.5),
        runs=runs,
        digits=0,
    )


if __name__ == "__main__":
    main()
