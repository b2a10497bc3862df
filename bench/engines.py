"""Benchmark: ablab's results report on each analysis engine, beside that engine's raw query
and beside DuckDB's report, on the same data.

Data: bench/analysis.py's generator, N prediction events (default 5,000,000) over D devices
(200,000), each with a label, plus N/5 predictions of the same devices in the week before
launch (CUPED's pre-period). It is written into ablab's DuckDB store (managed) and then
loaded into:
- ablab's PostgreSQL store, in a scratch database beside ``--postgres`` (COPY with the
  primary keys dropped and rebuilt afterwards, then ``ANALYZE``);
- a Parquet lake (``export_lake``), read by Spark ``local[2]`` and by chdb (embedded
  ClickHouse) through ``lake_relations``.

Ours, per engine: ablab's real ``experiment_results`` on a ``Context`` whose event store is
that engine's reader (every EventReader call a report makes: metric sums with the CUPED
pre-window and the weight periods, quantiles, time series, SRM periods, guardrails).
Anchor, per engine: a hand-written two-stage query in that engine's SQL (per device, then
per variant: counts, latency and error sums and squares, with each prediction's latest label
joined in), the least any engine must do to compute accuracy. DuckDB's report is the second
anchor of every other engine. Spark's session start is timed once and printed on its own,
outside every figure.

Each figure is the median of ``--runs`` runs in this one process (Spark's session must stay
up); every engine's first run is therefore its coldest. Run:
``.venv/bin/python bench/engines.py [--rows 5000000] [--devices 200000] [--runs 3]
[--postgres postgresql://postgres@127.0.0.1:5432/test]``. Here (2 cores, otherwise idle)
the default run takes about 4 minutes: about 35 s to generate, 60 s to load PostgreSQL,
10 s to export the lake, 10 s to start Spark, and the rest the three runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import duckdb
import psycopg

from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.ports import EventStore
from ablab.store.events import DuckDBEventStore, PostgresEventStore
from ablab.store.events.engines import CLICKHOUSE, SPARK
from ablab.store.events.schema import EVENT_TABLES
from ablab.store.metadata import open_metadata_store
from ablab.store.warehouse import ClickHouseEvents, SparkEvents, lake_relations
from ablab.store.warehouse.clickhouse import clickhouse_runner
from ablab.store.warehouse.lake_export import export_lake
from ablab.store.warehouse.spark import spark_session
from analysis import prepare
from figures import at_most, figure

RUNS = 3
POSTGRES_GOAL = 3.0  # the report on PostgreSQL within 3x DuckDB's (issue 17, item 6)
SPARK_GOAL = 1.5  # the report on Spark within 1.5x the raw two-stage Spark query
LOADED_TABLES = ("predictions", "labels")  # the generator writes only these

# The latest label of each prediction, in each engine's own words: the greatest
# (ts, received_at, event_id), the order the analysis SQL breaks ties by.
LATEST_LABELS = {
    "duckdb": "SELECT prediction_id, arg_max(correct, (ts, received_at, event_id)) AS correct "
    "FROM {labels} WHERE project_id = {project} GROUP BY prediction_id",
    "postgres": "SELECT DISTINCT ON (prediction_id) prediction_id, correct FROM {labels} "
    "WHERE project_id = {project} ORDER BY prediction_id, ts DESC, received_at DESC, "
    "event_id DESC",
    "spark": "SELECT prediction_id, max_by(correct, struct(ts, received_at, event_id)) "
    "AS correct FROM {labels} WHERE project_id = {project} GROUP BY prediction_id",
    "clickhouse": "SELECT prediction_id, argMax(correct, (ts, received_at, event_id)) "
    "AS correct FROM {labels} WHERE project_id = {project} GROUP BY prediction_id",
}

# Per device, then per variant: the sums a t-test and CUPED need for predictions, latency,
# errors and accuracy.
RAW_TWO_STAGE = """
WITH latest AS ({latest})
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
    FROM {predictions} AS p LEFT JOIN latest AS l ON l.prediction_id = p.prediction_id
    WHERE p.experiment_id = {experiment} AND NOT p.shadow
    GROUP BY p.unit_id, p.variant
) AS per_device
GROUP BY variant
"""


def raw_query(engine: str, relations: dict[str, str], ids: dict[str, str]) -> str:
    """The raw two-stage query in ``engine``'s SQL over ``relations``, ids as literals."""
    project, experiment = (f"'{ids[key]}'" for key in ("project", "experiment"))
    latest = LATEST_LABELS[engine].format(labels=relations["labels"], project=project)
    sql = RAW_TWO_STAGE.format(
        latest=latest, predictions=relations["predictions"], experiment=experiment
    )
    # ClickHouse fills a LEFT JOIN's missing side with defaults unless told to use NULLs:
    # without this every prediction would count as labelled.
    return sql + " SETTINGS join_use_nulls = 1" if engine == "clickhouse" else sql


def csv_copies(duck_path: Path, scratch: Path) -> dict[str, Path]:
    """The DuckDB store's loaded tables as headerless CSV files in ``scratch``, written
    before the store opens (DuckDB allows one configuration per file in a process)."""
    files = {}
    with duckdb.connect(str(duck_path), read_only=True) as source:
        for table in (t for t in EVENT_TABLES.values() if t.name in LOADED_TABLES):
            files[table.name] = scratch / f"{table.name}.csv"
            source.execute(
                f"COPY (SELECT {', '.join(table.column_names)} FROM {table.name}) "
                f"TO '{files[table.name]}' (HEADER false)"
            )
    return files


