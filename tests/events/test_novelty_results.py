"""The novelty check in the results, on DuckDB and PostgreSQL: each day's lift from that
day's events, the trend against statsmodels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.services.catalogue import register_model_version
from ablab.services.context import Context
from ablab.services.events import ingest_events
from ablab.services.experiments import create_experiment
from ablab.services.ports import EventStore
from ablab.services.results import experiment_results
from ablab.stats import RatioMoments, ratio_test

LAUNCH = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)
DAYS = 7


def launch(ctx: Context) -> None:
    at_launch = replace(ctx, clock=lambda: LAUNCH)
    for version in ("1", "2"):
        register_model_version(
            at_launch,
            ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/"),
        )
    create_experiment(
        at_launch,
        ExperimentCreate(name="fresh", model_id="m", control_version="1", treatment_version="2"),
    )


def traffic(seed: int) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """A week of labelled predictions; the treatment's edge fades from +15 points."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    rows = []
    for day in range(DAYS):
        for variant in ("control", "treatment"):
            accuracy = 0.7 + (0.15 * np.exp(-day / 2) if variant == "treatment" else 0.0)
            for unit in range(300):
                if rng.random() < 0.5:
                    continue  # not back today
                for k in range(3):
                    pid = f"{variant}-{unit}-{day}-{k}"
                    stamp = (LAUNCH + timedelta(days=day, hours=2 + k * 5)).isoformat()
                    correct = bool(rng.random() < accuracy)
                    events += [
                        {"event_id": f"e-{pid}", "type": "prediction", "experiment": "fresh",
                         "unit_id": f"{variant}-{unit}", "variant": variant,
                         "prediction_id": pid, "latency_ms": 9.0, "timestamp": stamp},
                        {"event_id": f"l-{pid}", "type": "label", "prediction_id": pid,
                         "correct": correct, "timestamp": stamp},
                    ]  # fmt: skip
                    rows.append((day, variant, f"{variant}-{unit}", correct))
    return events, pd.DataFrame(rows, columns=["day", "variant", "unit", "correct"])


def reference_points(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each day's accuracy lift from that day's units alone (pandas), and its standard error
    from each arm's own."""
    lifts, errors = [], []
    for day in range(DAYS):
        moments = {}
        for variant in ("control", "treatment"):
            units = frame[(frame.day == day) & (frame.variant == variant)].groupby("unit")
            per_unit = units.agg(correct=("correct", "sum"), labelled=("correct", "size"))
            moments[variant] = RatioMoments.from_values(per_unit.correct, per_unit.labelled)
        test = ratio_test(moments["control"], moments["treatment"])
        lifts.append(test.absolute_lift)
        errors.append(np.hypot(test.control_standard_error, test.treatment_standard_error))
    return np.arange(DAYS) + 0.5, np.array(lifts), np.array(errors)


def test_a_fading_lift_is_flagged_as_novelty(ctx: Context, events: EventStore) -> None:
    launch(ctx)
    stream, frame = traffic(seed=11)
    a_week_later = replace(ctx, clock=lambda: LAUNCH + timedelta(days=DAYS))
    assert ingest_events(a_week_later, events, stream).rejected == []
    results = experiment_results(a_week_later, events, "fresh")
    (primary,) = [c for c in results.comparisons if c.metric == "accuracy"]
    assert all(c.novelty is None for c in results.comparisons if c.metric != "accuracy")
    check = primary.novelty
    assert check is not None
    days, lifts, errors = reference_points(frame)
    fitted = sm.WLS(lifts, sm.add_constant(days), weights=1 / errors**2).fit()
    assert (check.status, check.days, check.window_days) == ("ok", DAYS, 1.0)
    assert check.slope_per_day == pytest.approx(fitted.params[1], rel=1e-6)
    assert check.p_value == pytest.approx(fitted.pvalues[1], rel=1e-6)
    assert check.first_lift == pytest.approx(fitted.params[0] + fitted.params[1] * 0.5, rel=1e-6)
    assert check.pattern == "novelty"
    assert check.significant
    assert "Novelty effect" in check.meaning
    assert "smaller than the average" in check.meaning


def test_a_young_experiment_is_not_checked_yet(ctx: Context, events: EventStore) -> None:
    launch(ctx)
    stream, _ = traffic(seed=12)
    next_day = replace(ctx, clock=lambda: LAUNCH + timedelta(days=1, hours=12))
    early = [e for e in stream if e["timestamp"] < next_day.clock().isoformat()]
    assert ingest_events(next_day, events, early).rejected == []
    (primary,) = [
        c
        for c in experiment_results(next_day, events, "fresh").comparisons
        if c.metric == "accuracy"
    ]
    assert primary.novelty is not None
    assert primary.novelty.status == "too_few_days"
    assert primary.novelty.pattern == "none"
    assert "(1.5 days so far)" in primary.novelty.meaning
