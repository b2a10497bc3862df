"""What the aggregate SQL needs that DuckDB and PostgreSQL spell differently.

The queries are written once, in ``metric_queries`` and ``timeseries_queries``; each
engine supplies these few fragments and its parameter marker.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DUCKDB", "POSTGRES", "Dialect"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """SQL fragments of one engine.

    Attributes:
        latest_labels: Selects ``prediction_id, verdict``: the latest label of each
            prediction of the project as a verdict (one ``?``: the project id).
        p95: An aggregate of ``latency_ms``: its 95th percentile.
        attribute: An expression of the ``attributes`` JSON text taking one ``?``, the key
            (as given by :meth:`attribute_key`), and giving its value as text.
        first_by_time: A template with ``{value}`` and ``{time}``: the value on the row with
            the earliest time, over rows where the value is not null.
        utc_minute, utc_hour, utc_day: Templates with ``{time}``: the UTC minute, hour or day
            it falls in, as a timestamp without time zone.
        json_number: A template with ``{text}``: the JSON text as a double when it is a
            number, else null.
        marker: The engine driver's parameter marker.
    """

    latest_labels: str
    p95: str
    attribute: str
    first_by_time: str
    utc_minute: str
    utc_hour: str
    utc_day: str
    json_number: str
    marker: str
    json_path: bool

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

# DuckDB: arg_max is a hash aggregation, where DISTINCT ON ... ORDER BY sorted every label
# (8x slower on 10M labels). The latest label wins by timestamp, then by arrival, then by
# a hash of its event id, packed into one integer: a tuple key cost a third more time.
DUCKDB = Dialect(
    latest_labels=f"""SELECT prediction_id, arg_max({_VERDICT},
            (epoch_us(ts)::HUGEINT << 64) + (epoch_ms(received_at)::HUGEINT << 20)
            + (hash(event_id) % 1048576)::HUGEINT) AS verdict
        FROM labels WHERE project_id = ? GROUP BY prediction_id""",
    p95="quantile_cont(latency_ms, 0.95)",
    attribute="json_extract_string(attributes, ?)",
    first_by_time="arg_min({value}, {time})",
    utc_minute="date_trunc('minute', {time} AT TIME ZONE 'UTC')",
    utc_hour="date_trunc('hour', {time} AT TIME ZONE 'UTC')",
    utc_day="date_trunc('day', {time} AT TIME ZONE 'UTC')",
    json_number="TRY_CAST({text} AS DOUBLE)",
    marker="?",
    json_path=True,
)

# PostgreSQL: DISTINCT ON is its idiom for the latest row per key.
POSTGRES = Dialect(
    latest_labels=f"""SELECT DISTINCT ON (prediction_id) prediction_id, {_VERDICT} AS verdict
    FROM labels WHERE project_id = ?
    ORDER BY prediction_id, ts DESC, received_at DESC, event_id DESC""",
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
    marker="%s",
    json_path=False,
)
