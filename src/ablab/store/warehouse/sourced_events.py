"""``SourcedEvents``: the event store every analysis reads, sending each question where the
experiment's events live.

Writes go to ablab's own store. A read names its experiment (``MetricRequest`` or the
shadow's ids); an experiment without a source is read from ablab's own store, one with a
source from that source's engine (``AnalysisEngines``). The services, the monitor and the
doors see one ``EventStore`` and never learn which.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

import pyarrow as pa

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
        with self._reader(request.project_id, request.experiment_id) as reader:
            return reader.metric_sums(request)

    def metric_sums_by_window(
        self, request: MetricRequest, edges: Sequence[datetime]
    ) -> list[list[VariantSums]]:
        with self._reader(request.project_id, request.experiment_id) as reader:
            return reader.metric_sums_by_window(request, edges)

    def shadow_sums(self, project_id: str, experiment_id: str) -> list[ShadowSums]:
        with self._reader(project_id, experiment_id) as reader:
            return reader.shadow_sums(project_id, experiment_id)

    def metric_timeseries(
        self, request: MetricRequest, metric: str, interval: str
    ) -> list[TimeBucket]:
        with self._reader(request.project_id, request.experiment_id) as reader:
            return reader.metric_timeseries(request, metric, interval)

    def _reader(self, project_id: str, experiment_id: str) -> AbstractContextManager[EventReader]:
        with self._metadata.session(read_only=True) as session:
            experiment = session.get_experiment(project_id, experiment_id)
            if experiment is None or experiment.source is None:
                return nullcontext(self.own)
            source = session.get_source(project_id, experiment.source)
            names = {e.name: e.id for e in session.list_experiments(project_id)}
        if source is None:  # pragma: no cover - a source in use cannot be removed
            return nullcontext(self.own)
        return self.engines.reader(source, names)
