"""The model metrics of an analysis in one statement, pushed down to the engine.

One pass over the non-shadow predictions, joined once with the latest label of each,
sums them per unit and then per variant (and segment) into the sums the delta method and
CUPED need, so only a few numbers per variant leave the database:

- the experiment's predictions give accuracy (correct / labelled), latency and error rate
  (per prediction) of each unit;
- with CUPED, the predictions of the project's earlier experiments in the pre-window,
  scored against the same labels and summed per unit, are each unit's covariate; an
  explicit covariate comes from metric events instead;
- the per-unit totals also give each unit's first arrival, which with the exposures counts
  the units first seen in each weight period (for the SRM check), without a second scan.

The per-unit totals add up across days, so they can also be kept: :func:`unit_days_query`
gives them per unit and UTC day of the prediction (``is_prior`` 1 for CUPED's pre-window,
0 for the experiment), and ``model_metrics_query(request, kept=True)`` sums a relation
``unit_days`` of those rows instead of scoring every prediction (a source's kept days:
``store.warehouse.unit_days``). Everything else (exposures, segments, covariates, the exact
p95) is read from the events either way.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from ablab.services.ports import MetricRequest
from ablab.store.events.portable import bucket, latest_labels, p95
from ablab.store.events.sql_parts import (
    SCORE,
    Parts,
    Query,
    aliases,
    covariate_cte,
    in_list,
    segment_cte,
    sums,
    time_window,
)

__all__ = [
    "MODEL_METRICS",
    "SCORED",
    "UNIT_DAY_COLUMNS",
    "UNIT_TOTALS",
    "model_metrics_query",
    "period_columns",
    "reads_prior",
    "unit_days_query",
]

# The built-in model metrics as (name, numerator, denominator) over a unit's totals.
MODEL_METRICS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "correct", "labelled"),
    ("latency_ms", "latency", "predictions"),
    ("error_rate", "errors", "predictions"),
)

# The columns and source of each prediction scored against its latest label (a ``scored``
# row), after ``SELECT``; a WHERE clause on ``p`` follows.
SCORED_COLUMNS = f"""p.unit_id, p.received_at, p.latency_ms, {SCORE["errors"]} AS errors,
               {SCORE["labelled"]} AS labelled, {SCORE["correct"]} AS correct"""
SCORED_JOIN = "LEFT JOIN latest_labels AS l ON l.prediction_id = p.prediction_id"
SCORED = f"""{SCORED_COLUMNS}
        FROM predictions AS p
        {SCORED_JOIN}"""

# Each unit's totals over its scored rows: what MODEL_METRICS are ratios of.
UNIT_TOTALS = """count(*) AS predictions, sum(latency_ms) AS latency, sum(errors) AS errors,
               sum(labelled) AS labelled, sum(correct) AS correct,
               min(received_at) AS first_received"""


# A kept row: a unit's totals over its scored predictions of one UTC day (``unit_days``).
UNIT_DAY_COLUMNS = (
    "is_prior",
    "day",
    "unit_id",
    "variant",
    "predictions",
    "latency",
    "errors",
    "labelled",
    "correct",
    "first_received",
)
# Kept days summed back into each unit's totals (a sum of the days' sums, the least first).
_KEPT_TOTALS = """sum(predictions) AS predictions, sum(latency) AS latency,
               sum(errors) AS errors, sum(labelled) AS labelled, sum(correct) AS correct,
               min(first_received) AS first_received"""
_PREDICTION_COLUMNS = "unit_id, prediction_id, ts, received_at, latency_ms, error, output"


def reads_prior(request: MetricRequest) -> bool:
    """Whether CUPED's covariate is each metric's own value in the pre-window (from the
    earlier experiments' predictions), rather than an explicit covariate or none."""
    return (
        request.covariate is None
        and request.pre_window is not None
        and bool(request.prior_experiment_ids)
    )


def period_columns(boundaries: int) -> list[str]:
    """Units first seen in each period, for ``boundaries`` change times (one ``?`` each)."""
    if boundaries == 0:
        return ["count(*) AS period_0"]
    columns = ["count(*) FILTER (WHERE first_received < ?) AS period_0"]
    for i in range(1, boundaries):
        columns.append(
            f"count(*) FILTER (WHERE first_received >= ? AND first_received < ?) AS period_{i}"
        )
    columns.append(f"count(*) FILTER (WHERE first_received >= ?) AS period_{boundaries}")
    return columns


def _period_params(request: MetricRequest) -> list[object]:
    bounds = list(request.period_boundaries)
    if not bounds:
        return []
    middle = [edge for pair in pairwise(bounds) for edge in pair]
    return [bounds[0], *middle, bounds[-1]]


def model_metrics_query(request: MetricRequest, *, kept: bool = False) -> Query:
    """Per variant (and segment): units by period, predictions, p95 and the metrics' sums;
    ``kept`` sums the per-unit totals from the relation ``unit_days`` (rows of
    :func:`unit_days_query` for the same request) instead of scoring the predictions."""
    parts = Parts()
    prior = reads_prior(request)
    window, bounds = time_window(request, "p.ts")
    if kept:
        parts.cte(
            "units",
            f"""SELECT unit_id, variant, {_KEPT_TOTALS} FROM unit_days
            WHERE is_prior = 0 GROUP BY unit_id, variant""",
        )
        if prior:
            parts.cte(
                "prior",
                f"""SELECT unit_id, {_KEPT_TOTALS} FROM unit_days
                WHERE is_prior = 1 GROUP BY unit_id""",
            )
    elif prior:
        parts.cte("latest_labels", latest_labels(), request.project_id)
        _units_with_prior(parts, request)
    else:
        parts.cte("latest_labels", latest_labels(), request.project_id)
        parts.cte(
            "units",
            f"""SELECT unit_id, variant, {UNIT_TOTALS} FROM (
            SELECT p.variant AS variant, {SCORED}
            WHERE p.experiment_id = ? AND NOT p.shadow{window}
        ) AS scored GROUP BY unit_id, variant""",
            request.experiment_id,
            *bounds,
        )
    if request.covariate is not None:
        covariate_cte(parts, request)
    if request.segment is not None:
        segment_cte(parts, request)
    segmented = request.segment is not None
    segment = "coalesce(s.segment, '(none)')" if segmented else "NULL"
    by_segment = " LEFT JOIN segments AS s ON s.unit_id = {alias}.unit_id" if segmented else ""
    group = "1, 2" if segmented else "1"

    columns = ["u.variant AS sums_variant", f"{segment} AS sums_segment", "count(*) AS units"]
    columns.append("sum(u.predictions) AS predictions")
    columns.append("count(*) FILTER (WHERE u.labelled > 0) AS units_with_labels")
    u: str | None
    v: str | None
    for name, numerator, denominator in MODEL_METRICS:
        if prior:
            u, v = f"coalesce(c.{numerator}, 0)", f"coalesce(c.{denominator}, 0)"
        elif request.covariate is not None:
            u, v = "coalesce(c.value, 0)", "1"
        else:
            u, v = None, None
        columns.extend(sums(name, f"u.{numerator}", f"u.{denominator}", u, v))
    joins = by_segment.format(alias="u")
    if prior:
        joins += " LEFT JOIN prior AS c ON c.unit_id = u.unit_id"
    elif request.covariate is not None:
        joins += " LEFT JOIN covariates AS c ON c.unit_id = u.unit_id"
    parts.cte("sums", f"SELECT {', '.join(columns)} FROM units AS u{joins} GROUP BY {group}")

    exposure_window, _ = time_window(request)
    parts.cte(
        "seen",
        f"""SELECT unit_id, variant, min(first_received) AS first_received FROM (
            SELECT unit_id, variant, received_at AS first_received FROM exposures
            WHERE experiment_id = ?{exposure_window}
            UNION ALL
            SELECT unit_id, variant, first_received FROM units
        ) AS sightings GROUP BY unit_id, variant""",
        request.experiment_id,
        *bounds,
    )
    periods = ["n.variant AS variant", f"{segment} AS segment"]
    periods += period_columns(len(request.period_boundaries))
    parts.cte(
        "periods",
        f"""SELECT {", ".join(periods)}
        FROM seen AS n{by_segment.format(alias="n")} GROUP BY {group}""",
        *_period_params(request),
    )
    # The quantile needs the predictions themselves, not the per-unit totals.
    parts.cte(
        "quantiles",
        f"""SELECT p.variant AS variant, {segment} AS segment, {p95("p.latency_ms")} AS p95
        FROM predictions AS p{by_segment.format(alias="p")}
        WHERE p.experiment_id = ? AND NOT p.shadow{window} GROUP BY {group}""",
        request.experiment_id,
        *bounds,
    )
    # Unsegmented, both segments are NULL; coalesce makes them equal on every engine (some
    # take no OR in a join's condition).
    same = "{v} = n.variant AND coalesce({s}, '') = coalesce(n.segment, '')"
    return parts.query(
        f"""SELECT {", ".join(aliases(periods, "n") + aliases(columns, "sums"))},
            q.p95 AS latency_p95_ms FROM periods AS n
        LEFT JOIN sums ON {same.format(v="sums.sums_variant", s="sums.sums_segment")}
        LEFT JOIN quantiles AS q ON {same.format(v="q.variant", s="q.segment")}""",
    )


def _units_with_prior(parts: Parts, request: MetricRequest) -> None:
    """``units`` and ``prior`` (CUPED's pre-period totals per unit) from one label join.

    The experiment's predictions and the earlier experiments' in the pre-window are scanned
    separately (one filter with an OR made DuckDB build the join's hash table on the
    predictions instead of the labels) and tagged, then scored against ``latest_labels``
    in a single join and summed per tag and unit: the latest labels are ranked and hashed
    once, not once per reader, and never materialised (only the per-unit totals are). At
    20M predictions (bench/analysis.py, DuckDB's profile) joining each reader on its own
    built a hash table of every latest label twice, 17 of the statement's 49 CPU seconds
    (one join now: 6), and kept the materialised labels in memory through both: the
    buffer peak went from 4.0 GB (the memory limit) to 2.5 GB, and at 100M predictions the
    report from 227 s to 143 s beside the raw query with the label join's 94-101 s.
    """
    assert request.pre_window is not None
    window, bounds = time_window(request)
    columns = "unit_id, prediction_id, received_at, latency_ms, error, output"
    parts.cte(
        "totals",
        f"""SELECT is_prior, unit_id, variant, {UNIT_TOTALS} FROM (
            SELECT p.is_prior, p.variant, {SCORED_COLUMNS}
            FROM (
                SELECT 0 AS is_prior, variant, {columns} FROM predictions
                WHERE experiment_id = ? AND NOT shadow{window}
                UNION ALL
                SELECT 1 AS is_prior, NULL AS variant, {columns} FROM predictions
                WHERE experiment_id IN ({in_list(len(request.prior_experiment_ids))})
                  AND NOT shadow AND ts >= ? AND ts < ?
            ) AS p
            {SCORED_JOIN}
        ) AS scored GROUP BY is_prior, unit_id, variant""",
        request.experiment_id,
        *bounds,
        *request.prior_experiment_ids,
        *request.pre_window,
        # Read by both: computed once (a row per unit and tag, not per prediction).
        materialized=True,
    )
    totals = "predictions, latency, errors, labelled, correct, first_received"
    parts.cte("units", f"SELECT unit_id, variant, {totals} FROM totals WHERE is_prior = 0")
    parts.cte("prior", f"SELECT unit_id, {totals} FROM totals WHERE is_prior = 1")


def unit_days_query(request: MetricRequest, start: datetime) -> Query:
    """The rows a source keeps for ``request`` (:data:`UNIT_DAY_COLUMNS`): each unit's
    totals per UTC day (``day``, the day's start) of its predictions from ``start`` on.

    The same predictions and the same label join as :func:`model_metrics_query`, grouped by
    day as well, so summing the days of a unit gives its totals exactly: a refresh reads
    only the days from ``start`` on and keeps the rest. A label counts when it is read with
    its prediction's day, so a refresh starts early enough to meet the late ones.
    """
    parts = Parts()
    parts.cte("latest_labels", latest_labels(), request.project_id)
    window, bounds = time_window(request)
    arms = [
        f"""SELECT 0 AS is_prior, variant, {_PREDICTION_COLUMNS} FROM predictions
        WHERE experiment_id = ? AND NOT shadow{window} AND ts >= ?"""
    ]
    params: list[object] = [request.experiment_id, *bounds, start]
    if reads_prior(request):
        assert request.pre_window is not None
        arms.append(
            f"""SELECT 1 AS is_prior, NULL AS variant, {_PREDICTION_COLUMNS} FROM predictions
            WHERE experiment_id IN ({in_list(len(request.prior_experiment_ids))})
              AND NOT shadow AND ts >= ? AND ts < ? AND ts >= ?"""
        )
        params += [*request.prior_experiment_ids, *request.pre_window, start]
    return parts.query(
        f"""SELECT is_prior, day, unit_id, variant, {UNIT_TOTALS} FROM (
            SELECT p.is_prior AS is_prior, p.variant AS variant,
                   {bucket("day", "p.ts")} AS day, {SCORED_COLUMNS}
            FROM ({" UNION ALL ".join(arms)}) AS p
            {SCORED_JOIN}
        ) AS scored GROUP BY is_prior, day, unit_id, variant""",
        *params,
    )
