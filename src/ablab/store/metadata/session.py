"""``SqlMetadataSession``: the MetadataSession protocol on a SQLAlchemy session."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ablab.domain.allocations import AllocationPeriod
from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.keys import ApiKey
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask, RunState
from ablab.domain.metrics import CustomMetric
from ablab.domain.models import Model, ModelVersion
from ablab.domain.projects import Project
from ablab.domain.rollouts import ACTIVE, Rollout
from ablab.domain.sequential import SequentialState
from ablab.domain.users import ConsoleSession, User
from ablab.errors import Conflict
from ablab.store.metadata import mapping
from ablab.store.metadata.first_assignments_sql import insert_first_assignments
from ablab.store.metadata.tables import (
    AllocationPeriodRow,
    ApiKeyRow,
    AssignmentRow,
    AuditRow,
    ConsoleSessionRow,
    ExperimentRow,
    GroupRow,
    LlmExperimentRow,
    LlmRunRow,
    LlmTaskRow,
    MetricRow,
    ModelRow,
    ModelVersionRow,
    ProjectRow,
    RolloutRow,
    SequentialStateRow,
    UserRow,
)

__all__ = ["SqlMetadataSession"]

# SQLite allows 32766 bound parameters; stay well below on every engine.
_CHUNK = 900


def _chunks(items: Iterable[str], size: int = _CHUNK) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _lease_expired(now: datetime) -> ColumnElement[bool]:
    """The lease ran out before ``now``, or was never taken (a run from before leases)."""
    return or_(LlmExperimentRow.lease_expires_at.is_(None), LlmExperimentRow.lease_expires_at < now)


class SqlMetadataSession:
    """One transaction; commits or rolls back in the store's ``session()`` context."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # Projects
    def get_project_by_name(self, name: str) -> Project | None:
        row = self._session.scalar(select(ProjectRow).where(ProjectRow.name == name))
        return mapping.project_from_row(row) if row else None

    def list_projects(self) -> list[Project]:
        rows = self._session.scalars(select(ProjectRow).order_by(ProjectRow.name))
        return [mapping.project_from_row(r) for r in rows]

    def add_project(self, project: Project) -> None:
        self._add(mapping.project_to_row(project), f"project {project.name!r} exists")

    # Models
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

    # Device groups
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

    # API keys
    def get_key(self, key_id: str) -> ApiKey | None:
        row = self._session.get(ApiKeyRow, key_id)
        return mapping.key_from_row(row) if row else None

    def list_keys(self, project_id: str) -> list[ApiKey]:
        rows = self._session.scalars(
            select(ApiKeyRow)
            .where(ApiKeyRow.project_id == project_id)
            .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        )
        return [mapping.key_from_row(r) for r in rows]

    def add_key(self, key: ApiKey) -> None:
        self._add(mapping.key_to_row(key), f"an API key with id {key.id!r} exists")

    def update_key_times(
        self,
        key_id: str,
        *,
        last_used_at: datetime | None = None,
        revoked_at: datetime | None = None,
    ) -> None:
        values: dict[str, datetime] = {}
        if last_used_at is not None:
            values["last_used_at"] = last_used_at
        if revoked_at is not None:
            values["revoked_at"] = revoked_at
        if values:
            self._session.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(**values))

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        # Conditional: of two revocations at once, one writes (and is audited), the other
        # finds the key revoked already.
        result = self._session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        self._session.expire_all()  # a later get_key reads what the database holds
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def count_keys(self) -> int:
        return int(self._session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    # Console users and their sessions
    def get_user_by_name(self, name: str) -> User | None:
        row = self._session.scalar(select(UserRow).where(UserRow.name == name))
        return mapping.user_from_row(row) if row else None

    def list_users(self, project_id: str) -> list[User]:
        rows = self._session.scalars(
            select(UserRow).where(UserRow.project_id == project_id).order_by(UserRow.name)
        )
        return [mapping.user_from_row(r) for r in rows]

    def get_user(self, user_id: str) -> User | None:
        row = self._session.get(UserRow, user_id)
        return mapping.user_from_row(row) if row else None

    def disable_user(self, user_id: str, at: datetime) -> bool:
        result = self._session.execute(
            update(UserRow)
            .where(UserRow.id == user_id, UserRow.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        # Signed-in browsers of the user are signed out with it (a sign-in racing with this
        # may still add one: get_console_session never returns a disabled user's session).
        self._session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.user_id == user_id))
        self._session.expire_all()  # a later get_user reads what the database holds
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def add_user(self, user: User) -> None:
        self._add(mapping.user_to_row(user), f"a user named {user.name!r} exists")

    def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        # The user's state is read with the session, not checked once at sign-in: a sign-in
        # that raced with disabling the user left a session nobody may use.
        row = self._session.scalar(
            select(ConsoleSessionRow)
            .outerjoin(UserRow, UserRow.id == ConsoleSessionRow.user_id)
            .where(ConsoleSessionRow.token_hash == token_hash, UserRow.disabled_at.is_(None))
        )
        return mapping.console_session_from_row(row) if row else None

    def add_console_session(self, session: ConsoleSession, *, expired_before: datetime) -> None:
        # Each sign-in sweeps the sessions that expired: the table never grows unbounded.
        self._session.execute(
            delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < expired_before)
        )
        self._add(mapping.console_session_to_row(session), "this session exists")

    def delete_console_session(self, token_hash: str) -> None:
        self._session.execute(
            delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == token_hash)
        )

    # Rollouts
    def get_rollout(self, project_id: str, rollout_id: str) -> Rollout | None:
        row = self._session.get(RolloutRow, rollout_id)
        if row is None or row.project_id != project_id:
            return None
        return mapping.rollout_from_row(row)

    def list_rollouts(self, project_id: str, model: str | None = None) -> list[Rollout]:
        query = select(RolloutRow).where(RolloutRow.project_id == project_id)
        if model is not None:
            query = query.where(RolloutRow.model == model)
        rows = self._session.scalars(query.order_by(RolloutRow.created_at.desc()))
        return [mapping.rollout_from_row(r) for r in rows]

    def active_rollout(self, project_id: str, model: str) -> Rollout | None:
        row = self._session.scalar(
            select(RolloutRow).where(
                RolloutRow.project_id == project_id,
                RolloutRow.model == model,
                RolloutRow.status.in_([s.value for s in ACTIVE]),
            )
        )
        return mapping.rollout_from_row(row) if row else None

    def add_rollout(self, rollout: Rollout) -> None:
        self._add(
            RolloutRow(**mapping.rollout_columns(rollout)),
            f"model {rollout.model!r} has a rollout in progress already",
            details={"model": rollout.model},
        )

    def update_rollout(self, rollout: Rollout) -> Rollout:
        columns = mapping.rollout_columns(rollout)
        columns["revision"] = rollout.revision + 1
        result = self._session.execute(
            update(RolloutRow)
            .where(RolloutRow.id == rollout.id, RolloutRow.revision == rollout.revision)
            .values(**columns)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("the rollout was changed by someone else: read it again and retry")
        self._session.expire_all()
        row = self._session.get(RolloutRow, rollout.id)
        assert row is not None
        return mapping.rollout_from_row(row)

    # LLM configuration experiments
    def get_llm_task(self, project_id: str, ref: str) -> LlmTask | None:
        rows = self._session.scalars(
            select(LlmTaskRow).where(
                LlmTaskRow.project_id == project_id,
                or_(LlmTaskRow.id == ref, LlmTaskRow.name == ref),
            )
        ).all()
        row = next((r for r in rows if r.id == ref), rows[0] if rows else None)
        return mapping.llm_task_from_row(row) if row else None

    def list_llm_tasks(self, project_id: str) -> list[LlmTask]:
        rows = self._session.scalars(
            select(LlmTaskRow)
            .where(LlmTaskRow.project_id == project_id)
            .order_by(LlmTaskRow.created_at, LlmTaskRow.name)
        )
        return [mapping.llm_task_from_row(r) for r in rows]

    def add_llm_task(self, task: LlmTask) -> None:
        self._add(mapping.llm_task_to_row(task), f"a task named {task.name!r} exists")

    def get_llm_experiment(self, project_id: str, ref: str) -> LlmExperiment | None:
        rows = self._session.scalars(
            select(LlmExperimentRow).where(
                LlmExperimentRow.project_id == project_id,
                or_(LlmExperimentRow.id == ref, LlmExperimentRow.name == ref),
            )
        ).all()
        row = next((r for r in rows if r.id == ref), rows[0] if rows else None)
        return mapping.llm_experiment_from_row(row) if row else None

    def list_llm_experiments(self, project_id: str) -> list[LlmExperiment]:
        rows = self._session.scalars(
            select(LlmExperimentRow)
            .where(LlmExperimentRow.project_id == project_id)
            .order_by(LlmExperimentRow.created_at, LlmExperimentRow.name)
        )
        return [mapping.llm_experiment_from_row(r) for r in rows]

    def add_llm_experiment(self, experiment: LlmExperiment) -> None:
        row = LlmExperimentRow(**mapping.llm_experiment_columns(experiment))
        self._add(row, f"an LLM experiment named {experiment.name!r} exists")

    def update_llm_experiment(self, experiment: LlmExperiment) -> LlmExperiment:
        columns = mapping.llm_experiment_columns(experiment)
        columns["revision"] = experiment.revision + 1
        result = self._session.execute(
            update(LlmExperimentRow)
            .where(
                LlmExperimentRow.id == experiment.id,
                LlmExperimentRow.revision == experiment.revision,
            )
            .values(**columns)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("the experiment was changed by someone else: read it again and retry")
        self._session.expire_all()
        row = self._session.get(LlmExperimentRow, experiment.id)
        assert row is not None
        return mapping.llm_experiment_from_row(row)

    # The lease of a running configuration: each a conditional UPDATE, so two processes
    # acting on one lease at once change it once (the row lock on PostgreSQL, the write
    # lock of BEGIN IMMEDIATE on SQLite).
    def take_llm_lease(self, experiment_id: str, owner: str, expires_at: datetime) -> bool:
        return self._lease_update(
            experiment_id,
            LlmExperimentRow.run_owner.is_(None),
            run_owner=owner,
            lease_expires_at=expires_at,
        )

    def renew_llm_leases(
        self, owner: str, experiment_ids: Collection[str], expires_at: datetime
    ) -> set[str]:
        if not experiment_ids:
            return set()
        held = (
            LlmExperimentRow.id.in_(list(experiment_ids)),
            LlmExperimentRow.run_owner == owner,
            LlmExperimentRow.running.is_not(None),
        )
        self._session.execute(
            update(LlmExperimentRow)
            .where(*held)
            .values(lease_expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        return set(self._session.scalars(select(LlmExperimentRow.id).where(*held)))

    def release_llm_lease(self, experiment_id: str, owner: str) -> bool:
        return self._lease_update(
            experiment_id,
            LlmExperimentRow.run_owner == owner,
            run_owner=None,
            lease_expires_at=None,
        )

    def break_expired_llm_lease(self, experiment_id: str, now: datetime) -> bool:
        return self._lease_update(
            experiment_id, _lease_expired(now), run_owner=None, lease_expires_at=None
        )

    def list_expired_llm_runs(self, now: datetime) -> list[LlmExperiment]:
        rows = self._session.scalars(
            select(LlmExperimentRow)
            .where(LlmExperimentRow.running.is_not(None), _lease_expired(now))
            .order_by(LlmExperimentRow.lease_expires_at, LlmExperimentRow.id)
        )
        return [mapping.llm_experiment_from_row(r) for r in rows]

    def _lease_update(
        self, experiment_id: str, condition: ColumnElement[bool], **values: object
    ) -> bool:
        result = self._session.execute(
            update(LlmExperimentRow)
            .where(
                LlmExperimentRow.id == experiment_id,
                LlmExperimentRow.running.is_not(None),
                condition,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        self._session.expire_all()  # a later read in this transaction sees the new lease
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def add_llm_runs(self, runs: Iterable[LlmRun]) -> None:
        self._session.add_all(LlmRunRow(**mapping.llm_run_columns(r)) for r in runs)
        self._session.flush()

    def delete_llm_runs(self, experiment_id: str, variant_id: str) -> None:
        self._session.execute(
            delete(LlmRunRow).where(
                LlmRunRow.experiment_id == experiment_id, LlmRunRow.variant_id == variant_id
            )
        )

    def get_llm_run(self, test_id: str) -> LlmRun | None:
        row = self._session.get(LlmRunRow, test_id)
        return mapping.llm_run_from_row(row) if row else None

    def update_llm_run(self, run: LlmRun) -> bool:
        # Only a pending run is written: its answer and "broke off" (the end of the run, or
        # a starting server's recovery) may race, and the first one to land stays.
        result = self._session.execute(
            update(LlmRunRow)
            .where(LlmRunRow.test_id == run.test_id, LlmRunRow.state == RunState.PENDING.value)
            .values(**mapping.llm_run_columns(run))
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def list_llm_runs(self, experiment_id: str, variant_id: str | None = None) -> list[LlmRun]:
        query = select(LlmRunRow).where(LlmRunRow.experiment_id == experiment_id)
        if variant_id is not None:
            query = query.where(LlmRunRow.variant_id == variant_id)
        rows = self._session.scalars(query.order_by(LlmRunRow.task_id, LlmRunRow.trial))
        return [mapping.llm_run_from_row(r) for r in rows]

    # Custom metrics
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

    # Experiments
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

    # Assignments
    def get_assignments(self, experiment_id: str, unit_ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(unit_ids):
            rows = self._session.execute(
                select(AssignmentRow.unit_id, AssignmentRow.variant).where(
                    AssignmentRow.experiment_id == experiment_id,
                    AssignmentRow.unit_id.in_(chunk),
                )
            )
            found.update((unit, variant) for unit, variant in rows)
        return found

    def add_assignments(
        self, experiment_id: str, variants: Mapping[str, str], at: datetime
    ) -> dict[str, str]:
        if not variants:
            return {}
        # A unit assigned concurrently by another process keeps the variant stored first.
        units = list(variants.items())
        inserted = 0
        for start in range(0, len(units), 10_000):
            chunk = dict(units[start : start + 10_000])
            inserted += insert_first_assignments(
                self._session.connection(), experiment_id, chunk, at
            )
        if inserted == len(units):
            return dict(variants)  # all stored as given: no need to read them back
        return self.get_assignments(experiment_id, variants)

    def count_assignments(self, experiment_id: str) -> dict[str, int]:
        rows = self._session.execute(
            select(AssignmentRow.variant, func.count())
            .where(AssignmentRow.experiment_id == experiment_id)
            .group_by(AssignmentRow.variant)
        )
        return dict(rows.all())

    # Audit log
    def add_audit(self, entry: AuditEntry) -> None:
        self._session.execute(
            insert(AuditRow).values(
                project_id=entry.project_id,
                actor=entry.actor,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                at=entry.at,
                before=dict(entry.before) if entry.before is not None else None,
                after=dict(entry.after) if entry.after is not None else None,
            )
        )

    def list_audit(
        self, project_id: str, object_id: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        query = select(AuditRow).where(AuditRow.project_id == project_id)
        if object_id is not None:
            query = query.where(AuditRow.object_id == object_id)
        rows = self._session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))
        return [mapping.audit_from_row(r) for r in rows]

    # Allocation periods
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

    # Sequential tests between looks: a read-modify-write under a row lock. The empty rows
    # are inserted first (ON CONFLICT DO NOTHING waits for a concurrent inserter of the same
    # key on PostgreSQL), then every row is read FOR UPDATE in key order, so two servers
    # taking a look at once queue, and the second merges its look into the first's.
    # SQLite's BEGIN IMMEDIATE already serialises the whole transaction.
    def lock_sequential_states(
        self, experiment_id: str, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], SequentialState]:
        ordered = sorted(set(keys))
        if not ordered:
            return {}
        empty = [
            {"experiment_id": experiment_id, "metric": metric, "variant": variant, "looks": 0}
            for metric, variant in ordered
        ]
        postgres = self._session.get_bind().dialect.name == "postgresql"
        statement = (postgresql_insert if postgres else sqlite_insert)(SequentialStateRow)
        self._session.execute(statement.values(empty).on_conflict_do_nothing())
        rows = self._session.scalars(
            select(SequentialStateRow)
            .where(SequentialStateRow.experiment_id == experiment_id)
            .order_by(SequentialStateRow.metric, SequentialStateRow.variant)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        found: dict[tuple[str, str], SequentialState] = {}
        for row in rows:
            state = mapping.sequential_state_from_row(row)
            if state is not None:
                found[(row.metric, row.variant)] = state
        return found

    def save_sequential_state(self, state: SequentialState) -> None:
        self._session.execute(
            update(SequentialStateRow)
            .where(
                SequentialStateRow.experiment_id == state.experiment_id,
                SequentialStateRow.metric == state.metric,
                SequentialStateRow.variant == state.variant,
            )
            .values(**mapping.sequential_state_columns(state))
            .execution_options(synchronize_session=False)
        )

    def _add(
        self, row: object, conflict_message: str, details: Mapping[str, object] | None = None
    ) -> None:
        """Insert ``row``; the one place where a broken constraint becomes a Conflict.

        The uniqueness rules (names, versions, one rollout in progress per model) are the
        database's, so a writer racing another on a second server meets them too. Only the
        savepoint is undone here; the Conflict then rolls back the caller's transaction.
        """
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError:
            raise Conflict(conflict_message, details=details) from None
