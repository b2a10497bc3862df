"""Starting a rollout when an experiment is promoted, in the promotion's own transaction."""

from __future__ import annotations

from ablab.contract.rollouts import RolloutPublic
from ablab.domain.experiments import Experiment
from ablab.domain.ids import new_id
from ablab.domain.rollouts import DEFAULT_GUARDRAILS, Rollout, RolloutSettings, RolloutStatus
from ablab.errors import Conflict
from ablab.services.audit import record
from ablab.services.context import Context
from ablab.services.ports import MetadataSession

__all__ = ["begin_rollout", "check_no_active_rollout", "rollout_snapshot"]


def rollout_snapshot(rollout: Rollout) -> dict[str, object]:
    """The JSON form of a rollout, as the audit log keeps it."""
    return RolloutPublic.from_domain(rollout).model_dump(mode="json")


def check_no_active_rollout(session: MetadataSession, ctx: Context, experiment: Experiment) -> None:
    """Refuse to promote over another rollout of the same model still in progress.

    Raises:
        Conflict: the model has a running or paused rollout.
    """
    if experiment.model is None:
        return
    active = session.active_rollout(ctx.project_id, experiment.model)
    if active is not None:
        raise Conflict(
            f"model {experiment.model!r} is rolling out {active.version} "
            f"({active.share:g}%, rollout {active.id}): advance it to the end or roll it "
            "back before promoting another version",
            details={"rollout": active.id, "model": experiment.model},
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
    session.add_rollout(rollout)
    record(ctx, session, "start", "rollout", rollout.id, after=rollout_snapshot(rollout))
    return rollout
