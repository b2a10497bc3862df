"""Benchmark: the full results report beside a raw two-stage DuckDB query, same data.

Data: N prediction events (default 100,000,000) over 1,000,000 devices, each with a label,
plus N/5 predictions of the same devices in the week before launch (CUPED's pre-period),
generated inside a DuckDB event store file.
Ours: ``experiment_results`` (accuracy with the latest label per prediction, latency,
p95 latency and error rate as per-device ratios, CUPED on each from the pre-period, SRM by
weight period, fixed and always-valid p-values, Bayesian, Holm, three guardrails, the
recommendation).
Anchors, both hand-written DuckDB queries over the same tables in the same run:
- the issue's: per device and then per variant (count, latency and error sums and
  squares), the raw engine doing the two-stage scan without the labels, the quantile, the
  pre-period or any statistics;
- like for like: the same with accuracy's work, the latest label of each prediction
  joined in. Accuracy cannot be had without that join, which costs several times the
  label-free scan on its own.

Run: ``.venv/bin/python bench/analysis.py [--rows 100000000] [--devices 1000000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.services.access.projects import ensure_project
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
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


# The same two stages with accuracy's work added: the latest label of each prediction
# (arg_max over its timestamp, arrival and id), joined to the predictions.
RAW_WITH_LABELS = """
WITH latest AS (
    SELECT prediction_id, arg_max(correct, (ts, received_at, event_id)) AS correct
    FROM labels WHERE project_id = ? GROUP BY prediction_id
)
SELECT variant, count(*) AS devices, sum(predictions), sum(predictions * predictions),
       sum(latency), sum(latency * latency), sum(latency * predictions),
       sum(errors), sum(errors * errors), sum(errors * predictions),
       sum(correct), sum(correct * correct), sum(labelled), sum(labelled * labelled),
       sum(correct * labelled)
FROM (
    SELECT p.unit_id, p.variant, count(*) AS predictions, sum(p.latency_ms) AS latency,
           sum(CASE WHEN p.error THEN 1 ELSE 0 END) AS errors,
           sum(CASE WHEN l.correct THEN 1 ELSE 0 END) AS correct,
           count(l.prediction_id) AS labelled
    FROM predictions AS p LEFT JOIN latest AS l ON l.prediction_id = p.prediction_id
    WHERE p.experiment_id = ? AND NOT p.shadow
    GROUP BY p.unit_id, p.variant
) GROUP BY variant
"""


def generate(  # noqa: PLR0917 - one call site, each argument a different id or size
    store: DuckDBEventStore,
    project_id: str,
    experiment_id: str,
    prior_id: str,
    rows: int,
    devices: int,
    launched: datetime,
) -> None:
    """``rows`` predictions in the experiment and a fifth as many in the week before launch
    (a prior experiment on the same devices: CUPED's pre-period), each with a label."""
    connection = duckdb.connect(str(store.path))
    assignment = f"CASE WHEN hash(i % {devices}) % 2 = 0 THEN 'control' ELSE 'treatment' END"
    for prefix, experiment, count, offset in (
        ("", experiment_id, rows, "INTERVAL 1 HOUR"),
        ("pre", prior_id, rows // 5, "INTERVAL 3 DAY"),
    ):
        connection.execute(
            f"""
            INSERT INTO predictions
            SELECT '{prefix}e' || i, ?, 'd' || (i % {devices}), {assignment}, '{prefix}p' || i,
                   20 + 30 * random(), random() < 0.01, false, NULL,
                   ?::TIMESTAMPTZ + {offset} * (CASE WHEN '{prefix}' = '' THEN 1 ELSE -1 END),
                   ?::TIMESTAMPTZ
            FROM range({count}) AS t(i)
            """,
            [experiment, launched, launched],
        )
        connection.execute(
            f"""
            INSERT INTO labels
            SELECT '{prefix}l' || i, ?, '{prefix}p' || i, random() < 0.87, NULL,
                   ?::TIMESTAMPTZ, ?::TIMESTAMPTZ
            FROM range(?) AS t(i)
            """,
            [project_id, launched, launched, count],
        )
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--devices", type=int, default=1_000_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        metadata = open_metadata_store(f"sqlite:///{Path(folder) / 'ablab.db'}")
        project = ensure_project(metadata, "bench")
        launched = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        ctx = Context(metadata, project.id, "bench", clock=lambda: launched - timedelta(days=7))
        for version in ("1", "2"):
            register_model_version(
                ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
            )
        spec = {"model_id": "m", "control_version": "1", "treatment_version": "2"}
        prior = create_experiment(ctx, ExperimentCreate(name="last-week", **spec))
        ctx = Context(metadata, project.id, "bench", clock=lambda: launched)
        experiment = create_experiment(
            ctx,
            ExperimentCreate(
                name="bench",
                guardrails=["error_rate<=0.05", "latency_p95_ms<=100", "latency_ms<=+10%"],
                **spec,
            ),
        )
        ctx = Context(metadata, project.id, "bench")
        store = DuckDBEventStore(Path(folder) / "events.duckdb")
        store.close()
        started = time.perf_counter()
        generate(
            store,
            project.id,
            experiment.id,
            prior.id,
            arguments.rows,
            arguments.devices,
            launched,
        )
        print(
            f"generated {arguments.rows:,} predictions and labels over "
            f"{arguments.devices:,} devices in {time.perf_counter() - started:.0f} s"
        )
        events = DuckDBEventStore(store.path)
        ours_times, anchor_times, labelled_times = [], [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            with duckdb.connect(str(store.path)) as raw:
                raw.execute(RAW_TWO_STAGE, [experiment.id]).fetchall()
                anchor_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                raw.execute(RAW_WITH_LABELS, [project.id, experiment.id]).fetchall()
                labelled_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = experiment_results(ctx, events, "bench")
            ours_times.append(time.perf_counter() - started)
        events.close()
    ours, anchor = statistics.median(ours_times), statistics.median(anchor_times)
    labelled = statistics.median(labelled_times)
    cuped = report.comparisons[0].cuped
    print(
        f"report: accuracy {report.control.accuracy:.4f} vs {report.treatment.accuracy:.4f}, "
        f"SRM p={report.srm.p_value}, CUPED {'on' if cuped else 'off'}, "
        f"recommendation {report.recommendation.action}"
    )
    print(f"  ours (full report):                     {ours:.2f} s")
    print(f"  raw two-stage DuckDB query:              {anchor:.2f} s")
    print(f"  raw two-stage query with latest labels:  {labelled:.2f} s")
    print(
        f"bench: analysis_report ours={ours:.2f}s anchor={anchor:.2f}s "
        f"(raw duckdb per-device then per-variant query, {arguments.rows:,} rows) "
        f"ratio={ours / anchor:.2f} goal=<={GOAL_RATIO:g}"
    )
    print(
        f"bench: analysis_report_like_for_like ours={ours:.2f}s anchor={labelled:.2f}s "
        f"(the same raw query joined with each prediction's latest label) "
        f"ratio={ours / labelled:.2f} goal=<={GOAL_RATIO:g}"
    )


if __name__ == "__main__":
    main()
