"""``render``: the portable statement as each engine's text, its values bound or written in.

BigQuery's and Snowflake's text is held by snapshots (``snapshots/``): no warehouse runs
here, so a change of what they are sent is seen in review. ``ABLAB_UPDATE_SNAPSHOTS=1``
writes them anew.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import sqlglot

from ablab.store.events.custom_metric_sql import custom_metrics_query
from ablab.store.events.engines import BIGQUERY, CLICKHOUSE, DUCKDB, ENGINES, POSTGRES, SPARK
from ablab.store.events.model_metric_sql import model_metrics_query
from ablab.store.events.render import literal, render
from ablab.store.events.shadow_sql import shadow_query
from ablab.store.events.sql_parts import Query
from ablab.store.events.timeseries_sql import timeseries_query
from ablab.store.events.window_metric_sql import window_model_metrics_query
from tests.engines.fixture_events import LAUNCH, PRE_WINDOW, PRIOR
from tests.engines.test_same_answer import BASE, CUSTOM

SNAPSHOTS = Path(__file__).parent / "snapshots"

STATEMENTS: dict[str, Query] = {
    "model_metrics": model_metrics_query(
        dataclasses.replace(
            BASE, segment="region", pre_window=PRE_WINDOW, prior_experiment_ids=(PRIOR,)
        )
    ),
    "custom_metrics": custom_metrics_query(dataclasses.replace(CUSTOM, covariate="revenue")),
    "window_metrics": window_model_metrics_query(
        BASE, [LAUNCH, LAUNCH + timedelta(days=1), LAUNCH + timedelta(days=2)]
    ),
    "shadow": shadow_query("p", "e"),
    "timeseries": timeseries_query(BASE, "accuracy", "hour"),
}


def test_a_question_mark_inside_a_string_stays_and_values_follow_the_written_order() -> None:
    sql, params = render("SELECT '?' AS mark, ? AS a, ? AS b", ["first", 2], DUCKDB)
    assert duckdb.execute(sql, list(params)).fetchall() == [("?", "first", 2)]
    sql, params = render("SELECT '?' AS mark, ? AS a, ? AS b", ["first", 2], POSTGRES)
    assert sql.count("%s") == 2
    assert params == ("first", 2)


def test_values_written_in_are_escaped_for_the_engine() -> None:
    hostile = "it's a \\' trap --"
    sql, params = render("SELECT ? AS text", [hostile], SPARK)
    assert params == ()
    parsed = sqlglot.parse_one(sql, read="spark")
    assert parsed.find(sqlglot.exp.Literal).this == hostile  # type: ignore[union-attr]
    sql, _ = render("SELECT ? AS text", [hostile], CLICKHOUSE)
    assert sqlglot.parse_one(sql, read="clickhouse").find(sqlglot.exp.Literal).this == hostile  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (datetime(2026, 1, 1), ValueError),  # no time zone: which instant is unknown
        (object(), TypeError),
    ],
)
def test_values_without_a_literal_are_refused(value: object, problem: type[Exception]) -> None:
    with pytest.raises(problem):
        literal(value, SPARK)


def test_a_time_in_another_zone_is_written_as_its_utc_instant() -> None:
    plus_two = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    local = plus_two.astimezone(ZoneInfo("Europe/Berlin"))
    assert literal(local, SPARK) == literal(plus_two, SPARK)
    assert "2026-01-01 02:00:00.000000" in literal(local, CLICKHOUSE)


def test_a_hook_with_an_unknown_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="minute"):
        render("SELECT ablab_bucket('week', ts) FROM predictions", [], SPARK)


def test_relations_stand_in_for_event_tables_but_not_for_ctes() -> None:
    sql, _ = render(
        "WITH labels AS (SELECT 1 AS x) SELECT * FROM labels, predictions AS p",
        [],
        DUCKDB,
        {"labels": "read_parquet('l')", "predictions": "read_parquet('p')"},
    )
    assert "read_parquet('p') AS p" in sql
    assert "read_parquet('l')" not in sql


@pytest.mark.parametrize("engine", [BIGQUERY.name, "snowflake"])
@pytest.mark.parametrize("statement", list(STATEMENTS))
def test_generated_warehouse_sql_matches_its_snapshot(engine: str, statement: str) -> None:
    query = STATEMENTS[statement]
    sql, params = render(query.sql, query.params, ENGINES[engine])
    assert params == ()
    assert "ablab_" not in sql.lower().replace("ablab_test", "")  # every hook and value spelled
    dialect = ENGINES[engine].sqlglot
    # Well-formed for its dialect, and kept laid out, one clause a line, for review.
    shown = sqlglot.parse_one(sql, read=dialect).sql(dialect=dialect, pretty=True) + "\n"
    path = SNAPSHOTS / f"{statement}.{engine}.sql"
    if os.environ.get("ABLAB_UPDATE_SNAPSHOTS") == "1":
        path.write_text(shown)
    assert path.exists(), f"no snapshot {path.name}: run with ABLAB_UPDATE_SNAPSHOTS=1"
    assert shown == path.read_text()
