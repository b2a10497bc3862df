"""A source's kept per-unit days give the answer of a full scan, and a refresh reads only
the days that may have changed.

The team's tables of ``test_external_sources`` (day partitions in ``dt``) are read through
``AnalysisEngines`` as a server reads a source: the model metrics summed from the kept
days, everything else from the tables. The fixture spans four days: the pre-window's,
and three of the experiment's (labels an hour or three after their predictions, some on
the next day).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

import pytest

from ablab.domain.sources import AnalysisSource, SourceTable
from ablab.services.ports import MetricRequest
from ablab.store.events import DuckDBEventStore
from ablab.store.warehouse.analysis_engines import AnalysisEngines
from tests.engines.fixture_events import LAUNCH, PRE_WINDOW, PRIOR, PROJECT
from tests.engines.test_external_sources import KINDS, RENAMED, team_tables
from tests.engines.test_same_answer import BASE, CUSTOM, assert_same, plain

__all__ = ["team_tables"]  # the fixture, shared with test_external_sources

FIRST_DAY = PRE_WINDOW[0].date() - timedelta(days=1)
REQUESTS = {
    "model metrics": BASE,
    "custom metrics": CUSTOM,
    "segments": dataclasses.replace(CUSTOM, segment="region"),
    "cuped pre-window": dataclasses.replace(
        CUSTOM, pre_window=PRE_WINDOW, prior_experiment_ids=(PRIOR, "none")
    ),
    "weight periods": dataclasses.replace(
        BASE, period_boundaries=(LAUNCH + timedelta(hours=20), LAUNCH + timedelta(hours=50))
    ),
    "a rollout step's window": dataclasses.replace(
        BASE, since=LAUNCH + timedelta(hours=30), until=LAUNCH + timedelta(hours=60)
    ),
}
ENGINES = [
    pytest.param("duckdb", id="duckdb-files"),
    pytest.param("clickhouse", id="clickhouse"),
    pytest.param("spark", id="spark", marks=pytest.mark.xdist_group("spark")),
]


def source_of(root: Path, engine: str, late_days: int = 7) -> AnalysisSource:
    tables = {
        KINDS[table]: SourceTable(
            path=str(root / table), columns=names, partition="dt", late_days=late_days
        )
        for table, names in RENAMED.items()
    }
    return AnalysisSource("src_team", PROJECT, "team", engine, tables, LAUNCH)


@pytest.fixture
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> AnalysisEngines:
    """The operator's engines reading the team's folder (and the copies made here)."""
    if request.param == "spark":
        request.getfixturevalue("spark_events")  # the run's one session, found by getOrCreate
    found = AnalysisEngines(
        [tmp_path, request.getfixturevalue("team_tables")],
        spark_master="local[2]",
        clickhouse="chdb",
        unit_days_dir=tmp_path / "kept",
    )
    found.engine_name = request.param  # type: ignore[attr-defined]
    return found


def ask(engines: AnalysisEngines, source: AnalysisSource, request: MetricRequest) -> object:
    found = engines.answer(
        source, {}, ("metric_sums", request), lambda r: r.metric_sums(request), FIRST_DAY,
        kept=request,
    )  # fmt: skip
    return plain(found)


def copy_days(
    team: Path, target: Path, keep: Callable[[date], bool], tables: Iterable[str] = RENAMED
) -> None:
    """The team's ``tables`` under ``target``, with the day partitions ``keep(day)`` allows."""
    for table in tables:
        for day_folder in sorted((team / table).glob("dt=*")):
            day = date.fromisoformat(day_folder.name.removeprefix("dt="))
            if keep(day):
                shutil.copytree(day_folder, target / table / day_folder.name, dirs_exist_ok=True)


@pytest.mark.parametrize("engines", ENGINES, indirect=True)
@pytest.mark.parametrize("question", list(REQUESTS))
def test_the_kept_days_give_the_full_scans_answer(
    engines: AnalysisEngines,
    team_tables: Path,
    question: str,
    reference_store: DuckDBEventStore,
) -> None:
    request = REQUESTS[question]
    source = source_of(team_tables, engines.engine_name)  # type: ignore[attr-defined]
    first = ask(engines, source, request)
    assert_same(first, plain(reference_store.metric_sums(request)))
    # Again, from the kept days: the last seven read anew, the answer unchanged.
    assert_same(ask(engines, source, request), first)


@pytest.mark.parametrize("engines", ENGINES, indirect=True)
def test_a_refresh_reads_the_new_days_and_the_late_ones_only(
    engines: AnalysisEngines,
    team_tables: Path,
    tmp_path: Path,
    reference_store: DuckDBEventStore,
) -> None:
    request = REQUESTS["cuped pre-window"]
    root = tmp_path / "team"
    source = source_of(root, engines.engine_name, late_days=1)  # type: ignore[attr-defined]
    copy_days(team_tables, root, lambda day: day <= LAUNCH.date())
    before = engines.refresh_kept(source, {}, request, FIRST_DAY)
    assert before.read_from == FIRST_DAY
    assert before.through == LAUNCH.date()

    copy_days(team_tables, root, lambda day: day > LAUNCH.date())
    after = engines.refresh_kept(source, {}, request, FIRST_DAY)
    # The day before the last kept is read again (late_days 1), the days before it are not.
    assert after.read_from == LAUNCH.date() - timedelta(days=1)
    assert after.through is not None
    assert after.through > LAUNCH.date()
    assert_same(ask(engines, source, request), plain(reference_store.metric_sums(request)))


@pytest.mark.parametrize("engines", [ENGINES[0]], indirect=True)
def test_a_label_later_than_late_days_counts_after_a_full_refresh(
    engines: AnalysisEngines,
    team_tables: Path,
    tmp_path: Path,
    reference_store: DuckDBEventStore,
) -> None:
    root = tmp_path / "team"
    source = source_of(root, "duckdb", late_days=0)
    reference = plain(reference_store.metric_sums(BASE))
    # Every event but the labels of the days after launch day, which arrive later.
    copy_days(team_tables, root, lambda day: True, tables=("exposures", "predictions", "metrics"))
    copy_days(team_tables, root, lambda day: day <= LAUNCH.date(), tables=("labels",))
    assert ask(engines, source, BASE) != reference

    copy_days(team_tables, root, lambda day: day > LAUNCH.date(), tables=("labels",))
    engines.forget(source)  # the answers: the next read refreshes the last day kept only
    assert ask(engines, source, BASE) != reference
    engines.forget(source, kept=True)  # every day
    assert_same(ask(engines, source, BASE), reference)
