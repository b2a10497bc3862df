"""Pieces every aggregate query shares: the statement builder, the sums, common CTEs.

Each metric is a per-unit numerator ``y`` and denominator ``x`` with a covariate numerator
``u`` and denominator ``v``; :data:`SUM_COLUMNS` are the 14 sums of those, named
``{metric}__{sum}`` in a result, and :mod:`.rows` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ablab.services.ports import MetricRequest
from ablab.store.events.portable import attribute, bytewise

__all__ = [
    "SCORE",
    "SEEN_UNITS",
    "SUM_COLUMNS",
    "Parts",
    "Query",
    "aliases",
    "covariate_cte",
    "in_list",
    "seen_units",
    "segment_cte",
    "sums",
    "time_window",
]

# The 14 sums a metric needs, as (column suffix, SQL over y, x, u, v). The covariate sums
# are left out of the SQL (and read as 0) when there is no covariate.
SUM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("y", "{y}"),
    ("yy", "{y} * {y}"),
    ("x", "{x}"),
    ("xx", "{x} * {x}"),
    ("xy", "{x} * {y}"),
    ("u", "{u}"),
    ("uu", "{u} * {u}"),
    ("v", "{v}"),
    ("vv", "{v} * {v}"),
    ("uv", "{u} * {v}"),
    ("yu", "{y} * {u}"),
    ("yv", "{y} * {v}"),
    ("xu", "{x} * {u}"),
    ("xv", "{x} * {v}"),
)
_PLAIN_SUMS = 5

# A prediction ``p`` against the latest label ``l`` of its id (a verdict from the
# latest_labels): correct when the label says so, or when the label's JSON text
# equals the output's.
SCORE = {
    "labelled": "CASE WHEN l.prediction_id IS NULL THEN 0 ELSE 1 END",
    "correct": "CASE WHEN l.verdict = 'c1' OR l.verdict = 'l' || p.output THEN 1 ELSE 0 END",
    "errors": "CASE WHEN p.error THEN 1 ELSE 0 END",
}

# Each unit of the experiment with its variant and the (event) time it was first seen.
SEEN_UNITS = """SELECT unit_id, variant, min(ts) AS first_ts FROM (
            SELECT unit_id, variant, ts FROM exposures WHERE experiment_id = ?
            UNION ALL
            SELECT unit_id, variant, ts FROM predictions WHERE experiment_id = ? AND NOT shadow
        ) AS seen_events GROUP BY unit_id, variant"""


def time_window(request: MetricRequest, column: str = "ts") -> tuple[str, list[object]]:
    """`` AND column >= ? AND column < ?`` for the request's window, and its parameters."""
    sql, params = "", list[object]()
    if request.since is not None:
        sql += f" AND {column} >= ?"
        params.append(request.since)
    if request.until is not None:
        sql += f" AND {column} < ?"
        params.append(request.until)
    return sql, params


def seen_units(request: MetricRequest) -> tuple[str, list[object]]:
    """:data:`SEEN_UNITS` within the request's time window, and its parameters."""
    window, params = time_window(request)
    sql = f"""SELECT unit_id, variant, min(ts) AS first_ts FROM (
            SELECT unit_id, variant, ts FROM exposures WHERE experiment_id = ?{window}
            UNION ALL
            SELECT unit_id, variant, ts FROM predictions
            WHERE experiment_id = ? AND NOT shadow{window}
        ) AS seen_events GROUP BY unit_id, variant"""
    return sql, [request.experiment_id, *params, request.experiment_id, *params]


@dataclass(frozen=True, slots=True)
class Query:
    sql: str
    params: tuple[object, ...]


class Parts:
    """WITH clauses and their parameters, kept in the order they appear in the text."""

    def __init__(self) -> None:
        self.ctes: list[tuple[str, str]] = []
        self.params: list[object] = []

    def cte(self, name: str, sql: str, *params: object, materialized: bool = False) -> None:
        """Add ``name AS (sql)``; ``materialized`` computes it once for several readers."""
        self.ctes.append((f"{name} AS MATERIALIZED" if materialized else f"{name} AS", sql))
        self.params.extend(params)

    def query(self, select: str, *params: object) -> Query:
        text = "WITH " + ",\n".join(f"{head} ({sql})" for head, sql in self.ctes)
        return Query(f"{text}\n{select}", (*self.params, *params))


def sums(metric: str, y: str, x: str, u: str | None, v: str | None) -> list[str]:
    """The sum columns of one metric (the five plain ones without a covariate)."""
    columns = SUM_COLUMNS if u is not None else SUM_COLUMNS[:_PLAIN_SUMS]
    return [
        f"sum({expression.format(y=y, x=x, u=u, v=v)}) AS {metric}__{suffix}"
        for suffix, expression in columns
    ]


def aliases(columns: list[str], table: str) -> list[str]:
    """``table.name AS name`` for each ``... AS name`` of ``columns``.

    A result names its columns this way, never with ``table.*``: after a join, ClickHouse
    names the columns of ``n.*`` ``n.variant`` and so on.
    """
    names = [column.rsplit(" AS ", 1)[1] for column in columns]
    return [f"{table}.{name} AS {name}" for name in names]


def in_list(count: int) -> str:
    return ", ".join("?" * count)


def segment_cte(parts: Parts, request: MetricRequest) -> None:
    """``segments``: each unit's segment attribute, from its first exposure that has it.

    Two exposures of the same time with different values give the smaller value (by code
    point), on every engine.
    """
    assert request.segment is not None
    value = attribute("attributes", request.segment)
    parts.cte(
        "segments",
        f"""SELECT unit_id, segment FROM (
            SELECT unit_id, {value} AS segment,
                   row_number() OVER (
                       PARTITION BY unit_id ORDER BY ts, {bytewise(value)}
                   ) AS rank_in_unit
            FROM exposures WHERE experiment_id = ? AND {value} IS NOT NULL
        ) AS ranked WHERE rank_in_unit = 1""",
        request.experiment_id,
    )


def covariate_cte(parts: Parts, request: MetricRequest) -> None:
    """``covariates``: each unit's mean value of the explicit covariate's metric events."""
    parts.cte(
        "covariates",
        """SELECT unit_id, avg(value) AS value FROM metrics
        WHERE project_id = ? AND name = ? GROUP BY unit_id""",
        request.project_id,
        request.covariate,
    )
