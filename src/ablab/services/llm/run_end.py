"""How a run of an LLM experiment's configuration ends: by its owner when its tasks are
answered, or by any process once the owner's lease has expired (:mod:`.llm_leases`).

Either way it ends once: the transaction that ends it first takes the right to, with a
conditional write on the lease, and a second one finds nothing to take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial

from ablab.domain.llm import LlmAction, LlmStatus, next_status
from ablab.domain.llm_records import LlmExperiment, RunState
from ablab.errors import Conflict
from ablab.services.access.audit import record
from ablab.services.context import Context, utc_now
from ablab.services.llm.experiments import require_llm_experiment
from ablab.services.ports import MetadataSession, MetadataStore

__all__ = ["RECOVERY_ACTOR", "Claim", "end_run", "recover_interrupted"]

# The audit log's actor of a run ended because its owner's lease expired.
RECOVERY_ACTOR = "ablab:recovery"

# Takes the right to end a run, in the transaction that ends it: True for the one caller
# that may (the owner releasing its lease, or a recovery breaking an expired one).
Claim = Callable[[MetadataSession], bool]


def end_run(ctx: Context, experiment_id: str, claim: Claim) -> LlmExperiment | None:
    """Move the lifecycle on once the running configuration's runs are all answered (or the
    run broke off: what is still pending then counts as unanswered). ``claim(session)``
    takes the right to end it, in the same transaction; None when it did not (another
    process ended the run first, or its lease is live).

    A variant added meanwhile changes the experiment's revision: the write is tried again on
    the fresh record (twice at most, then the Conflict propagates)."""
    for attempt in range(3):
        try:
            return _end_once(ctx, experiment_id, claim)
        except Conflict:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _end_once(ctx: Context, experiment_id: str, claim: Claim) -> LlmExperiment | None:
    with ctx.store.session() as session:
        # First the conditional write: from here on this transaction alone ends the run
        # (the row is locked on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the whole file).
        if not claim(session):
            return None
        current = require_llm_experiment(session, ctx, experiment_id)
        chosen = current.running
        runs = session.list_llm_runs(current.id, chosen) if chosen else []
        for run in runs:
            if run.state is RunState.PENDING:
                # Conditional too: an answer stored meanwhile stays, and is counted as such.
                session.update_llm_run(
                    replace(
                        run,
                        state=RunState.ERROR,
                        error="the run broke off before this task was answered",
                        completed_at=ctx.clock(),
                    )
                )
        # Counted from what is stored now, not from the runs read before those writes.
        stored_runs = session.list_llm_runs(current.id, chosen) if chosen else []
        errors = sum(r.state in (RunState.ERROR, RunState.PENDING) for r in stored_runs)
        if current.status is LlmStatus.RUNNING_BASELINE:
            action = LlmAction.BASELINE_FAILED if errors else LlmAction.BASELINE_SUCCEEDED
            status = next_status(current.status, action)
        elif current.status is LlmStatus.RUNNING_VARIANT:
            action = LlmAction.VARIANT_FINISHED
            status = next_status(current.status, action)
        else:  # moved on by other means (a record from before archiving was refused)
            action, status = LlmAction.VARIANT_FINISHED, current.status
        stored = session.update_llm_experiment(
            replace(current, status=status, running=None, updated_at=ctx.clock())
        )
        record(
            ctx,
            session,
            action.value,
            "llm_experiment",
            current.id,
            after={"ran": chosen, "runs": len(stored_runs), "errors": errors},
        )
        return stored


def recover_interrupted(
    store: MetadataStore, *, clock: Callable[[], datetime] = utc_now
) -> list[str]:
    """End the runs whose lease expired: their owner stopped (a server killed, a client's
    process gone) or lost touch with the database for a whole lease. What was still pending
    counts as unanswered (a baseline fails, a variant finishes with those runs lost). A run
    whose owner still renews its lease is left alone, whichever process owns it.

    Safe to call from several processes at once: each run is ended by one of them. Servers
    call this as they start and then every few seconds. Returns the ended experiments' ids.
    """
    now = clock()
    with store.session(read_only=True) as session:
        expired = session.list_expired_llm_runs(now)
    ended = []
    for experiment in expired:
        ctx = Context(store, experiment.project_id, RECOVERY_ACTOR, clock=clock)
        expired_lease = partial(_break_expired, experiment.id, now)
        if end_run(ctx, experiment.id, expired_lease) is not None:
            ended.append(experiment.id)
    return ended


def _break_expired(experiment_id: str, now: datetime, session: MetadataSession) -> bool:
    return session.break_expired_llm_lease(experiment_id, now)
