"""The team's own Parquet tables, read through a column mapping, give ablab's own answer.

The fixture's events are rewritten the way a team might keep them: other column names,
no project column, one folder per day partitioned by a ``dt`` column, times as ISO text
in one table, and every prediction sent twice (a retry that arrived later). Mapped with
``ExternalTable`` and deduplicated, every engine answers as ablab's DuckDB store does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from deltalake import write_deltalake

from ablab.errors import ValidationError
from ablab.services.ports import EventReader
from ablab.store.events import DuckDBEventStore
from ablab.store.events.engines import CLICKHOUSE, DUCKDB, SPARK, Engine
from ablab.store.events.schema import EVENT_TABLES
from ablab.store.events.sql_parts import Query
from ablab.store.warehouse import ClickHouseEvents, DuckDBFiles, SparkEvents
from ablab.store.warehouse.clickhouse import clickhouse_runner
from ablab.store.warehouse.sources import ExternalTable, check_relation, external_relation
from tests.engines.fixture_events import LAUNCH, PROJECT
from tests.engines.test_same_answer import QUESTIONS, assert_same, plain

# ablab's name -> the team's, per table (owner columns left out where one value fits all).
RENAMED = {
    "exposures": {"event_id": "id", "experiment_id": "exp", "unit_id": "device",
                  "variant": "arm", "ts": "event_time", "attributes": "attrs",
                  "received_at": "arrived"},
    "predictions": {"event_id": "id", "experiment_id": "exp", "unit_id": "device",
                    "variant": "arm", "prediction_id": "request_id", "latency_ms": "took_ms",
                    "error": "failed", "shadow": "mirrored", "output": "answer",
                    "ts": "event_time", "received_at": "arrived"},
    "labels": {"event_id": "id", "prediction_id": "request_id", "correct": "ok",
               "label": "truth", "ts": "event_time", "received_at": "arrived"},
    "metrics": {"event_id": "id", "experiment_id": "exp", "unit_id": "device",
                "name": "metric", "value": "amount", "ts": "event_time"},
}  # fmt: skip
KINDS = {"exposures": "exposure", "predictions": "prediction", "labels": "label"}
KINDS["metrics"] = "metric"


@pytest.fixture(scope="module")
def team_tables(
    reference_store: DuckDBEventStore, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path_factory.mktemp("team")
    for table, names in RENAMED.items():
        data = reference_store.read_arrow(f"SELECT * FROM {table}", [])
        if table == "predictions":  # a retry of each, arriving a minute later
            later = pc.add(data.column("received_at"), pa.scalar(60_000_000, pa.duration("us")))
            retry = data.set_column(
                data.schema.get_field_index("received_at"), "received_at", later
            )
            data = pa.concat_tables([retry, data])  # the first to arrive is not first in the file
        kept = {ours: data.column(ours) for ours in names}
        if table == "metrics":  # times as ISO text here
            kept["ts"] = pc.strftime(kept["ts"], format="%Y-%m-%dT%H:%M:%S")
        team = pa.table({names[ours]: column for ours, column in kept.items()})
        day = pc.strftime(data.column("ts"), format="%Y-%m-%d")
        team = team.append_column("dt", day)
        ds.write_dataset(
            team, root / table, format="parquet", partitioning=["dt"], partitioning_flavor="hive"
        )
    return root


def _sources(root: Path) -> dict[str, ExternalTable]:
    return {
        table: ExternalTable(
            KINDS[table], path=root / table, columns=names, partition="dt", dedupe=True
        )
        for table, names in RENAMED.items()
    }


def _relations(root: Path, engine: Engine) -> dict[str, str]:
    return {
        table: external_relation(source, engine, project_id=PROJECT)
        for table, source in _sources(root).items()
    }


@pytest.fixture
def team_engine(request: pytest.FixtureRequest, team_tables: Path) -> Iterator[EventReader]:
    name = request.param
    if name == "spark":
        spark: SparkEvents = request.getfixturevalue("spark_events")
        yield SparkEvents(spark.session, _relations(team_tables, SPARK))
    elif name == "clickhouse":
        yield ClickHouseEvents(clickhouse_runner("chdb"), _relations(team_tables, CLICKHOUSE))
    else:
        files = DuckDBFiles(_relations(team_tables, DUCKDB), folders=[team_tables])
        yield files
        files.close()


TEAM_ENGINES = [
    pytest.param("duckdb-files", id="duckdb-files"),
    pytest.param("clickhouse", id="clickhouse"),
    pytest.param("spark", id="spark", marks=pytest.mark.xdist_group("spark")),
]


@pytest.mark.parametrize("team_engine", TEAM_ENGINES, indirect=True)
@pytest.mark.parametrize(
    "question",
    ["custom metrics", "segments", "cuped pre-window", "shadow pairs", "accuracy by hour"],
)
def test_the_teams_tables_give_ablabs_answer(
    team_engine: EventReader, question: str, reference_store: DuckDBEventStore
) -> None:
    ask = QUESTIONS[question]
    assert_same(plain(ask(team_engine)), plain(ask(reference_store)))


def test_a_check_names_a_missing_column_and_one_that_does_not_cast(team_tables: Path) -> None:
    files = DuckDBFiles({}, folders=[team_tables])
    run = lambda sql: files._connection.cursor().sql(sql).to_arrow_table()  # noqa: E731
    try:
        good = _sources(team_tables)["metrics"]
        relation = external_relation(good, DUCKDB, project_id=PROJECT)
        assert check_relation(good, relation, run, DUCKDB) > 0

        missing = ExternalTable(
            "metric", path=team_tables / "metrics",
            columns={**RENAMED["metrics"], "value": "no_such_column"},
        )  # fmt: skip
        with pytest.raises(ValidationError, match="no_such_column"):
            check_relation(
                missing, external_relation(missing, DUCKDB, project_id=PROJECT), run, DUCKDB
            )
        wrong = ExternalTable(
            "label", path=team_tables / "labels",
            columns={**RENAMED["labels"], "correct": "event_time"},
        )  # fmt: skip
        with pytest.raises(ValidationError, match="event_time"):  # no time casts to a flag
            check_relation(wrong, external_relation(wrong, DUCKDB, project_id=PROJECT), run, DUCKDB)
    finally:
        files.close()


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        ({"unit_id": "d", "name": "n", "value": "v"}, "must map ts"),
        ({"unit_id": "d", "name": "n", "value": "v", "ts": "t", "colour": "c"}, "colour"),
    ],
)
def test_a_mapping_without_what_the_kind_needs_is_refused(
    columns: dict[str, str], words: str
) -> None:
    with pytest.raises(ValidationError, match=words):
        ExternalTable("metric", table="events.metrics", columns=columns)


def test_a_source_has_one_place(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        ExternalTable(
            "metric", table="t", path=tmp_path, columns=RENAMED["metrics"] | {"ts": "event_time"}
        )


def test_duckdb_reads_no_file_outside_its_folders(team_tables: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    hostile = ExternalTable(
        "metric",
        select=f"SELECT * FROM read_csv('{secret}')",
        columns={"unit_id": "password", "name": "password", "value": "password", "ts": "password"},
    )
    files = DuckDBFiles(
        {"metrics": external_relation(hostile, DUCKDB, project_id=PROJECT)}, folders=[team_tables]
    )
    try:
        with pytest.raises(Exception, match="Permission"):
            files._run(Query("SELECT count(*) FROM metrics", ()))
    finally:
        files.close()


def test_every_table_of_the_schema_has_a_mapping_here() -> None:
    assert set(RENAMED) == {t.name for t in EVENT_TABLES.values()}


@pytest.fixture(scope="module")
def delta_predictions(team_tables: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The team's predictions as a Delta table whose folder still holds an overwritten,
    wrong first version of every partition (latencies ten times too high), its current
    version written in two parts."""
    folder = tmp_path_factory.mktemp("delta") / "predictions"
    data = ds.dataset(team_tables / "predictions", partitioning="hive").to_table()
    wrong = data.set_column(
        data.schema.get_field_index("took_ms"), "took_ms", pc.multiply(data["took_ms"], 10.0)
    )
    write_deltalake(folder, wrong, partition_by=["dt"])
    # Two current files in most partitions: each folder is read as a list of files.
    even = pc.equal(pc.bit_wise_and(pa.array(range(data.num_rows)), 1), 0)
    write_deltalake(folder, data.filter(even), partition_by=["dt"], mode="overwrite")
    write_deltalake(folder, data.filter(pc.invert(even)), partition_by=["dt"], mode="append")
    return folder


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(DUCKDB, id="duckdb-files"),
        pytest.param(CLICKHOUSE, id="clickhouse"),
        pytest.param(SPARK, id="spark", marks=pytest.mark.xdist_group("spark")),
    ],
)
def test_a_delta_table_is_read_at_its_current_version(
    engine: Engine,
    team_tables: Path,
    delta_predictions: Path,
    reference_store: DuckDBEventStore,
    request: pytest.FixtureRequest,
) -> None:
    relations = _relations(team_tables, engine)
    delta = ExternalTable(
        "prediction", path=delta_predictions, format="delta",
        columns=RENAMED["predictions"], partition="dt",
    )  # fmt: skip
    relations["predictions"] = external_relation(delta, engine, project_id=PROJECT)
    reader: EventReader
    if engine is SPARK:
        reader = SparkEvents(request.getfixturevalue("spark_events").session, relations)
    elif engine is CLICKHOUSE:
        reader = ClickHouseEvents(clickhouse_runner("chdb"), relations)
    else:
        reader = DuckDBFiles(relations, folders=[team_tables, delta_predictions])
    for question in ("custom metrics", "shadow pairs"):
        ask = QUESTIONS[question]
        assert_same(plain(ask(reader)), plain(ask(reference_store)))


