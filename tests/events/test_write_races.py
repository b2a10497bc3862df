"""Lifecycle writes that race: the loser is refused whole, nothing of it is written.

tests/server/test_races.py races real servers; these tests give a writer the stale view a
racing server would have, so the outcome is deterministic.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.domain.rollouts import RolloutAction, RolloutSettings, RolloutStatus
from ablab.errors import Conflict
from ablab.services.access.audit import list_audit
from ablab.services.context import Context
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment, get_experiment, transition
from ablab.services.rollouts.steps import act_on_rollout, list_rollouts

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
STEPS = RolloutSettings(steps=(10.0, 25.0, 50.0, 100.0))


@pytest.fixture
def at_noon(ctx: Context) -> Context:
    """Model ``m`` with versions 1, 2 and 3; ``a`` (1 vs 2) and ``b`` (1 vs 3) running."""
    now = replace(ctx, clock=lambda: NOW)
    for version in ("1", "2", "3"):
        register_model_version(
            now, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    for name, treatment in (("a", "2"), ("b", "3")):
        create_experiment(
            now,
            ExperimentCreate(
                name=name, model_id="m", control_version="1", treatment_version=treatment
            ),
        )
    return now


def test_a_refused_promotion_writes_nothing(at_noon: Context) -> None:
    transition(at_noon, "a", Action.PROMOTE, rollout=STEPS)
    before = get_experiment(at_noon, "b")
    with pytest.raises(Conflict, match=r"'m' is rolling out 2 \(10%") as refused:
        transition(at_noon, "b", Action.PROMOTE, rollout=STEPS)
    assert refused.value.details["rollout"] == list_rollouts(at_noon)[0].id
    after = get_experiment(at_noon, "b")
    assert (after.status, after.version, after.winner) == (
        ExperimentStatus.RUNNING,
        before.version,
        None,
    )
    assert [e.action for e in list_audit(at_noon, object_id=after.id)] == ["create"]
    assert [(r.version, r.status) for r in list_rollouts(at_noon)] == [("2", RolloutStatus.RUNNING)]


def test_an_action_on_a_stale_version_is_refused(at_noon: Context) -> None:
    seen = get_experiment(at_noon, "a").version
    transition(at_noon, "a", Action.PAUSE, expected_version=seen)
    with pytest.raises(Conflict, match=f"at version {seen + 1}, not {seen}"):
        transition(at_noon, "a", Action.STOP, expected_version=seen)
    stored = get_experiment(at_noon, "a")
    assert stored.status is ExperimentStatus.PAUSED
    assert [e.action for e in list_audit(at_noon, object_id=stored.id)] == ["pause", "create"]
    # Without a version the caller asks for the action on whatever the state is now.
    assert transition(at_noon, "a", Action.STOP).status is ExperimentStatus.STOPPED


def test_a_checked_step_is_not_advanced_after_someone_moved_it(at_noon: Context) -> None:
    """The monitor judged step 1; a person advanced meanwhile: the monitor must not advance
    step 2, which nobody has judged."""
    transition(at_noon, "a", Action.PROMOTE, rollout=STEPS)
    (checked,) = list_rollouts(at_noon)
    act_on_rollout(at_noon, checked.id, RolloutAction.ADVANCE)
    with pytest.raises(Conflict, match="changed since it was read"):
        act_on_rollout(
            at_noon, checked.id, RolloutAction.ADVANCE, expected_revision=checked.revision
        )
    (stored,) = list_rollouts(at_noon)
    assert (stored.share, stored.revision) == (25.0, checked.revision + 1)
