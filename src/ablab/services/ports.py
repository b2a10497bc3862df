"""The storage protocols the services talk to; store/ adapters implement them.

A ``MetadataStore`` hands out ``MetadataSession``s, each one transaction: everything done in a
``with store.session() as session:`` block commits together or not at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from ablab.domain.allocations import AllocationPeriod
from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.keys import ApiKey
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask
from ablab.domain.metrics import CustomMetric
from ablab.domain.models import Model, ModelVersion
from ablab.domain.projects import Project
from ablab.domain.rollouts import Rollout
from ablab.domain.sequential import SequentialState
from ablab.domain.users import ConsoleSession, User
from ablab.stats import CovariateMoments, RatioCovariateMoments

__all__ = [
    "EVENT_COLUMNS",
    "AlertSink",
    "EventBatch",
    "EventStore",
    "MetadataSession",
    "MetadataStore",
    "MetricRequest",
    "ShadowSums",
    "TimeBucket",
    "UnitTable",
    "UnitTableReader",
    "VariantSums",
]


class MetadataSession(Protocol):
    """Reads and writes of one transaction. Lookups return None when nothing matches."""

    # Projects
    def get_project_by_name(self, name: str) -> Project | None: ...
    def list_projects(self) -> list[Project]: ...
    def add_project(self, project: Project) -> None: ...

    # Models and versions
    def get_model(self, project_id: str, name: str) -> Model | None: ...
    def list_models(self, project_id: str) -> list[Model]: ...
    def add_model(self, model: Model) -> None: ...
    def get_model_version(self, model_id: str, version: str) -> ModelVersion | None: ...
    def list_model_versions(self, model_id: str) -> list[ModelVersion]: ...
    def add_model_version(self, version: ModelVersion) -> None: ...

    # Device groups
    def get_group(self, project_id: str, name: str) -> DeviceGroup | None: ...
    def list_groups(self, project_id: str) -> list[DeviceGroup]: ...
    def add_group(self, group: DeviceGroup) -> None: ...

    # API keys
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def list_keys(self, project_id: str) -> list[ApiKey]: ...
    def add_key(self, key: ApiKey) -> None: ...
    def update_key_times(
        self,
        key_id: str,
        *,
        last_used_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> None: ...
    def revoke_key(self, key_id: str, at: datetime) -> bool:
        """Mark the key revoked at ``at``; False when it was revoked already."""
        ...

    def count_keys(self) -> int:
        """Keys of every project, revoked ones included (0 on a fresh store)."""
        ...

    # Console users (names are unique across projects: the sign-in form asks no project)
    def get_user_by_name(self, name: str) -> User | None: ...
    def get_user(self, user_id: str) -> User | None: ...
    def disable_user(self, user_id: str, at: datetime) -> bool:
        """Mark the user disabled and end every console session of theirs; False when the
        user was disabled already."""
        ...

    def list_users(self, project_id: str) -> list[User]: ...
    def add_user(self, user: User) -> None:
        """Raises Conflict when the name is taken."""
        ...

    # Console sessions, by the SHA-256 of their token
    def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        """The session, unless it is unknown or its user is disabled."""
        ...

    def add_console_session(self, session: ConsoleSession, *, expired_before: datetime) -> None:
        """Store ``session`` and drop every session that expired before ``expired_before``."""
        ...

    def delete_console_session(self, token_hash: str) -> None: ...

    # Rollouts
    def get_rollout(self, project_id: str, rollout_id: str) -> Rollout | None: ...
    def list_rollouts(self, project_id: str, model: str | None = None) -> list[Rollout]: ...
    def active_rollout(self, project_id: str, model: str) -> Rollout | None:
        """The model's running or paused rollout, if any (at most one)."""
        ...

    def add_rollout(self, rollout: Rollout) -> None:
        """Raises Conflict when the model has a rollout in progress (the database's rule)."""
        ...

    def update_rollout(self, rollout: Rollout) -> Rollout:
        """Write if the stored revision is still ``rollout.revision``; raises Conflict."""
        ...

    # LLM configuration experiments (tasks and experiments by id or name)
    def get_llm_task(self, project_id: str, ref: str) -> LlmTask | None: ...
    def list_llm_tasks(self, project_id: str) -> list[LlmTask]: ...
    def add_llm_task(self, task: LlmTask) -> None: ...
    def get_llm_experiment(self, project_id: str, ref: str) -> LlmExperiment | None: ...
    def list_llm_experiments(self, project_id: str) -> list[LlmExperiment]: ...
    def add_llm_experiment(self, experiment: LlmExperiment) -> None: ...
    def update_llm_experiment(self, experiment: LlmExperiment) -> LlmExperiment:
        """Write if the stored revision is still ``experiment.revision``; raises Conflict."""
        ...

    # The lease of a running configuration (see ``services.llm.leases``): every write is
    # conditional, and True (or the id) only for the one call that changed the row.
    def take_llm_lease(self, experiment_id: str, owner: str, expires_at: datetime) -> bool:
        """Make ``owner`` the holder of the running configuration's lease, if it has none."""
        ...

    def renew_llm_leases(
        self, owner: str, experiment_ids: Collection[str], expires_at: datetime
    ) -> set[str]:
        """Move on to ``expires_at`` the leases of those of ``experiment_ids`` that
        ``owner`` holds; the ids it still holds (a lease another process ended is gone)."""
        ...

    def release_llm_lease(self, experiment_id: str, owner: str) -> bool:
        """Clear the lease if ``owner`` holds it: the caller ends the run in this
        transaction. False when it does not (another process ended the run)."""
        ...

    def break_expired_llm_lease(self, experiment_id: str, now: datetime) -> bool:
        """Clear the lease if it expired before ``now`` (or was never taken): the caller
        ends the run in this transaction. False when it is live or already ended."""
        ...

    def list_expired_llm_runs(self, now: datetime) -> list[LlmExperiment]:
        """Experiments of every project running a configuration whose lease expired before
        ``now`` (or was never taken)."""
        ...

    def add_llm_runs(self, runs: Iterable[LlmRun]) -> None: ...
    def delete_llm_runs(self, experiment_id: str, variant_id: str) -> None: ...
    def get_llm_run(self, test_id: str) -> LlmRun | None: ...
    def update_llm_run(self, run: LlmRun) -> bool:
        """Write ``run`` over its stored row if that is still pending; False when another
        writer ended it first (its stored state stays)."""
        ...

    def list_llm_runs(self, experiment_id: str, variant_id: str | None = None) -> list[LlmRun]:
        """Runs ordered by task and trial (one variant's, or all)."""
        ...

    # Custom metrics
    def get_metric(self, project_id: str, name: str) -> CustomMetric | None: ...
    def list_metrics(self, project_id: str) -> list[CustomMetric]: ...
    def add_metric(self, metric: CustomMetric) -> None:
        """Insert; raises Conflict if the name is taken in the project."""
        ...

    # Experiments
    def get_experiment(self, project_id: str, ref: str) -> Experiment | None:
        """By id or by name."""
        ...

    def list_experiments(
        self, project_id: str, status: ExperimentStatus | None = None
    ) -> list[Experiment]: ...

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

    # Sticky assignments
    def get_assignments(self, experiment_id: str, unit_ids: Iterable[str]) -> dict[str, str]:
        """The stored variant of each unit that has one."""
        ...

    def add_assignments(
        self, experiment_id: str, variants: Mapping[str, str], at: datetime
    ) -> dict[str, str]:
        """Store first assignments; a unit already assigned keeps its variant.

        Returns the variant each unit holds after the write (the stored one on a race).
        """
        ...

    def count_assignments(self, experiment_id: str) -> dict[str, int]: ...

    # Audit log
    def add_audit(self, entry: AuditEntry) -> None: ...
    def list_audit(
        self, project_id: str, object_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]: ...

    # Allocation periods (the weight history)
    def add_allocation_period(self, period: AllocationPeriod) -> None:
        """Append one period in the caller's transaction, so it commits with the change."""
        ...

    def list_allocation_periods(self, experiment_id: str) -> list[AllocationPeriod]:
        """The experiment's periods, oldest first."""
        ...

    # Sequential tests between looks (domain.sequential)
    def lock_sequential_states(
        self, experiment_id: str, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], SequentialState]:
        """The stored state of each (metric, variant) of ``keys`` that has one, each row
        locked until the transaction ends, so a concurrent look waits and then merges."""
        ...

    def save_sequential_state(self, state: SequentialState) -> None:
        """Write the state after a look, in the transaction that locked it."""
        ...


