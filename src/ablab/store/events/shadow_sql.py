"""Paired sums of a shadow experiment: each mirrored answer beside the served one.

A shadow copy carries the served prediction's id, so one join pairs them; per treatment
the query sums what the shadow report needs: agreements, absolute and squared differences
of numeric answers, both latencies and their paired differences, both error counts, and
accuracy against the latest label where a label is a value (a ``correct`` flag judges the
served answer only).
"""

from __future__ import annotations

from ablab.store.events.portable import json_number, latest_labels
from ablab.store.events.sql_parts import Query

__all__ = ["SHADOW_COLUMNS", "shadow_query"]

SHADOW_COLUMNS = (
    "pairs", "answered", "agreements", "numeric", "abs_diff", "abs_diff_sq",
    "served_latency", "served_latency_sq", "shadow_latency", "shadow_latency_sq",
    "latency_diff", "latency_diff_sq", "served_errors", "shadow_errors",
    "valued_labels", "served_correct", "shadow_correct",
)  # fmt: skip


def shadow_query(project_id: str, experiment_id: str) -> Query:
    # No result column is named after a column it sums: ClickHouse would read the name as
    # the alias (sum(x) AS x, then sum(x * x) sums a sum).
    sql = f"""
    WITH latest_labels AS ({latest_labels()}),
    served AS (
        SELECT prediction_id, latency_ms, error, output FROM predictions
        WHERE experiment_id = ? AND NOT shadow
    ),
    pairs AS (
        SELECT m.variant, s.latency_ms AS served_ms, m.latency_ms AS shadow_ms,
               s.error AS served_error, m.error AS shadow_error,
               s.output AS served_output, m.output AS shadow_output,
               {json_number("s.output")} AS served_number,
               {json_number("m.output")} AS shadow_number,
               l.verdict
        FROM predictions AS m
        JOIN served AS s ON s.prediction_id = m.prediction_id
        LEFT JOIN latest_labels AS l ON l.prediction_id = m.prediction_id
        WHERE m.experiment_id = ? AND m.shadow
    ),
    scored AS (
        SELECT *, NOT served_error AND NOT shadow_error AS answered_both,
               served_number - shadow_number AS difference
        FROM pairs
    )
    SELECT variant, count(*) AS pairs,
           sum(CASE WHEN answered_both THEN 1 ELSE 0 END) AS answered,
           sum(CASE WHEN answered_both AND served_output = shadow_output THEN 1 ELSE 0 END)
               AS agreements,
           sum(CASE WHEN answered_both AND difference IS NOT NULL THEN 1 ELSE 0 END) AS numeric,
           sum(CASE WHEN answered_both THEN abs(difference) END) AS abs_diff,
           sum(CASE WHEN answered_both THEN difference * difference END) AS abs_diff_sq,
           sum(served_ms) AS served_latency,
           sum(served_ms * served_ms) AS served_latency_sq,
           sum(shadow_ms) AS shadow_latency,
           sum(shadow_ms * shadow_ms) AS shadow_latency_sq,
           sum(shadow_ms - served_ms) AS latency_diff,
           sum((shadow_ms - served_ms) * (shadow_ms - served_ms)) AS latency_diff_sq,
           sum(CASE WHEN served_error THEN 1 ELSE 0 END) AS served_errors,
           sum(CASE WHEN shadow_error THEN 1 ELSE 0 END) AS shadow_errors,
           sum(CASE WHEN left(verdict, 1) = 'l' THEN 1 ELSE 0 END) AS valued_labels,
           sum(CASE WHEN verdict = 'l' || served_output THEN 1 ELSE 0 END) AS served_correct,
           sum(CASE WHEN verdict = 'l' || shadow_output THEN 1 ELSE 0 END) AS shadow_correct
    FROM scored GROUP BY variant ORDER BY variant"""
    return Query(sql, (project_id, experiment_id, experiment_id))
