"""Use cases of rollouts: read them, move them by hand, and check each step's guardrails.

A step is judged on its own traffic: the units served since the step began, the new
version's against the previous version's, with the rollout's guardrails (the promoted
experiment's, or the defaults). Relative guardrails use the always-valid confidence
sequence of the difference (as in an experiment), so checking a step every minute does not
inflate false alarms; each step starts a fresh test. A step is

- ``harm`` when a guardrail is confidently broken (with ``min_step_units`` on the new
  version): the rollout is rolled back, everyone returns to the previous version;
- ``ready`` when it has lasted ``min_step_minutes`` and both versions have
  ``min_step_units`` units with no guardrail broken: the rollout advances;
- ``waiting`` otherwise.

:func:`check_rollout` reports; :func:`step_rollout` also acts (the monitor calls it for
every running rollout; a paused one is reported, never moved).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from enum import StrEnum

from ablab.domain.experiments import Experiment
from ablab.domain.limits import check_text
from ablab.domain.metrics import CustomMetric
from ablab.domain.results.checks import GuardrailResult, describe
from ablab.domain.rollouts import (
    Rollout,
    RolloutAction,
    RolloutCheck,
    RolloutStatus,
    StepState,
    apply_rollout_action,
)
from ablab.errors import Conflict, InvalidTransition, NotFound
from ablab.services.access.audit import record
from ablab.services.analysis.comparisons import Arm
from ablab.services.analysis.guardrails import evaluate_guardrails, margin_tests
from ablab.services.analysis.metric_request import AnalysisSetup
from ablab.services.analysis.metric_tests import variant_sums
from ablab.services.analysis.results import variant_results
from ablab.services.analysis.sequential_looks import record_looks
from ablab.services.context import Context
from ablab.services.experiments.metrics import resolve_metrics
from ablab.services.experiments.rollout_start import rollout_snapshot
from ablab.services.ports import (
    AlertSink,
    EventStore,
    MetadataSession,
    MetricRequest,
    VariantSums,
)

__all__ = [
    "RolloutStep",
    "act_on_rollout",
    "check_rollout",
    "get_rollout",
    "list_rollouts",
    "step_rollout",
]


class RolloutStep(StrEnum):
    """What :func:`step_rollout` did."""

    ADVANCED = "advanced"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"


def list_rollouts(ctx: Context, model: str | None = None) -> list[Rollout]:
    """The project's rollouts (of ``model`` if given), newest first."""
    with ctx.store.session(read_only=True) as session:
        return session.list_rollouts(ctx.project_id, model)


def get_rollout(ctx: Context, rollout_id: str) -> Rollout:
    """Raises: NotFound: no such rollout in the project."""
    with ctx.store.session(read_only=True) as session:
        return _require(session, ctx, rollout_id)


def act_on_rollout(
    ctx: Context,
    rollout_id: str,
    action: RolloutAction,
    reason: str = "",
    *,
    expected_revision: int | None = None,
) -> Rollout:
    """Advance, pause, resume or roll back by hand; audited under the caller's name.

    The write is conditional on the revision read (``UPDATE ... WHERE revision = :read``):
    of two actions at once on two servers, one is taken and the other is a Conflict.
    ``expected_revision`` ties the action to what the caller judged (the monitor's check
    of a step must not advance the step after it).

    Raises:
        NotFound: no such rollout.
        InvalidTransition: the action is not allowed from the rollout's status.
        Conflict: it changed since it was read (a concurrent action), or since
            ``expected_revision``.
    """
    check_text(reason, "reason")  # the console's form as well as the API's body
    with ctx.store.session() as session:
        current = _require(session, ctx, rollout_id)
        if expected_revision is not None and current.revision != expected_revision:
            raise Conflict(
                f"rollout {rollout_id} changed since it was read (revision "
                f"{expected_revision}, now {current.revision}): read it again",
                details={"revision": current.revision, "expected": expected_revision},
            )
        updated = apply_rollout_action(current, action, ctx.clock(), reason)
        stored = session.update_rollout(updated)
        record(
            ctx,
            session,
            action.value,
            "rollout",
            stored.id,
            before=rollout_snapshot(current),
            after=rollout_snapshot(stored),
        )
        return stored


def check_rollout(ctx: Context, events: EventStore, rollout_id: str) -> RolloutCheck:
    """The current step's evidence and state (see the module's docstring).

    Raises:
        NotFound: no such rollout, its experiment is gone, or a guardrail's metric is.
    """
    return _check(ctx, events, rollout_id)[1]


