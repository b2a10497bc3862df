"""The event store's bounds from the ``ABLAB_*`` settings: DuckDB's memory limit and threads,
the PostgreSQL pool's size; a memory limit DuckDB would not read is refused at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pydantic
import pytest

from ablab.settings import Settings
from ablab.store.events import DuckDBEventStore, PostgresEventStore
from ablab.store.events.duckdb_settings import DEFAULT_MEMORY_LIMIT
from ablab.store.open import open_events
from tests.conftest import scratch_postgres_database

ABLAB = Path(sys.executable).with_name("ablab")


def duckdb_setting(store: DuckDBEventStore, name: str) -> str:
    cursor = store._cursor()
    try:
        found = cursor.execute("SELECT current_setting(?)", [name]).fetchall()
    finally:
        cursor.close()
    return str(found[0][0])


def test_the_default_memory_limit_is_the_stores_own() -> None:
    assert Settings().duckdb_memory_limit == DEFAULT_MEMORY_LIMIT
    assert Settings().duckdb_threads is None
    assert Settings().events_pool_size == 10


def test_duckdb_gets_the_memory_limit_and_threads_of_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABLAB_DUCKDB_MEMORY_LIMIT", "512MiB")
    monkeypatch.setenv("ABLAB_DUCKDB_THREADS", "1")
    store = open_events(Settings(home=tmp_path))
    try:
        assert isinstance(store, DuckDBEventStore)
        assert duckdb_setting(store, "memory_limit") == "512.0 MiB"
        assert duckdb_setting(store, "threads") == "1"
    finally:
        store.close()


@pytest.mark.parametrize("given", ["8GiB", "512 MB", "1.5gb", "50%", " 2TB "])
def test_memory_limits_duckdb_reads_are_accepted(tmp_path: Path, given: str) -> None:
    settings = Settings(home=tmp_path, duckdb_memory_limit=given)
    store = open_events(settings)  # DuckDB reads it too
    store.close()
    assert settings.duckdb_memory_limit == given.strip()


@pytest.mark.parametrize("given", ["4XB", "4", "lots", "0GB", "-1GB", "150%", "4 G", ""])
def test_a_memory_limit_duckdb_would_not_read_is_refused_by_name(given: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="duckdb_memory_limit"):
        Settings(duckdb_memory_limit=given)


@pytest.mark.parametrize(("name", "value"), [("duckdb_threads", 0), ("events_pool_size", 0)])
def test_thread_and_pool_counts_are_positive(name: str, value: int) -> None:
    with pytest.raises(pydantic.ValidationError, match=name):
        Settings(**{name: value})  # type: ignore[arg-type]


def test_serve_refuses_a_bad_memory_limit_at_start_up_with_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env.update(ABLAB_HOME=str(tmp_path / "home"), ABLAB_DUCKDB_MEMORY_LIMIT="4 gigs")
    done = subprocess.run(
        [str(ABLAB), "serve", "--port", "1"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "error: ABLAB_DUCKDB_MEMORY_LIMIT: '4 gigs' is not a memory size" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists()  # refused before anything opened


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    with scratch_postgres_database(postgres_url, "ablab_pool_size") as url:
        yield url


@pytest.mark.postgres
def test_the_postgres_event_pool_has_the_size_of_the_settings(
    tmp_path: Path, database: str
) -> None:
    store = open_events(
        Settings(home=tmp_path, events_url=database, events_pool_size=3)  # type: ignore[arg-type]
    )
    try:
        assert isinstance(store, PostgresEventStore)
        assert store._pool.max_size == 3
    finally:
        store.close()