class MetadataStore(Protocol):
    """Where experiments, models, groups, assignments and the audit log live."""

    def session(self) -> AbstractContextManager[MetadataSession]: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class UnitTable:
    """Per-variant sufficient statistics of a table of units.

    Rows of the same unit are averaged into one value per unit first: the unit is the unit of
    analysis. Units seen under more than one variant are left out and counted in
    ``excluded_units``. Without a covariate the covariate sums are zero.
    """

    rows: int
    units: int
    excluded_units: int
    binary: bool
    variants: dict[str, CovariateMoments]


class UnitTableReader(Protocol):
    """Reads a CSV, Parquet or JSON Lines file of unit-level rows where it lies."""

    def read(
        self, path: Path, *, unit: str, variant: str, metric: str, covariate: str | None
    ) -> UnitTable:
        """Raises ValidationError for a missing file, an unknown column or non-numbers."""
        ...


# The columns of each event type, in storage order. ``ts`` and ``received_at`` are aware
# datetimes; JSON payloads (attributes, output, label) are JSON text.
EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "exposure": (
        "event_id", "experiment_id", "unit_id", "variant", "ts", "attributes", "received_at",
    ),
    "prediction": (
        "event_id", "experiment_id", "unit_id", "variant", "prediction_id", "latency_ms",
        "error", "shadow", "output", "ts", "received_at",
    ),
    "label": (
        "event_id", "project_id", "prediction_id", "correct", "label", "ts", "received_at",
    ),
    "metric": (
        "event_id", "project_id", "experiment_id", "unit_id", "name", "value", "ts",
        "received_at",
    ),
}  # fmt: skip


