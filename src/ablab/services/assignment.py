"""Assigning units to variants: sticky, targeted, covered, and stored on first sight.

The order of the checks is the contract:

1. An experiment that is not running serves its control (a promoted one, its winner) and
   counts nobody: paused experiments keep their assignments for the resume. A promoted
   experiment whose rollout is in progress serves the winner to the rollout's share and
   the control to the rest, and counts them all, for the rollout's guardrails; after a
   rollback it serves the control.
2. A unit assigned before keeps its variant for the experiment's life, whatever the split,
   the coverage or its attributes have become since.
3. A new unit outside the target group, or outside the coverage, gets the control and is not
   in the experiment. While another experiment's rollout of the same model is in progress,
   a new unit outside that rollout's share is not in the experiment either: it is served
   the rollout's previous version.
4. Otherwise the hash decides, and the result is stored; a concurrent writer that stored a
   variant first wins, so every process agrees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ablab.assignment import AssignmentPlan, compile_condition
from ablab.domain.assignments import Assignment, AssignmentReason
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.rollouts import Rollout, RolloutStatus, serves_new_version
from ablab.errors import ValidationError
from ablab.services.catalogue import require_group
from ablab.services.context import Context
from ablab.services.experiments import require_experiment
from ablab.services.ports import MetadataSession

__all__ = [
    "assign",
    "assign_many",
    "assignment_counts",
    "check_unit_id",
    "inside",
    "not_running",
    "outside",
    "outside_rollout",
    "plan_of",
    "rollouts_of",
    "split_rollouts",
]

_Predicate = Any  # Callable[[Mapping[str, object]], bool]


def assign(
    ctx: Context, ref: str, unit_id: str, attributes: Mapping[str, Any] | None = None
) -> Assignment:
    """The variant to serve ``unit_id`` in experiment ``ref``.

    Raises:
        ValidationError: an empty unit id.
        NotFound: no such experiment.
    """
    check_unit_id(unit_id)
    attributes = attributes or {}
    with ctx.store.session() as session:
        experiment = require_experiment(session, ctx, ref)
        own, governing = rollouts_of(session, experiment)
        if experiment.status is not ExperimentStatus.RUNNING:
            return not_running(experiment, unit_id, own)
        stored = session.get_assignments(experiment.id, [unit_id]).get(unit_id)
        if stored is not None:
            return inside(experiment, unit_id, stored, AssignmentReason.STICKY)
        group = require_group(session, ctx, experiment.group) if experiment.group else None
        if group is not None and not _is_member(group, unit_id, attributes):
            return outside(experiment, unit_id, AssignmentReason.NOT_TARGETED)
        if governing is not None and not serves_new_version(governing, unit_id):
            return outside_rollout(experiment, unit_id, governing)
        variant = plan_of(experiment).assign(unit_id)
        if variant is None:
            return outside(experiment, unit_id, AssignmentReason.NOT_COVERED)
        held = session.add_assignments(experiment.id, {unit_id: variant}, ctx.clock())[unit_id]
        reason = AssignmentReason.NEW if held == variant else AssignmentReason.STICKY
        return inside(experiment, unit_id, held, reason)


def assign_many(
    ctx: Context,
    ref: str,
    unit_ids: Sequence[str],
    attributes: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, str | None]:
    """Assign many units at once (backfills, offline scoring); same rules as ``assign``.

    Returns each unit's variant, or None for units not in the experiment (not running, not
    targeted, not covered). New assignments are stored in one transaction.
    """
    for unit_id in unit_ids:
        check_unit_id(unit_id)
    if attributes is not None and len(attributes) != len(unit_ids):
        raise ValidationError("give one attributes mapping per unit id, or none")
    with ctx.store.session() as session:
        experiment = require_experiment(session, ctx, ref)
        own, governing = rollouts_of(session, experiment)
        if experiment.status is not ExperimentStatus.RUNNING:
            found = [not_running(experiment, u, own) for u in unit_ids]
            return {a.unit_id: a.variant if a.in_experiment else None for a in found}
        result: dict[str, str | None] = dict(session.get_assignments(experiment.id, unit_ids))
        group = require_group(session, ctx, experiment.group) if experiment.group else None
        fresh = [
            (i, unit_id)
            for i, unit_id in enumerate(unit_ids)
            if unit_id not in result
            and (group is None or _is_member(group, unit_id, attributes[i] if attributes else {}))
            and (governing is None or serves_new_version(governing, unit_id))
        ]
        plan = plan_of(experiment)
        names = plan.variant_names_of(plan.assign_batch([u for _, u in fresh]))
        new = {u: name for (_, u), name in zip(fresh, names, strict=True) if name is not None}
        result.update(session.add_assignments(experiment.id, new, ctx.clock()))
        return {u: result.get(u) for u in unit_ids}


def assignment_counts(ctx: Context, ref: str) -> dict[str, int]:
    """Units stored per variant (every variant listed, zero included)."""
    with ctx.store.session() as session:
        experiment = require_experiment(session, ctx, ref)
        counts = session.count_assignments(experiment.id)
        return {v.name: counts.get(v.name, 0) for v in experiment.variants}


MAX_UNIT_ID_LENGTH = 256  # the assignments table's column


def check_unit_id(unit_id: object) -> None:
    if not isinstance(unit_id, str) or not unit_id.strip():
        raise ValidationError("unit id must be a non-empty string", details={"unit_id": unit_id})
    if len(unit_id) > MAX_UNIT_ID_LENGTH:
        raise ValidationError(
            f"unit id is longer than {MAX_UNIT_ID_LENGTH} characters",
            details={"length": len(unit_id)},
        )


def rollouts_of(
    session: MetadataSession, experiment: Experiment
) -> tuple[Rollout | None, Rollout | None]:
    """(the experiment's own latest rollout, another's active rollout of the same model)."""
    if experiment.model is None:
        return None, None
    return split_rollouts(
        experiment, session.list_rollouts(experiment.project_id, experiment.model)
    )


def split_rollouts(
    experiment: Experiment, newest_first: Sequence[Rollout]
) -> tuple[Rollout | None, Rollout | None]:
    """:func:`rollouts_of` from the model's rollouts, newest first."""
    own = next((r for r in newest_first if r.experiment_id == experiment.id), None)
    governing = next(
        (r for r in newest_first if r.active and r.experiment_id != experiment.id), None
    )
    return own, governing


