"""What a unit is served, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Assignment", "AssignmentReason"]


class AssignmentReason(StrEnum):
    NEW = "new"  # first time: hashed and stored
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
