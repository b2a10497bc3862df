"""Cumulative time series of one metric, as changes per time bucket, in one pass.

The results at the end of bucket ``b`` are those of every event up to then, so each unit's
totals are cumulative. Their squares are not additive over time, but their changes are:
for a unit whose cumulative numerator goes from ``y0`` to ``y1`` in bucket ``b``, the
variant's sum of squares grows by ``y1**2 - y0**2``. A window over each unit's buckets
gives ``y0`` and ``y1``; summing the changes per variant and bucket, then adding them up in
time order, reproduces the sums an analysis at the end of each bucket would compute, while
touching each unit only in the buckets where it had events.
"""

from __future__ import annotations

from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind
from ablab.services.ports import MetricRequest
from ablab.store.events.model_metric_sql import MODEL_METRICS
from ablab.store.events.portable import bucket, latest_labels
from ablab.store.events.sql_parts import SCORE, SEEN_UNITS, Query

__all__ = ["TIMESERIES_COLUMNS", "timeseries_query"]

# Result columns after bucket and variant, in order: new units, then the changes of the
# sums of y, y*y, x, x*x, x*y.
TIMESERIES_COLUMNS = ("new_units", "y", "yy", "x", "xx", "xy")

# Per prediction: the numerator and denominator increments of each model metric.
_PREDICTION_PARTS = {**SCORE, "latency": "p.latency_ms", "predictions": "1"}


def _model_rows(metric: str, interval: str) -> tuple[str, str, str]:
    """Rows (unit, variant, bucket, a, b, h) of a model metric, and its y and x of (a, b, h)."""
    numerator, denominator = next((n, d) for name, n, d in MODEL_METRICS if name == metric)
    rows = f"""SELECT p.unit_id, p.variant, {bucket(interval, "p.ts")} AS bucket,
               {_PREDICTION_PARTS[numerator]} AS a, {_PREDICTION_PARTS[denominator]} AS b,
               0 AS h
        FROM predictions AS p
        LEFT JOIN latest_labels AS l ON l.prediction_id = p.prediction_id
        WHERE p.experiment_id = ? AND NOT p.shadow"""
    return rows, "{a}", "{b}"


def _custom_rows(metric: CustomMetric, interval: str) -> tuple[str, str, str]:
    """Rows of a custom metric: each unit's first sighting (nothing yet) and its events."""
    rows = f"""SELECT unit_id, variant, {bucket(interval, "first_ts")} AS bucket,
               0 AS a, 0 AS b, 0 AS h
        FROM seen
        UNION ALL
        SELECT s.unit_id, s.variant, {bucket(interval, "e.ts")} AS bucket,
               e.value AS a, 1 AS b, CASE WHEN e.value <> 0 THEN 1 ELSE 0 END AS h
        FROM seen AS s JOIN metrics AS e ON e.unit_id = s.unit_id
        WHERE e.project_id = ? AND e.name = ?
          AND (e.experiment_id = ? OR (e.experiment_id IS NULL AND e.ts >= s.first_ts))"""
    aggregate = {
        Aggregation.SUM: "{a}",
        Aggregation.MEAN: "{a}",
        Aggregation.COUNT: "{b}",
        Aggregation.ANY: "{h}",
    }[metric.aggregation]
    if metric.kind is MetricKind.PROPORTION:
        return rows, f"CASE WHEN {aggregate} > 0 THEN 1 ELSE 0 END", "1"
    if metric.aggregation is Aggregation.MEAN:
        return rows, "{a}", "{b}"
    return rows, aggregate, "1"


def timeseries_query(
    request: MetricRequest,
    metric: str | CustomMetric,
    interval: str,
) -> Query:
    """Per bucket and variant: new units and the changes of the metric's five sums."""
    params: list[object]
    if isinstance(metric, CustomMetric):
        rows, y, x = _custom_rows(metric, interval)
        prelude = f"seen AS ({SEEN_UNITS})"
        params = [request.experiment_id] * 2
        params += [request.project_id, metric.name, request.experiment_id]
    else:
        rows, y, x = _model_rows(metric, interval)
        prelude = f"latest_labels AS ({latest_labels()})"
        params = [request.project_id, request.experiment_id]

    def now(expression: str) -> str:
        return expression.format(a="ca", b="cb", h="ch")

    def before(expression: str) -> str:
        earlier = expression.format(a="(ca - a)", b="(cb - b)", h="ph")
        return f"CASE WHEN k = 1 THEN 0 ELSE {earlier} END"

    # Written out at each use: sqlglot cannot write a named WINDOW for BigQuery.
    unit_time = "(PARTITION BY unit_id, variant ORDER BY bucket ROWS UNBOUNDED PRECEDING)"
    sql = f"""WITH {prelude},
    unit_buckets AS (
        SELECT unit_id, variant, bucket, sum(a) AS a, sum(b) AS b, max(h) AS h
        FROM ({rows}) AS unit_rows GROUP BY unit_id, variant, bucket
    ),
    running AS (
        SELECT variant, bucket, a, b,
               row_number() OVER {unit_time} AS k,
               sum(a) OVER {unit_time} AS ca, sum(b) OVER {unit_time} AS cb,
               max(h) OVER {unit_time} AS ch,
               coalesce(max(h) OVER (PARTITION BY unit_id, variant ORDER BY bucket
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                   AS ph
        FROM unit_buckets
    ),
    valued AS (
        SELECT variant, bucket, k, {now(y)} AS y1, {now(x)} AS x1,
               {before(y)} AS y0, {before(x)} AS x0
        FROM running
    )
    SELECT bucket, variant, sum(CASE WHEN k = 1 THEN 1 ELSE 0 END) AS new_units,
           sum(y1 - y0) AS y, sum(y1 * y1 - y0 * y0) AS yy, sum(x1 - x0) AS x,
           sum(x1 * x1 - x0 * x0) AS xx, sum(x1 * y1 - x0 * y0) AS xy
    FROM valued GROUP BY bucket, variant ORDER BY bucket, variant"""
    return Query(sql, tuple(params))
