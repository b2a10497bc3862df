"""The analysis reads every event store answers the same way, over its own connection.

``AggregateQueries`` builds the portable SQL (``model_metric_sql``, ``custom_metric_sql``,
``window_metric_sql``, ``timeseries_sql``, ``shadow_sql``), renders it for its
:class:`~ablab.store.events.engines.Engine` (``render``), runs it through ``_fetch`` and
reads the rows (``rows``). The engines differ only in what ``render`` writes for them.

A reader whose relations include ``unit_days`` (a source's kept per-unit days,
``store.warehouse.unit_days``) sums those for the model metrics instead of scoring every
prediction against its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import pyarrow as pa

from ablab.services.ports import MetricRequest, ShadowSums, TimeBucket, VariantSums
from ablab.stats import RatioCovariateMoments
from ablab.store.events.custom_metric_sql import custom_metrics_query
from ablab.store.events.engines import Engine
from ablab.store.events.model_metric_sql import (
    MODEL_METRICS,
    UNIT_DAY_COLUMNS,
    model_metrics_query,
    unit_days_query,
)
from ablab.store.events.render import render
from ablab.store.events.rows import (
    by_window,
    read_custom_metrics,
    read_model_metrics,
    read_shadow,
    read_timeseries,
)
from ablab.store.events.shadow_sql import shadow_query
from ablab.store.events.sql_parts import Query
from ablab.store.events.timeseries_sql import timeseries_query
from ablab.store.events.window_metric_sql import (
    window_custom_metrics_query,
    window_model_metrics_query,
)

__all__ = ["AggregateQueries"]


class AggregateQueries:
    """The read side of an event store; subclasses supply ``engine`` and ``_fetch``, and may
    map event tables to other relations (``relations``, see :func:`.render`)."""

    engine: Engine
    relations: dict[str, str] | None = None

    def _fetch(
        self, sql: str, params: Sequence[object]
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        """Run one read-only query of the engine: its column names and rows."""
        raise NotImplementedError

    def _fetch_arrow(self, sql: str, params: Sequence[object]) -> pa.Table:
        """Run one read-only query of the engine: its result as Arrow (the rows, unless the
        engine gives Arrow itself)."""
        names, rows = self._fetch(sql, params)
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def _run(self, query: Query) -> tuple[list[str], list[tuple[object, ...]]]:
        return self._fetch(*render(query.sql, query.params, self.engine, self.relations))

    def unit_days(self, request: MetricRequest, start: datetime) -> pa.Table:
        """Each unit's totals per UTC day of its predictions from ``start`` on
        (``model_metric_sql.unit_days_query``), as Arrow, to be kept."""
        query = unit_days_query(request, start)
        found = self._fetch_arrow(*render(query.sql, query.params, self.engine, self.relations))
        return found.select(list(UNIT_DAY_COLUMNS))

    def metric_sums(self, request: MetricRequest) -> list[VariantSums]:
        query = model_metrics_query(request, kept="unit_days" in (self.relations or {}))
        found = read_model_metrics(*self._run(query), len(request.period_boundaries))
        if not request.custom:
            return found
        query = custom_metrics_query(request)
        return _with_custom(found, read_custom_metrics(*self._run(query)))

    def metric_sums_by_window(
        self, request: MetricRequest, edges: Sequence[datetime]
    ) -> list[list[VariantSums]]:
        windows = len(edges) - 1
        query = window_model_metrics_query(request, edges)
        names, rows = self._run(query)
        found = [read_model_metrics(names, part, 0) for part in by_window(names, rows, windows)]
        if not request.custom:
            return found
        query = window_custom_metrics_query(request, edges)
        names, rows = self._run(query)
        custom = [read_custom_metrics(names, part) for part in by_window(names, rows, windows)]
        return [_with_custom(*pair) for pair in zip(found, custom, strict=True)]

    def shadow_sums(self, project_id: str, experiment_id: str) -> list[ShadowSums]:
        query = shadow_query(project_id, experiment_id)
        _, rows = self._run(query)
        return read_shadow(rows)

    def metric_timeseries(
        self, request: MetricRequest, metric: str, interval: str
    ) -> list[TimeBucket]:
        custom = next((m for m in request.custom if m.name == metric), None)
        query = timeseries_query(request, custom or metric, interval)
        _, rows = self._run(query)
        return read_timeseries(rows)


def _with_custom(
    found: list[VariantSums],
    custom: dict[tuple[str | None, str], dict[str, RatioCovariateMoments]],
) -> list[VariantSums]:
    """The model metrics' sums with the custom metrics' of the same segment and variant
    (``custom`` is emptied)."""
    merged = []
    for sums in found:
        metrics = custom.pop((sums.segment, sums.variant), {})
        merged.append(replace(sums, metrics={**sums.metrics, **metrics}))
    # Units seen only through exposures so far: no model metrics yet.
    no_predictions = {name: RatioCovariateMoments.empty() for name, _, _ in MODEL_METRICS}
    for (segment, variant), metrics in custom.items():
        merged.append(VariantSums(variant, segment, 0, 0, None, {**no_predictions, **metrics}))
    return merged
