"""Results from events, on DuckDB and PostgreSQL: the SQL sums, late labels, SRM, guardrails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate, ExperimentUpdate
from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment, update_experiment
from ablab.services.ports import EventStore, MetricRequest
from ablab.stats import RatioMoments, ratio_test, sample_ratio_mismatch

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def clock(ctx: Context) -> Context:
    return replace(ctx, clock=lambda: NOW)


def simulate(
    rng: np.random.Generator,
    devices: int,
    accuracy: dict[str, float],
    treatment_share: float = 0.5,
    error_rate: float = 0.005,
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Predictions with device-level effects, labels for most, a few shadow copies."""
    events: list[dict[str, Any]] = []
    rows = []
    stamp = (NOW - timedelta(hours=1)).isoformat()
    for device in range(devices):
        variant = "treatment" if rng.random() < treatment_share else "control"
        skill = np.clip(accuracy[variant] + rng.normal(0, 0.05), 0, 1)
        for k in range(int(rng.integers(1, 12))):
            pid = f"p{device}-{k}"
            latency = float(rng.gamma(4, 10))
            error = bool(rng.random() < error_rate)
            labelled = rng.random() < 0.8
            correct = bool(rng.random() < skill)
            events.append(
                {
                    "event_id": f"e-{pid}",
                    "type": "prediction",
                    "experiment": "trial",
                    "unit_id": f"d{device}",
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": latency,
                    "error": error,
                    "timestamp": stamp,
                }
            )
            events.append(
                {
                    "event_id": f"s-{pid}",
                    "type": "prediction",
                    "experiment": "trial",
                    "unit_id": f"d{device}",
                    "variant": variant,
                    "shadow": True,
                    "prediction_id": f"shadow-{pid}",
                    "latency_ms": 999.0,
                    "error": True,
                    "timestamp": stamp,
                }
            )
            if labelled:
                events.append(
                    {
                        "event_id": f"l-{pid}",
                        "type": "label",
                        "prediction_id": pid,
                        "correct": correct,
                        "timestamp": stamp,
                    }
                )
            rows.append((f"d{device}", variant, latency, error, labelled, labelled and correct))
    frame = pd.DataFrame(
        rows, columns=["unit", "variant", "latency", "error", "labelled", "correct"]
    )
    return events, frame


def expected_moments(frame: pd.DataFrame, variant: str) -> dict[str, RatioMoments]:
    units = (
        frame[frame.variant == variant]
        .groupby("unit")
        .agg(
            predictions=("latency", "size"),
            latency=("latency", "sum"),
            errors=("error", "sum"),
            labelled=("labelled", "sum"),
            correct=("correct", "sum"),
        )
    )
    return {
        "accuracy": RatioMoments.from_values(units.correct, units.labelled),
        "latency_ms": RatioMoments.from_values(units.latency, units.predictions),
        "error_rate": RatioMoments.from_values(units.errors, units.predictions),
    }


def test_sums_from_sql_equal_the_unit_level_computation(
    ctx: Context, trial: str, events: EventStore
) -> None:
    stream, frame = simulate(np.random.default_rng(1), 400, {"control": 0.85, "treatment": 0.9})
    ingest_events(clock(ctx), events, stream)
    results = experiment_results(clock(ctx), events, "trial")
    request = MetricRequest(project_id=ctx.project_id, experiment_id=results.experiment.id)
    sums = {s.variant: s for s in events.metric_sums(request)}
    for variant in ("control", "treatment"):
        for metric, moments in expected_moments(frame, variant).items():
            got = sums[variant].metrics[metric].metric
            assert got.n == moments.n
            for field in (
                "numerator_sum",
                "numerator_sum_sq",
                "denominator_sum",
                "denominator_sum_sq",
                "numerator_denominator_sum",
            ):
                assert getattr(got, field) == pytest.approx(getattr(moments, field), rel=1e-9)
    expected = ratio_test(
        expected_moments(frame, "control")["accuracy"],
        expected_moments(frame, "treatment")["accuracy"],
    )
    accuracy = next(c for c in results.comparisons if c.metric == "accuracy")
    assert accuracy.p_value == pytest.approx(expected.p_value, rel=1e-9)
    assert accuracy.relative_lift == pytest.approx(expected.relative_lift, rel=1e-9)
    assert results.control.accuracy == pytest.approx(expected.control_value, rel=1e-12)
    assert results.control.units == frame[frame.variant == "control"].unit.nunique()


def test_late_labels_replace_earlier_ones_without_double_counting(
    ctx: Context, trial: str, events: EventStore
) -> None:
    stamp = (NOW - timedelta(hours=2)).isoformat()
    later = (NOW - timedelta(hours=1)).isoformat()
    base: list[dict[str, Any]] = []
    for variant, device in (
        ("control", "a"),
        ("control", "b"),
        ("treatment", "c"),
        ("treatment", "d"),
    ):
        for k in range(2):
            pid = f"{device}{k}"
            base.append(
                {
                    "event_id": f"p{pid}",
                    "type": "prediction",
                    "experiment": "trial",
                    "unit_id": device,
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": 10.0,
                    "output": "pneumonia",
                    "timestamp": stamp,
                }
            )
    base.append(
        {
            "event_id": "l1",
            "type": "label",
            "prediction_id": "a0",
            "correct": False,
            "timestamp": stamp,
        }
    )
    base.append(
        {
            "event_id": "l2",
            "type": "label",
            "prediction_id": "a1",
            "label": "pneumonia",
            "timestamp": stamp,
        }
    )
    ingest_events(clock(ctx), events, base)
    before = experiment_results(clock(ctx), events, "trial").control
    assert before.accuracy == pytest.approx(0.5)  # a0 wrong, a1 right (label == output)
    correction = {
        "event_id": "l3",
        "type": "label",
        "prediction_id": "a0",
        "correct": True,
        "timestamp": later,
    }
    ingest_events(clock(ctx), events, [correction, correction])
    after = experiment_results(clock(ctx), events, "trial").control
    assert after.accuracy == pytest.approx(1.0)
    assert after.metrics["accuracy"].n == before.metrics["accuracy"].n == 2