def _check(ctx: Context, events: EventStore, rollout_id: str) -> tuple[Rollout, RolloutCheck]:
    """The rollout as read, and the check of its current step."""
    with ctx.store.session(read_only=True) as session:
        rollout = _require(session, ctx, rollout_id)
        experiment = (
            session.get_experiment(ctx.project_id, rollout.experiment_id)
            if rollout.experiment_id
            else None
        )
        if experiment is None or experiment.winner is None:
            raise NotFound(
                f"the experiment of rollout {rollout.id} is gone",
                details={"rollout": rollout.id},
            )
        names = tuple(dict.fromkeys(g.metric for g in rollout.guardrails))
        definitions = resolve_metrics(session, ctx, names)
    minutes = (ctx.clock() - rollout.step_started_at).total_seconds() / 60
    if not rollout.active:
        return rollout, RolloutCheck(
            rollout=rollout,
            state=StepState.WAITING,
            reason=f"the rollout is {rollout.status.value}",
            units={},
            minutes_in_step=minutes,
            guardrails=(),
        )
    view = _step_view(experiment, rollout)
    request = MetricRequest(
        project_id=ctx.project_id,
        experiment_id=experiment.id,
        custom=tuple(d for d in definitions.values() if isinstance(d, CustomMetric)),
        since=rollout.step_started_at,
    )
    setup = AnalysisSetup(view, definitions, request)
    per_variant = variant_sums(view, events.metric_sums(request))
    control, winner = view.control.name, experiment.winner
    variants = [variant_results(setup, v.name, per_variant[v.name]) for v in view.variants]
    guardrails = evaluate_guardrails(
        view, variants, _step_margins(ctx, view, rollout, setup, per_variant)
    )
    units = {
        rollout.previous_version: per_variant[control].seen,
        rollout.version: per_variant[winner].seen,
    }
    state, reason = _verdict(rollout, guardrails, units, minutes)
    return rollout, RolloutCheck(
        rollout=rollout,
        state=state,
        reason=reason,
        units=units,
        minutes_in_step=minutes,
        guardrails=tuple(guardrails),
    )


def step_rollout(
    ctx: Context, events: EventStore, rollout_id: str, alerts: AlertSink | None = None
) -> RolloutStep | None:
    """Check a running rollout and act: roll back on harm, advance when ready.

    Returns what was done (None: nothing, or a person or another monitor acted first).
    """
    checked, check = _check(ctx, events, rollout_id)
    if check.rollout.status is not RolloutStatus.RUNNING or check.state is StepState.WAITING:
        return None
    automatic = Context(ctx.store, ctx.project_id, "ablab:rollout", ctx.clock)
    action = RolloutAction.ROLLBACK if check.state is StepState.HARM else RolloutAction.ADVANCE
    try:
        moved = act_on_rollout(
            automatic, rollout_id, action, check.reason, expected_revision=checked.revision
        )
    except (InvalidTransition, Conflict):
        return None
    if action is RolloutAction.ROLLBACK:
        done = RolloutStep.ROLLED_BACK
    elif moved.status is RolloutStatus.COMPLETED:
        done = RolloutStep.COMPLETED
    else:
        done = RolloutStep.ADVANCED
    if alerts is not None:
        alerts.send(
            {
                "action": f"rollout_{done.value}",
                "rollout": rollout_snapshot(moved),
                "reason": check.reason,
                "guardrails": [asdict(g) for g in check.guardrails],
            }
        )
    return done


def _require(session: MetadataSession, ctx: Context, rollout_id: str) -> Rollout:
    found = session.get_rollout(ctx.project_id, rollout_id)
    if found is None:
        raise NotFound(f"unknown rollout {rollout_id!r}", details={"rollout": rollout_id})
    return found


def _step_margins(
    ctx: Context,
    view: Experiment,
    rollout: Rollout,
    setup: AnalysisSetup,
    per_variant: dict[str, VariantSums],
) -> dict[tuple[str, str], Arm]:
    """The step's relative-guardrail tests, carried over this step's checks.

    Every check of a step is a look at the same data (the step's units since it began),
    so the monitor checking each minute must not inflate false rollbacks: the tests are
    kept like an experiment's, under the experiment, with the rollout and step in place
    of the treatment, and start afresh with each step.
    """
    winner = view.treatments[0].name
    step = f"rollout {rollout.id} step {rollout.step}"
    tests = margin_tests(setup, per_variant)
    looked = record_looks(ctx, view, {(step, key): test for (_, key), test in tests.items()})
    return {(winner, key): looked[(step, key)].arm for (_, key) in tests}


def _step_view(experiment: Experiment, rollout: Rollout) -> Experiment:
    """The experiment as the step sees it: previous version against new, at the share."""
    assert experiment.winner is not None
    control = replace(experiment.control, weight=100.0 - rollout.share)
    winner = replace(experiment.variant(experiment.winner), weight=rollout.share)
    return replace(
        experiment,
        variants=(control, winner),
        guardrails=rollout.guardrails,
        min_samples=rollout.min_step_units,
        cuped=False,  # the pre-window belongs to the experiment, not to this step
        secondary_metrics=(),
    )


def _verdict(
    rollout: Rollout,
    guardrails: list[GuardrailResult],
    units: dict[str, int],
    minutes: float,
) -> tuple[StepState, str]:
    broken = [g for g in guardrails if g.violated]
    if broken:
        return StepState.HARM, "guardrail broken: " + ", ".join(
            f"{g.metric}={g.value:.4g} ({describe(g)})" for g in broken
        )
    short = []
    if minutes < rollout.min_step_minutes:
        short.append(f"{minutes:.0f} of {rollout.min_step_minutes:g} minutes")
    for version, seen in units.items():
        if seen < rollout.min_step_units:
            short.append(f"{seen} of {rollout.min_step_units} units on {version}")
    if short:
        where = f"step {rollout.step + 1} at {rollout.share:g}%"
        return StepState.WAITING, f"{where}: " + ", ".join(short)
    return StepState.READY, (
        f"step {rollout.step + 1} at {rollout.share:g}% passed: "
        f"{sum(units.values())} units over {minutes:.0f} minutes, no guardrail broken"
    )