class EventBatch:
    """Validated events of one batch: one Arrow table per type, columns as EVENT_COLUMNS.

    Columnar from the start: the store hands each table to the engine as it is.
    """

    __slots__ = ("tables",)

    def __init__(self) -> None:
        self.tables: dict[str, pa.Table] = {}

    def count(self, kind: str) -> int:
        table = self.tables.get(kind)
        return table.num_rows if table is not None else 0

    def __len__(self) -> int:
        return sum(self.count(kind) for kind in EVENT_COLUMNS)


@dataclass(frozen=True, slots=True)
class MetricRequest:
    """What an analysis asks of the event store, answered in one pass per metric group.

    The built-in model metrics are always computed (from non-shadow predictions and the
    project's latest label of each); ``custom`` adds metrics from ``metric`` events. For
    CUPED, ``covariate`` names metric events whose per-unit mean adjusts every metric;
    otherwise ``pre_window`` [start, end) gives each metric its own value before launch,
    from the predictions of ``prior_experiment_ids`` and the project's metric events.
    ``segment`` breaks every figure down by a unit attribute (from the unit's first
    exposure that has it). ``period_boundaries`` are the sorted times the weights changed:
    the units first seen (exposed or predicted for, by arrival) are counted per period.
    ``since`` and ``until`` keep the exposures, predictions and experiment-named metric
    events of [since, until) by event time: a rollout step's traffic, or an experiment's
    own before its rollout began.
    """

    project_id: str
    experiment_id: str
    custom: tuple[CustomMetric, ...] = ()
    pre_window: tuple[datetime, datetime] | None = None
    prior_experiment_ids: tuple[str, ...] = ()
    covariate: str | None = None
    segment: str | None = None
    period_boundaries: tuple[datetime, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class VariantSums:
    """One variant's (or one segment of it) sufficient statistics over units.

    Every metric is a per-unit numerator and denominator with its covariate's (zero when
    there is none): accuracy = correct / labelled predictions, latency = latency sum /
    predictions, error rate = errors / predictions; a custom metric's denominator is 1 per
    unit except for a ``mean``, whose denominator is the unit's event count.
    ``latency_p95_ms`` is over predictions. ``units`` counts units with predictions,
    ``units_with_labels`` those with at least one labelled prediction;
    ``units_by_period`` counts every unit seen (exposed or predicted for), by the weight
    period of its first arrival.
    """

    variant: str
    segment: str | None
    units: int
    predictions: int
    latency_p95_ms: float | None
    metrics: Mapping[str, RatioCovariateMoments]
    units_by_period: tuple[int, ...] = ()
    units_with_labels: int = 0

    @property
    def seen(self) -> int:
        return sum(self.units_by_period)


@dataclass(frozen=True, slots=True)
class ShadowSums:
    """One treatment's mirrored answers paired with the served ones, summed per prediction.

    ``answered`` pairs had no error on either side; the differences are of numeric answers
    (``numeric`` of them); accuracy counts labels that are values (``valued_labels``).
    """

    variant: str
    pairs: int
    answered: int
    agreements: int
    numeric: int
    abs_diff: float
    abs_diff_sq: float
    served_latency: float
    served_latency_sq: float
    shadow_latency: float
    shadow_latency_sq: float
    latency_diff: float
    latency_diff_sq: float
    served_errors: int
    shadow_errors: int
    valued_labels: int
    served_correct: int
    shadow_correct: int


@dataclass(frozen=True, slots=True)
class TimeBucket:
    """How one variant's cumulative sums of one metric changed during a time bucket.

    ``change`` holds the changes of the per-unit sums of y, y**2, x, x**2 and x*y (a
    :class:`RatioMoments` without its count). Adding the changes of every bucket up to
    ``start`` gives the sums as they were at the end of that bucket; ``new_units`` counts
    the units first seen in it.
    """

    start: datetime
    variant: str
    new_units: int
    change: tuple[float, float, float, float, float]


class EventStore(Protocol):
    """Where events live: DuckDB on one machine, PostgreSQL when shared."""

    def metric_sums(self, request: MetricRequest) -> list[VariantSums]:
        """Per variant (and segment, if asked), the sums of every metric of ``request``."""
        ...

    def metric_sums_by_window(
        self, request: MetricRequest, edges: Sequence[datetime]
    ) -> list[list[VariantSums]]:
        """:meth:`metric_sums` of each window of time, all in one pass per metric group.

        ``edges`` are two or more increasing times; window ``i`` is ``[edges[i],
        edges[i + 1])`` and its list equals ``metric_sums(replace(request, since=edges[i],
        until=edges[i + 1]))``: each unit summed over that window's events alone.

        Raises:
            ValueError: fewer than two edges or unsorted ones, or a request with a segment,
                a CUPED covariate or pre-window, or weight periods (not split by window).
        """
        ...

    def shadow_sums(self, project_id: str, experiment_id: str) -> list[ShadowSums]:
        """Per treatment, its shadow answers paired with the served ones (by prediction id)."""
        ...

    def metric_timeseries(
        self, request: MetricRequest, metric: str, interval: str
    ) -> list[TimeBucket]:
        """The change of one metric's cumulative sums per variant and ``interval`` bucket.

        ``interval`` is ``hour`` or ``day``; buckets come in time order by event time.
        """
        ...

    def append(self, batch: EventBatch) -> int:
        """Store the events not stored before (by event id); durable when it returns.

        Returns how many were new: a retried batch adds nothing.
        """
        ...

    def count(self, kind: str) -> int:
        """Stored events of one type: exposure, prediction, label or metric."""
        ...

    def ping(self) -> None:
        """Raises if the store does not answer."""
        ...

    def close(self) -> None: ...


class AlertSink(Protocol):
    """Where automatic decisions are announced (a webhook); must never raise."""

    def send(self, alert: Mapping[str, object]) -> None: ...
