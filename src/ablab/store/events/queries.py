"""Aggregate SQL over the event tables, pushed down to the engine.

Two stages, one pass: predictions (with the latest label of each, shadow copies left out)
are summed per unit, then per variant into the sums the delta method needs, so only a few
numbers per variant leave the database. The text runs unchanged on DuckDB and PostgreSQL;
the two differences, the latest label and the quantile, are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ablab.services.ports import ModelMetricSums
from ablab.stats import RatioMoments

__all__ = [
    "LATEST_LABELS_DUCKDB",
    "LATEST_LABELS_POSTGRES",
    "MODEL_METRICS_SQL",
    "model_metric_sums",
    "units_by_period",
    "units_by_period_sql",
]

# The latest label of each prediction (latest timestamp, then latest received, then event
# id). DuckDB: arg_max is a hash aggregation, where DISTINCT ON ... ORDER BY sorted every
# label (8x slower on 10M labels). PostgreSQL: DISTINCT ON is its idiom for this.
LATEST_LABELS_DUCKDB = """SELECT prediction_id, latest.correct AS correct, latest.label AS label
    FROM (
        SELECT prediction_id,
               arg_max({'correct': correct, 'label': label}, (ts, received_at, event_id))
                   AS latest
        FROM labels WHERE project_id = ? GROUP BY prediction_id
    ) AS grouped"""
LATEST_LABELS_POSTGRES = """SELECT DISTINCT ON (prediction_id) prediction_id, correct, label
    FROM labels WHERE project_id = ?
    ORDER BY prediction_id, ts DESC, received_at DESC, event_id DESC"""

# Parameters: the project id, then the experiment id twice. Format with latest_labels and
# p95. Labels name only a prediction id, which clients choose: the project keeps one
# tenant's labels off another's predictions.
MODEL_METRICS_SQL = """
WITH latest_labels AS (
    {latest_labels}
),
scored AS (
    SELECT p.unit_id, p.variant, p.latency_ms,
           CASE WHEN p.error THEN 1 ELSE 0 END AS errors,
           CASE WHEN l.prediction_id IS NULL THEN 0 ELSE 1 END AS labelled,
           CASE WHEN l.correct IS NOT NULL THEN CASE WHEN l.correct THEN 1 ELSE 0 END
                WHEN l.label IS NOT NULL AND l.label = p.output THEN 1
                ELSE 0 END AS correct
    FROM predictions AS p
    LEFT JOIN latest_labels AS l ON l.prediction_id = p.prediction_id
    WHERE p.experiment_id = ? AND NOT p.shadow
),
units AS (
    SELECT unit_id, variant, count(*) AS predictions, sum(latency_ms) AS latency,
           sum(errors) AS errors, sum(labelled) AS labelled, sum(correct) AS correct
    FROM scored GROUP BY unit_id, variant
)
SELECT u.variant, count(*) AS units, sum(predictions),
       sum(correct), sum(correct * correct), sum(labelled), sum(labelled * labelled),
       sum(correct * labelled),
       sum(latency), sum(latency * latency), sum(predictions * predictions),
       sum(latency * predictions),
       sum(errors), sum(errors * errors), sum(errors * predictions),
       max(q.p95)
FROM units AS u
LEFT JOIN (
    SELECT variant, {p95} AS p95 FROM predictions
    WHERE experiment_id = ? AND NOT shadow GROUP BY variant
) AS q ON q.variant = u.variant
GROUP BY u.variant
"""

# Parameters: the experiment id, twice, then the period boundaries in the CASE. A unit's
# period is that of its first event as the server received it: the same clock as the audit
# log's weight changes, whatever the devices' clocks say.
UNITS_BY_PERIOD_SQL = """
WITH first_seen AS (
    SELECT unit_id, variant, min(received_at) AS first_ts FROM (
        SELECT unit_id, variant, received_at FROM exposures WHERE experiment_id = ?
        UNION ALL
        SELECT unit_id, variant, received_at FROM predictions
        WHERE experiment_id = ? AND NOT shadow
    ) AS seen
    GROUP BY unit_id, variant
)
SELECT {period} AS period, variant, count(*) FROM first_seen GROUP BY 1, 2
"""


def units_by_period_sql(boundaries: int) -> str:
    """UNITS_BY_PERIOD_SQL with a period index for ``boundaries`` change times."""
    if boundaries == 0:
        return UNITS_BY_PERIOD_SQL.format(period="0")
    cases = " ".join(f"WHEN first_ts < ? THEN {i}" for i in range(boundaries))
    return UNITS_BY_PERIOD_SQL.format(period=f"CASE {cases} ELSE {boundaries} END")


def units_by_period(rows: Sequence[Sequence[object]], boundaries: int) -> list[dict[str, int]]:
    """Rows of UNITS_BY_PERIOD_SQL as one ``{variant: units}`` per period."""
    periods: list[dict[str, int]] = [{} for _ in range(boundaries + 1)]
    for period, variant, count in rows:
        periods[int(_number(period))][str(variant)] = int(_number(count))
    return periods


def _number(value: object) -> float:
    """A sum as a float: DuckDB gives int or float, PostgreSQL Decimal for integer sums."""
    if not isinstance(value, int | float | Decimal):
        raise TypeError(f"expected a number from the event store, got {value!r}")
    return float(value)


def model_metric_sums(row: Sequence[object]) -> tuple[str, ModelMetricSums]:
    """One result row of MODEL_METRICS_SQL as a variant's sums (the only reader of its columns)."""
    variant, units, predictions, p95 = row[0], row[1], row[2], row[15]
    (correct, correct_sq, labelled, labelled_sq, correct_labelled, latency, latency_sq,
     predictions_sq, latency_predictions, errors, errors_sq, errors_predictions) = (
        _number(value) for value in row[3:15]
    )  # fmt: skip
    n, count = int(_number(units)), _number(predictions)
    return str(variant), ModelMetricSums(
        units=n,
        predictions=int(count),
        accuracy=RatioMoments(n, correct, correct_sq, labelled, labelled_sq, correct_labelled),
        latency_ms=RatioMoments(n, latency, latency_sq, count, predictions_sq, latency_predictions),
        error_rate=RatioMoments(n, errors, errors_sq, count, predictions_sq, errors_predictions),
        latency_p95_ms=None if p95 is None else _number(p95),
    )
