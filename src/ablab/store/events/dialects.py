"""What the aggregate SQL needs that DuckDB and PostgreSQL spell differently.

The queries are written once, in ``metric_queries`` and ``timeseries_queries``; each
engine supplies these few fragments and its parameter marker.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DUCKDB", "LATEST_LABELS", "POSTGRES", "Dialect"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """SQL fragments of one engine.

    Attributes:
        p95: An aggregate of ``latency_ms``: its 95th percentile.
        attribute: An expression of the ``attributes`` JSON text taking one ``?``, the key
            (as given by :meth:`attribute_key`), and giving its value as text.
        first_by_time: A template with ``{value}`` and ``{time}``: the value on the row with
            the earliest time, over rows where the value is not null.
        utc_minute, utc_hour, utc_day: Templates with ``{time}``: the UTC minute, hour or day
            it falls in, as a timestamp without time zone.
        json_number: A template with ``{text}``: the JSON text as a double when it is a
            number, else null.
        bytewise: A template with ``{text}``: the text compared byte by byte (by code
            point), whatever the database's collation.
        marker: The engine driver's parameter marker.
    """

    p95: str
    attribute: str
    first_by_time: str
    utc_minute: str
    utc_hour: str
    utc_day: str
    json_number: str
    bytewise: str
    marker: str
    json_path: bool

    @property
    def latest_labels(self) -> str:
        """Selects ``prediction_id, verdict``: the latest label of each prediction of the
        project as a verdict (one ``?``: the project id); see :data:`LATEST_LABELS`."""
        return LATEST_LABELS.format(event_id=self.bytewise.format(text="event_id"))

    def attribute_key(self, key: str) -> str:
        """The parameter value that names attribute ``key`` in :attr:`attribute`."""
        return f'$."{key}"' if self.json_path else key

    def bucket(self, interval: str, time: str) -> str:
        template = {"minute": self.utc_minute, "hour": self.utc_hour}.get(interval, self.utc_day)
        return template.format(time=time)

    def finish(self, sql: str) -> str:
        """The query with the engine's parameter marker in place of ``?``."""
        return sql if self.marker == "?" else sql.replace("?", self.marker)


# A label's verdict as one short text: 'c1' or 'c0' for correct true or false, 'l' and the
# label's JSON text otherwise (compared with the prediction's output JSON when scored).
_VERDICT = (
    "CASE WHEN correct IS NOT NULL THEN CASE WHEN correct THEN 'c1' ELSE 'c0' END "
    "ELSE 'l' || label END"
)

# The latest label of each prediction, one rule on every engine: the greatest timestamp,
# then the latest arrival, then the greatest event id (``{event_id}``, compared byte by
# byte); event ids are unique within a project, so exactly one label wins. On DuckDB the
# full report of 20M predictions (bench/analysis.py, an idle 2-core machine) took 18.3 s
# with this window, 26.2 s with arg_max over a (ts, received_at, event_id) struct, which
# gives the same answer; DuckDB's former key, ts and arrival (in ms) packed into a HUGEINT
# with a hash of the id, took 14.8 s but broke ties unlike PostgreSQL's DISTINCT ON.
LATEST_LABELS = f"""SELECT prediction_id, verdict FROM (
            SELECT prediction_id, {_VERDICT} AS verdict,
                   row_number() OVER (
                       PARTITION BY prediction_id
                       ORDER BY ts DESC, received_at DESC, {{event_id}} DESC
                   ) AS recency
            FROM labels WHERE project_id = ?
        ) AS ranked WHERE recency = 1"""

DUCKDB = Dialect(
    p95="quantile_cont(latency_ms, 0.95)",
    attribute="json_extract_string(attributes, ?)",
    first_by_time="arg_min({value}, {time})",
    utc_minute="date_trunc('minute', {time} AT TIME ZONE 'UTC')",
    utc_hour="date_trunc('hour', {time} AT TIME ZONE 'UTC')",
    utc_day="date_trunc('day', {time} AT TIME ZONE 'UTC')",
    json_number="TRY_CAST({text} AS DOUBLE)",
    # DuckDB compares VARCHAR byte by byte; it has no collation named "C".
    bytewise="{text}",
    marker="?",
    json_path=True,
)

POSTGRES = Dialect(
    p95="percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)",
    attribute="(attributes::jsonb ->> ?)",
    first_by_time="(array_agg({value} ORDER BY {time}) FILTER (WHERE {value} IS NOT NULL))[1]",
    utc_minute="date_trunc('minute', {time} AT TIME ZONE 'UTC')",
    utc_hour="date_trunc('hour', {time} AT TIME ZONE 'UTC')",
    utc_day="date_trunc('day', {time} AT TIME ZONE 'UTC')",
    json_number=(
        # No question marks: they would be read as parameter markers.
        "CASE WHEN {text} ~ '^-{{0,1}}[0-9]+([.][0-9]+){{0,1}}([eE][-+]{{0,1}}[0-9]+){{0,1}}$' "
        "THEN ({text})::double precision END"
    ),
    # The database's collation may order text by language (en_US puts 'a' before 'B'); "C"
    # orders by code point, as DuckDB does, so both pick the same label on a tie.
    bytewise='{text} COLLATE "C"',
    marker="%s",
    json_path=False,
)
