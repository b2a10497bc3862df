"""A lifecycle as a table of ``(status, action) -> status``: the one lookup that both the
experiments' and the LLM experiments' state machines use."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from ablab.errors import InvalidTransition

__all__ = ["allowed_in", "follow"]

StatusT = TypeVar("StatusT", bound=StrEnum)
ActionT = TypeVar("ActionT", bound=StrEnum)


def allowed_in(
    table: Mapping[tuple[StatusT, ActionT], StatusT], status: StatusT, actions: type[ActionT]
) -> tuple[ActionT, ...]:
    """The actions that ``status`` allows, in declaration order."""
    return tuple(action for action in actions if (status, action) in table)


def follow(
    table: Mapping[tuple[StatusT, ActionT], StatusT],
    status: StatusT,
    action: ActionT,
    subject: str,
) -> StatusT:
    """The status ``action`` leads to from ``status``; ``subject`` names the thing in the
    error (``an experiment``).

    Raises:
        InvalidTransition: the action is not allowed from ``status``.
    """
    try:
        return table[(status, action)]
    except KeyError:
        allowed = [a.value for a in allowed_in(table, status, type(action))]
        hint = f"allowed: {', '.join(allowed)}" if allowed else "no action is allowed"
        raise InvalidTransition(
            f"cannot {action.value} {subject} that is {status.value} ({hint})",
            details={"status": status.value, "action": action.value, "allowed_actions": allowed},
        ) from None
