"""Assigning units to variants through the store: sticky, targeted, stored on first sight.

The rules are :func:`ablab.assignment.decide.decide`'s; this module reads what they need
(the experiment, its group, its rollouts, whether its plan changed) into an
:class:`~ablab.assignment.rules.ExperimentRules`, and stores first assignments. The
server's in-memory path (``live_assignment``) and the SDK's local one use the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ablab.assignment import (
    NEEDS_STORED,
    Assignment,
    AssignmentReason,
    ExperimentRules,
    GoverningRollout,
    OwnRollout,
    Targeting,
    VariantRule,
    compile_rules,
    decide,
)
from ablab.domain.experiments import Experiment
from ablab.domain.groups import DeviceGroup
from ablab.domain.rollouts import Rollout
from ablab.errors import ValidationError
from ablab.services.context import Context
from ablab.services.experiments.allocation_periods import periods_of, plan_changed
from ablab.services.experiments.lifecycle import require_experiment
from ablab.services.ports import MetadataSession

__all__ = [
    "MAX_UNIT_ID_LENGTH",
    "assign",
    "assign_many",
    "assignment_counts",
    "check_unit_id",
    "plan_changed",
    "rollouts_of",
    "rules_of",
    "split_rollouts",
]

MAX_UNIT_ID_LENGTH = 256  # the assignments table's column


def assign(
    ctx: Context, ref: str, unit_id: str, attributes: Mapping[str, Any] | None = None
) -> Assignment:
    """The variant to serve ``unit_id`` in experiment ``ref``, stored if new.

    Raises:
        ValidationError: an empty unit id.
        NotFound: no such experiment.
    """
    check_unit_id(unit_id)
    with ctx.store.session() as session:
        experiment = require_experiment(session, ctx, ref)
        rules = compile_rules(rules_of(session, experiment))
        stored = session.get_assignments(experiment.id, [unit_id]).get(unit_id)
        found = decide(rules, unit_id, attributes, stored=stored)
        assert found is not NEEDS_STORED  # the stored assignment was given
        if found.reason is not AssignmentReason.NEW or found.variant is None:
            return found
        held = session.add_assignments(experiment.id, {unit_id: found.variant}, ctx.clock())
        if held[unit_id] == found.variant:
            return found
        # Another process stored its answer between our read and our write: that one holds.
        sticky = decide(rules, unit_id, attributes, stored=held[unit_id])
        assert sticky is not NEEDS_STORED
        return sticky


def assign_many(
    ctx: Context,
    ref: str,
    unit_ids: Sequence[str],
    attributes: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, str | None]:
    """Assign many units at once (backfills, offline scoring); the same rules as ``assign``.

    Returns each unit's variant, or None for units not in the experiment (not running, not
    targeted, not covered). New assignments are stored in one transaction.
    """
    for unit_id in unit_ids:
        check_unit_id(unit_id)
    if attributes is not None and len(attributes) != len(unit_ids):
        raise ValidationError("give one attributes mapping per unit id, or none")
    with ctx.store.session() as session:
        experiment = require_experiment(session, ctx, ref)
        rules = compile_rules(rules_of(session, experiment))
        stored = session.get_assignments(experiment.id, unit_ids)
        found: dict[str, Assignment] = {}
        for i, unit_id in enumerate(unit_ids):
            decision = decide(
                rules, unit_id, attributes[i] if attributes else None, stored=stored.get(unit_id)
            )
            assert decision is not NEEDS_STORED
            found.setdefault(unit_id, decision)
        new = {
            u: a.variant
            for u, a in found.items()
            if a.reason is AssignmentReason.NEW and a.variant is not None
        }
        held = session.add_assignments(experiment.id, new, ctx.clock())
        return {u: held.get(u, a.variant) if a.in_experiment else None for u, a in found.items()}


def assignment_counts(ctx: Context, ref: str) -> dict[str, int]:
    """Units stored per variant (every variant listed, zero included)."""
    with ctx.store.session(read_only=True) as session:
        experiment = require_experiment(session, ctx, ref)
        counts = session.count_assignments(experiment.id)
        return {v.name: counts.get(v.name, 0) for v in experiment.variants}


def check_unit_id(unit_id: object) -> None:
    if not isinstance(unit_id, str) or not unit_id.strip():
        raise ValidationError("unit id must be a non-empty string", details={"unit_id": unit_id})
    if len(unit_id) > MAX_UNIT_ID_LENGTH:
        raise ValidationError(
            f"unit id is longer than {MAX_UNIT_ID_LENGTH} characters",
            details={"length": len(unit_id)},
        )


def rules_of(
    session: MetadataSession,
    experiment: Experiment,
    rollouts: Sequence[Rollout] | None = None,
) -> ExperimentRules:
    """The assignment rules of ``experiment``, read from the store.

    ``rollouts`` are the model's rollouts, newest first, when the caller has them already
    (the SDK's ruleset reads them once per model).
    """
    group = None
    if experiment.group is not None:
        group = _targeting(
            experiment.group, session.get_group(experiment.project_id, experiment.group)
        )
    if rollouts is None and experiment.model is not None:
        rollouts = session.list_rollouts(experiment.project_id, experiment.model)
    own, governing = split_rollouts(experiment, rollouts or ())
    history = periods_of(session, experiment)
    return ExperimentRules(
        id=experiment.id,
        name=experiment.name,
        status=experiment.status.value,
        salt=experiment.salt,
        coverage=experiment.coverage,
        variants=tuple(
            VariantRule(v.name, v.weight, v.model_version, v.is_control)
            for v in experiment.variants
        ),
        winner=experiment.winner,
        plan_changed=plan_changed(history),
        group=group,
        rollout=None if own is None else OwnRollout(own.id, own.status.value, own.share),
        governing_rollout=None
        if governing is None
        else GoverningRollout(governing.id, governing.share, governing.previous_version),
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


def _targeting(name: str, group: DeviceGroup | None) -> Targeting:
    if group is None:
        # The group is gone: nobody new may enter (failing closed, never open to everyone).
        return Targeting(name=name, members=())
    if group.condition is not None:
        return Targeting(name=name, condition=dict(group.condition))
    return Targeting(name=name, members=tuple(sorted(group.members)))
