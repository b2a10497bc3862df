"""The experiments records in memory: models and versions, device groups, custom metrics,
experiments and their allocation periods (``ablab.services.ports.experiments``)."""

from __future__ import annotations

from dataclasses import replace

from ablab.domain.allocations import AllocationPeriod
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.metrics import CustomMetric
from ablab.domain.models import Model, ModelVersion
from ablab.domain.sources import AnalysisSource
from ablab.errors import Conflict
from tests.fakes.tables import FakeRecords, StoreRefused, as_json, refuse, refuse_naive

__all__ = [
    "FakeAllocationPeriodRecords",
    "FakeExperimentRecords",
    "FakeGroupRecords",
    "FakeMetricRecords",
    "FakeModelRecords",
    "FakeSourceRecords",
]


class FakeModelRecords(FakeRecords):
    def get_model(self, project_id: str, name: str) -> Model | None:
        models = self._tables.models.values()
        return next((m for m in models if (m.project_id, m.name) == (project_id, name)), None)

    def list_models(self, project_id: str) -> list[Model]:
        models = (m for m in self._tables.models.values() if m.project_id == project_id)
        return sorted(models, key=lambda m: m.name)

    def add_model(self, model: Model) -> None:
        refuse_naive(model)
        if model.id in self._tables.models or self.get_model(model.project_id, model.name):
            refuse(
                f"model {model.name!r} was registered by another request meanwhile: retry",
                details={"model": model.name},
            )
        self._tables.models[model.id] = model

    def get_model_version(self, model_id: str, version: str) -> ModelVersion | None:
        versions = self._tables.model_versions.values()
        return next((v for v in versions if (v.model_id, v.version) == (model_id, version)), None)

    def list_model_versions(self, model_id: str) -> list[ModelVersion]:
        versions = (v for v in self._tables.model_versions.values() if v.model_id == model_id)
        return sorted(versions, key=lambda v: (v.created_at, v.version))

    def add_model_version(self, version: ModelVersion) -> None:
        refuse_naive(version)
        taken = self.get_model_version(version.model_id, version.version)
        if version.id in self._tables.model_versions or taken is not None:
            refuse(f"version {version.version!r} exists")
        self._tables.model_versions[version.id] = version


class FakeGroupRecords(FakeRecords):
    def get_group(self, project_id: str, name: str) -> DeviceGroup | None:
        groups = self._tables.groups.values()
        return next((g for g in groups if (g.project_id, g.name) == (project_id, name)), None)

    def list_groups(self, project_id: str) -> list[DeviceGroup]:
        groups = (g for g in self._tables.groups.values() if g.project_id == project_id)
        return sorted(groups, key=lambda g: g.name)

    def add_group(self, group: DeviceGroup) -> None:
        refuse_naive(group)
        if group.id in self._tables.groups or self.get_group(group.project_id, group.name):
            refuse(f"device group {group.name!r} already exists")
        condition = as_json(dict(group.condition)) if group.condition is not None else None
        self._tables.groups[group.id] = replace(group, condition=condition)


class FakeMetricRecords(FakeRecords):
    def get_metric(self, project_id: str, name: str) -> CustomMetric | None:
        metrics = self._tables.metrics.values()
        return next((m for m in metrics if (m.project_id, m.name) == (project_id, name)), None)

    def list_metrics(self, project_id: str) -> list[CustomMetric]:
        metrics = (m for m in self._tables.metrics.values() if m.project_id == project_id)
        return sorted(metrics, key=lambda m: m.name)

    def add_metric(self, metric: CustomMetric) -> None:
        refuse_naive(metric)
        if metric.id in self._tables.metrics or self.get_metric(metric.project_id, metric.name):
            refuse(f"a metric called {metric.name!r} already exists")
        self._tables.metrics[metric.id] = metric


class FakeSourceRecords(FakeRecords):
    def get_source(self, project_id: str, name: str) -> AnalysisSource | None:
        sources = self._tables.sources.values()
        return next((x for x in sources if (x.project_id, x.name) == (project_id, name)), None)

    def list_sources(self, project_id: str) -> list[AnalysisSource]:
        sources = (x for x in self._tables.sources.values() if x.project_id == project_id)
        return sorted(sources, key=lambda x: x.name)

    def add_source(self, source: AnalysisSource) -> None:
        refuse_naive(source)
        if source.id in self._tables.sources or self.get_source(source.project_id, source.name):
            refuse(f"a source called {source.name!r} already exists")
        self._tables.sources[source.id] = source


def _as_stored(experiment: Experiment) -> Experiment:
    """``experiment`` as its row gives it back: weights as floats, configs as JSON."""
    refuse_naive(experiment)
    variants = tuple(
        replace(v, weight=float(v.weight), config=as_json(dict(v.config)))
        for v in experiment.variants
    )
    return replace(experiment, variants=variants)


class FakeExperimentRecords(FakeRecords):
    def get_experiment(self, project_id: str, ref: str) -> Experiment | None:
        by_id = self._tables.experiments.get(ref)
        if by_id is not None and by_id.project_id == project_id:
            return by_id
        experiments = self._tables.experiments.values()
        return next((e for e in experiments if (e.project_id, e.name) == (project_id, ref)), None)

    def list_experiments(
        self, project_id: str, status: ExperimentStatus | None = None
    ) -> list[Experiment]:
        found = [
            e
            for e in self._tables.experiments.values()
            if e.project_id == project_id and (status is None or e.status == status)
        ]
        found.sort(key=lambda e: e.name)
        found.sort(key=lambda e: e.created_at, reverse=True)  # stable: newest, then by name
        return found

    def add_experiment(self, experiment: Experiment) -> None:
        experiments = self._tables.experiments
        same_name = (experiment.project_id, experiment.name)
        if experiment.id in experiments or any(
            (e.project_id, e.name) == same_name for e in experiments.values()
        ):
            refuse(f"an experiment called {experiment.name!r} already exists")
        experiments[experiment.id] = _as_stored(experiment)

    def update_experiment(self, experiment: Experiment) -> Experiment:
        stored = self._tables.experiments.get(experiment.id)
        if stored is None or stored.version != experiment.version:
            raise Conflict(
                f"experiment {experiment.name!r} was changed by someone else: "
                "read it again and retry",
                details={"experiment": experiment.id, "version": experiment.version},
            )
        renamed = (experiment.project_id, experiment.name) != (stored.project_id, stored.name)
        if renamed and self.get_experiment(experiment.project_id, experiment.name):
            raise StoreRefused(f"an experiment called {experiment.name!r} exists")
        written = _as_stored(replace(experiment, version=experiment.version + 1))
        self._tables.experiments[experiment.id] = written
        return written


class FakeAllocationPeriodRecords(FakeRecords):
    def add_allocation_period(self, period: AllocationPeriod) -> None:
        refuse_naive(period)
        periods = self._tables.allocation_periods
        period_id = period.id if period.id is not None else max(periods, default=0) + 1
        if period_id in periods:
            raise StoreRefused(f"allocation period {period_id} exists")
        weights = {name: float(weight) for name, weight in period.weights.items()}
        periods[period_id] = replace(period, id=period_id, weights=weights)

    def list_allocation_periods(self, experiment_id: str) -> list[AllocationPeriod]:
        periods = (p for p in self._tables.allocation_periods.values())
        mine = (p for p in periods if p.experiment_id == experiment_id)
        return sorted(mine, key=lambda p: (p.started_at, p.id or 0))
