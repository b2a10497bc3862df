"""Rollouts: promoting starts one, shares only grow, steps are gated, harm rolls back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats

from ablab.assignment.decide import AssignmentReason
from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.domain.lifecycle import Action
from ablab.domain.rollouts import RolloutAction, RolloutSettings, RolloutStatus
from ablab.errors import Conflict, InvalidTransition, ValidationError
from ablab.services.access.audit import list_audit
from ablab.services.analysis.results import experiment_results
from ablab.services.assignment.assign import assign, assign_many
from ablab.services.assignment.live import LiveAssigner
from ablab.services.automation.monitor import check_running_experiments
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment, transition
from ablab.services.ports import EventStore
from ablab.services.rollouts.steps import (
    RolloutStep,
    act_on_rollout,
    check_rollout,
    list_rollouts,
    step_rollout,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FAST = RolloutSettings(min_step_minutes=30, min_step_units=150)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


def promoted(ctx: Context, settings: RolloutSettings | None = FAST, **options: Any) -> Context:
    """``trial`` (m 1 -> 2) created, run and promoted at NOW, on a clock the test moves."""
    clock = Clock()
    now = replace(ctx, clock=clock)
    for version in ("1", "2", "3"):
        register_model_version(
            now, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    create_experiment(
        now,
        ExperimentCreate(
            name="trial", model_id="m", control_version="1", treatment_version="2", **options
        ),
    )
    transition(now, "trial", Action.PROMOTE, rollout=settings)
    return now


def clock_of(ctx: Context) -> Clock:
    assert isinstance(ctx.clock, Clock)
    return ctx.clock


def serve(
    ctx: Context,
    events: EventStore,
    units: range,
    error_rates: dict[str, float],
    seed: int,
) -> dict[str, int]:
    """Assign each unit, log two predictions at its variant's error rate; served counts."""
    rng = np.random.default_rng(seed)
    at = ctx.clock().isoformat()
    batch: list[dict[str, Any]] = []
    served: dict[str, int] = {}
    variants = assign_many(ctx, "trial", [f"u{unit}" for unit in units])
    for unit in units:
        variant = variants[f"u{unit}"]
        assert variant is not None
        served[variant] = served.get(variant, 0) + 1
        for k in range(2):
            batch.append(
                {
                    "event_id": f"p{unit}-{k}-{at}",
                    "type": "prediction",
                    "experiment": "trial",
                    "unit_id": f"u{unit}",
                    "variant": variant,
                    "prediction_id": f"{unit}-{k}-{at}",
                    "latency_ms": float(rng.normal(20, 2)),
                    "error": bool(rng.random() < error_rates[variant]),
                    "timestamp": at,
                }
            )
    assert ingest_events(ctx, events, batch).rejected == []
    return served


def only_rollout(ctx: Context) -> str:
    (rollout,) = list_rollouts(ctx)
    return rollout.id


def test_promoting_starts_a_rollout_at_the_first_step(ctx: Context) -> None:
    now = promoted(ctx)
    (rollout,) = list_rollouts(now)
    assert (rollout.status, rollout.share, rollout.version, rollout.previous_version) == (
        RolloutStatus.RUNNING,
        10.0,
        "2",
        "1",
    )
    found = [assign(now, "trial", f"u{i}") for i in range(300)]
    assert all(a.in_experiment and a.reason is AssignmentReason.ROLLOUT for a in found)
    assert {a.model_version for a in found if a.variant == "treatment"} == {"2"}
    assert {a.model_version for a in found if a.variant == "control"} == {"1"}
    variants = assign_many(now, "trial", [f"u{i}" for i in range(4000)])
    assert [variants[a.unit_id] for a in found] == [a.variant for a in found]
    on_new = sum(v == "treatment" for v in variants.values())
    # Binomial(4000, 0.10): a two-sided 99.9% test of the share.
    assert stats.binomtest(on_new, 4000, 0.10).pvalue > 0.001
    audit = list_audit(now, object_id=rollout.id)
    assert [e.action for e in audit] == ["start"]


