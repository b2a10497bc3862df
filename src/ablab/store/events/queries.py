"""The analysis reads every event store answers the same way, over its own connection.

``AggregateQueries`` builds the SQL (``model_metric_sql``, ``custom_metric_sql``,
``window_metric_sql``, ``timeseries_sql``), runs it through the engine's ``_fetch`` and
reads the rows (``rows``). The engines differ only in the fragments of their
:class:`~ablab.store.events.dialects.Dialect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from ablab.services.ports import MetricRequest, ShadowSums, TimeBucket, VariantSums
from ablab.stats import RatioCovariateMoments
from ablab.store.events.custom_metric_sql import custom_metrics_query
from ablab.store.events.dialects import Dialect
from ablab.store.events.model_metric_sql import MODEL_METRICS, model_metrics_query
from ablab.store.events.rows import (
    by_window,
    read_custom_metrics,
    read_model_metrics,
    read_shadow,
    read_timeseries,
)
from ablab.store.events.shadow_sql import shadow_query
from ablab.store.events.timeseries_sql import timeseries_query
from ablab.store.events.window_metric_sql import (
    window_custom_metrics_query,
    window_model_metrics_query,
)

__all__ = ["AggregateQueries"]


class AggregateQueries:
    """The read side of an event store; subclasses supply ``dialect`` and ``_fetch``."""

    dialect: Dialect

    def _fetch(
        self, sql: str, params: Sequence[object]
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        """Run one read-only query: its column names and rows."""
        raise NotImplementedError

    def metric_sums(self, request: MetricRequest) -> list[VariantSums]:
        query = model_metrics_query(self.dialect, request)
        found = read_model_metrics(
            *self._fetch(query.sql, query.params), len(request.period_boundaries)
        )
        if not request.custom:
            return found
        query = custom_metrics_query(self.dialect, request)
        return _with_custom(found, read_custom_metrics(*self._fetch(query.sql, query.params)))

    def metric_sums_by_window(
        self, request: MetricRequest, edges: Sequence[datetime]
    ) -> list[list[VariantSums]]:
        windows = len(edges) - 1
        query = window_model_metrics_query(self.dialect, request, edges)
        names, rows = self._fetch(query.sql, query.params)
        found = [read_model_metrics(names, part, 0) for part in by_window(names, rows, windows)]
        if not request.custom:
            return found
        query = window_custom_metrics_query(self.dialect, request, edges)
        names, rows = self._fetch(query.sql, query.params)
        custom = [read_custom_metrics(names, part) for part in by_window(names, rows, windows)]
        return [_with_custom(*pair) for pair in zip(found, custom, strict=True)]

    def shadow_sums(self, project_id: str, experiment_id: str) -> list[ShadowSums]:
        query = shadow_query(self.dialect, project_id, experiment_id)
        _, rows = self._fetch(query.sql, query.params)
        return read_shadow(rows)

    def metric_timeseries(
        self, request: MetricRequest, metric: str, interval: str
    ) -> list[TimeBucket]:
        custom = next((m for m in request.custom if m.name == metric), None)
        query = timeseries_query(self.dialect, request, custom or metric, interval)
        _, rows = self._fetch(query.sql, query.params)
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