def test_skewed_assignment_raises_the_srm_alarm(
    ctx: Context, trial: str, events: EventStore
) -> None:
    stream, _ = simulate(
        np.random.default_rng(2), 600, {"control": 0.85, "treatment": 0.85}, treatment_share=0.35
    )
    ingest_events(clock(ctx), events, stream)
    results = experiment_results(clock(ctx), events, "trial")
    assert results.srm.mismatch
    assert results.recommendation.action == "keep_control"
    assert "sample ratio mismatch" in results.recommendation.reason


def test_honest_assignment_passes_the_srm_check(
    ctx: Context, trial: str, events: EventStore
) -> None:
    stream, _ = simulate(np.random.default_rng(3), 600, {"control": 0.85, "treatment": 0.85})
    ingest_events(clock(ctx), events, stream)
    results = experiment_results(clock(ctx), events, "trial")
    assert not results.srm.mismatch
    assert results.srm.p_value is not None
    assert results.srm.p_value > 0.001


def test_guardrail_breach_recommends_rollback(ctx: Context, trial: str, events: EventStore) -> None:
    update_experiment(ctx, "trial", ExperimentUpdate(guardrails=["error_rate<=0.01"]))
    stream, _ = simulate(
        np.random.default_rng(4), 300, {"control": 0.85, "treatment": 0.95}, error_rate=0.05
    )
    ingest_events(clock(ctx), events, stream)
    results = experiment_results(clock(ctx), events, "trial")
    (guardrail,) = results.guardrails
    assert guardrail.violated
    assert guardrail.value is not None
    assert guardrail.value > 0.01
    assert results.recommendation.action == "rollback"
    assert "error_rate<=0.01" in results.recommendation.reason


def test_no_events_yet(ctx: Context, trial: str, events: EventStore) -> None:
    results = experiment_results(clock(ctx), events, "trial")
    assert results.control.units == 0
    assert results.control.accuracy is None
    assert results.p_value is None
    assert not results.is_significant
    assert results.recommendation.action == "continue"


def test_srm_follows_the_weights_in_force_when_units_arrived(
    ctx: Context, events: EventStore
) -> None:
    """50/50 for the first units, 20/80 after a split change: honest, so no alarm."""

    now = [NOW - timedelta(hours=6)]
    timed = replace(ctx, clock=lambda: now[0])
    for version in ("1", "2"):
        register_model_version(
            timed, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    create_experiment(
        timed,
        ExperimentCreate(
            name="split", model_id="m", control_version="1", treatment_version="2", traffic_split=50
        ),
    )
    rng = np.random.default_rng(8)

    def arrive(count: int, treatment_share: float, first: int) -> None:
        stamp = (now[0] + timedelta(minutes=1)).isoformat()
        batch = [
            {
                "event_id": f"x{first + i}",
                "type": "exposure",
                "experiment": "split",
                "unit_id": f"u{first + i}",
                "variant": "treatment" if rng.random() < treatment_share else "control",
                "timestamp": stamp,
            }
            for i in range(count)
        ]
        now[0] += timedelta(minutes=2)
        assert ingest_events(timed, events, batch).stored == count

    arrive(4000, 0.5, 0)
    now[0] += timedelta(hours=1)
    update_experiment(timed, "split", ExperimentUpdate(traffic_split=80))
    now[0] += timedelta(hours=1)
    arrive(4000, 0.8, 4000)
    results = experiment_results(timed, events, "split")
    assert sum(results.srm.observed.values()) == 8000
    assert not results.srm.mismatch
    assert results.srm.expected["treatment"] == pytest.approx(0.5 * 4000 + 0.8 * 4000)
    # The same units judged against the final 20/80 split alone would raise the alarm.
    observed = [results.srm.observed["control"], results.srm.observed["treatment"]]
    assert sample_ratio_mismatch(observed, [20, 80]).mismatch


def test_labels_are_scoped_to_their_project_and_outputs_compare_as_json(
    ctx: Context, trial: str, events: EventStore
) -> None:
    stamp = (NOW - timedelta(hours=1)).isoformat()
    ingest_events(
        clock(ctx),
        events,
        [
            {
                "event_id": "p",
                "type": "prediction",
                "experiment": "trial",
                "unit_id": "d",
                "variant": "control",
                "prediction_id": "shared-id",
                "latency_ms": 5.0,
                "output": {"class": "pneumonia", "score": 0.9},
                "timestamp": stamp,
            },
            # Same value, keys in another order: still a match.
            {
                "event_id": "l",
                "type": "label",
                "prediction_id": "shared-id",
                "label": {"score": 0.9, "class": "pneumonia"},
                "timestamp": stamp,
            },
        ],
    )
    assert experiment_results(clock(ctx), events, "trial").control.accuracy == 1.0
    other = replace(ctx, project_id="prj_someone_else")
    later = (NOW - timedelta(minutes=1)).isoformat()
    # Another tenant labels a prediction id that happens to be the same: nothing changes.
    ingest_events(
        clock(other),
        events,
        [
            {
                "event_id": "l2",
                "type": "label",
                "prediction_id": "shared-id",
                "correct": False,
                "timestamp": later,
            },
        ],
    )
    assert experiment_results(clock(ctx), events, "trial").control.accuracy == 1.0
