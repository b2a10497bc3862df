"""Every analysis statement gives DuckDB's answer on every engine, to 1e-9.

One fixture (``fixture_events``) on PostgreSQL, DuckDB over a Parquet lake, embedded
ClickHouse and Spark, against ablab's own DuckDB store: plain sums, custom metrics,
segments, the CUPED pre-window and an explicit covariate, weight periods, a time window,
sums by window, shadow pairs and time series.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ablab.services.ports import EventReader, MetricRequest
from ablab.store.events import DuckDBEventStore, PostgresEventStore
from ablab.store.events.engines import DUCKDB
from ablab.store.warehouse import DuckDBFiles, lake_relations
from ablab.store.warehouse.lake_export import export_lake
from tests.engines.conftest import engine_params
from tests.engines.fixture_events import (
    EXPERIMENT,
    LAUNCH,
    PRE_WINDOW,
    PRIOR,
    PROJECT,
    custom_metrics,
)

BASE = MetricRequest(PROJECT, EXPERIMENT)
CUSTOM = dataclasses.replace(BASE, custom=custom_metrics())

Question = Callable[[EventReader], object]

QUESTIONS: dict[str, Question] = {
    "model metrics": lambda e: e.metric_sums(BASE),
    "custom metrics": lambda e: e.metric_sums(CUSTOM),
    "segments": lambda e: e.metric_sums(dataclasses.replace(CUSTOM, segment="region")),
    "cuped pre-window": lambda e: e.metric_sums(
        dataclasses.replace(CUSTOM, pre_window=PRE_WINDOW, prior_experiment_ids=(PRIOR, "none"))
    ),
    "explicit covariate": lambda e: e.metric_sums(dataclasses.replace(CUSTOM, covariate="revenue")),
    "weight periods": lambda e: e.metric_sums(
        dataclasses.replace(
            BASE,
            period_boundaries=(LAUNCH + timedelta(hours=20), LAUNCH + timedelta(hours=50)),
        )
    ),
    "time window": lambda e: e.metric_sums(
        dataclasses.replace(
            CUSTOM, since=LAUNCH + timedelta(hours=12), until=LAUNCH + timedelta(hours=40)
        )
    ),
    "sums by window": lambda e: e.metric_sums_by_window(
        CUSTOM, [LAUNCH + timedelta(hours=h) for h in (0, 24, 36, 72)]
    ),
    "shadow pairs": lambda e: e.shadow_sums(PROJECT, EXPERIMENT),
    "accuracy by hour": lambda e: e.metric_timeseries(BASE, "accuracy", "hour"),
    "latency by day": lambda e: e.metric_timeseries(BASE, "latency_ms", "day"),
    "custom metric by day": lambda e: e.metric_timeseries(CUSTOM, "basket", "day"),
}


def plain(value: object) -> object:
    """A result as nested lists and dicts, its rows in a stable order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = [plain(item) for item in value]
        if isinstance(value, list):
            items.sort(key=repr)
        return items
    return value


def assert_same(ours: object, reference: object, path: str = "") -> None:
    """Equal structure; numbers equal to 1e-9 (relative, or absolute near zero)."""
    if isinstance(reference, float | int) and not isinstance(reference, bool):
        assert isinstance(ours, float | int), f"{path}: {ours!r} is not a number"
        assert math.isclose(ours, reference, rel_tol=1e-9, abs_tol=1e-9), (
            f"{path}: {ours!r} != {reference!r}"
        )
    elif isinstance(reference, dict):
        assert isinstance(ours, dict), f"{path}: {ours!r} is not a mapping"
        assert ours.keys() == reference.keys(), (
            f"{path}: keys {sorted(ours)} != {sorted(reference)}"
        )
        for key in reference:
            assert_same(ours[key], reference[key], f"{path}.{key}")
    elif isinstance(reference, list):
        assert isinstance(ours, list), f"{path}: {ours!r} is not a list"
        assert len(ours) == len(reference), f"{path}: {len(ours)} items, not {len(reference)}"
        for i, (mine, theirs) in enumerate(zip(ours, reference, strict=True)):
            assert_same(mine, theirs, f"{path}[{i}]")
    else:
        assert ours == reference, f"{path}: {ours!r} != {reference!r}"


@pytest.mark.parametrize("engine", engine_params(), indirect=True)
@pytest.mark.parametrize("question", list(QUESTIONS))
def test_every_engine_gives_duckdbs_answer(
    engine: EventReader, question: str, reference_store: DuckDBEventStore
) -> None:
    ask = QUESTIONS[question]
    reference = plain(ask(reference_store))
    assert reference, "the fixture gives this question an answer"
    assert_same(plain(ask(engine)), reference)


@pytest.mark.postgres
def test_a_lake_exported_from_postgresql_gives_the_same_answer(
    postgres_events: PostgresEventStore,
    reference_store: DuckDBEventStore,
    tmp_path: Path,
) -> None:
    export_lake(postgres_events, tmp_path / "lake")
    files = DuckDBFiles(lake_relations(tmp_path / "lake", DUCKDB), folders=[tmp_path / "lake"])
    try:
        for question in ("custom metrics", "shadow pairs", "accuracy by hour"):
            ask = QUESTIONS[question]
            assert_same(plain(ask(files)), plain(ask(reference_store)))
    finally:
        files.close()
