"""Warnings for experiments that share a model with an active rollout.

While a promoted version is rolling out, an experiment on the same model draws its new
units only from the rollout's share (``assignment.decide``, rule 3; seed 000: "the
experiment's traffic comes from the rollout's allocated percentage"); the others are served
the rollout's previous version and are not counted. That is the right rule, but nothing said
so: following the quick start, a promotion followed by the next experiment on the model left
that experiment with a tenth of the traffic it was planned for, and its sample size estimate
wrong by as much. These say it where it happens: at the promotion that starts the rollout,
and when an experiment is created, launched or resumed under one. They are advice, never a
refusal: an experiment inside a rollout is allowed and sometimes wanted.
"""

from __future__ import annotations

from ablab.domain.experiments import Experiment
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.domain.rollouts import Rollout
from ablab.services.assignment.assign import rollouts_of
from ablab.services.context import Context

__all__ = ["action_warnings", "experiment_warnings", "promotion_warnings"]

# Statuses in which an experiment draws (or will draw, once launched) new units.
_DRAWING = (ExperimentStatus.DRAFT, ExperimentStatus.RUNNING, ExperimentStatus.PAUSED)


def action_warnings(ctx: Context, experiment: Experiment, action: Action) -> list[str]:
    """What to tell whoever took ``action``, which left ``experiment`` as it is now."""
    if action is Action.PROMOTE:
        return promotion_warnings(ctx, experiment)
    if action in (Action.LAUNCH, Action.RESUME):
        return experiment_warnings(ctx, experiment)
    return []


def experiment_warnings(ctx: Context, experiment: Experiment) -> list[str]:
    """What to tell whoever creates, launches or resumes ``experiment`` (empty: nothing).

    One warning when another experiment's rollout of the same model is active, naming it
    and the share the experiment draws from.
    """
    if experiment.status not in _DRAWING:
        return []
    with ctx.store.session(read_only=True) as session:
        _, governing = rollouts_of(session, experiment)
    if governing is None:
        return []
    return [
        f"model {governing.model} has an active rollout {governing.id} "
        f"({governing.version} at {governing.share:g}%): experiment {experiment.name} draws "
        f"its new units only from that share, {governing.share:g}% of units now (it grows "
        f"as the rollout steps); the others are served {governing.previous_version} and "
        "not counted"
    ]


def promotion_warnings(ctx: Context, promoted: Experiment) -> list[str]:
    """What to tell whoever promoted ``promoted``, when the promotion started a rollout.

    Names the experiments on the model that now draw only from the rollout's share, and
    says that the next ones will too.
    """
    if promoted.model is None:
        return []
    with ctx.store.session(read_only=True) as session:
        own, _ = rollouts_of(session, promoted)
        if own is None or not own.active:
            return []
        sharing = [
            e.name
            for e in session.list_experiments(ctx.project_id)
            if e.model == promoted.model and e.id != promoted.id and e.status in _DRAWING
        ]
    return [_rollout_started(own, sorted(sharing))]


def _rollout_started(rollout: Rollout, sharing: list[str]) -> str:
    now = (
        f"; {', '.join(sharing)} now draw{'s' if len(sharing) == 1 else ''} new units only from it"
        if sharing
        else ""
    )
    return (
        f"rollout {rollout.id} of {rollout.model} {rollout.version} started at "
        f"{rollout.share:g}%: until it completes, experiments on {rollout.model} draw their "
        f"new units only from its share ({rollout.share:g}% of units now){now}"
    )
