"""Sticky, targeted assignment through the service layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ablab.assignment.decide import AssignmentReason
from ablab.contract.catalogue import GroupCreate
from ablab.contract.experiments import ExperimentCreate, ExperimentUpdate
from ablab.domain.lifecycle import Action
from ablab.errors import NotFound, ValidationError
from ablab.services.assignment.assign import assign, assign_many, assignment_counts
from ablab.services.context import Context
from ablab.services.experiments.catalogue import create_group
from ablab.services.experiments.lifecycle import create_experiment, transition, update_experiment

UNITS = [f"device-{i:05d}" for i in range(2000)]


def start(ctx: Context, name: str = "trial", **fields: object) -> str:
    body: dict[str, object] = {
        "name": name,
        "model_id": "radiology-v1",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
        **fields,
    }
    create_experiment(ctx, ExperimentCreate.model_validate(body))
    return name


def test_new_units_are_split_by_weight_and_stored(ctx: Context, model: str) -> None:
    start(ctx)
    first = [assign(ctx, "trial", u) for u in UNITS]
    assert all(a.in_experiment and a.reason is AssignmentReason.NEW for a in first)
    counts = Counter(a.variant for a in first)
    assert abs(counts["treatment"] / len(UNITS) - 0.5) < 0.045  # ~4 standard errors
    assert {a.model_version for a in first if a.variant == "treatment"} == {"2.0.0"}
    assert assignment_counts(ctx, "trial") == dict(counts)
    again = [assign(ctx, "trial", u) for u in UNITS[:100]]
    assert [a.variant for a in again] == [a.variant for a in first[:100]]
    assert {a.reason for a in again} == {AssignmentReason.STICKY}


def test_split_change_only_moves_units_never_assigned(ctx: Context, model: str) -> None:
    start(ctx)
    before = {u: assign(ctx, "trial", u).variant for u in UNITS[:1000]}
    update_experiment(ctx, "trial", ExperimentUpdate(traffic_split=80))
    after = {u: assign(ctx, "trial", u).variant for u in UNITS[:1000]}
    assert after == before
    # 1000 newcomers at 80%: the standard error is 1.3 points, so 5 points is ~4 SE.
    newcomers = Counter(assign(ctx, "trial", u).variant for u in UNITS[1000:])
    assert abs(newcomers["treatment"] / 1000 - 0.8) < 0.05


def test_paused_serves_control_counts_nobody_and_resume_restores(ctx: Context, model: str) -> None:
    start(ctx)
    before = {u: assign(ctx, "trial", u).variant for u in UNITS[:300]}
    transition(ctx, "trial", Action.PAUSE)
    paused = [assign(ctx, "trial", u) for u in [*UNITS[:300], "never-seen"]]
    assert {(a.variant, a.model_version, a.in_experiment) for a in paused} == {
        ("control", "1.0.0", False)
    }
    assert {a.reason for a in paused} == {AssignmentReason.NOT_RUNNING}
    assert sum(assignment_counts(ctx, "trial").values()) == 300  # nobody new stored
    transition(ctx, "trial", Action.RESUME)
    assert {u: assign(ctx, "trial", u).variant for u in UNITS[:300]} == before


def test_promoted_serves_the_winner_and_stopped_the_control(ctx: Context, model: str) -> None:
    start(ctx, "promoted")
    start(ctx, "stopped")
    transition(ctx, "promoted", Action.PROMOTE, rollout=None)  # at once, to everyone
    transition(ctx, "stopped", Action.STOP)
    promoted = assign(ctx, "promoted", "u1")
    stopped = assign(ctx, "stopped", "u1")
    assert (promoted.model_version, promoted.reason) == ("2.0.0", AssignmentReason.PROMOTED)
    assert (stopped.model_version, stopped.reason) == ("1.0.0", AssignmentReason.NOT_RUNNING)
    assert not promoted.in_experiment
    assert not stopped.in_experiment


def test_group_rule_targets_by_attributes(ctx: Context, model: str) -> None:
    create_group(
        ctx,
        GroupCreate(
            name="eu-new-app",
            rule={"region": {"$in": ["eu", "uk"]}, "app_version": {"$gte": "2.1"}},
        ),
    )
    start(ctx, group="eu-new-app")
    inside = assign(ctx, "trial", "u1", {"region": "eu", "app_version": "2.10.0"})
    old_app = assign(ctx, "trial", "u2", {"region": "eu", "app_version": "2.0.9"})
    elsewhere = assign(ctx, "trial", "u3", {"region": "us", "app_version": "3.0"})
    assert inside.in_experiment
    assert not old_app.in_experiment
    assert old_app.reason is AssignmentReason.NOT_TARGETED
    assert (elsewhere.variant, elsewhere.in_experiment) == ("control", False)
    # Once assigned, a unit keeps its variant even if its attributes change.
    assert assign(ctx, "trial", "u1", {"region": "us"}).variant == inside.variant


def test_group_member_list(ctx: Context, model: str, tmp_path: Path) -> None:
    create_group(ctx, GroupCreate(name="staging", members=["dev-1", "dev-2"]))
    start(ctx, group="staging")
    assert assign(ctx, "trial", "dev-1").in_experiment
    assert assign(ctx, "trial", "dev-3").reason is AssignmentReason.NOT_TARGETED


def test_coverage_leaves_units_out(ctx: Context, model: str) -> None:
    start(ctx, coverage=30)
    results = [assign(ctx, "trial", u) for u in UNITS]
    inside = sum(a.in_experiment for a in results)
    assert abs(inside / len(UNITS) - 0.3) < 0.04  # ~4 standard errors
    assert {a.reason for a in results if not a.in_experiment} == {AssignmentReason.NOT_COVERED}


def test_assign_many_agrees_with_assign(ctx: Context, model: str) -> None:
    start(ctx, "batch")
    start(ctx, "single")
    batch = assign_many(ctx, "batch", UNITS)
    # Different experiments have different salts, so compare each with its own single path.
    singles = {u: assign(ctx, "batch", u).variant for u in UNITS[:200]}
    assert {u: batch[u] for u in UNITS[:200]} == singles
    assert sum(assignment_counts(ctx, "batch").values()) == len(UNITS)
    update_experiment(ctx, "batch", ExperimentUpdate(traffic_split=90))
    assert assign_many(ctx, "batch", UNITS) == batch


@pytest.mark.parametrize("unit_id", ["", "   "])
def test_empty_unit_id_is_refused(ctx: Context, model: str, unit_id: str) -> None:
    start(ctx)
    with pytest.raises(ValidationError, match="unit id"):
        assign(ctx, "trial", unit_id)
    with pytest.raises(ValidationError, match="unit id"):
        assign_many(ctx, "trial", ["ok", unit_id])
    assert assignment_counts(ctx, "trial") == {"control": 0, "treatment": 0}


def test_unknown_experiment(ctx: Context) -> None:
    with pytest.raises(NotFound):
        assign(ctx, "ghost", "u1")


def test_assignments_survive_a_process_restart(home: Path) -> None:
    """Another Python process, with another hash seed, sees the same stored variants."""
    script = """
