"""Every results computation is a look, kept in the metadata store (SQLite and PostgreSQL).

Events go in through ``ingest_events``; results come out of ``experiment_results``. The
running always-valid p-value and confidence sequence are checked against the stats
functions fed the same sums, and the verdict against its own interval.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.contract.metrics import MetricCreate
from ablab.contract.results import ExperimentResults
from ablab.errors import ValidationError
from ablab.services.analysis.comparisons import default_design, evaluate
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment, get_experiment
from ablab.services.experiments.metrics import define_metric
from ablab.services.ports import EventStore
from ablab.stats import (
    Moments,
    mixing_variance_for_tuning_units,
    msprt_from_difference,
    welch_t_test,
)
from tests.concurrently import together

LAUNCH = datetime(2026, 11, 20, tzinfo=UTC)


class Feed:
    """An experiment on a custom ``score`` metric and a stream of its units."""

    def __init__(self, ctx: Context, events: EventStore, name: str, **settings: Any) -> None:
        self.ctx, self.events, self.name = ctx, events, name
        self.sent = 0
        self.values: dict[str, list[float]] = {}
        create_experiment(
            self.at(LAUNCH),
            ExperimentCreate(
                name=name, model_id="m", control_version="1", primary_metric="score",
                cuped=False, **settings,
            ),
        )  # fmt: skip
        self.variants = [v.name for v in get_experiment(ctx, name).variants]
        self.values = {v: [] for v in self.variants}

    def at(self, moment: datetime) -> Context:
        return replace(self.ctx, clock=lambda: moment)

    @property
    def now(self) -> Context:
        return self.at(LAUNCH + timedelta(hours=1, seconds=self.sent))

    def send(self, rng: np.random.Generator, per_arm: int, effects: dict[str, float]) -> None:
        stream: list[dict[str, Any]] = []
        for variant in self.variants:
            for value in rng.normal(effects.get(variant, 0.0), 1.0, size=per_arm):
                unit = f"{self.name}-{self.sent}"
                self.sent += 1
                self.values[variant].append(float(value))
                stamp = (LAUNCH + timedelta(minutes=5)).isoformat()
                stream.append(
                    {"event_id": f"x{unit}", "type": "exposure", "experiment": self.name,
                     "unit_id": unit, "variant": variant, "timestamp": stamp}
                )  # fmt: skip
                stream.append(
                    {"event_id": f"m{unit}", "type": "metric", "experiment": self.name,
                     "unit_id": unit, "name": "score", "value": float(value), "timestamp": stamp}
                )  # fmt: skip
        assert ingest_events(self.now, self.events, stream).rejected == []

    def look(self) -> ExperimentResults:
        return experiment_results(self.now, self.events, self.name)


@pytest.fixture
def models(ctx: Context) -> Context:
    for version in ("1", "2", "3"):
        register_model_version(
            ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    define_metric(ctx, MetricCreate(name="score", aggregation="sum", kind="continuous"))
    return ctx


def agrees(results: ExperimentResults) -> None:
    for row in results.comparisons:
        low, high = row.confidence_sequence
        if low is None or high is None:
            assert not row.significant
            continue
        assert row.significant == (not low <= 0.0 <= high), row


def test_looks_carry_the_running_minimum_and_intersection(
    models: Context, events: EventStore
) -> None:
    feed = Feed(models, events, "carry", treatment_version="2", sequential_tuning_units=2_000)
    rng = np.random.default_rng(4)
    p_value: float | None = None
    interval: tuple[float, float] | None = None
    for look in range(1, 9):
        feed.send(rng, 150, {"treatment": 0.12})
        results = feed.look()
        agrees(results)
        row = results.comparisons[0]
        control, treatment = (Moments.from_values(feed.values[v]) for v in feed.variants)
        comparison = welch_t_test(control, treatment)
        units = control.n + treatment.n
        tau_sq = mixing_variance_for_tuning_units(comparison.standard_error**2 * units, 2_000)
        expected = msprt_from_difference(
            comparison.absolute_lift,
            comparison.standard_error**2,
            mixing_variance=tau_sq,
            previous_p_value=p_value,
            previous_interval=interval,
        )
        assert row.always_valid_p_value == pytest.approx(expected.always_valid_p_value, rel=1e-7)
        assert row.confidence_sequence == pytest.approx(expected.confidence_sequence, rel=1e-7)
        assert row.sequential is not None
        assert (row.sequential.looks, row.sequential.tuning_units) == (look, 2_000)
        assert row.sequential.mixing_variance == pytest.approx(tau_sq, rel=1e-7)
        assert results.experiment.sequential_tuning_units == 2_000
        p_value, interval = expected.always_valid_p_value, expected.confidence_sequence
    assert results.is_significant  # a real effect of 0.12 sd, found within 1,200 per arm


def test_two_servers_looking_at_once_lose_no_look(models: Context, events: EventStore) -> None:
    feed = Feed(models, events, "race", treatment_version="2")
    feed.send(np.random.default_rng(1), 200, {"treatment": 0.3})
    first = together([feed.look for _ in range(4)])
    for results in first:
        agrees(results)
    counted = sorted(r.comparisons[0].sequential.looks for r in first)  # type: ignore[union-attr]
    assert counted == [1, 2, 3, 4]  # each saw the looks committed before its own
    assert feed.look().comparisons[0].sequential.looks == 5  # type: ignore[union-attr]


def test_a_look_without_data_is_not_counted_and_keeps_nothing(
    models: Context, events: EventStore
) -> None:
    feed = Feed(models, events, "empty", treatment_version="2")
    results = feed.look()
    row = results.comparisons[0]
    assert row.sequential is not None
    assert row.sequential.looks == 0
    assert row.always_valid_p_value is None
    assert not row.significant
    feed.send(np.random.default_rng(2), 50, {})
    assert feed.look().comparisons[0].sequential.looks == 1  # type: ignore[union-attr]


def test_a_new_design_restarts_the_running_test(models: Context, events: EventStore) -> None:
    """An experiment from before the tuning size was stored is analysed with the default;
    once it has one of its own, the looks before no longer count."""
    feed = Feed(models, events, "restart", treatment_version="2")
    rng = np.random.default_rng(6)
    for _ in range(3):
        feed.send(rng, 100, {})
        feed.look()
    assert feed.look().comparisons[0].sequential.looks == 4  # type: ignore[union-attr]
    with models.store.session() as session:
        stored = session.get_experiment(models.project_id, "restart")
        assert stored is not None
        session.update_experiment(replace(stored, sequential_tuning_units=800))
    row = feed.look().comparisons[0]
    assert row.sequential is not None
    assert (row.sequential.looks, row.sequential.tuning_units) == (1, 800)
    control, treatment = (Moments.from_values(feed.values[v]) for v in feed.variants)
    comparison = welch_t_test(control, treatment)
    tau_sq = mixing_variance_for_tuning_units(comparison.standard_error**2 * 600, 800)
    fresh = msprt_from_difference(
        comparison.absolute_lift, comparison.standard_error**2, mixing_variance=tau_sq
    )
    assert row.confidence_sequence == pytest.approx(fresh.confidence_sequence, rel=1e-7)


def test_several_treatments_share_alpha_and_agree_with_their_intervals(
    models: Context, events: EventStore
) -> None:
    """Two treatments: each test runs at alpha / 2 and shows min(1, 2 p), so the adjusted
    p-value is below alpha exactly when the interval excludes 0."""
    feed = Feed(models, events, "abn", treatment_versions=["2", "3"])
    rng = np.random.default_rng(9)
    treatments = feed.variants[1:]
    significant_seen = False
    for _ in range(10):
        feed.send(rng, 120, {treatments[0]: 0.2, treatments[1]: 0.0})
        results = feed.look()
        agrees(results)
        for row in results.comparisons:
            assert row.sequential is not None
            assert row.sequential.level == pytest.approx(0.025)
            if row.always_valid_p_value is not None:
                assert row.significant == (row.always_valid_p_value < 0.05)
            significant_seen |= row.significant
    assert significant_seen


def test_one_sided_sequential_design_is_kept_per_alternative() -> None:
    """A comparison's alternative reaches its sequential design (services.comparisons)."""
    comparison = welch_t_test(
        Moments.from_values([1.0, 2.0, 3.0] * 30),
        Moments.from_values([0.5, 1.5, 2.0] * 30),
        alternative="greater",
    )
    arm = evaluate(comparison)
    assert arm.design == default_design(comparison)
    assert arm.sequential.alternative == "greater"
    assert not arm.sequential.significant  # the treatment is worse: never significant
    assert math.isinf(arm.sequential.confidence_sequence[1])


def test_the_tuning_size_is_checked_at_creation(models: Context) -> None:
    with pytest.raises(ValidationError, match="sequential tuning units"):
        create_experiment(
            models,
            ExperimentCreate(
                name="bad", model_id="m", control_version="1", treatment_version="2",
                sequential_tuning_units=0,
            ),
        )  # fmt: skip
    created = create_experiment(
        models,
        ExperimentCreate(name="fine", model_id="m", control_version="1", treatment_version="2"),
    )
    assert created.sequential_tuning_units == 5_000  # fixed at creation, gbstats' default