@contextmanager
def postgres_copy(url: str, files: dict[str, Path]) -> Iterator[PostgresEventStore]:
    """ablab's PostgreSQL store at ``url`` holding the CSV ``files``' events, analysed.

    COPY into a table without its primary key and the key rebuilt afterwards is several
    times faster than COPY maintaining it row by row."""
    store = PostgresEventStore(url)
    try:
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as target:
            for table in (t for t in EVENT_TABLES.values() if t.name in files):
                names = ", ".join(table.column_names)
                target.execute(f"ALTER TABLE {table.name} DROP CONSTRAINT {table.name}_pkey")
                with (
                    target.cursor() as cursor,
                    cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy,
                    files[table.name].open("rb") as rows,
                ):
                    while chunk := rows.read(1 << 20):
                        copy.write(chunk)
                target.execute(
                    f"ALTER TABLE {table.name} ADD PRIMARY KEY ({table.owner}, event_id)"
                )
                files[table.name].unlink()
            target.execute("VACUUM ANALYZE")
        print(f"loaded PostgreSQL in {time.perf_counter() - started:.0f} s")
        yield store
    finally:
        store.close()


@contextmanager
def scratch_database(base_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database beside ``base_url``'s, dropped afterwards."""
    server, _, _ = base_url.rpartition("/")
    name = f"ablab_bench_engines_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def accuracy_note(report: Any) -> str:
    return f"accuracy {report.control.accuracy:.6f} vs {report.treatment.accuracy:.6f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    arguments = parser.parse_args()
    rows = arguments.rows
    with (
        tempfile.TemporaryDirectory() as scratch_name,
        scratch_database(arguments.postgres) as postgres_url,
    ):
        scratch = Path(scratch_name)
        ids = prepare(scratch, rows, arguments.devices)
        duck_path = scratch / "events.duckdb"
        csv_files = csv_copies(duck_path, scratch)
        metadata = open_metadata_store(f"sqlite:///{scratch / 'ablab.db'}")
        ctx = Context(metadata, ids["project"], "bench")

        duck = DuckDBEventStore(duck_path)
        lake = scratch / "lake"
        seconds, _ = timed(lambda: export_lake(duck, lake))
        print(f"exported the lake in {seconds:.0f} s")
        seconds, session = timed(
            lambda: spark_session(
                "local[2]", {"spark.driver.memory": "4g", "spark.ui.showConsoleProgress": "false"}
            )
        )
        print(f"Spark session start (outside every figure): {seconds:.1f} s")
        spark_session_ = cast(Any, session)
        chdb = clickhouse_runner("chdb")
        spark_relations = lake_relations(lake, SPARK)
        clickhouse_relations = lake_relations(lake, CLICKHOUSE)

        with postgres_copy(postgres_url, csv_files) as postgres:
            readers: dict[str, object] = {
                "duckdb": duck,
                "postgres": postgres,
                "spark": SparkEvents(spark_session_, spark_relations),
                "clickhouse": ClickHouseEvents(chdb, clickhouse_relations),
            }
            tables = {name: name for name in LOADED_TABLES}
            raw: dict[str, Callable[[], object]] = {
                "duckdb": lambda: duck.read_arrow(raw_query("duckdb", tables, ids), []),
                "postgres": lambda: postgres.read_arrow(raw_query("postgres", tables, ids), []),
                "spark": lambda: spark_session_.sql(
                    raw_query("spark", spark_relations, ids)
                ).collect(),
                "clickhouse": lambda: chdb(raw_query("clickhouse", clickhouse_relations, ids)),
            }
            times: dict[str, dict[str, list[float]]] = {
                name: {"report": [], "raw": []} for name in readers
            }
            notes: dict[str, str] = {}
            for _ in range(arguments.runs):
                for name, reader in readers.items():
                    seconds, _ = timed(raw[name])
                    times[name]["raw"].append(seconds)
                    seconds, report = timed(
                        lambda reader=reader: experiment_results(
                            ctx, cast(EventStore, reader), "bench"
                        )
                    )
                    times[name]["report"].append(seconds)
                    notes[name] = accuracy_note(report)
        cast(Any, session).stop()
        duck.close()
        metadata.close()

    runs = arguments.runs
    medians = {
        name: {kind: statistics.median(values) for kind, values in kinds.items()}
        for name, kinds in times.items()
    }
    print(f"medians of {runs} runs, {rows:,} predictions over {arguments.devices:,} devices")
    for name, figures in medians.items():
        print(
            f"  {name:10s} report {figures['report']:7.2f} s  raw two-stage "
            f"{figures['raw']:7.2f} s  ({notes[name]})"
        )
    duckdb_report = medians["duckdb"]["report"]
    for name, figures in medians.items():
        figure(
            f"engines_{name}_report",
            figures["report"],
            figures["raw"],
            "s",
            anchor_is=f"raw {name} per-device then per-variant query with latest labels, "
            f"{rows:,} rows",
            goal=at_most(SPARK_GOAL) if name == "spark" else None,
            runs=runs,
        )
        if name != "duckdb":
            figure(
                f"engines_{name}_vs_duckdb",
                figures["report"],
                duckdb_report,
                "s",
                anchor_is=f"ablab's report on its DuckDB store, {rows:,} rows",
                goal=at_most(POSTGRES_GOAL) if name == "postgres" else None,
                runs=runs,
            )


if __name__ == "__main__":
    main()
