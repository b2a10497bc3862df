"""Benchmark: the full results report beside a raw two-stage DuckDB query, same data.

Data: N prediction events (default 100,000,000) over 1,000,000 devices, each with a label,
generated inside a DuckDB event store file.
Ours: ``experiment_results`` (accuracy with the latest label per prediction, latency,
p95 latency and error rate as per-device ratios, SRM by weight period, fixed and
always-valid p-values, Bayesian, Holm, guardrails, the recommendation).
Anchor: one hand-written query over the same predictions table that aggregates per device
and then per variant (count, latency and error sums and squares): the raw engine doing the
two-stage scan without the labels, the quantile or any statistics.

Run: ``.venv/bin/python bench/analysis.py [--rows 100000000] [--devices 1000000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.services.catalogue import register_model_version
from ablab.services.context import Context
from ablab.services.experiments import create_experiment
from ablab.services.projects import ensure_project
from ablab.services.results import experiment_results
from ablab.store.events import DuckDBEventStore
from ablab.store.metadata import open_metadata_store

RUNS = 3
GOAL_RATIO = 2.0

RAW_TWO_STAGE = """
SELECT variant, count(*) AS devices, sum(predictions), sum(predictions * predictions),
       sum(latency), sum(latency * latency), sum(latency * predictions),
       sum(errors), sum(errors * errors), sum(errors * predictions)
FROM (
    SELECT unit_id, variant, count(*) AS predictions, sum(latency_ms) AS latency,
           sum(CASE WHEN error THEN 1 ELSE 0 END) AS errors
    FROM predictions WHERE experiment_id = ? AND NOT shadow
    GROUP BY unit_id, variant
) GROUP BY variant
"""


def generate(store: DuckDBEventStore, experiment_id: str, rows: int, devices: int) -> None:
    connection = duckdb.connect(str(store.path))
    start = datetime.now(UTC).replace(microsecond=0)
    assignment = f"CASE WHEN hash(i % {devices}) % 2 = 0 THEN 'control' ELSE 'treatment' END"
    connection.execute(
        f"""
        INSERT INTO predictions
        SELECT 'e' || i, ?, 'd' || (i % {devices}), {assignment}, 'p' || i,
               20 + 30 * random(), random() < 0.01, false, NULL,
               ?::TIMESTAMPTZ - INTERVAL 1 HOUR, ?::TIMESTAMPTZ
        FROM range({rows}) AS t(i)
        """,
        [experiment_id, start, start],
    )
    connection.execute(
        """
        INSERT INTO labels
        SELECT 'l' || i, 'p' || i, random() < 0.87, NULL, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ
        FROM range(?) AS t(i)
        """,
        [start, start, rows],
    )
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--devices", type=int, default=1_000_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        metadata = open_metadata_store(f"sqlite:///{Path(folder) / 'ablab.db'}")
        ctx = Context(metadata, ensure_project(metadata, "bench").id, "bench")
        for version in ("1", "2"):
            register_model_version(
                ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
            )
        experiment = create_experiment(
            ctx,
            ExperimentCreate(
                name="bench", model_id="m", control_version="1", treatment_version="2"
            ),
        )
        store = DuckDBEventStore(Path(folder) / "events.duckdb")
        store.close()
        started = time.perf_counter()
        generate(store, experiment.id, arguments.rows, arguments.devices)
        print(
            f"generated {arguments.rows:,} predictions and labels over "
            f"{arguments.devices:,} devices in {time.perf_counter() - started:.0f} s"
        )
        events = DuckDBEventStore(store.path)
        ours_times, anchor_times = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            with duckdb.connect(str(store.path)) as raw:
                raw.execute(RAW_TWO_STAGE, [experiment.id]).fetchall()
            anchor_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = experiment_results(ctx, events, "bench")
            ours_times.append(time.perf_counter() - started)
        events.close()
    ours, anchor = statistics.median(ours_times), statistics.median(anchor_times)
    print(
        f"report: accuracy {report.control.accuracy:.4f} vs {report.treatment.accuracy:.4f}, "
        f"SRM p={report.srm.p_value}, recommendation {report.recommendation.action}"
    )
    print(f"  ours (full report):           {ours:.2f} s")
    print(f"  raw two-stage DuckDB query:    {anchor:.2f} s")
    print(
        f"bench: analysis_report ours={ours:.2f}s anchor={anchor:.2f}s "
        f"(raw duckdb per-device then per-variant query, {arguments.rows:,} rows) "
        f"ratio={ours / anchor:.2f} goal=<={GOAL_RATIO:g}"
    )


if __name__ == "__main__":
    main()
