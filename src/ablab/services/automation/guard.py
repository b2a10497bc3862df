"""Acting on results: stop on a broken guardrail, promote a clear winner when asked to.

Runs on every analysis of a running experiment (and, with the server, in its background
monitor). Both actions go through the lifecycle like a person's would, so they are
audited, and both are announced to the alert sink when one is configured.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from ablab.domain.decisions import RecommendedAction
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.domain.results.checks import GuardrailResult, describe
from ablab.domain.results.experiment import ExperimentResults
from ablab.errors import Conflict, InvalidTransition
from ablab.services.access.audit import record
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.experiments.lifecycle import transition
from ablab.services.ports import AlertSink, EventStore

__all__ = ["AutomaticAction", "analyze_experiment", "enforce"]

logger = logging.getLogger(__name__)


class AutomaticAction(StrEnum):
    STOPPED_BY_GUARDRAIL = "stopped_by_guardrail"
    AUTO_PROMOTED = "auto_promoted"


def analyze_experiment(
    ctx: Context,
    events: EventStore,
    ref: str,
    alerts: AlertSink | None = None,
    *,
    segment: str | None = None,
) -> ExperimentResults:
    """The results of ``ref``, after taking the automatic action they call for.

    When a guardrail stops the experiment or it is auto-promoted, the results returned show
    the new status.
    """
    results = experiment_results(ctx, events, ref, segment=segment)
    if enforce(ctx, results, alerts) is None:
        return results
    return experiment_results(ctx, events, ref, segment=segment)


def enforce(
    ctx: Context, results: ExperimentResults, alerts: AlertSink | None = None
) -> AutomaticAction | None:
    """Take the automatic action the results call for, if any, and return it.

    - A guardrail broken by any treatment stops the experiment: everyone is back on the
      control at once.
    - With auto-promote on, a recommendation to promote with the minimum samples reached,
      every guardrail intact and no sample ratio mismatch promotes that treatment.
    """
    experiment = results.experiment
    if experiment.status is not ExperimentStatus.RUNNING:
        return None
    broken = [g for g in results.guardrails if g.violated]
    actor = ctx.actor
    if broken:
        reason = "guardrail broken: " + ", ".join(
            f"{g.variant} {g.metric}={g.value:.4g} ({describe(g)})" for g in broken
        )
        automatic = _as_system(ctx, "ablab:guardrail")
        if not _act(automatic, experiment.id, Action.STOP):
            return None
        _note(automatic, experiment.id, AutomaticAction.STOPPED_BY_GUARDRAIL, reason, actor)
        _announce(alerts, results, AutomaticAction.STOPPED_BY_GUARDRAIL, reason, None)
        return AutomaticAction.STOPPED_BY_GUARDRAIL
    recommendation = results.recommendation
    if (
        experiment.auto_promote
        and recommendation.action is RecommendedAction.PROMOTE
        and recommendation.variant is not None
        and results.min_samples_reached
        and not results.srm.mismatch
    ):
        automatic = _as_system(ctx, "ablab:auto-promote")
        # Promote only what was analysed: a person who paused or changed the experiment
        # since then wins (the guardrail's stop above acts on any newer state: stopping is
        # always the safe direction).
        promoted = _act(
            automatic,
            experiment.id,
            Action.PROMOTE,
            variant=recommendation.variant,
            expected_version=experiment.version,
        )
        if not promoted:
            return None
        _note(automatic, experiment.id, AutomaticAction.AUTO_PROMOTED, recommendation.reason, actor)
        _announce(
            alerts,
            results,
            AutomaticAction.AUTO_PROMOTED,
            recommendation.reason,
            recommendation.variant,
        )
        return AutomaticAction.AUTO_PROMOTED
    return None


def _act(
    ctx: Context,
    experiment_id: str,
    action: Action,
    variant: str | None = None,
    expected_version: int | None = None,
) -> bool:
    """Take ``action``; False when a concurrent analysis (or a person) got there first."""
    try:
        transition(ctx, experiment_id, action, variant=variant, expected_version=expected_version)
    except (InvalidTransition, Conflict):
        return False
    return True


def _as_system(ctx: Context, actor: str) -> Context:
    return Context(ctx.store, ctx.project_id, actor, ctx.clock)


def _note(
    ctx: Context, experiment_id: str, action: AutomaticAction, reason: str, triggered_by: str
) -> None:
    with ctx.store.session() as session:
        record(
            ctx,
            session,
            action.value,
            "experiment",
            experiment_id,
            after={"reason": reason, "analysis_by": triggered_by},
        )


def _announce(
    alerts: AlertSink | None,
    results: ExperimentResults,
    action: AutomaticAction,
    reason: str,
    variant: str | None,
) -> None:
    if alerts is None:
        return
    experiment = results.experiment
    alerts.send(
        {
            "action": action.value,
            "experiment": {"id": experiment.id, "name": experiment.name},
            "variant": variant,
            "reason": reason,
            "guardrails": [_alerted(g) for g in results.guardrails],
        }
    )
    logger.info("announced %s for experiment %s", action.value, experiment.name)


def _alerted(guardrail: GuardrailResult) -> dict[str, object]:
    """A guardrail's result as the alert carries it (JSON: the state as its string)."""
    return {
        "metric": guardrail.metric,
        "variant": guardrail.variant,
        "bound": str(guardrail.bound),
        "threshold": guardrail.threshold,
        "relative": guardrail.relative,
        "limit": guardrail.limit,
        "value": guardrail.value,
        "control_value": guardrail.control_value,
        "state": str(guardrail.state),
        "violated": guardrail.violated,
    }
