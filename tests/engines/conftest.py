"""The engines of the cross-engine suite, each loaded once with the same events.

DuckDB's own store is the reference; PostgreSQL's store gets the same batch (and
``ANALYZE``); a lake exported from the DuckDB store feeds DuckDB over files, Spark and
embedded ClickHouse. Spark starts once per test run: every test that uses it is in the
``spark`` xdist group, so one worker runs them all (``--dist loadgroup``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ablab.services.ports import EventReader
from ablab.store.events import DuckDBEventStore, PostgresEventStore
from ablab.store.events.engines import CLICKHOUSE, DUCKDB, SPARK
from ablab.store.warehouse import ClickHouseEvents, DuckDBFiles, SparkEvents, lake_relations
from ablab.store.warehouse.clickhouse import clickhouse_runner
from ablab.store.warehouse.lake_export import export_lake
from ablab.store.warehouse.spark import spark_session
from tests.conftest import scratch_postgres_database
from tests.engines.fixture_events import fixture_batch

ENGINES = ["postgres", "duckdb-files", "clickhouse", "spark"]


@pytest.fixture(scope="session")
def reference_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEventStore]:
    store = DuckDBEventStore(tmp_path_factory.mktemp("reference") / "events.duckdb")
    store.append(fixture_batch())
    yield store
    store.close()


@pytest.fixture(scope="session")
def lake(reference_store: DuckDBEventStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    export_lake(reference_store, root)
    return root


@pytest.fixture(scope="session")
def spark_events(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkEvents]:
    _claim_the_runs_spark(tmp_path_factory)
    session = spark_session("local[2]", {"spark.driver.memory": "1g"})
    yield SparkEvents(session, lake_relations(lake, SPARK))
    session.stop()


def _claim_the_runs_spark(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fail when another worker of this run already started a Spark (two JVMs of 1 GB and
    their start-up on a 2-core machine): the ``spark`` xdist group has come apart."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        with (root / "spark-session-owner").open("x") as owner:
            owner.write(worker)
    except FileExistsError:
        first = (root / "spark-session-owner").read_text()
        if first != worker:
            pytest.fail(
                f"a second Spark session in this run ({worker}; {first} started one): every "
                "Spark test must be in xdist_group('spark') under --dist loadgroup"
            )


@pytest.fixture(scope="session")
def postgres_events(postgres_url: str) -> Iterator[PostgresEventStore]:
    with scratch_postgres_database(postgres_url, "ablab_engines") as url:
        store = PostgresEventStore(url)
        store.append(fixture_batch())
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("ANALYZE")
        yield store
        store.close()


@pytest.fixture
def engine(request: pytest.FixtureRequest, lake: Path) -> Iterator[EventReader]:
    """The engine named by the test's parameter, loaded with the fixture's events."""
    name = request.param
    if name == "postgres":
        yield request.getfixturevalue("postgres_events")
    elif name == "spark":
        yield request.getfixturevalue("spark_events")
    elif name == "clickhouse":
        yield ClickHouseEvents(clickhouse_runner("chdb"), lake_relations(lake, CLICKHOUSE))
    else:
        files = DuckDBFiles(lake_relations(lake, DUCKDB), folders=[lake])
        yield files
        files.close()


def engine_params() -> list[object]:
    """The engines, Spark's tests grouped on one xdist worker and PostgreSQL's marked."""
    marks = {
        "spark": [pytest.mark.xdist_group("spark")],
        "postgres": [pytest.mark.postgres],
    }
    return [pytest.param(name, marks=marks.get(name, []), id=name) for name in ENGINES]
