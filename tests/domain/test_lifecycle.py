from __future__ import annotations

import itertools

import pytest

from ablab.domain.lifecycle import Action, ExperimentStatus, allowed_actions, next_status
from ablab.errors import InvalidTransition

S, A = ExperimentStatus, Action

ALLOWED = {
    (S.DRAFT, A.LAUNCH): S.RUNNING,
    (S.DRAFT, A.ARCHIVE): S.ARCHIVED,
    (S.RUNNING, A.PAUSE): S.PAUSED,
    (S.RUNNING, A.STOP): S.STOPPED,
    (S.RUNNING, A.PROMOTE): S.PROMOTED,
    (S.PAUSED, A.RESUME): S.RUNNING,
    (S.PAUSED, A.STOP): S.STOPPED,
    (S.PAUSED, A.PROMOTE): S.PROMOTED,
    (S.STOPPED, A.ARCHIVE): S.ARCHIVED,
    (S.PROMOTED, A.ARCHIVE): S.ARCHIVED,
}


@pytest.mark.parametrize(("move", "target"), ALLOWED.items())
def test_allowed_moves(move: tuple[ExperimentStatus, Action], target: ExperimentStatus) -> None:
    assert next_status(*move) is target


REFUSED = [m for m in itertools.product(S, A) if m not in ALLOWED]


@pytest.mark.parametrize("move", REFUSED)
def test_every_other_move_is_refused_naming_status_and_allowed_actions(
    move: tuple[ExperimentStatus, Action],
) -> None:
    status, action = move
    with pytest.raises(InvalidTransition) as caught:
        next_status(status, action)
    error = caught.value
    assert status.value in error.message
    assert action.value in error.message
    assert error.details["allowed_actions"] == [a.value for a in allowed_actions(status)]
    for allowed in error.details["allowed_actions"]:
        assert allowed in error.message


def test_archived_is_final() -> None:
    assert allowed_actions(S.ARCHIVED) == ()
    with pytest.raises(InvalidTransition, match="no action is allowed"):
        next_status(S.ARCHIVED, A.LAUNCH)