def test_shares_only_grow_until_everyone_has_the_new_version(ctx: Context) -> None:
    now = promoted(ctx)
    rollout_id = only_rollout(now)
    units = [f"u{i}" for i in range(3000)]
    reached: list[set[str]] = []
    for _ in range(3):  # 10, 25, 50
        variants = assign_many(now, "trial", units)
        reached.append({u for u, v in variants.items() if v == "treatment"})
        act_on_rollout(now, rollout_id, RolloutAction.ADVANCE)
    assert reached[0] < reached[1] < reached[2]
    shares = [len(r) / len(units) for r in reached]
    assert shares == pytest.approx([0.10, 0.25, 0.50], abs=0.03)
    # Advancing from 50% onto the 100% step completes the rollout: the winner for all.
    (done,) = list_rollouts(now)
    assert done.status is RolloutStatus.COMPLETED
    assert done.share == 100.0
    after = assign(now, "trial", "u1")
    assert (after.variant, after.in_experiment, after.reason) == (
        "treatment",
        False,
        AssignmentReason.PROMOTED,
    )
    with pytest.raises(InvalidTransition, match="completed"):
        act_on_rollout(now, rollout_id, RolloutAction.ROLLBACK)


def test_rollback_serves_everyone_the_previous_version(ctx: Context) -> None:
    now = promoted(ctx)
    rollout_id = only_rollout(now)
    paused = act_on_rollout(now, rollout_id, RolloutAction.PAUSE, "looking into alerts")
    assert paused.status is RolloutStatus.PAUSED
    assert paused.share == 10.0
    back = act_on_rollout(now, rollout_id, RolloutAction.ROLLBACK)
    assert back.status is RolloutStatus.ROLLED_BACK
    assert back.share == 0.0
    found = [assign(now, "trial", f"u{i}") for i in range(300)]
    assert {(a.variant, a.model_version, a.reason) for a in found} == {
        ("control", "1", AssignmentReason.ROLLED_BACK)
    }
    with pytest.raises(InvalidTransition, match="rolled_back"):
        act_on_rollout(now, rollout_id, RolloutAction.RESUME)
    actions = [e.action for e in reversed(list_audit(now, object_id=rollout_id))]
    assert actions == ["start", "pause", "rollback"]


def test_a_step_waits_for_its_time_and_units_then_advances(
    ctx: Context, events: EventStore
) -> None:
    now = promoted(ctx)
    rollout_id = only_rollout(now)
    clock_of(now).advance(1)
    serve(now, events, range(3000), {"control": 0.01, "treatment": 0.01}, seed=1)
    check = check_rollout(now, events, rollout_id)
    assert check.state == "waiting"
    assert "of 30 minutes" in check.reason
    assert step_rollout(now, events, rollout_id) is None
    clock_of(now).advance(30)
    check = check_rollout(now, events, rollout_id)
    assert check.units["2"] >= 150
    assert check.units["1"] > check.units["2"]
    assert check.state == "ready", check.reason
    assert step_rollout(now, events, rollout_id) is RolloutStep.ADVANCED
    (rollout,) = list_rollouts(now)
    assert rollout.share == 25.0
    assert rollout.step_started_at == clock_of(now).now
    # The new step judges its own traffic only: nothing yet.
    fresh = check_rollout(now, events, rollout_id)
    assert fresh.state == "waiting"
    assert fresh.units == {"1": 0, "2": 0}
    (entry, *_) = list_audit(now, object_id=rollout_id)
    assert entry.actor == "ablab:rollout"
    assert entry.action == "advance"


def test_a_guardrail_breach_rolls_back(ctx: Context, events: EventStore) -> None:
    now = promoted(ctx, guardrails=["error_rate<=+50%"])
    rollout_id = only_rollout(now)
    clock_of(now).advance(1)
    serve(now, events, range(4000), {"control": 0.02, "treatment": 0.30}, seed=2)
    check = check_rollout(now, events, rollout_id)
    assert check.state == "harm"
    (guardrail,) = check.guardrails
    assert guardrail.metric == "error_rate"
    assert guardrail.violated
    assert "error_rate" in check.reason
    # Harm needs no waiting: the step's minimum time is not up.
    assert check.minutes_in_step < 30
    checks = check_running_experiments(now.store, events)
    assert [(c.rollout, c.action) for c in checks] == [(rollout_id, RolloutStep.ROLLED_BACK)]
    (rollout,) = list_rollouts(now)
    assert rollout.status is RolloutStatus.ROLLED_BACK
    assert rollout.reason.startswith("guardrail broken")
    assert assign(now, "trial", "u7").reason is AssignmentReason.ROLLED_BACK