import json, sys
from ablab import Client
client = Client()
if sys.argv[1] == "create":
    for v in ("1.0.0", "2.0.0"):
        client.models.register("m", v, endpoint="http://127.0.0.1:9/" + v)
    client.experiments.create("t", model_id="m", control_version="1.0.0",
                              treatment_version="2.0.0")
    client.experiments.update_split("t", traffic_split=50)
units = [f"u{i}" for i in range(200)]
if sys.argv[1] == "resplit":
    client.experiments.update_split("t", traffic_split=95)
print(json.dumps({u: client.assign("t", u).variant for u in units}))
"""
    runs = []
    for step, seed in (("create", "1"), ("again", "2"), ("resplit", "3")):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script, step],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    assert runs[0] == runs[1] == runs[2]
    assert set(runs[0].values()) == {"control", "treatment"}


def test_an_archived_winner_is_still_served(ctx: Context, model: str) -> None:
    start(ctx)
    transition(ctx, "trial", Action.PROMOTE, rollout=None)
    transition(ctx, "trial", Action.ARCHIVE)
    served = assign(ctx, "trial", "late-device")
    assert (served.model_version, served.reason) == ("2.0.0", AssignmentReason.PROMOTED)


def test_an_archived_experiment_keeps_its_rollout_going(ctx: Context, model: str) -> None:
    start(ctx)
    transition(ctx, "trial", Action.PROMOTE)
    transition(ctx, "trial", Action.ARCHIVE)
    served = [assign(ctx, "trial", f"late-{i}") for i in range(200)]
    assert {a.reason for a in served} == {AssignmentReason.ROLLOUT}
    assert {a.model_version for a in served} == {"1.0.0", "2.0.0"}


def test_unit_id_longer_than_the_column_is_refused(ctx: Context, model: str) -> None:
    start(ctx)
    with pytest.raises(ValidationError, match="longer than 256"):
        assign(ctx, "trial", "x" * 257)
