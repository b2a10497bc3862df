"""The LLM records in memory: tasks, configuration experiments, the lease of a running
configuration, and its runs (``ablab.services.ports.llm``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime

from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask, RunState
from ablab.errors import Conflict
from tests.fakes.tables import FakeRecords, StoreRefused, as_json, refuse, refuse_naive

__all__ = [
    "FakeLlmExperimentRecords",
    "FakeLlmLeaseRecords",
    "FakeLlmRunRecords",
    "FakeLlmTaskRecords",
]


class FakeLlmTaskRecords(FakeRecords):
    def get_llm_task(self, project_id: str, ref: str) -> LlmTask | None:
        by_id = self._tables.llm_tasks.get(ref)
        if by_id is not None and by_id.project_id == project_id:
            return by_id
        tasks = self._tables.llm_tasks.values()
        return next((t for t in tasks if (t.project_id, t.name) == (project_id, ref)), None)

    def list_llm_tasks(self, project_id: str) -> list[LlmTask]:
        tasks = (t for t in self._tables.llm_tasks.values() if t.project_id == project_id)
        return sorted(tasks, key=lambda t: (t.created_at, t.name))

    def add_llm_task(self, task: LlmTask) -> None:
        refuse_naive(task)
        tasks = self._tables.llm_tasks
        if task.id in tasks or any(
            (t.project_id, t.name) == (task.project_id, task.name) for t in tasks.values()
        ):
            refuse(f"a task named {task.name!r} exists")
        tasks[task.id] = replace(
            task,
            input=as_json(task.input),
            expected_output=as_json(task.expected_output),
            evaluators=tuple(as_json([dict(e) for e in task.evaluators])),
        )


class FakeLlmExperimentRecords(FakeRecords):
    def get_llm_experiment(self, project_id: str, ref: str) -> LlmExperiment | None:
        by_id = self._tables.llm_experiments.get(ref)
        if by_id is not None and by_id.project_id == project_id:
            return by_id
        found = self._tables.llm_experiments.values()
        return next((e for e in found if (e.project_id, e.name) == (project_id, ref)), None)

    def list_llm_experiments(self, project_id: str) -> list[LlmExperiment]:
        found = (e for e in self._tables.llm_experiments.values() if e.project_id == project_id)
        return sorted(found, key=lambda e: (e.created_at, e.name))

    def add_llm_experiment(self, experiment: LlmExperiment) -> None:
        refuse_naive(experiment)
        stored = self._tables.llm_experiments
        if experiment.id in stored or any(
            (e.project_id, e.name) == (experiment.project_id, experiment.name)
            for e in stored.values()
        ):
            refuse(f"an LLM experiment named {experiment.name!r} exists")
        # The lease's columns are never written here: a new record holds no lease.
        stored[experiment.id] = _as_stored(experiment, run_owner=None, lease_expires_at=None)

    def update_llm_experiment(self, experiment: LlmExperiment) -> LlmExperiment:
        refuse_naive(experiment)
        stored = self._tables.llm_experiments.get(experiment.id)
        if stored is None or stored.revision != experiment.revision:
            raise Conflict("the experiment was changed by someone else: read it again and retry")
        # The stored lease stays: a record read before a renewal must not put it back.
        written = _as_stored(
            replace(experiment, revision=experiment.revision + 1),
            run_owner=stored.run_owner,
            lease_expires_at=stored.lease_expires_at,
        )
        self._tables.llm_experiments[experiment.id] = written
        return written


def _as_stored(
    experiment: LlmExperiment, *, run_owner: str | None, lease_expires_at: datetime | None
) -> LlmExperiment:
    baseline = as_json({step: dict(values) for step, values in experiment.baseline.items()})
    return replace(
        experiment, baseline=baseline, run_owner=run_owner, lease_expires_at=lease_expires_at
    )


class FakeLlmLeaseRecords(FakeRecords):
    def take_llm_lease(self, experiment_id: str, owner: str, expires_at: datetime) -> bool:
        refuse_naive(expires_at)
        found = self._running(experiment_id)
        if found is None or found.run_owner is not None:
            return False
        self._lease(found, owner, expires_at)
        return True

    def renew_llm_leases(
        self, owner: str, experiment_ids: Collection[str], expires_at: datetime
    ) -> set[str]:
        refuse_naive(expires_at)
        held: set[str] = set()
        for experiment_id in set(experiment_ids):
            found = self._running(experiment_id)
            if found is not None and found.run_owner == owner:
                self._lease(found, owner, expires_at)
                held.add(experiment_id)
        return held

    def release_llm_lease(self, experiment_id: str, owner: str) -> bool:
        found = self._running(experiment_id)
        if found is None or found.run_owner != owner:
            return False
        self._lease(found, None, None)
        return True

    def break_expired_llm_lease(self, experiment_id: str, now: datetime) -> bool:
        refuse_naive(now)
        found = self._running(experiment_id)
        if found is None or not _expired(found, now):
            return False
        self._lease(found, None, None)
        return True

    def list_expired_llm_runs(self, now: datetime) -> list[LlmExperiment]:
        refuse_naive(now)
        found = (
            e
            for e in self._tables.llm_experiments.values()
            if e.running is not None and _expired(e, now)
        )
        # SQLite sorts NULL first: a lease never taken comes before every expired one.
        return sorted(
            found,
            key=lambda e: (e.lease_expires_at is not None, e.lease_expires_at or now, e.id),
        )

    def _running(self, experiment_id: str) -> LlmExperiment | None:
        found = self._tables.llm_experiments.get(experiment_id)
        return found if found is not None and found.running is not None else None

    def _lease(self, experiment: LlmExperiment, owner: str | None, until: datetime | None) -> None:
        leased = replace(experiment, run_owner=owner, lease_expires_at=until)
        self._tables.llm_experiments[experiment.id] = leased


def _expired(experiment: LlmExperiment, now: datetime) -> bool:
    """The lease ran out before ``now``, or was never taken (a run from before leases)."""
    return experiment.lease_expires_at is None or experiment.lease_expires_at < now


class FakeLlmRunRecords(FakeRecords):
    def add_llm_runs(self, runs: Iterable[LlmRun]) -> None:
        stored = self._tables.llm_runs
        for run in runs:
            refuse_naive(run)
            if run.test_id in stored:
                raise StoreRefused(f"run {run.test_id!r} exists")
            stored[run.test_id] = _run_as_stored(run)

    def delete_llm_runs(self, experiment_id: str, variant_id: str) -> None:
        stored = self._tables.llm_runs
        gone = [
            test_id
            for test_id, run in stored.items()
            if (run.experiment_id, run.variant_id) == (experiment_id, variant_id)
        ]
        for test_id in gone:
            del stored[test_id]

    def get_llm_run(self, test_id: str) -> LlmRun | None:
        return self._tables.llm_runs.get(test_id)

    def update_llm_run(self, run: LlmRun) -> bool:
        refuse_naive(run)
        stored = self._tables.llm_runs.get(run.test_id)
        if stored is None or stored.state is not RunState.PENDING:
            return False
        self._tables.llm_runs[run.test_id] = _run_as_stored(run)
        return True

    def list_llm_runs(self, experiment_id: str, variant_id: str | None = None) -> list[LlmRun]:
        found = (
            r
            for r in self._tables.llm_runs.values()
            if r.experiment_id == experiment_id and variant_id in (None, r.variant_id)
        )
        return sorted(found, key=lambda r: (r.task_id, r.trial))


def _run_as_stored(run: LlmRun) -> LlmRun:
    verdicts = tuple(as_json([dict(v) for v in run.verdicts]))
    return replace(run, output=as_json(run.output), verdicts=verdicts)