def test_a_folder_without_a_delta_log_is_named(tmp_path: Path) -> None:
    source = ExternalTable(
        "prediction", path=tmp_path, format="delta", columns=RENAMED["predictions"]
    )
    with pytest.raises(ValidationError, match="no Delta table"):
        external_relation(source, DUCKDB, project_id=PROJECT)


@pytest.mark.parametrize("team_engine", TEAM_ENGINES, indirect=True)
def test_a_partition_filter_keeps_the_days_from_since_on(
    team_engine: EventReader, team_tables: Path, reference_store: DuckDBEventStore
) -> None:
    since = LAUNCH.date() + timedelta(days=1)
    engine = getattr(team_engine, "engine")  # noqa: B009 - every reader here names its engine
    source = _sources(team_tables)["predictions"]
    pruned = external_relation(source, engine, project_id=PROJECT, since=since)
    relations = getattr(team_engine, "relations")  # noqa: B009 - likewise its relations
    relations["predictions"] = pruned
    _, rows = team_engine._run(Query("SELECT count(*) FROM predictions", ()))  # type: ignore[attr-defined]
    start = datetime.combine(since, datetime.min.time(), UTC)
    expected = reference_store.read_arrow(
        "SELECT count(*) AS n FROM predictions WHERE ts >= ?", [start]
    )
    assert int(rows[0][0]) == expected.column("n")[0].as_py() > 0  # retries dropped too
