"""Bandit mode: the weights move toward the better arm, with a floor; units stay sticky."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.errors import ValidationError
from ablab.services.analysis.results import experiment_results, weight_periods
from ablab.services.assignment.assign import assign
from ablab.services.automation.bandit import FLOOR, rebalance
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment, get_experiment
from ablab.services.ports import EventStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that moves a minute at each tick: weight periods and arrivals stay apart."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(minutes=1)


def bandit_experiment(ctx: Context, **options: Any) -> Context:
    timed = replace(ctx, clock=lambda: NOW - timedelta(hours=2))
    for version in ("1", "2", "3"):
        register_model_version(
            timed, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    create_experiment(
        timed,
        ExperimentCreate(
            name="arms",
            model_id="m",
            control_version="1",
            treatment_versions=["2", "3"],
            traffic_split=66.0,
            bandit=True,
            **options,
        ),
    )
    return replace(ctx, clock=Clock())


def tick(ctx: Context) -> None:
    clock = ctx.clock
    assert isinstance(clock, Clock)
    clock.tick()


def serve(
    ctx: Context, events: EventStore, units: range, rates: dict[str, float], seed: int
) -> None:
    """Units assigned by the service, their predictions right at each variant's rate."""
    rng = np.random.default_rng(seed)
    batch: list[dict[str, Any]] = []
    for unit in units:
        variant = assign(ctx, "arms", f"u{unit}").variant
        assert variant is not None
        for k in range(3):
            pid = f"{unit}-{k}"
            batch.append(
                {
                    "event_id": f"p{pid}",
                    "type": "prediction",
                    "experiment": "arms",
                    "unit_id": f"u{unit}",
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": 10.0,
                    "timestamp": (NOW - timedelta(minutes=5)).isoformat(),
                }
            )
            batch.append(
                {
                    "event_id": f"l{pid}",
                    "type": "label",
                    "prediction_id": pid,
                    "correct": bool(rng.random() < rates[variant]),
                    "timestamp": (NOW - timedelta(minutes=5)).isoformat(),
                }
            )
    assert ingest_events(ctx, events, batch).rejected == []
    tick(ctx)


def test_weights_move_toward_the_better_arm(ctx: Context, events: EventStore) -> None:
    now = bandit_experiment(ctx)
    rates = {"control": 0.70, "treatment_1": 0.72, "treatment_2": 0.85}
    first = {f"u{u}": assign(now, "arms", f"u{u}").variant for u in range(300)}
    serve(now, events, range(300), rates, seed=1)
    weights = rebalance(now, events, "arms", np.random.default_rng(4))
    assert weights is not None
    assert sum(weights.values()) == pytest.approx(100.0)
    assert weights["treatment_2"] == max(weights.values())
    assert weights["treatment_2"] > 50
    assert min(weights.values()) >= FLOOR * 100 - 0.1
    # Sticky: units already assigned keep their variant under the new weights.
    assert {u: assign(now, "arms", u).variant for u in first} == first
    # The new weights start a weight period of their own for the SRM check.
    assert len(weight_periods(now, get_experiment(now, "arms"))) == 2
    serve(now, events, range(300, 700), rates, seed=2)
    results = experiment_results(now, events, "arms")
    assert results.bandit is not None
    arms = {a.variant: a for a in results.bandit}
    assert arms["treatment_2"].alpha > arms["treatment_2"].beta
    assert arms["treatment_2"].weight == weights["treatment_2"]
    assert not results.srm.mismatch


def test_simulated_rounds_concentrate_traffic(ctx: Context, events: EventStore) -> None:
    now = bandit_experiment(ctx)
    rates = {"control": 0.6, "treatment_1": 0.6, "treatment_2": 0.8}
    shares = []
    start = 0
    for round_ in range(4):
        serve(now, events, range(start, start + 250), rates, seed=10 + round_)
        start += 250
        rebalance(now, events, "arms", np.random.default_rng(round_))
        experiment = get_experiment(now, "arms")
        shares.append(next(v.weight for v in experiment.variants if v.name == "treatment_2"))
    assert shares[-1] > 80
    assert shares[-1] >= shares[0]


def test_not_a_bandit_or_not_a_rate(ctx: Context, events: EventStore) -> None:
    now = bandit_experiment(ctx, primary_metric="latency_ms")
    with pytest.raises(ValidationError, match="bandit mode needs a success/failure metric"):
        rebalance(now, events, "arms", np.random.default_rng(0))
