"""The allocation history in the results and the bandit, on DuckDB and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.signal import fftconvolve

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate, ExperimentUpdate
from ablab.services.analysis.results import experiment_results
from ablab.services.assignment.assign import assign
from ablab.services.automation.bandit import MIN_NEW_UNITS, bandit_state, rebalance
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment, update_experiment
from ablab.services.ports import EventStore

START = datetime(2027, 2, 3, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def setup(ctx: Context, **options: Any) -> tuple[Context, Clock]:
    clock = Clock()
    timed = replace(ctx, clock=clock)
    for version in ("1", "2"):
        register_model_version(
            timed, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    create_experiment(
        timed,
        ExperimentCreate(
            name="hist",
            model_id="m",
            control_version="1",
            treatment_version="2",
            traffic_split=50,
            **options,
        ),
    )
    return timed, clock


def arrive(
    ctx: Context, clock: Clock, events: EventStore, units: range, *, share: float, seed: int
) -> dict[str, int]:
    """Units exposed at ``share`` to the treatment, a minute after the clock; how many each."""
    rng = np.random.default_rng(seed)
    clock.now += timedelta(minutes=1)
    variants = ["treatment" if rng.random() < share else "control" for _ in units]
    batch = [
        {
            "event_id": f"x{unit}",
            "type": "exposure",
            "experiment": "hist",
            "unit_id": f"u{unit}",
            "variant": variant,
            "timestamp": clock.now.isoformat(),
        }
        for unit, variant in zip(units, variants, strict=True)
    ]
    assert ingest_events(ctx, events, batch).stored == len(batch)
    clock.now += timedelta(minutes=1)
    return {name: variants.count(name) for name in ("control", "treatment")}


def convolved_p(periods: list[tuple[dict[str, int], float]]) -> float:
    """The treatment total against the convolution of scipy's binomial pmfs."""
    pmf = np.ones(1)
    for counts, share in periods:
        n = sum(counts.values())
        pmf = fftconvolve(pmf, scipy_stats.binom.pmf(np.arange(n + 1), n, share))
    total = sum(counts["treatment"] for counts, _ in periods)
    return float(pmf[pmf <= pmf[total] * (1 + 1e-7)].sum())


def test_srm_is_judged_period_by_period_from_the_table(ctx: Context, events: EventStore) -> None:
    timed, clock = setup(ctx)
    first = arrive(timed, clock, events, range(0, 300), share=0.5, seed=1)
    clock.now += timedelta(hours=1)
    update_experiment(timed, "hist", ExperimentUpdate(traffic_split=80))
    clock.now += timedelta(hours=1)
    second = arrive(timed, clock, events, range(300, 700), share=0.8, seed=2)
    srm = experiment_results(timed, events, "hist").srm
    assert [(p.reason, p.actor, p.weights["treatment"]) for p in srm.periods] == [
        ("launch", "test:alice", 50.0),
        ("split", "test:alice", 80.0),
    ]
    assert srm.periods[1].started_at == START + timedelta(hours=1, minutes=2)
    for period, counts, share in zip(srm.periods, (first, second), (0.5, 0.8), strict=True):
        assert period.observed == counts
        assert period.expected["treatment"] == pytest.approx(sum(counts.values()) * share)
        reference = scipy_stats.binomtest(counts["treatment"], sum(counts.values()), share)
        assert period.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert srm.p_value == pytest.approx(convolved_p([(first, 0.5), (second, 0.8)]), rel=1e-7)
    assert not srm.mismatch


def test_units_that_ignore_a_split_change_raise_the_alarm(ctx: Context, events: EventStore) -> None:
    """A stale ruleset keeps assigning 50/50 after the change to 10/90."""
    timed, clock = setup(ctx)
    arrive(timed, clock, events, range(0, 400), share=0.5, seed=3)
    update_experiment(timed, "hist", ExperimentUpdate(traffic_split=90))
    arrive(timed, clock, events, range(400, 800), share=0.5, seed=4)
    srm = experiment_results(timed, events, "hist").srm
    assert srm.mismatch
    assert srm.periods[0].p_value is not None
    assert srm.periods[0].p_value > 0.01
    assert srm.periods[1].p_value is not None
    assert srm.periods[1].p_value < 1e-6


def labelled(ctx: Context, clock: Clock, events: EventStore, units: range, seed: int) -> None:
    """Predictions with labels for units of the bandit, the treatment right more often."""
    rng = np.random.default_rng(seed)
    clock.now += timedelta(minutes=1)
    batch: list[dict[str, Any]] = []
    for unit in units:
        variant = assign(ctx, "hist", f"u{unit}").variant
        assert variant is not None
        pid = f"p{unit}"
        rate = 0.9 if variant == "treatment" else 0.5
        stamp = clock.now.isoformat()
        batch += [
            {"event_id": f"e{pid}", "type": "prediction", "experiment": "hist",
             "unit_id": f"u{unit}", "variant": variant, "prediction_id": pid,
             "latency_ms": 5.0, "timestamp": stamp},
            {"event_id": f"l{pid}", "type": "label", "prediction_id": pid,
             "correct": bool(rng.random() < rate), "timestamp": stamp},
        ]  # fmt: skip
    assert ingest_events(ctx, events, batch).rejected == []
    clock.now += timedelta(minutes=1)


def test_a_rebalance_is_a_bandit_period_and_waits_for_new_units(
    ctx: Context, events: EventStore
) -> None:
    timed, clock = setup(ctx, bandit=True)
    monitor = replace(timed, actor="ablab:monitor")
    labelled(timed, clock, events, range(200), seed=5)
    weights = rebalance(monitor, events, "hist", np.random.default_rng(0))
    assert weights is not None
    assert weights["treatment"] > 90
    # No unit has arrived under the new weights: the next round changes nothing.
    assert rebalance(monitor, events, "hist", np.random.default_rng(1)) is None
    labelled(timed, clock, events, range(200, 200 + MIN_NEW_UNITS - 1), seed=6)
    state = bandit_state(monitor, events, "hist")
    assert state.units_since_last_change == MIN_NEW_UNITS - 1
    assert [(p.reason.value, p.actor) for p in state.periods] == [
        ("launch", "test:alice"),
        ("bandit", "ablab:monitor"),
    ]
    assert dict(state.periods[-1].weights) == weights
    assert state.variants["treatment"][2] == weights["treatment"]
    srm = experiment_results(timed, events, "hist").srm
    assert [sum(p.observed.values()) for p in srm.periods] == [200, MIN_NEW_UNITS - 1]


def test_a_draft_shows_no_allocation_history(ctx: Context, events: EventStore) -> None:
    timed, clock = setup(ctx, draft=True)
    arrive(timed, clock, events, range(0, 40), share=0.5, seed=7)
    srm = experiment_results(timed, events, "hist").srm
    assert list(srm.periods) == []
    assert sum(srm.observed.values()) == 40  # still judged against the weights it has
