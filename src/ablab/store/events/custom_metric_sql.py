"""Custom metrics of an analysis in one statement, pushed down to the engine.

One pass over the project's metric events of the requested names, joined with the
experiment's units (first seen through an exposure or a prediction), gives every custom
metric at once, per unit and then per variant (and segment). Every unit counts: one
without events is a 0 (or, for a ``mean``, a unit with no events). A unit's events count
from its first sighting on; events that name the experiment count whenever they happened.
With CUPED, events of the same name in the pre-window that do not name this experiment
are the unit's covariate.
"""

from __future__ import annotations

from collections.abc import Sequence

from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind
from ablab.services.ports import MetricRequest
from ablab.store.events.sql_parts import (
    Parts,
    Query,
    covariate_cte,
    in_list,
    seen_units,
    segment_cte,
    sums,
    time_window,
)

__all__ = ["custom_metrics_query", "custom_value", "definitions_table"]


def definitions_table(metrics: Sequence[CustomMetric]) -> tuple[str, list[object]]:
    """``d(name, aggregation, proportion)``: one row per metric, and its parameters."""
    rows = ", ".join("(?, ?, ?)" for _ in metrics)
    params: list[object] = []
    for metric in metrics:
        params.extend((metric.name, metric.aggregation.value, metric.kind is MetricKind.PROPORTION))
    return f"SELECT * FROM (VALUES {rows}) AS d(name, aggregation, proportion)", params


def custom_value(total: str, events: str, hit: str) -> tuple[str, str]:
    """A unit's numerator and denominator from its event total, count and any-hit.

    The aggregation and kind come from the definitions row ``d`` (see
    :mod:`ablab.domain.metrics`).
    """
    # One type for every branch: ClickHouse finds none for a double, a count and a flag.
    total, events, hit = (f"CAST({x} AS DOUBLE)" for x in (total, events, hit))
    aggregate = (
        f"CASE d.aggregation WHEN '{Aggregation.SUM.value}' THEN {total} "
        f"WHEN '{Aggregation.COUNT.value}' THEN {events} "
        f"WHEN '{Aggregation.ANY.value}' THEN {hit} ELSE {total} END"
    )
    numerator = (
        f"CASE WHEN d.proportion THEN CASE WHEN {aggregate} > 0 THEN 1 ELSE 0 END "
        f"ELSE {aggregate} END"
    )
    denominator = (
        f"CASE WHEN d.aggregation = '{Aggregation.MEAN.value}' AND NOT d.proportion "
        f"THEN {events} ELSE 1 END"
    )
    return numerator, denominator


def custom_metrics_query(request: MetricRequest) -> Query:
    """Per variant (and segment) and custom metric: the metric's sums over every unit."""
    metrics = request.custom
    parts = Parts()
    seen, seen_params = seen_units(request)
    parts.cte("seen", seen, *seen_params)
    definitions, definition_params = definitions_table(metrics)
    parts.cte("definitions", definitions, *definition_params)
    parts.cte(
        "named_events",
        f"""SELECT unit_id, name, experiment_id, ts, value FROM metrics
        WHERE project_id = ? AND name IN ({in_list(len(metrics))})""",
        request.project_id,
        *(m.name for m in metrics),
    )
    window, bounds = time_window(request, "e.ts")
    in_window = f"""((e.experiment_id = ? OR (e.experiment_id IS NULL AND e.ts >= s.first_ts))
                    {window})"""
    window_params: list[object] = [request.experiment_id, *bounds] * 3
    pre = request.covariate is None and request.pre_window is not None
    pre_columns = ""
    if pre:
        assert request.pre_window is not None
        before = "(e.ts >= ? AND e.ts < ? AND (e.experiment_id IS NULL OR e.experiment_id <> ?))"
        pre_columns = f""",
            coalesce(sum(e.value) FILTER (WHERE {before}), 0) AS pre_total,
            count(e.value) FILTER (WHERE {before}) AS pre_events,
            coalesce(max(CASE WHEN e.value <> 0 THEN 1 ELSE 0 END)
                     FILTER (WHERE {before}), 0) AS pre_hit"""
        window_params += [*request.pre_window, request.experiment_id] * 3
    parts.cte(
        "per_unit",
        f"""SELECT s.unit_id, s.variant, d.name, d.aggregation, d.proportion,
            coalesce(sum(e.value) FILTER (WHERE {in_window}), 0) AS total,
            count(e.value) FILTER (WHERE {in_window}) AS events,
            coalesce(max(CASE WHEN e.value <> 0 THEN 1 ELSE 0 END)
                     FILTER (WHERE {in_window}), 0) AS hit{pre_columns}
        FROM seen AS s CROSS JOIN definitions AS d
        LEFT JOIN named_events AS e ON e.unit_id = s.unit_id AND e.name = d.name
        GROUP BY s.unit_id, s.variant, d.name, d.aggregation, d.proportion""",
        *window_params,
    )
    y, x = custom_value("d.total", "d.events", "d.hit")
    u: str | None
    v: str | None
    if pre:
        u, v = custom_value("d.pre_total", "d.pre_events", "d.pre_hit")
    elif request.covariate is not None:
        covariate_cte(parts, request)
        u, v = "coalesce(c.value, 0)", "1"
    else:
        u, v = None, None
    if request.segment is not None:
        segment_cte(parts, request)
    segment = "coalesce(s.segment, '(none)')" if request.segment is not None else "NULL"
    joins = ""
    if request.covariate is not None:
        joins += " LEFT JOIN covariates AS c ON c.unit_id = d.unit_id"
    if request.segment is not None:
        joins += " LEFT JOIN segments AS s ON s.unit_id = d.unit_id"
    columns = [
        f"d.variant AS variant, {segment} AS segment, d.name AS metric, count(*) AS units",
        *sums("m", y, x, u, v),
    ]
    group = "d.variant, 2, d.name" if request.segment is not None else "d.variant, d.name"
    return parts.query(f"SELECT {', '.join(columns)} FROM per_unit AS d{joins} GROUP BY {group}")
