"""Starting a rollout when an experiment is promoted, in the promotion's own transaction.

A model has at most one rollout in progress. The database holds that rule (a unique index
over the rollouts in progress), not a read before the write: of two promotions racing on
two servers, the second one's insert fails, and its whole transaction, the promotion
included, is rolled back with a Conflict.
"""

from __future__ import annotations

from pydantic_core import to_jsonable_python

from ablab.domain.experiments import Experiment
from ablab.domain.ids import new_id
from ablab.domain.rollouts import DEFAULT_GUARDRAILS, Rollout, RolloutSettings, RolloutStatus
from ablab.domain.snapshots import rollout_record
from ablab.errors import Conflict
from ablab.services.access.audit import record
from ablab.services.context import Context
from ablab.services.ports import MetadataSession

__all__ = ["begin_rollout", "rollout_snapshot"]


def rollout_snapshot(rollout: Rollout) -> dict[str, object]:
    """The JSON form of a rollout, as the audit log keeps it (and the API shows it)."""
    snapshot: dict[str, object] = to_jsonable_python(rollout_record(rollout))
    return snapshot


def _in_progress(session: MetadataSession, ctx: Context, model: str, refused: Conflict) -> Conflict:
    """The Conflict of a promotion that met another rollout of ``model`` in progress."""
    active = session.active_rollout(ctx.project_id, model)
    if active is None:  # it ended between the refused insert and this read
        return refused
    return Conflict(
        f"model {model!r} is rolling out {active.version} ({active.share:g}%, rollout "
        f"{active.id}): advance it to the end or roll it back before promoting another version",
        details={"rollout": active.id, "model": model},
    )


def begin_rollout(
    ctx: Context,
    session: MetadataSession,
    promoted: Experiment,
    settings: RolloutSettings,
) -> Rollout | None:
    """Roll the promoted winner out in ``settings.steps``, against the control's version.

    Nothing to roll out (None) when the experiment names no model or the winner serves the
    control's model version. The rollout's guardrails are the experiment's, or
    :data:`DEFAULT_GUARDRAILS` when it had none.

    Raises:
        Conflict: the model has a rollout in progress (running or paused).
    """
    if promoted.model is None or promoted.winner is None:
        return None
    winner = promoted.variant(promoted.winner)
    control = promoted.control
    if winner.model_version is None or control.model_version is None:
        return None
    if winner.model_version == control.model_version:
        return None
    now = ctx.clock()
    first_share = settings.steps[0]
    rollout = Rollout(
        id=new_id("ro"),
        project_id=ctx.project_id,
        model=promoted.model,
        version=winner.model_version,
        previous_version=control.model_version,
        experiment_id=promoted.id,
        status=RolloutStatus.COMPLETED if first_share >= 100 else RolloutStatus.RUNNING,
        steps=settings.steps,
        step=0,
        step_started_at=now,
        created_at=now,
        updated_at=now,
        guardrails=promoted.guardrails or DEFAULT_GUARDRAILS,
        min_step_minutes=settings.min_step_minutes,
        min_step_units=settings.min_step_units,
        reason=f"promoted {promoted.name}",
    )
    try:
        session.add_rollout(rollout)
    except Conflict as refused:
        raise _in_progress(session, ctx, promoted.model, refused) from None
    record(ctx, session, "start", "rollout", rollout.id, after=rollout_snapshot(rollout))
    return rollout
