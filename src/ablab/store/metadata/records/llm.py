"""The LLM records on SQL: tasks, configuration experiments, the lease of a running
configuration, and its runs."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, or_, select, update

from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask, RunState
from ablab.errors import Conflict
from ablab.store.metadata import mapping
from ablab.store.metadata.records.base import SqlRecords
from ablab.store.metadata.tables import LlmExperimentRow, LlmRunRow, LlmTaskRow

__all__ = ["SqlLlmExperimentRecords", "SqlLlmLeaseRecords", "SqlLlmRunRecords", "SqlLlmTaskRecords"]


def _lease_expired(now: datetime) -> ColumnElement[bool]:
    """The lease ran out before ``now``, or was never taken (a run from before leases)."""
    return or_(LlmExperimentRow.lease_expires_at.is_(None), LlmExperimentRow.lease_expires_at < now)


class SqlLlmTaskRecords(SqlRecords):
    """``ports.llm.LlmTaskRecords``."""

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


class SqlLlmExperimentRecords(SqlRecords):
    """``ports.llm.LlmExperimentRecords``."""

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


class SqlLlmLeaseRecords(SqlRecords):
    """``ports.llm.LlmLeaseRecords``: each write a conditional UPDATE, so two processes
    acting on one lease at once change it once (the row lock on PostgreSQL, the write lock
    of BEGIN IMMEDIATE on SQLite)."""

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


class SqlLlmRunRecords(SqlRecords):
    """``ports.llm.LlmRunRecords``."""

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
