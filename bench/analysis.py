"""Benchmark: the full results report beside a raw two-stage DuckDB query, same data.

Data: N prediction events (default 20,000,000) over D devices (200,000), each with a label,
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

Each figure is taken in a child process of its own, which reports its time and its peak
resident memory (``ru_maxrss``): the report's peak is not hidden by the anchors' or the
generator's. The report runs on ablab's DuckDB settings (``memory_limit`` and spilling,
``store/events/duckdb_settings.py``); the anchors on DuckDB's defaults.

Run: ``.venv/bin/python bench/analysis.py [--rows 20000000] [--devices 200000]
[--runs 3] [--folder DIR]``; ``--folder`` keeps the generated events there and reuses them
on the next run with the same folder. Here (2 cores, idle) the default 20M rows take about
35 s to generate and each run of the three figures about 25 s: 2 minutes in all. The
issue's goals are on 100M rows (``--rows 100000000 --devices 1000000``): 12 minutes to
generate, about 6 minutes a run, a peak near 5 GB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
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
from figures import at_most, figure

RUNS = 3
GOAL_RATIO = 2.0
GOAL_PEAK_GB = 8.0
GOAL_PEAK_ROWS = 100_000_000

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


def prepare(folder: Path, rows: int, devices: int) -> dict[str, str]:
    """The experiments' metadata and events in ``folder``: generated, or those kept there."""
    kept = folder / "ids.json"
    if kept.exists():
        ids: dict[str, str] = json.loads(kept.read_text())
        print(f"reusing the events in {folder}")
        return ids
    metadata = open_metadata_store(f"sqlite:///{folder / 'ablab.db'}")
    project = ensure_project(metadata, "bench")
    launched = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    ctx = Context(metadata, project.id, "bench", clock=lambda: launched - timedelta(days=7))
    for version in ("1", "2"):
        register_model_version(
            ctx,
            ModelVersionCreate(
                model="m", version=version, endpoint="http://127.0.0.1:9/"
            ).to_spec(),
        )
    spec = {"model_id": "m", "control_version": "1", "treatment_version": "2"}
    prior = create_experiment(ctx, ExperimentCreate(name="last-week", **spec).to_spec())
    ctx = Context(metadata, project.id, "bench", clock=lambda: launched)
    experiment = create_experiment(
        ctx,
        ExperimentCreate(
            name="bench",
            guardrails=["error_rate<=0.05", "latency_p95_ms<=100", "latency_ms<=+10%"],
            **spec,
        ).to_spec(),
    )
    store = DuckDBEventStore(folder / "events.duckdb")
    store.close()
    started = time.perf_counter()
    generate(store, project.id, experiment.id, prior.id, rows, devices, launched)
    print(
        f"generated {rows:,} predictions and labels over {devices:,} devices "
        f"in {time.perf_counter() - started:.0f} s"
    )
    ids = {
        "project": project.id,
        "experiment": experiment.id,
        "prior": prior.id,
        "rows": str(rows),
    }
    kept.write_text(json.dumps(ids))
    return ids


def run_report(folder: str, ids: dict[str, str]) -> str:
    metadata = open_metadata_store(f"sqlite:///{Path(folder) / 'ablab.db'}")
    events = DuckDBEventStore(Path(folder) / "events.duckdb")
    try:
        report = experiment_results(Context(metadata, ids["project"], "bench"), events, "bench")
    finally:
        events.close()
    cuped = report.comparisons[0].cuped
    return (
        f"accuracy {report.control.accuracy:.4f} vs {report.treatment.accuracy:.4f}, "
        f"SRM p={report.srm.p_value:.3f}, CUPED {'on' if cuped else 'off'}, "
        f"recommendation {report.recommendation.action}"
    )


def run_raw(folder: str, ids: dict[str, str], labels: bool) -> str:
    with duckdb.connect(str(Path(folder) / "events.duckdb"), read_only=True) as raw:
        raw.execute("SET enable_progress_bar = false")
        if labels:
            raw.execute(RAW_WITH_LABELS, [ids["project"], ids["experiment"]]).fetchall()
        else:
            raw.execute(RAW_TWO_STAGE, [ids["experiment"]]).fetchall()
    return ""


def _timed(work: Callable[..., str], arguments: tuple[object, ...]) -> tuple[float, int, str]:
    """In the child: the work's time, the child's peak resident bytes, its note."""
    started = time.perf_counter()
    note = work(*arguments)
    seconds = time.perf_counter() - started
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, note


def measure(work: Callable[..., str], *arguments: object) -> tuple[float, int, str]:
    """``work(*arguments)`` in a fresh process: seconds, peak resident bytes, its note."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_timed, (work, arguments))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--folder", type=Path, default=None, help="keep (or reuse) events here")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = arguments.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        ids = prepare(folder, arguments.rows, arguments.devices)
        rows = int(ids.get("rows", arguments.rows))
        figures: dict[str, list[tuple[float, int]]] = {"ours": [], "raw": [], "labelled": []}
        note = ""
        for _ in range(arguments.runs):
            for name, work, extra in (
                ("raw", run_raw, (False,)),
                ("labelled", run_raw, (True,)),
                ("ours", run_report, ()),
            ):
                seconds, peak, said = measure(work, str(folder), ids, *extra)
                figures[name].append((seconds, peak))
                note = said or note
    ours, anchor, labelled = (
        statistics.median(s for s, _ in figures[k]) for k in ("ours", "raw", "labelled")
    )
    ours_peak, anchor_peak, labelled_peak = (
        max(p for _, p in figures[k]) / 1e9 for k in ("ours", "raw", "labelled")
    )
    runs = arguments.runs
    print(f"report: {note}")
    print(f"medians of {runs} runs, each in its own process; peak resident memory the most seen")
    print(f"  ours (full report):                     {ours:6.2f} s  {ours_peak:5.2f} GB")
    print(f"  raw two-stage DuckDB query:             {anchor:6.2f} s  {anchor_peak:5.2f} GB")
    print(f"  raw two-stage query with latest labels: {labelled:6.2f} s  {labelled_peak:5.2f} GB")
    figure(
        "analysis_report",
        ours,
        anchor,
        "s",
        anchor_is=f"raw duckdb per-device then per-variant query, no labels, {rows:,} rows",
        goal=None,
        runs=runs,
    )
    figure(
        "analysis_report_like_for_like",
        ours,
        labelled,
        "s",
        anchor_is=f"the same raw query joined with each prediction's latest label, {rows:,} rows",
        goal=at_most(GOAL_RATIO),
        runs=runs,
    )
    figure(
        "analysis_peak_memory",
        ours_peak,
        labelled_peak,
        "GB",
        anchor_is=f"the raw query with latest labels on DuckDB's default settings, {rows:,} rows",
        # The bound is on 100M rows; a smaller run only reports its peak.
        goal=at_most(GOAL_PEAK_GB, "GB") if rows >= GOAL_PEAK_ROWS else None,
        runs=runs,
    )


if __name__ == "__main__":
    main()
