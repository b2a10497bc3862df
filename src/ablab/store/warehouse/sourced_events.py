"""``SourcedEvents``: the event store every analysis reads, sending each question where the
experiment's events live.

Writes go to ablab's own store. A read names its experiment (``MetricRequest`` or the
shadow's ids); an experiment without a source is read from ablab's own store, one with a
source from that source's engine (``AnalysisEngines``). The services, the monitor and the
doors see one ``EventStore`` and never learn which.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

import pyarrow as pa

from ablab.domain.experiments import Experiment
from ablab.services.ports import (
    EventBatch,
    EventReader,
    EventStore,
    MetadataStore,
    MetricRequest,
    ShadowSums,
    TimeBucket,
    VariantSums,
)
from ablab.store.warehouse.analysis_engines import AnalysisEngines
from ablab.store.warehouse.lake_export import ArrowReader

__all__ = ["SourcedEvents"]

T = TypeVar("T")


class SourcedEvents:
    """ablab's own event store for writes; each read from its experiment's source."""

    def __init__(self, own: EventStore, metadata: MetadataStore, engines: AnalysisEngines) -> None:
        self.own = own
        self._metadata = metadata
        self.engines = engines

    # Writes and the store's own upkeep: ablab's store.

    def append(self, batch: EventBatch) -> int:
        return self.own.append(batch)

    def count(self, kind: str) -> int:
        return self.own.count(kind)

    def read_arrow(self, sql: str, params: Sequence[object]) -> pa.Table:
        if not isinstance(self.own, ArrowReader):  # pragma: no cover - both stores read Arrow
            raise TypeError("this event store reads no Arrow")
        return self.own.read_arrow(sql, params)

    def ping(self) -> None:
        self.own.ping()

    def close(self) -> None:
        self.own.close()

    # Reads: the experiment's source.

    def metric_sums(self, request: MetricRequest) -> list[VariantSums]:
        return self._ask(
            request.project_id,
            request.experiment_id,
            ("metric_sums", request),
            lambda reader: reader.metric_sums(request),
            kept=request,
        )

    def metric_sums_by_window(
        self, request: MetricRequest, edges: Sequence[datetime]
    ) -> list[list[VariantSums]]:
        return self._ask(
            request.project_id,
            request.experiment_id,
            ("metric_sums_by_window", request, tuple(edges)),
            lambda reader: reader.metric_sums_by_window(request, edges),
        )

    def shadow_sums(self, project_id: str, experiment_id: str) -> list[ShadowSums]:
        return self._ask(
            project_id,
            experiment_id,
            ("shadow_sums", project_id, experiment_id),
            lambda reader: reader.shadow_sums(project_id, experiment_id),
        )

    def metric_timeseries(
        self, request: MetricRequest, metric: str, interval: str
    ) -> list[TimeBucket]:
        return self._ask(
            request.project_id,
            request.experiment_id,
            ("metric_timeseries", request, metric, interval),
            lambda reader: reader.metric_timeseries(request, metric, interval),
        )

    def _ask(
        self,
        project_id: str,
        experiment_id: str,
        question: Hashable,
        ask: Callable[[EventReader], T],
        kept: MetricRequest | None = None,
    ) -> T:
        """``ask`` of ablab's own store, or of the experiment's source (whose engine may
        give a kept answer: ``AnalysisEngines.answer``; ``kept`` sums its model metrics
        from that request's kept per-unit days)."""
        with self._metadata.session(read_only=True) as session:
            experiment = session.get_experiment(project_id, experiment_id)
            source = None
            if experiment is not None and experiment.source is not None:
                source = session.get_source(project_id, experiment.source)
            names = {e.name: e.id for e in session.list_experiments(project_id)} if source else {}
        if source is None or experiment is None:
            return ask(self.own)
        return self.engines.answer(source, names, question, ask, _first_day(experiment), kept=kept)


def _first_day(experiment: Experiment) -> date:
    """The first UTC day an analysis of ``experiment`` reads: its CUPED window's, before
    its start (or creation), with a day to spare. A source's partition column skips the
    days before it; a table without one is read whole."""
    began = experiment.started_at or experiment.created_at
    return (began - timedelta(days=experiment.cuped_lookback_days + 1)).date()
