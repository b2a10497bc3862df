"""The novelty check in the results, on DuckDB and PostgreSQL: each day's lift from that
day's events, the trend against statsmodels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.services.analysis.metric_request import analysis_setup
from ablab.services.analysis.novelty import novelty_checks
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.ports import EventStore
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


def fading(day: int) -> float:
    return 0.15 * float(np.exp(-day / 2))


def traffic(
    seed: int, edge: Callable[[int], float] = fading, days: Sequence[int] = range(DAYS)
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Labelled predictions on ``days``; the treatment's accuracy is ``edge(day)`` above the
    control's (by default an edge that fades from +15 points)."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    rows = []
    for day in days:
        for variant in ("control", "treatment"):
            accuracy = 0.7 + (edge(day) if variant == "treatment" else 0.0)
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


def test_a_growing_lift_is_primacy_and_empty_days_give_no_point(
    ctx: Context, events: EventStore
) -> None:
    """Users warm to the treatment; nobody came on days 2 and 5, and the treatment's
    events of day 4 were lost."""
    launch(ctx)
    stream, _ = traffic(seed=13, edge=lambda day: 0.03 * day, days=[0, 1, 3, 4, 6])
    lost = [e for e in stream if "treatment-" in e.get("unit_id", "") and "-4-" in e["event_id"]]
    kept = [e for e in stream if e not in lost]
    a_week_later = replace(ctx, clock=lambda: LAUNCH + timedelta(days=DAYS))
    assert ingest_events(a_week_later, events, kept).rejected == []
    results = experiment_results(a_week_later, events, "fresh")
    (check,) = [c.novelty for c in results.comparisons if c.metric == "accuracy"]
    assert check is not None
    assert (check.status, check.days, check.pattern) == ("ok", 4, "primacy")
    assert check.last_lift is not None
    assert check.first_lift is not None
    assert check.last_lift > check.first_lift > 0
    assert "Primacy effect: the lift grew" in check.meaning
    assert "likely larger than the average" in check.meaning


def test_too_few_days_with_data_say_so(ctx: Context, events: EventStore) -> None:
    launch(ctx)
    stream, _ = traffic(seed=14, days=[0, 1])
    four_days_later = replace(ctx, clock=lambda: LAUNCH + timedelta(days=4))
    assert ingest_events(four_days_later, events, stream).rejected == []
    results = experiment_results(four_days_later, events, "fresh")
    (check,) = [c.novelty for c in results.comparisons if c.metric == "accuracy"]
    assert check is not None
    assert (check.status, check.days, check.p_value) == ("too_few_days", 2, None)
    assert check.meaning.startswith("Too few days with a lift in both arms")


def test_a_long_steady_experiment_is_read_in_windows_of_days(
    ctx: Context, events: EventStore
) -> None:
    """30 days make windows of 3 days (at most 14 points); a steady +5 points is no trend.
    On day 9 nothing the treatment predicted was labelled: that window gives no point."""
    launch(ctx)
    stream, _ = traffic(seed=15, edge=lambda day: 0.05, days=range(0, 30, 3))
    unlabelled = {e["prediction_id"] for e in stream if e["type"] == "prediction"
                  and e["variant"] == "treatment" and "-9-" in e["prediction_id"]}  # fmt: skip
    kept = [e for e in stream if e["type"] != "label" or e["prediction_id"] not in unlabelled]
    a_month_later = replace(ctx, clock=lambda: LAUNCH + timedelta(days=30))
    assert ingest_events(a_month_later, events, kept).rejected == []
    results = experiment_results(a_month_later, events, "fresh")
    (check,) = [c.novelty for c in results.comparisons if c.metric == "accuracy"]
    assert check is not None
    assert (check.status, check.window_days, check.days, check.pattern) == ("ok", 3.0, 9, "none")
    assert check.meaning.startswith("No trend in the daily lift over 9 windows of 3 days")


def test_every_window_comes_from_one_statement(
    ctx: Context, events: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 days make 10 windows of 3 days; the event store sums them all in one statement
    (one per window before, 10 here)."""
    launch(ctx)
    stream, _ = traffic(seed=16, days=range(0, 30, 3))
    a_month_later = replace(ctx, clock=lambda: LAUNCH + timedelta(days=30))
    assert ingest_events(a_month_later, events, stream).rejected == []
    setup = analysis_setup(a_month_later, "fresh")
    statements: list[str] = []
    fetch = events._fetch  # type: ignore[attr-defined]

    def counted(sql: str, params: Sequence[object]) -> Any:
        statements.append(sql)
        return fetch(sql, params)

    monkeypatch.setattr(events, "_fetch", counted)
    (check,) = novelty_checks(a_month_later, events, setup).values()
    assert (check.status, check.window_days, check.days) == ("ok", 3.0, 10)
    assert len(statements) == 1


def test_a_shadow_experiment_is_not_checked(ctx: Context, events: EventStore) -> None:
    at_launch = replace(ctx, clock=lambda: LAUNCH)
    for version in ("1", "2"):
        register_model_version(
            at_launch,
            ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/"),
        )
    create_experiment(
        at_launch,
        ExperimentCreate(
            name="fresh", model_id="m", control_version="1", treatment_version="2", shadow=True
        ),
    )
    later = replace(ctx, clock=lambda: LAUNCH + timedelta(days=DAYS))
    results = experiment_results(later, events, "fresh")
    assert all(c.novelty is None for c in results.comparisons)
