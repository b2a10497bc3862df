"""The LLM room's records: tasks, configuration experiments, the lease of a running
configuration and its runs (``services.llm``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Protocol

from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask

__all__ = ["LlmExperimentRecords", "LlmLeaseRecords", "LlmRunRecords", "LlmTaskRecords"]


class LlmTaskRecords(Protocol):
    """The fixed tasks an LLM configuration is tried on."""

    def get_llm_task(self, project_id: str, ref: str) -> LlmTask | None:
        """By id or by name; an id wins over a name that happens to equal it."""
        ...

    def list_llm_tasks(self, project_id: str) -> list[LlmTask]:
        """The project's tasks, oldest first (by creation time, then name)."""
        ...

    def add_llm_task(self, task: LlmTask) -> None:
        """Raises Conflict when the name is taken in the project."""
        ...


class LlmExperimentRecords(Protocol):
    """LLM configuration experiments, written under an optimistic lock on their revision.

    Adds and updates never write the lease (``run_owner``, ``lease_expires_at``): only
    :class:`LlmLeaseRecords` does, so a record read before a renewal cannot undo it.
    """

    def get_llm_experiment(self, project_id: str, ref: str) -> LlmExperiment | None:
        """By id or by name; an id wins over a name that happens to equal it."""
        ...

    def list_llm_experiments(self, project_id: str) -> list[LlmExperiment]:
        """The project's experiments, oldest first (by creation time, then name)."""
        ...

    def add_llm_experiment(self, experiment: LlmExperiment) -> None:
        """Raises Conflict when the name is taken in the project."""
        ...

    def update_llm_experiment(self, experiment: LlmExperiment) -> LlmExperiment:
        """Write if the stored revision is still ``experiment.revision``; raises Conflict.

        Returns the stored experiment with its revision increased by one.
        """
        ...


class LlmLeaseRecords(Protocol):
    """The lease of a running configuration (see ``services.llm.leases``).

    Every write is conditional, and True (or the id) only for the one call that changed the
    row, so two processes acting on one lease at once change it once. Only an experiment
    that runs a configuration (``running`` set) has a lease to take, renew, release or break.
    """

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
        ``now`` (or was never taken), by expiry then id."""
        ...


class LlmRunRecords(Protocol):
    """One run per (variant, task, trial): pending until answered or broken off."""

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
