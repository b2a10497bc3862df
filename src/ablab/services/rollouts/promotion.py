"""Promoting a treatment: only on evidence, unless the person says ``force``.

A promotion ends the experiment and starts rolling the winner out to everyone, so it needs
what the results recommend: the treatment's own decision is to promote it (a significant
improvement above the MDE, the minimum samples counted, no sample ratio mismatch, no broken
guardrail; see :mod:`ablab.domain.decisions`). Without it (no data at all, an
inconclusive test, a lift too small, a shadow check) the promotion is refused with a
Conflict that says why, unless ``force`` is given; a forced promotion goes through and is
audited as such (a ``forced_promotion`` entry beside the ``promote`` one, carrying what the
evidence lacked).

The lifecycle comes first: a status that does not allow promoting (a stopped experiment) is
an InvalidTransition whatever the data says. The promotion acts on the version it analysed
(unless the caller names another), so a change made meanwhile makes it a Conflict.
"""

from __future__ import annotations

from ablab.domain.decisions import RecommendedAction
from ablab.domain.experiments import Experiment, apply_action
from ablab.domain.lifecycle import Action
from ablab.domain.results.experiment import ExperimentResults
from ablab.domain.rollouts import RolloutSettings
from ablab.errors import Conflict
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.experiments.lifecycle import get_experiment, transition
from ablab.services.ports import EventStore

__all__ = ["missing_evidence", "promote_experiment"]

_DEFAULT_ROLLOUT = RolloutSettings()


def missing_evidence(results: ExperimentResults, variant: str) -> str | None:
    """Why the results do not support promoting ``variant`` (None: they do)."""
    decision = next((d for d in results.decisions if d.variant == variant), None)
    if decision is None:
        return f"the results have no decision for {variant!r}"
    if decision.action is RecommendedAction.PROMOTE:
        return None
    return decision.reason


def promote_experiment(
    ctx: Context,
    events: EventStore,
    ref: str,
    *,
    variant: str | None = None,
    rollout: RolloutSettings | None = _DEFAULT_ROLLOUT,
    expected_version: int | None = None,
    force: bool = False,
) -> Experiment:
    """End experiment ``ref`` with ``variant`` (default: the only treatment) as the winner.

    Raises:
        InvalidTransition: the experiment's status does not allow promoting.
        ValidationError: several treatments and no ``variant``, or the control named.
        Conflict: no evidence for the promotion and no ``force``; a stale
            ``expected_version``; another rollout of the model in progress.
    """
    current = get_experiment(ctx, ref)
    winner = apply_action(current, Action.PROMOTE, ctx.clock(), winner=variant).winner
    assert winner is not None  # a promotion always names its winner
    results = experiment_results(ctx, events, current.id)
    lacking = missing_evidence(results, winner)
    if lacking is not None and not force:
        raise Conflict(
            f"no evidence to promote {winner}: {lacking}. Promote anyway with --force "
            '(CLI) or "force": true (API); it is recorded as a forced promotion',
            details={"variant": winner, "evidence": lacking, "force_required": True},
        )
    return transition(
        ctx,
        current.id,
        Action.PROMOTE,
        variant=winner,
        rollout=rollout,
        expected_version=(
            expected_version if expected_version is not None else results.experiment.version
        ),
        forced=lacking,
    )
