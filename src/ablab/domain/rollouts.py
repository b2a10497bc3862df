"""Rollouts: a promoted version served to a growing share of units, step by step.

A rollout starts when an experiment is promoted: the winner's version goes to ``steps[0]``
percent of units (default 10, 25, 50, 100), the rest keep the previous version. A unit is
on the new version when its rollout bucket (the same versioned hash as assignment, salted
by the rollout's id) is below the share, so raising the share only adds units: nobody who
got the new version goes back, until a rollback returns everyone.

Lifecycle: ``running <-> paused``; ``running -> completed`` (advancing onto the last step,
100%: everyone is on the new version, there is nothing left to compare against);
``running | paused -> rolled_back``. Every other move is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from ablab.assignment.rules import in_share
from ablab.domain.guardrails import Guardrail, parse_guardrail
from ablab.domain.results.checks import GuardrailResult
from ablab.errors import InvalidTransition, ValidationError

__all__ = [
    "DEFAULT_GUARDRAILS",
    "DEFAULT_STEPS",
    "Rollout",
    "RolloutAction",
    "RolloutCheck",
    "RolloutSettings",
    "RolloutStatus",
    "StepState",
    "apply_rollout_action",
    "serves_new_version",
    "validate_steps",
]

DEFAULT_STEPS = (10.0, 25.0, 50.0, 100.0)
# When the experiment had no guardrails: no worse than the previous version by half.
DEFAULT_GUARDRAILS = tuple(parse_guardrail(g) for g in ("error_rate<=+50%", "latency_ms<=+50%"))


class RolloutStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"


class RolloutAction(StrEnum):
    ADVANCE = "advance"
    PAUSE = "pause"
    RESUME = "resume"
    ROLLBACK = "rollback"


ACTIVE = (RolloutStatus.RUNNING, RolloutStatus.PAUSED)


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """How a promotion rolls its winner out (``None`` in its place: at once, to everyone)."""

    steps: tuple[float, ...] = DEFAULT_STEPS
    min_step_minutes: float = 60.0
    min_step_units: int = 100

    def __post_init__(self) -> None:
        validate_steps(self.steps)
        if not (math.isfinite(self.min_step_minutes) and self.min_step_minutes >= 0):
            raise ValidationError(
                f"min_step_minutes must be 0 or more, got {self.min_step_minutes}",
                details={"min_step_minutes": self.min_step_minutes},
            )
        if self.min_step_units < 1:
            raise ValidationError(
                f"min_step_units must be 1 or more, got {self.min_step_units}",
                details={"min_step_units": self.min_step_units},
            )


@dataclass(frozen=True, slots=True)
class Rollout:
    id: str
    project_id: str
    model: str
    version: str
    previous_version: str
    experiment_id: str | None
    status: RolloutStatus
    steps: tuple[float, ...]
    step: int
    step_started_at: datetime
    created_at: datetime
    updated_at: datetime
    guardrails: tuple[Guardrail, ...] = DEFAULT_GUARDRAILS
    min_step_minutes: float = 60.0
    min_step_units: int = 100
    reason: str = ""
    revision: int = 1

    @property
    def share(self) -> float:
        """Percent of units on the new version now."""
        if self.status is RolloutStatus.COMPLETED:
            return 100.0
        if self.status is RolloutStatus.ROLLED_BACK:
            return 0.0
        return self.steps[self.step]

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class StepState(StrEnum):
    """Where a rollout's current step stands (``services.rollouts.steps`` judges it)."""

    HARM = "harm"  # a guardrail is broken: roll back
    READY = "ready"  # the step's time and units are reached, no guardrail broken: advance
    WAITING = "waiting"


@dataclass(frozen=True, slots=True)
class RolloutCheck:
    """The current step's evidence: the new version against the previous one since the
    step began. ``units`` are the units seen in the step, by version; ``guardrails`` the
    step's guardrail results (``ablab.domain.results.checks.GuardrailResult``)."""

    rollout: Rollout
    state: StepState
    reason: str
    units: Mapping[str, int]
    minutes_in_step: float
    guardrails: tuple[GuardrailResult, ...]


def validate_steps(steps: Sequence[float]) -> tuple[float, ...]:
    """Increasing percentages in (0, 100], ending at 100.

    Raises:
        ValidationError: otherwise.
    """
    found = tuple(float(s) for s in steps)
    if (
        not found
        or any(not (math.isfinite(s) and 0 < s <= 100) for s in found)
        or any(b <= a for a, b in pairwise(found))
        or found[-1] != 100
    ):
        raise ValidationError(
            f"rollout steps must increase within (0, 100] and end at 100, got {list(found)}",
            details={"steps": list(found)},
        )
    return found


def serves_new_version(rollout: Rollout, unit_id: str) -> bool:
    """Whether ``unit_id`` gets the rollout's new version at its current share."""
    return in_share(rollout.id, rollout.share, unit_id)


_MOVES: dict[tuple[RolloutStatus, RolloutAction], RolloutStatus] = {
    (RolloutStatus.RUNNING, RolloutAction.ADVANCE): RolloutStatus.RUNNING,
    (RolloutStatus.RUNNING, RolloutAction.PAUSE): RolloutStatus.PAUSED,
    (RolloutStatus.PAUSED, RolloutAction.RESUME): RolloutStatus.RUNNING,
    (RolloutStatus.RUNNING, RolloutAction.ROLLBACK): RolloutStatus.ROLLED_BACK,
    (RolloutStatus.PAUSED, RolloutAction.ROLLBACK): RolloutStatus.ROLLED_BACK,
}


def apply_rollout_action(
    rollout: Rollout, action: RolloutAction, now: datetime, reason: str = ""
) -> Rollout:
    """The rollout after ``action`` (advancing onto the 100% step completes it).

    Raises:
        InvalidTransition: the action is not allowed from the current status.
    """
    status = _MOVES.get((rollout.status, action))
    if status is None:
        allowed = sorted(a.value for s, a in _MOVES if s is rollout.status)
        raise InvalidTransition(
            f"cannot {action.value} a rollout that is {rollout.status.value}"
            + (f" (allowed: {', '.join(allowed)})" if allowed else ""),
            details={"status": rollout.status.value, "allowed": allowed},
        )
    step = rollout.step
    if action is RolloutAction.ADVANCE:
        step = min(step + 1, len(rollout.steps) - 1)
        if rollout.steps[step] >= 100:
            status = RolloutStatus.COMPLETED
    started = now if action in (RolloutAction.ADVANCE, RolloutAction.RESUME) else None
    return replace(
        rollout,
        status=status,
        step=step,
        step_started_at=started or rollout.step_started_at,
        updated_at=now,
        reason=reason or action.value,
    )
