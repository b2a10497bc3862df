"""The experiments records on SQL: models and versions, device groups, custom metrics,
experiments and their allocation periods."""

from __future__ import annotations

from sqlalchemy import or_, select, update

from ablab.domain.allocations import AllocationPeriod
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.metrics import CustomMetric
from ablab.domain.models import Model, ModelVersion
from ablab.errors import Conflict
from ablab.store.metadata import mapping
from ablab.store.metadata.records.base import SqlRecords
from ablab.store.metadata.tables import (
    AllocationPeriodRow,
    ExperimentRow,
    GroupRow,
    MetricRow,
    ModelRow,
    ModelVersionRow,
)

__all__ = [
    "SqlAllocationPeriodRecords",
    "SqlExperimentRecords",
    "SqlGroupRecords",
    "SqlMetricRecords",
    "SqlModelRecords",
]


class SqlModelRecords(SqlRecords):
    """``ports.experiments.ModelRecords``."""

    def get_model(self, project_id: str, name: str) -> Model | None:
        row = self._session.scalar(
            select(ModelRow).where(ModelRow.project_id == project_id, ModelRow.name == name)
        )
        return mapping.model_from_row(row) if row else None

    def list_models(self, project_id: str) -> list[Model]:
        rows = self._session.scalars(
            select(ModelRow).where(ModelRow.project_id == project_id).order_by(ModelRow.name)
        )
        return [mapping.model_from_row(r) for r in rows]

    def add_model(self, model: Model) -> None:
        # Reached only when the name was free a moment ago: another request registered the
        # model's first version meanwhile.
        self._add(
            mapping.model_to_row(model),
            f"model {model.name!r} was registered by another request meanwhile: retry",
            details={"model": model.name},
        )

    def get_model_version(self, model_id: str, version: str) -> ModelVersion | None:
        row = self._session.scalar(
            select(ModelVersionRow).where(
                ModelVersionRow.model_id == model_id, ModelVersionRow.version == version
            )
        )
        return mapping.model_version_from_row(row) if row else None

    def list_model_versions(self, model_id: str) -> list[ModelVersion]:
        rows = self._session.scalars(
            select(ModelVersionRow)
            .where(ModelVersionRow.model_id == model_id)
            .order_by(ModelVersionRow.created_at, ModelVersionRow.version)
        )
        return [mapping.model_version_from_row(r) for r in rows]

    def add_model_version(self, version: ModelVersion) -> None:
        self._add(mapping.model_version_to_row(version), f"version {version.version!r} exists")


class SqlGroupRecords(SqlRecords):
    """``ports.experiments.GroupRecords``."""

    def get_group(self, project_id: str, name: str) -> DeviceGroup | None:
        row = self._session.scalar(
            select(GroupRow).where(GroupRow.project_id == project_id, GroupRow.name == name)
        )
        return mapping.group_from_row(row) if row else None

    def list_groups(self, project_id: str) -> list[DeviceGroup]:
        rows = self._session.scalars(
            select(GroupRow).where(GroupRow.project_id == project_id).order_by(GroupRow.name)
        )
        return [mapping.group_from_row(r) for r in rows]

    def add_group(self, group: DeviceGroup) -> None:
        self._add(mapping.group_to_row(group), f"device group {group.name!r} already exists")


class SqlMetricRecords(SqlRecords):
    """``ports.experiments.MetricRecords``."""

    def get_metric(self, project_id: str, name: str) -> CustomMetric | None:
        row = self._session.scalar(
            select(MetricRow).where(MetricRow.project_id == project_id, MetricRow.name == name)
        )
        return mapping.metric_from_row(row) if row else None

    def list_metrics(self, project_id: str) -> list[CustomMetric]:
        rows = self._session.scalars(
            select(MetricRow).where(MetricRow.project_id == project_id).order_by(MetricRow.name)
        )
        return [mapping.metric_from_row(r) for r in rows]

    def add_metric(self, metric: CustomMetric) -> None:
        self._add(mapping.metric_to_row(metric), f"a metric called {metric.name!r} already exists")


class SqlExperimentRecords(SqlRecords):
    """``ports.experiments.ExperimentRecords``."""

    def get_experiment(self, project_id: str, ref: str) -> Experiment | None:
        # An id wins over a name that happens to equal it.
        rows = self._session.scalars(
            select(ExperimentRow).where(
                ExperimentRow.project_id == project_id,
                or_(ExperimentRow.id == ref, ExperimentRow.name == ref),
            )
        ).all()
        row = next((r for r in rows if r.id == ref), rows[0] if rows else None)
        return mapping.experiment_from_row(row) if row else None

    def list_experiments(
        self, project_id: str, status: ExperimentStatus | None = None
    ) -> list[Experiment]:
        query = select(ExperimentRow).where(ExperimentRow.project_id == project_id)
        if status is not None:
            query = query.where(ExperimentRow.status == status.value)
        rows = self._session.scalars(
            query.order_by(ExperimentRow.created_at.desc(), ExperimentRow.name)
        )
        return [mapping.experiment_from_row(r) for r in rows]

    def add_experiment(self, experiment: Experiment) -> None:
        self._add(
            ExperimentRow(**mapping.experiment_columns(experiment)),
            f"an experiment called {experiment.name!r} already exists",
        )

    def update_experiment(self, experiment: Experiment) -> Experiment:
        columns = mapping.experiment_columns(experiment)
        columns["version"] = experiment.version + 1
        # The WHERE on the version is the optimistic lock: a stale writer matches no row.
        result = self._session.execute(
            update(ExperimentRow)
            .where(ExperimentRow.id == experiment.id, ExperimentRow.version == experiment.version)
            .values(**columns)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                f"experiment {experiment.name!r} was changed by someone else: "
                "read it again and retry",
                details={"experiment": experiment.id, "version": experiment.version},
            )
        self._session.expire_all()
        row = self._session.get(ExperimentRow, experiment.id)
        assert row is not None
        return mapping.experiment_from_row(row)


class SqlAllocationPeriodRecords(SqlRecords):
    """``ports.experiments.AllocationPeriodRecords``."""

    def add_allocation_period(self, period: AllocationPeriod) -> None:
        self._session.add(mapping.allocation_period_to_row(period))
        self._session.flush()

    def list_allocation_periods(self, experiment_id: str) -> list[AllocationPeriod]:
        rows = self._session.scalars(
            select(AllocationPeriodRow)
            .where(AllocationPeriodRow.experiment_id == experiment_id)
            .order_by(AllocationPeriodRow.started_at, AllocationPeriodRow.id)
        )
        return [mapping.allocation_period_from_row(r) for r in rows]
