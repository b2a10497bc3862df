"""The experiment lifecycle: which action moves which status where.

::

    draft ──launch──▶ running ◀──resume── paused
                        │  └────pause────▶   │
                        ├──stop──▶ stopped ◀─┤ stop
                        └─promote▶ promoted ◀┘ promote
    stopped | promoted ──archive──▶ archived

A draft can also be archived (abandoned before launch). Every other move raises
InvalidTransition naming the current status and the actions it allows.
"""

from __future__ import annotations

from enum import StrEnum

from ablab.domain.transitions import allowed_in, follow

__all__ = ["Action", "ExperimentStatus", "allowed_actions", "next_status"]


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    PROMOTED = "promoted"
    ARCHIVED = "archived"


class Action(StrEnum):
    LAUNCH = "launch"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    PROMOTE = "promote"
    ARCHIVE = "archive"


_S = ExperimentStatus
_TRANSITIONS: dict[tuple[ExperimentStatus, Action], ExperimentStatus] = {
    (_S.DRAFT, Action.LAUNCH): _S.RUNNING,
    (_S.DRAFT, Action.ARCHIVE): _S.ARCHIVED,
    (_S.RUNNING, Action.PAUSE): _S.PAUSED,
    (_S.RUNNING, Action.STOP): _S.STOPPED,
    (_S.RUNNING, Action.PROMOTE): _S.PROMOTED,
    (_S.PAUSED, Action.RESUME): _S.RUNNING,
    (_S.PAUSED, Action.STOP): _S.STOPPED,
    (_S.PAUSED, Action.PROMOTE): _S.PROMOTED,
    (_S.STOPPED, Action.ARCHIVE): _S.ARCHIVED,
    (_S.PROMOTED, Action.ARCHIVE): _S.ARCHIVED,
}


def allowed_actions(status: ExperimentStatus) -> tuple[Action, ...]:
    """The actions that ``status`` allows, in declaration order."""
    return allowed_in(_TRANSITIONS, status, Action)


def next_status(status: ExperimentStatus, action: Action) -> ExperimentStatus:
    """The status that ``action`` leads to from ``status``.

    Raises:
        InvalidTransition: the action is not allowed from ``status``.
    """
    return follow(_TRANSITIONS, status, action, "an experiment")
