"""``decide``: the one function that says what a unit is served, everywhere.

The server's ``assign`` and ``assign_many``, its in-memory hot path, and the SDK assigning
locally all call it, so they cannot disagree. It is pure: the rules, the unit, its
attributes and what the caller knows of the unit's stored first assignment go in; an
:class:`Assignment` comes out, or :data:`NEEDS_STORED` when the answer depends on a stored
assignment the caller has not read. The caller then reads it (or, an SDK, asks the server)
and calls again.

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
4. Otherwise the hash decides (reason ``new``), and the caller stores the result: a
   concurrent writer that stored a variant first wins, so every process agrees.

The stored assignment matters only where today's plan could give another answer than an
earlier one: when the plan changed since launch, or when the unit is now outside the group,
the coverage or a rollout's share (it may have entered before). Elsewhere the hash gives the
variant any earlier call stored, and no read is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Final, Literal, TypeAlias

from ablab.assignment.rules import CompiledRules, in_share

__all__ = [
    "NEEDS_STORED",
    "UNKNOWN",
    "Assignment",
    "AssignmentReason",
    "Decision",
    "Stored",
    "decide",
]


class AssignmentReason(StrEnum):
    NEW = "new"  # first time: hashed, to be stored
    STICKY = "sticky"  # assigned before: the stored variant
    NOT_TARGETED = "not_targeted"  # outside the target group
    NOT_COVERED = "not_covered"  # in the group, outside the coverage
    NOT_RUNNING = "not_running"  # draft, paused, stopped, archived: control is served
    PROMOTED = "promoted"  # promoted: the winner is served
    ROLLOUT = "rollout"  # promoted, rolling out: the winner within the rollout's share
    ROLLED_BACK = "rolled_back"  # promoted, its rollout rolled back: the control is served
    NOT_IN_ROLLOUT = "not_in_rollout"  # outside the share of the model's active rollout


@dataclass(frozen=True, slots=True)
class Assignment:
    """The variant and model version to serve a unit.

    ``in_experiment`` is True only when the unit counts for the analysis (an exposure should be
    logged). Otherwise ``variant`` is what to serve (the control, or the promoted winner).
    """

    experiment: str
    unit_id: str
    variant: str | None
    model_version: str | None
    in_experiment: bool
    reason: AssignmentReason


class _Sentinel(Enum):
    UNKNOWN = "unknown"
    NEEDS_STORED = "needs_stored"


UNKNOWN: Final = _Sentinel.UNKNOWN
"""The caller has not read the unit's stored assignment (it may or may not have one)."""

NEEDS_STORED: Final = _Sentinel.NEEDS_STORED
"""The answer depends on the unit's stored assignment: read it and decide again."""

Stored: TypeAlias = str | Literal[_Sentinel.UNKNOWN] | None
"""The unit's stored variant, None when it has none, or :data:`UNKNOWN`."""

Decision: TypeAlias = Assignment | Literal[_Sentinel.NEEDS_STORED]

_ACTIVE_ROLLOUT = ("running", "paused")


def decide(
    compiled: CompiledRules,
    unit_id: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    stored: Stored = UNKNOWN,
) -> Decision:
    """What to serve ``unit_id`` (the contract of the module docstring).

    Args:
        compiled: The experiment's rules (:func:`~ablab.assignment.rules.compile_rules`).
        unit_id: The unit, a non-empty string (the caller checks it).
        attributes: The unit's attributes, for the target group's condition.
        stored: The unit's stored first assignment, None if it has none, or
            :data:`UNKNOWN` if the caller has not read it.

    Returns:
        The assignment, or :data:`NEEDS_STORED` when ``stored`` is unknown and matters.

    Examples:
        >>> from ablab.assignment.rules import ExperimentRules, VariantRule, compile_rules
        >>> rules = compile_rules(ExperimentRules(
        ...     id="exp_1", name="my-experiment", status="running", salt="exp_1",
        ...     coverage=100.0, variants=(
        ...         VariantRule("control", 50.0, "1.0.0", True),
        ...         VariantRule("treatment", 50.0, "2.0.0", False))))
        >>> decide(rules, "device-42").reason
        <AssignmentReason.NEW: 'new'>
        >>> decide(rules, "device-42", stored="treatment").variant
        'treatment'
    """
    rules = compiled.rules
    if rules.status != "running":
        return _not_running(compiled, unit_id)
    if isinstance(stored, str):
        return _inside(compiled, unit_id, stored, AssignmentReason.STICKY)
    if stored is UNKNOWN and rules.plan_changed:
        return NEEDS_STORED
    targeted = compiled.targeted is None or compiled.targeted(unit_id, attributes or {})
    governing = rules.governing_rollout
    reached = governing is None or in_share(governing.id, governing.share, unit_id)
    variant = None
    if targeted and reached and compiled.plan is not None:
        variant = compiled.plan.assign(unit_id)
    if variant is not None:
        return _inside(compiled, unit_id, variant, AssignmentReason.NEW)
    if stored is UNKNOWN:
        return NEEDS_STORED  # it may have entered earlier, when it was targeted or covered
    if not targeted:
        return _outside(compiled, unit_id, AssignmentReason.NOT_TARGETED)
    if governing is not None and not reached:
        return Assignment(
            experiment=rules.name,
            unit_id=unit_id,
            variant=None,
            model_version=governing.previous_version,
            in_experiment=False,
            reason=AssignmentReason.NOT_IN_ROLLOUT,
        )
    return _outside(compiled, unit_id, AssignmentReason.NOT_COVERED)


def _not_running(compiled: CompiledRules, unit_id: str) -> Assignment:
    """Rule 1: what an experiment that is not running serves."""
    rules = compiled.rules
    if rules.winner is None:
        return _outside(compiled, unit_id, AssignmentReason.NOT_RUNNING)
    own = rules.rollout
    if own is not None and own.status in _ACTIVE_ROLLOUT:
        control = compiled.control.name if compiled.control is not None else rules.winner
        new = in_share(own.id, own.share, unit_id)
        return _inside(
            compiled, unit_id, rules.winner if new else control, AssignmentReason.ROLLOUT
        )
    if own is not None and own.status == "rolled_back":
        return _outside(compiled, unit_id, AssignmentReason.ROLLED_BACK)
    # A promoted experiment keeps serving its winner after it is archived.
    return _outside(compiled, unit_id, AssignmentReason.PROMOTED)


def _inside(
    compiled: CompiledRules, unit_id: str, variant: str, reason: AssignmentReason
) -> Assignment:
    return Assignment(
        experiment=compiled.rules.name,
        unit_id=unit_id,
        variant=variant,
        model_version=compiled.versions.get(variant),
        in_experiment=True,
        reason=reason,
    )


def _outside(compiled: CompiledRules, unit_id: str, reason: AssignmentReason) -> Assignment:
    """Not in the experiment: the winner if promoted, else the control (if any)."""
    served = compiled.control.name if compiled.control is not None else None
    if reason is AssignmentReason.PROMOTED:
        served = compiled.rules.winner
    return Assignment(
        experiment=compiled.rules.name,
        unit_id=unit_id,
        variant=served,
        model_version=compiled.versions.get(served) if served is not None else None,
        in_experiment=False,
        reason=reason,
    )
