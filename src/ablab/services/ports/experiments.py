"""The experiments room's records: the model catalogue, device groups, metric definitions,
the experiments themselves and their allocation history (``services.experiments``)."""

from __future__ import annotations

from typing import Protocol

from ablab.domain.allocations import AllocationPeriod
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.metrics import CustomMetric
from ablab.domain.models import Model, ModelVersion

__all__ = [
    "AllocationPeriodRecords",
    "ExperimentRecords",
    "GroupRecords",
    "MetricRecords",
    "ModelRecords",
]


class ModelRecords(Protocol):
    """Models and their versions, each version with the backend that serves it."""

    def get_model(self, project_id: str, name: str) -> Model | None: ...
    def list_models(self, project_id: str) -> list[Model]:
        """The project's models, by name."""
        ...

    def add_model(self, model: Model) -> None:
        """Raises Conflict when the name is taken in the project (another request registered
        the model meanwhile; the caller may read it and go on in the same transaction)."""
        ...

    def get_model_version(self, model_id: str, version: str) -> ModelVersion | None: ...
    def list_model_versions(self, model_id: str) -> list[ModelVersion]:
        """The model's versions, oldest first (by creation time, then version)."""
        ...

    def add_model_version(self, version: ModelVersion) -> None:
        """Raises Conflict when the model has this version already."""
        ...


class GroupRecords(Protocol):
    """Device groups: named targeting, by a condition or a member list."""

    def get_group(self, project_id: str, name: str) -> DeviceGroup | None: ...
    def list_groups(self, project_id: str) -> list[DeviceGroup]:
        """The project's groups, by name."""
        ...

    def add_group(self, group: DeviceGroup) -> None:
        """Raises Conflict when the name is taken in the project."""
        ...


class MetricRecords(Protocol):
    """Custom metric definitions (the built-in metrics are not stored)."""

    def get_metric(self, project_id: str, name: str) -> CustomMetric | None: ...
    def list_metrics(self, project_id: str) -> list[CustomMetric]:
        """The project's custom metrics, by name."""
        ...

    def add_metric(self, metric: CustomMetric) -> None:
        """Insert; raises Conflict if the name is taken in the project."""
        ...


class ExperimentRecords(Protocol):
    """Experiments, written under an optimistic lock on their version."""

    def get_experiment(self, project_id: str, ref: str) -> Experiment | None:
        """By id or by name; an id wins over a name that happens to equal it."""
        ...

    def list_experiments(
        self, project_id: str, status: ExperimentStatus | None = None
    ) -> list[Experiment]:
        """The project's experiments (of one status, if given), newest first, then by name."""
        ...

    def add_experiment(self, experiment: Experiment) -> None:
        """Insert; raises Conflict if the name is taken in the project."""
        ...

    def update_experiment(self, experiment: Experiment) -> Experiment:
        """Write ``experiment`` if the stored version still equals ``experiment.version``.

        Returns the stored experiment with its version increased by one.

        Raises:
            Conflict: someone wrote a newer version since ``experiment`` was read.
        """
        ...


class AllocationPeriodRecords(Protocol):
    """The weight history: one period per launch, split or bandit change."""

    def add_allocation_period(self, period: AllocationPeriod) -> None:
        """Append one period in the caller's transaction, so it commits with the change."""
        ...

    def list_allocation_periods(self, experiment_id: str) -> list[AllocationPeriod]:
        """The experiment's periods, oldest first (by start, then id)."""
        ...
