"""Allocation periods: written with each split change in its transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ablab.contract.experiments import ExperimentCreate, ExperimentUpdate
from ablab.domain.allocations import AllocationReason
from ablab.domain.experiments import Experiment
from ablab.domain.lifecycle import Action
from ablab.services.assignment.assign import rules_of
from ablab.services.context import Context
from ablab.services.experiments.allocation_periods import allocation_periods, record_allocation
from ablab.services.experiments.lifecycle import (
    create_experiment,
    get_experiment,
    transition,
    update_experiment,
)
from tests.fakes import InMemoryMetadataStore

LAUNCH = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


def at(ctx: Context, minutes: int) -> Context:
    return replace(ctx, clock=lambda: LAUNCH + timedelta(minutes=minutes))


def spec(**fields: object) -> ExperimentCreate:
    body: dict[str, object] = {
        "name": "split",
        "model_id": "radiology-v1",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
        "traffic_split": 50,
        **fields,
    }
    return ExperimentCreate.model_validate(body)


def test_creating_a_running_experiment_starts_its_first_period(ctx: Context, model: str) -> None:
    experiment = create_experiment(at(ctx, 0), spec(coverage=40))
    (period,) = allocation_periods(ctx, experiment)
    assert period.experiment_id == experiment.id
    assert period.started_at == experiment.started_at == LAUNCH
    assert dict(period.weights) == {"control": 50.0, "treatment": 50.0}
    assert period.coverage == 40.0
    assert period.reason is AllocationReason.LAUNCH
    assert period.actor == "test:alice"


def test_a_draft_has_none_until_launch(ctx: Context, model: str) -> None:
    draft = create_experiment(at(ctx, 0), spec(draft=True, traffic_split=30))
    update_experiment(at(ctx, 1), "split", ExperimentUpdate(traffic_split=20))
    assert allocation_periods(ctx, get_experiment(ctx, draft.id)) == []
    launched = transition(at(ctx, 5), "split", Action.LAUNCH)
    (period,) = allocation_periods(ctx, launched)
    assert (period.started_at, period.reason) == (LAUNCH + timedelta(minutes=5), "launch")
    assert dict(period.weights) == {"control": 80.0, "treatment": 20.0}


def test_each_split_change_starts_a_period_and_nothing_else_does(ctx: Context, model: str) -> None:
    create_experiment(at(ctx, 0), spec())
    update_experiment(at(ctx, 10), "split", ExperimentUpdate(traffic_split=80))
    update_experiment(at(ctx, 11), "split", ExperimentUpdate(hypothesis="a better model"))
    update_experiment(at(ctx, 12), "split", ExperimentUpdate(traffic_split=80))  # no change
    transition(at(ctx, 13), "split", Action.PAUSE)
    transition(at(ctx, 14), "split", Action.RESUME)
    bandit = replace(at(ctx, 20), actor="ablab:monitor")
    update_experiment(
        bandit,
        "split",
        ExperimentUpdate(weights={"control": 35, "treatment": 65}),
        reason=AllocationReason.BANDIT,
    )
    periods = allocation_periods(ctx, get_experiment(ctx, "split"))
    assert [(p.started_at - LAUNCH, p.reason.value, p.actor, dict(p.weights)) for p in periods] == [
        (timedelta(0), "launch", "test:alice", {"control": 50.0, "treatment": 50.0}),
        (timedelta(minutes=10), "split", "test:alice", {"control": 20.0, "treatment": 80.0}),
        (timedelta(minutes=20), "bandit", "ablab:monitor", {"control": 35.0, "treatment": 65.0}),
    ]


def change_then_fail(ctx: Context, experiment: Experiment) -> None:
    """A split change and its period written in one session, which then fails."""
    with ctx.store.session() as session:
        variants = tuple(
            replace(v, weight=10.0 if v.is_control else 90.0) for v in experiment.variants
        )
        changed = replace(experiment, variants=variants, updated_at=LAUNCH + timedelta(minutes=3))
        stored = session.update_experiment(changed)
        assert record_allocation(ctx, session, experiment, stored) is not None
        assert len(session.list_allocation_periods(experiment.id)) == 2
        raise RuntimeError("the transaction fails after both writes")


def test_the_period_commits_with_its_change_or_not_at_all(ctx: Context, model: str) -> None:
    experiment = create_experiment(at(ctx, 0), spec())
    with pytest.raises(RuntimeError, match="fails after both writes"):
        change_then_fail(ctx, experiment)
    assert get_experiment(ctx, experiment.id) == experiment
    assert len(allocation_periods(ctx, experiment)) == 1


def test_assignment_rules_know_whether_the_plan_changed(ctx: Context, model: str) -> None:
    experiment = create_experiment(at(ctx, 0), spec())
    with ctx.store.session() as session:
        assert not rules_of(session, experiment).plan_changed
    changed = update_experiment(at(ctx, 1), "split", ExperimentUpdate(traffic_split=10))
    with ctx.store.session() as session:
        assert rules_of(session, changed).plan_changed
    back = update_experiment(at(ctx, 2), "split", ExperimentUpdate(traffic_split=50))
    with ctx.store.session() as session:
        # Units assigned at 10% keep their variant: the plan has changed for good.
        assert rules_of(session, back).plan_changed


def test_a_launched_experiment_without_stored_history_counts_its_split_since_launch(
    ctx: Context, model: str, memory_store: InMemoryMetadataStore
) -> None:
    experiment = create_experiment(at(ctx, 0), spec(traffic_split=30))
    memory_store.tables.allocation_periods.clear()  # a store from before the table existed
    (period,) = allocation_periods(ctx, experiment)
    assert (period.started_at, period.reason, dict(period.weights)) == (
        LAUNCH,
        AllocationReason.LAUNCH,
        {"control": 70.0, "treatment": 30.0},
    )
