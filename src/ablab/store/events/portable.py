"""The portable subset the analysis SQL is written in, and its semantic hooks.

Every aggregate statement (``model_metric_sql``, ``custom_metric_sql``,
``window_metric_sql``, ``timeseries_sql``, ``shadow_sql``) is written once, in DuckDB's
syntax kept to what sqlglot renders faithfully for every engine: plain joins, CASE,
``count(*) FILTER (WHERE ...)``, ``row_number()`` and running sums over windows, ``VALUES``
tables, ``||`` and ``?`` parameter markers. ``render`` parses it and writes each engine's
syntax.

Where engines give the same words different meanings, sqlglot cannot know, so the text
calls a hook instead, a function named ``ablab_*`` that ``render`` replaces by the engine's
own spelling (``engines``). These are the places a transpiler silently changes an answer:

- ``ablab_p95(x)``: the exact 95th percentile of ``x``, interpolated between the two
  nearest ranks (type 7 of Hyndman and Fan, 1996); never an approximate quantile.
- ``ablab_attribute(json_text, 'key')``: the value of a top-level key of a JSON object as
  text (a string unquoted, another value as its JSON text); NULL when the key is missing
  or its value is JSON null.
- ``ablab_bucket('minute' | 'hour' | 'day', time)``: the start of the UTC minute, hour or
  day ``time`` falls in.
- ``ablab_json_number(text)``: JSON text as a double when it is a JSON number, else NULL
  (never an error).
- ``ablab_bytewise(text)``: text that orders by code point, whatever the collation.
- ``ablab_instant(x)``: ``x`` (a time, or its ISO text) as an instant with microseconds
  (sqlglot writes ClickHouse's DateTime, whole seconds, for a timestamp).

Joins keep SQL's meaning (a missing row on the right is NULL); the ClickHouse engine turns
on the setting that makes it so.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = [
    "BUCKETS",
    "HOOKS",
    "attribute",
    "bucket",
    "bytewise",
    "instant",
    "json_number",
    "latest_labels",
    "p95",
]

BUCKETS = ("minute", "hour", "day")
HOOKS = (
    "ablab_p95",
    "ablab_attribute",
    "ablab_bucket",
    "ablab_json_number",
    "ablab_bytewise",
    "ablab_instant",
)


def p95(column: str) -> str:
    return f"ablab_p95({column})"


def attribute(json_text: str, key: str) -> str:
    """The attribute ``key`` of the JSON object text ``json_text``, as text."""
    return f"ablab_attribute({json_text}, {exp.Literal.string(key).sql('duckdb')})"


def bucket(interval: str, time: str) -> str:
    """The start of the UTC ``interval`` (a day for anything but minute or hour)."""
    return f"ablab_bucket('{interval if interval in BUCKETS else 'day'}', {time})"


def json_number(text: str) -> str:
    return f"ablab_json_number({text})"


def bytewise(text: str) -> str:
    return f"ablab_bytewise({text})"


def instant(value: str) -> str:
    return f"ablab_instant({value})"


# A label's verdict as one short text: 'c1' or 'c0' for correct true or false, 'l' and the
# label's JSON text otherwise (compared with the prediction's output JSON when scored).
_VERDICT = (
    "CASE WHEN correct IS NOT NULL THEN CASE WHEN correct THEN 'c1' ELSE 'c0' END "
    "ELSE 'l' || label END"
)


def latest_labels() -> str:
    """Selects ``prediction_id, verdict``: the latest label of each prediction of the project
    as a verdict (one ``?``: the project id).

    One rule on every engine: the greatest timestamp, then the latest arrival, then the
    greatest event id compared byte by byte; event ids are unique within a project, so
    exactly one label wins. DuckDB's former key (timestamp and arrival packed into a
    HUGEINT with a hash of the id) broke ties unlike PostgreSQL's ``DISTINCT ON``. On DuckDB
    the full report of 20M predictions (bench/analysis.py, an idle 2-core machine) took
    18.3 s with this window and 26.2 s with ``arg_max`` over a (ts, received_at, event_id)
    struct, which gives the same answer.
    """
    return f"""SELECT prediction_id, verdict FROM (
            SELECT prediction_id, {_VERDICT} AS verdict,
                   row_number() OVER (
                       PARTITION BY prediction_id
                       ORDER BY ts DESC, received_at DESC, {bytewise("event_id")} DESC
                   ) AS recency
            FROM labels WHERE project_id = ?
        ) AS ranked WHERE recency = 1"""
