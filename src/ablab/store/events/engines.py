"""How each engine spells the portable analysis SQL's semantic hooks (see ``portable``).

sqlglot writes each engine's syntax; an :class:`Engine` adds what sqlglot cannot know: the
engine's exact percentile, its JSON access, its UTC time buckets, its never-failing number
cast, its code-point ordering of text, how it takes parameter values and what it must be
told for SQL's NULL-filling joins.

DuckDB, PostgreSQL, Spark and ClickHouse run in the test suite against one fixture
(tests/engines); BigQuery's and Snowflake's text is generated and held by snapshot tests
only: untested on a live warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

__all__ = [
    "BIGQUERY",
    "CLICKHOUSE",
    "DUCKDB",
    "ENGINES",
    "POSTGRES",
    "SNOWFLAKE",
    "SPARK",
    "Engine",
]


@dataclass(frozen=True, slots=True)
class Engine:
    """One engine's spelling of the hooks.

    Attributes:
        name: ablab's name of the engine.
        sqlglot: sqlglot's name of its dialect.
        p95, json_number, bytewise, instant: Templates of the hooks of those names, over
            ``{x}``.
        attribute: The attribute hook, given the JSON text's SQL and the key.
        bucket: The bucket hook, given ``minute``, ``hour`` or ``day`` and the time's SQL.
        timestamp: A template over ``{text}``, a quoted literal such as
            ``'2026-12-01 10:00:00.000000'``: that UTC instant as the engine's timestamp.
        marker: The driver's parameter marker, or None when values are written into the
            statement as literals.
        materialized_ctes: Whether ``WITH name AS MATERIALIZED (...)`` is understood.
        settings: Appended to every statement.
    """

    name: str
    sqlglot: str
    p95: str
    attribute: Callable[[str, str], str]
    bucket: Callable[[str, str], str]
    json_number: str
    bytewise: str
    timestamp: str
    instant: str
    marker: str | None
    materialized_ctes: bool = False
    settings: str = ""

    def string(self, text: str) -> str:
        """``text`` as a string literal of this engine (quotes and backslashes escaped)."""
        return _string(text, self.sqlglot)

    def identifier(self, name: str) -> str:
        """``name`` as a quoted identifier of this engine (its quote character doubled)."""
        return exp.to_identifier(name, quoted=True).sql(dialect=self.sqlglot)


def _string(text: str, dialect: str) -> str:
    return exp.Literal.string(text).sql(dialect=dialect)


def _quoted_path(key: str) -> str:
    return '$."' + key + '"'


DUCKDB = Engine(
    name="duckdb",
    instant="CAST({x} AS TIMESTAMPTZ)",
    sqlglot="duckdb",
    p95="quantile_cont({x}, 0.95)",
    attribute=lambda j, key: f"json_extract_string({j}, {_string(_quoted_path(key), 'duckdb')})",
    bucket=lambda i, t: f"date_trunc('{i}', {t} AT TIME ZONE 'UTC')",
    json_number="TRY_CAST({x} AS DOUBLE)",
    # DuckDB compares VARCHAR byte by byte; it has no collation named "C".
    bytewise="{x}",
    timestamp="CAST({text} || '+00' AS TIMESTAMPTZ)",
    marker="?",
    materialized_ctes=True,
)

POSTGRES = Engine(
    name="postgres",
    instant="CAST({x} AS TIMESTAMPTZ)",
    sqlglot="postgres",
    p95="percentile_cont(0.95) WITHIN GROUP (ORDER BY {x})",
    attribute=lambda j, key: f"({j}::jsonb ->> {_string(key, 'postgres')})",
    bucket=lambda i, t: f"date_trunc('{i}', {t} AT TIME ZONE 'UTC')",
    json_number=(
        # No question marks: psycopg would read them as parameter markers.
        "CASE WHEN {x} ~ '^-{{0,1}}[0-9]+([.][0-9]+){{0,1}}([eE][-+]{{0,1}}[0-9]+){{0,1}}$' "
        "THEN ({x})::double precision END"
    ),
    # The database's collation may order text by language (en_US puts 'a' before 'B'); "C"
    # orders by code point, as the other engines do, so all pick the same label on a tie.
    bytewise='{x} COLLATE "C"',
    timestamp="CAST({text} || '+00' AS TIMESTAMPTZ)",
    marker="%s",
    materialized_ctes=True,
)

SPARK = Engine(
    name="spark",
    instant="CAST({x} AS TIMESTAMP)",
    sqlglot="spark",
    # Spark's percentile is exact and interpolates (percentile_approx is the approximate one).
    p95="percentile({x}, 0.95)",
    attribute=lambda j, key: f"get_json_object({j}, {_string('$.' + key, 'spark')})",
    # The session runs in UTC (spark.sql.session.timeZone), so its timestamps are UTC.
    bucket=lambda i, t: f"date_trunc('{i.upper()}', {t})",
    json_number="try_cast({x} AS DOUBLE)",
    # Spark compares strings by their UTF-8 bytes: code point order.
    bytewise="{x}",
    timestamp="TIMESTAMP {text}",
    marker=None,
)


def _clickhouse_attribute(j: str, key: str) -> str:
    k = _string(key, "clickhouse")
    kind = f"JSONType({j}, {k})"
    # JSONExtractString gives '' for a missing key and for a non-string value; the raw text
    # of a number or a boolean is what the other engines give.
    return (
        f"multiIf(NOT JSONHas({j}, {k}) OR {kind} = 'Null', NULL, "
        f"{kind} = 'String', JSONExtractString({j}, {k}), JSONExtractRaw({j}, {k}))"
    )


_CLICKHOUSE_BUCKETS = {"minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toStartOfDay"}

CLICKHOUSE = Engine(
    name="clickhouse",
    instant="toDateTime64({x}, 6, 'UTC')",
    sqlglot="clickhouse",
    # Type 7 interpolation, like the others (quantileExact picks a rank without it).
    p95="quantileExactInclusive(0.95)({x})",
    attribute=_clickhouse_attribute,
    # toStartOf* give a DateTime, which leaves ClickHouse as seconds; as DateTime64 it is a
    # time (a timestamp in Arrow).
    bucket=lambda i, t: f"toDateTime64({_CLICKHOUSE_BUCKETS[i]}({t}, 'UTC'), 6, 'UTC')",
    json_number="toFloat64OrNull({x})",
    bytewise="{x}",
    timestamp="toDateTime64({text}, 6, 'UTC')",
    marker=None,
    # Without join_use_nulls a LEFT JOIN fills a missing row with the type's default ('' and
    # 0), not NULL: every prediction would count as labelled. use_hive_partitioning reads a
    # partition column from folder names (dt=2026-12-01), as DuckDB and Spark do.
    settings="SETTINGS join_use_nulls = 1, use_hive_partitioning = 1",
)

BIGQUERY = Engine(
    name="bigquery",
    instant="TIMESTAMP({x})",
    sqlglot="bigquery",
    # BigQuery's only exact percentile is the analytic PERCENTILE_CONT, over the group's values.
    p95="(SELECT ANY_VALUE(q) FROM (SELECT PERCENTILE_CONT(v, 0.95) OVER () AS q "
    "FROM UNNEST(ARRAY_AGG({x} IGNORE NULLS)) AS v))",
    attribute=lambda j, key: f"JSON_VALUE({j}, {_string(_quoted_path(key), 'bigquery')})",
    bucket=lambda i, t: f"TIMESTAMP_TRUNC({t}, {i.upper()}, 'UTC')",
    json_number="SAFE_CAST({x} AS FLOAT64)",
    bytewise="{x}",
    timestamp="TIMESTAMP({text}, 'UTC')",
    marker=None,
)

SNOWFLAKE = Engine(
    name="snowflake",
    instant="TO_TIMESTAMP_TZ({x})",
    sqlglot="snowflake",
    p95="PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY {x})",
    attribute=lambda j, key: f"GET(TRY_PARSE_JSON({j}), {_string(key, 'snowflake')})::VARCHAR",
    bucket=lambda i, t: f"DATE_TRUNC('{i.upper()}', CONVERT_TIMEZONE('UTC', {t}))",
    json_number="TRY_TO_DOUBLE({x})",
    bytewise="COLLATE({x}, 'utf8')",
    timestamp="CONVERT_TIMEZONE('UTC', TO_TIMESTAMP_TZ({text} || ' +00:00'))",
    marker=None,
)

ENGINES: dict[str, Engine] = {
    engine.name: engine for engine in (DUCKDB, POSTGRES, SPARK, CLICKHOUSE, BIGQUERY, SNOWFLAKE)
}