def not_running(experiment: Experiment, unit_id: str, own: Rollout | None) -> Assignment:
    """What an experiment that is not running serves (rule 1)."""
    if experiment.winner is None:
        return outside(experiment, unit_id, AssignmentReason.NOT_RUNNING)
    if own is not None and own.active:
        new = serves_new_version(own, unit_id)
        variant = experiment.winner if new else experiment.control.name
        return inside(experiment, unit_id, variant, AssignmentReason.ROLLOUT)
    if own is not None and own.status is RolloutStatus.ROLLED_BACK:
        return outside(experiment, unit_id, AssignmentReason.ROLLED_BACK)
    # A promoted experiment keeps serving its winner after it is archived.
    return outside(experiment, unit_id, AssignmentReason.PROMOTED)


def outside_rollout(experiment: Experiment, unit_id: str, rollout: Rollout) -> Assignment:
    """Outside another experiment's rollout share: its previous version, no variant."""
    return Assignment(
        experiment=experiment.name,
        unit_id=unit_id,
        variant=None,
        model_version=rollout.previous_version,
        in_experiment=False,
        reason=AssignmentReason.NOT_IN_ROLLOUT,
    )


def outside(experiment: Experiment, unit_id: str, reason: AssignmentReason) -> Assignment:
    """Not in the experiment: serve the winner if promoted, else the control (if any)."""
    served = None
    if reason is AssignmentReason.PROMOTED and experiment.winner is not None:
        served = experiment.variant(experiment.winner)
    elif any(v.is_control for v in experiment.variants):
        served = experiment.control
    return Assignment(
        experiment=experiment.name,
        unit_id=unit_id,
        variant=served.name if served else None,
        model_version=served.model_version if served else None,
        in_experiment=False,
        reason=reason,
    )


def inside(
    experiment: Experiment, unit_id: str, variant: str, reason: AssignmentReason
) -> Assignment:
    return Assignment(
        experiment=experiment.name,
        unit_id=unit_id,
        variant=variant,
        model_version=experiment.variant(variant).model_version,
        in_experiment=True,
        reason=reason,
    )


def plan_of(experiment: Experiment) -> AssignmentPlan:
    return _cached_plan(
        experiment.salt,
        tuple((v.name, v.weight) for v in experiment.variants),
        experiment.coverage,
    )


@lru_cache(maxsize=1024)
def _cached_plan(
    salt: str, variants: tuple[tuple[str, float], ...], coverage: float
) -> AssignmentPlan:
    return AssignmentPlan.from_weights(salt, variants, coverage_percent=coverage)


def _is_member(group: DeviceGroup, unit_id: str, attributes: Mapping[str, Any]) -> bool:
    if group.condition is None:
        return unit_id in group.members
    predicate: _Predicate = _compiled_condition(
        group.id, json.dumps(group.condition, sort_keys=True)
    )
    return bool(predicate(attributes))


@lru_cache(maxsize=1024)
def _compiled_condition(group_id: str, condition_json: str) -> _Predicate:
    # Keyed by the condition's text too, so an edited group never serves a stale rule.
    return compile_condition(json.loads(condition_json))