def test_the_experiments_results_end_where_its_rollout_began(
    ctx: Context, events: EventStore
) -> None:
    clock = Clock()
    early = replace(ctx, clock=clock)
    for version in ("1", "2"):
        register_model_version(
            early, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    create_experiment(
        early, ExperimentCreate(name="trial", model_id="m", control_version="1",
                                treatment_version="2")
    )  # fmt: skip
    clock.advance(1)
    serve(early, events, range(400), {"control": 0.0, "treatment": 0.0}, seed=3)
    before = experiment_results(early, events, "trial")
    clock.advance(1)
    transition(early, "trial", Action.PROMOTE, rollout=FAST)
    clock.advance(1)
    serve(early, events, range(400, 2400), {"control": 0.5, "treatment": 0.5}, seed=4)
    after = experiment_results(early, events, "trial")
    assert [v.units for v in after.variants] == [v.units for v in before.variants]
    assert after.variants[0].metrics["error_rate"].value == 0.0
    assert not after.srm.mismatch


def test_an_experiment_on_the_model_draws_only_from_the_rollout_share(ctx: Context) -> None:
    now = promoted(ctx)
    create_experiment(
        now,
        ExperimentCreate(name="next", model_id="m", control_version="2", treatment_version="3"),
    )
    found = [assign(now, "next", f"u{i}") for i in range(1500)]
    trial = assign_many(now, "trial", [a.unit_id for a in found])
    for a in found:
        if trial[a.unit_id] == "treatment":
            assert a.in_experiment
            assert a.reason is AssignmentReason.NEW
        else:
            assert (a.in_experiment, a.variant, a.model_version, a.reason) == (
                False,
                None,
                "1",
                AssignmentReason.NOT_IN_ROLLOUT,
            )
    inside = sum(a.in_experiment for a in found)
    assert stats.binomtest(inside, 1500, 0.10).pvalue > 0.001
    # assign_many follows the same rule.
    many = assign_many(now, "next", [f"v{i}" for i in range(1000)])
    reached = assign_many(now, "trial", list(many))
    assert all((many[u] is not None) == (reached[u] == "treatment") for u in many)


def test_the_live_assigner_serves_rollouts_as_the_service_does(ctx: Context) -> None:
    now = promoted(ctx)
    create_experiment(
        now,
        ExperimentCreate(name="next", model_id="m", control_version="2", treatment_version="3"),
    )
    live = LiveAssigner(now.store)
    try:
        for name in ("trial", "next"):
            for i in range(500):
                served = live.assign(now.project_id, name, f"w{i}")
                expected = assign(now, name, f"w{i}")
                assert (served.variant, served.model_version, served.in_experiment) == (
                    expected.variant,
                    expected.model_version,
                    expected.in_experiment,
                )
                assert served.reason is expected.reason or {
                    served.reason,
                    expected.reason,
                } == {AssignmentReason.NEW, AssignmentReason.STICKY}
    finally:
        live.close()


def test_promoting_over_a_rollout_in_progress_is_refused(ctx: Context) -> None:
    now = promoted(ctx)
    create_experiment(
        now,
        ExperimentCreate(name="next", model_id="m", control_version="2", treatment_version="3"),
    )
    with pytest.raises(Conflict, match="rolling out 2"):
        transition(now, "next", Action.PROMOTE)
    act_on_rollout(now, only_rollout(now), RolloutAction.ROLLBACK)
    clock_of(now).advance(1)
    transition(now, "next", Action.PROMOTE)
    assert [r.version for r in list_rollouts(now)] == ["3", "2"]


def test_promoting_without_a_rollout_serves_the_winner_to_all(ctx: Context) -> None:
    now = promoted(ctx, settings=None)
    assert list_rollouts(now) == []
    assert {assign(now, "trial", f"u{i}").reason for i in range(50)} == {AssignmentReason.PROMOTED}


def test_rollout_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="end at 100"):
        RolloutSettings(steps=(10.0, 50.0))
    with pytest.raises(ValidationError, match="increase"):
        RolloutSettings(steps=(50.0, 20.0, 100.0))
    with pytest.raises(ValidationError, match="min_step_units"):
        RolloutSettings(min_step_units=0)
