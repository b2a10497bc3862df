"""``ablab events export``: the event store's days as a Parquet lake every engine reads."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from ablab.store.events import EVENTS_FILE, DuckDBEventStore
from ablab.store.events.engines import DUCKDB
from ablab.store.warehouse import DuckDBFiles, lake_relations
from ablab.store.warehouse.lake_export import land_recent
from tests.cli.conftest import Run
from tests.engines.fixture_events import LAUNCH, fixture_batch
from tests.engines.test_same_answer import CUSTOM, assert_same, plain


def _stored(home: Path) -> None:
    store = DuckDBEventStore(home / EVENTS_FILE)
    try:
        store.append(fixture_batch())
    finally:
        store.close()


def _rows(folder: Path) -> int:
    return sum(pq.read_metadata(path).num_rows for path in folder.glob("day=*/*.parquet"))


def test_the_lake_gives_the_stores_answer_and_a_second_export_replaces_days(
    run: Run, home: Path, tmp_path: Path
) -> None:
    _stored(home)
    lake = tmp_path / "lake"
    result = run("events", "export", str(lake), "--output", "json")
    assert result.code == 0, result.stderr
    answer = json.loads(result.stdout)
    total = sum(answer["rows"].values())
    assert answer["rows"]["predictions"] == _rows(lake / "predictions") > 0
    assert answer["days"]["predictions"] == len(list((lake / "predictions").glob("day=*")))

    again = run("events", "export", str(lake), "--since", str(LAUNCH.date()), "--output", "json")
    assert again.code == 0, again.stderr
    assert sum(_rows(lake / table) for table in answer["rows"]) == total  # nothing twice

    store = DuckDBEventStore(home / EVENTS_FILE)
    files = DuckDBFiles(lake_relations(lake, DUCKDB), folders=[lake])
    try:
        assert_same(plain(files.metric_sums(CUSTOM)), plain(store.metric_sums(CUSTOM)))
    finally:
        files.close()
        store.close()


def test_an_empty_store_still_gives_every_table_with_its_columns(
    run: Run, home: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    assert run("events", "export", str(lake)).code == 0
    for table in ("exposures", "predictions", "labels", "metrics"):
        (only,) = (lake / table).glob("day=*/*.parquet")
        assert pq.read_metadata(only).num_rows == 0
        assert "event_id" in pq.read_schema(only).names


def test_landing_rewrites_yesterday_and_today_only(home: Path, tmp_path: Path) -> None:
    _stored(home)
    store = DuckDBEventStore(home / EVENTS_FILE)
    try:
        landed = land_recent(store, tmp_path / "lake", today=LAUNCH.date() + timedelta(days=1))
    finally:
        store.close()
    days = sorted(p.name for p in (tmp_path / "lake" / "predictions").glob("day=*"))
    assert days == [f"day={LAUNCH.date()}", f"day={LAUNCH.date() + timedelta(days=1)}"]
    assert landed.days["predictions"] == 2


def test_malformed_days_and_a_server_url_are_refused_in_one_line(run: Run, tmp_path: Path) -> None:
    for args, words in [
        (("--since", "2026-13-01"), "--since must be a day"),
        (("--since", "2026-12-02", "--until", str(date(2026, 12, 1))), "is not after"),
    ]:
        result = run("events", "export", str(tmp_path / "lake"), *args)
        assert result.code == 2
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    remote = run("--url", "http://127.0.0.1:9", "events", "export", str(tmp_path / "lake"))
    assert remote.code == 2
    assert "where the server runs" in remote.stderr
