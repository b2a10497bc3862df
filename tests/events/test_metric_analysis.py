"""Custom metrics, CUPED, segments, relative guardrails and time series, on both engines.

Each figure from the pipeline (events -> SQL -> stats) is checked against the same
computation done directly on unit-level data with pandas, scipy and statsmodels.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import ttest_ind

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.contract.metrics import MetricCreate
from ablab.errors import ValidationError
from ablab.services.analysis.results import experiment_results
from ablab.services.analysis.timeseries import experiment_timeseries
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.experiments.metrics import define_metric
from ablab.services.ports import EventStore
from ablab.stats import RatioCovariateMoments, RatioMoments, ratio_cuped_test, ratio_test

LAUNCH = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(moment: datetime) -> Any:
    return lambda: moment


def setup_models(ctx: Context) -> None:
    for version in ("1", "2"):
        register_model_version(
            ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )


def launch(ctx: Context, name: str, when: datetime, **options: Any) -> Context:
    timed = replace(ctx, clock=at(when))
    create_experiment(
        timed,
        ExperimentCreate(
            name=name, model_id="m", control_version="1", treatment_version="2", **options
        ),
    )
    return replace(ctx, clock=at(NOW))


def prediction(  # noqa: PLR0917 - the fields of one prediction event, in wire order
    experiment: str, unit: str, variant: str, pid: str, when: datetime, latency: float
) -> dict[str, Any]:
    return {
        "event_id": f"e-{experiment}-{pid}",
        "type": "prediction",
        "experiment": experiment,
        "unit_id": unit,
        "variant": variant,
        "prediction_id": pid,
        "latency_ms": latency,
        "error": False,
        "timestamp": when.isoformat(),
    }


def label(pid: str, correct: bool, when: datetime) -> dict[str, Any]:
    return {
        "event_id": f"l-{pid}",
        "type": "label",
        "prediction_id": pid,
        "correct": correct,
        "timestamp": when.isoformat(),
    }


# Custom metrics


def test_custom_metrics_match_statsmodels_on_unit_level_data(
    ctx: Context, events: EventStore
) -> None:
    """revenue (sum, continuous), converted (any, proportion), basket (mean, ratio)."""
    setup_models(ctx)
    define_metric(ctx, MetricCreate(name="revenue", aggregation="sum", kind="continuous"))
    define_metric(ctx, MetricCreate(name="converted", aggregation="any", kind="proportion"))
    define_metric(ctx, MetricCreate(name="basket", aggregation="mean", kind="continuous"))
    now = launch(
        ctx,
        "shop",
        LAUNCH,
        primary_metric="revenue",
        secondary_metrics=["converted", "basket"],
        cuped=False,
    )
    rng = np.random.default_rng(11)
    stream: list[dict[str, Any]] = []
    units = []
    for unit in range(500):
        variant = "treatment" if unit % 2 else "control"
        seen = LAUNCH + timedelta(hours=1 + unit % 40)
        stream.append(
            {
                "event_id": f"x{unit}",
                "type": "exposure",
                "experiment": "shop",
                "unit_id": f"u{unit}",
                "variant": variant,
                "timestamp": seen.isoformat(),
            }
        )
        # Before exposure: never counts. No experiment named: counts after exposure.
        stream.append(
            {
                "event_id": f"early{unit}",
                "type": "metric",
                "unit_id": f"u{unit}",
                "name": "revenue",
                "value": 1000.0,
                "timestamp": (seen - timedelta(minutes=5)).isoformat(),
            }
        )
        purchases = rng.poisson(1.2 if variant == "treatment" else 0.9)
        values = [float(rng.gamma(2.0, 10.0)) for _ in range(purchases)]
        for k, value in enumerate(values):
            for name in ("revenue", "basket"):
                stream.append(
                    {
                        "event_id": f"{name}{unit}-{k}",
                        "type": "metric",
                        "unit_id": f"u{unit}",
                        "name": name,
                        "value": value,
                        "timestamp": (seen + timedelta(minutes=10 + k)).isoformat(),
                    }
                )
            stream.append(
                {
                    "event_id": f"c{unit}-{k}",
                    "type": "metric",
                    "experiment": "shop",
                    "unit_id": f"u{unit}",
                    "name": "converted",
                    "value": 1.0,
                    "timestamp": (seen + timedelta(minutes=10 + k)).isoformat(),
                }
            )
        units.append((variant, sum(values), len(values)))
    assert ingest_events(now, events, stream).rejected == []
    frame = pd.DataFrame(units, columns=["variant", "revenue", "events"])
    control, treatment = frame[frame.variant == "control"], frame[frame.variant == "treatment"]
    results = experiment_results(now, events, "shop")
    rows = {c.metric: c for c in results.comparisons}

    _, p_value, _ = ttest_ind(treatment.revenue, control.revenue, usevar="unequal")
    assert rows["revenue"].p_value == pytest.approx(p_value, rel=1e-9)
    assert rows["revenue"].absolute_lift == pytest.approx(
        treatment.revenue.mean() - control.revenue.mean(), rel=1e-9
    )
    assert results.control.metric("revenue") == pytest.approx(control.revenue.mean(), rel=1e-12)

    converted = [int((treatment.events > 0).sum()), int((control.events > 0).sum())]
    _, p_value = proportions_ztest(converted, [len(treatment), len(control)])
    assert rows["converted"].p_value == pytest.approx(p_value, rel=1e-9)

    expected = ratio_test(
        RatioMoments.from_values(control.revenue, control.events),
        RatioMoments.from_values(treatment.revenue, treatment.events),
    )
    assert rows["basket"].p_value == pytest.approx(expected.p_value, rel=1e-9)
    assert results.treatment.metric("basket") == pytest.approx(
        treatment.revenue.sum() / treatment.events.sum(), rel=1e-12
    )
    # Secondary metrics: Benjamini-Hochberg together; the primary: Holm (one treatment).
    _, adjusted, _, _ = multipletests(
        [rows["converted"].p_value, rows["basket"].p_value], method="fdr_bh"
    )
    assert rows["converted"].adjusted_p_value == pytest.approx(adjusted[0], rel=1e-12)
    assert rows["basket"].adjusted_p_value == pytest.approx(adjusted[1], rel=1e-12)
    assert rows["converted"].correction == "benjamini_hochberg"
    assert rows["revenue"].correction == "holm"


def test_an_undefined_custom_metric_is_refused(ctx: Context) -> None:
    setup_models(ctx)
    with pytest.raises(Exception, match="unknown metric 'revenue'"):
        launch(ctx, "shop", LAUNCH, primary_metric="revenue")


# CUPED


def test_cuped_uses_the_same_metric_before_launch(ctx: Context, events: EventStore) -> None:
    """Devices keep their skill across experiments: last week's accuracy predicts this week's."""
    setup_models(ctx)
    earlier = LAUNCH - timedelta(days=10)
    launch(ctx, "last-week", earlier)
    now = launch(ctx, "this-week", LAUNCH, cuped_lookback_days=14)
    rng = np.random.default_rng(5)
    stream: list[dict[str, Any]] = []
    rows = []
    for unit in range(600):
        skill = float(np.clip(rng.normal(0.8, 0.12), 0.05, 0.99))
        variant = "treatment" if unit % 2 else "control"
        sums = {"pre": [0, 0], "in": [0, 0]}
        for phase, experiment, start, shift in (
            ("pre", "last-week", earlier, 0.0),
            ("in", "this-week", LAUNCH, 0.03 if variant == "treatment" else 0.0),
        ):
            for k in range(int(rng.integers(2, 8))):
                pid = f"{phase}-{unit}-{k}"
                when = start + timedelta(hours=1 + k)
                stream.append(prediction(experiment, f"d{unit}", variant, pid, when, latency=20.0))
                correct = bool(rng.random() < min(skill + shift, 1.0))
                stream.append(label(pid, correct, when))
                sums[phase][0] += correct
                sums[phase][1] += 1
        rows.append((variant, *sums["in"], *sums["pre"]))
    # Predictions of an experiment that started later are not pre-period data.
    launch(ctx, "later", NOW - timedelta(hours=1))
    stream.append(prediction("later", "d0", "control", "late", NOW - timedelta(minutes=30), 9.0))
    assert ingest_events(now, events, stream).rejected == []
    frame = pd.DataFrame(rows, columns=["variant", "correct", "labelled", "pre_c", "pre_l"])

    def moments(variant: str) -> RatioCovariateMoments:
        part = frame[frame.variant == variant]
        return RatioCovariateMoments.from_values(
            part.correct, part.labelled, part.pre_c, part.pre_l
        )

    expected = ratio_cuped_test(moments("control"), moments("treatment"))
    row = next(c for c in experiment_results(now, events, "this-week").comparisons)
    assert row.cuped is not None
    assert row.method == "cuped_ratio_delta_method"
    assert row.p_value == pytest.approx(expected.p_value, rel=1e-9)
    assert row.absolute_lift == pytest.approx(expected.absolute_lift, rel=1e-9)
    assert row.cuped.variance_reduction == pytest.approx(expected.variance_reduction, rel=1e-9)
    assert row.cuped.variance_reduction is not None
    assert row.cuped.variance_reduction > 0.05
    assert "14 days before launch" in row.cuped.covariate


def test_cuped_is_skipped_without_pre_period_data(ctx: Context, events: EventStore) -> None:
    setup_models(ctx)
    now = launch(ctx, "fresh", LAUNCH)
    stream = []
    for unit in range(40):
        variant = "treatment" if unit % 2 else "control"
        pid = f"p{unit}"
        stream.append(prediction("fresh", f"d{unit}", variant, pid, LAUNCH, latency=10.0))
        stream.append(label(pid, unit % 3 == 0, LAUNCH))
    ingest_events(now, events, stream)
    row = experiment_results(now, events, "fresh").comparisons[0]
    assert row.cuped is None
    assert row.method == "ratio_delta_method"


def test_explicit_covariate_from_metric_events(ctx: Context, events: EventStore) -> None:
    setup_models(ctx)
    define_metric(ctx, MetricCreate(name="sessions", aggregation="count", kind="continuous"))
    now = launch(
        ctx, "engage", LAUNCH, primary_metric="sessions", cuped_covariate="sessions_last_month"
    )
    rng = np.random.default_rng(9)
    stream: list[dict[str, Any]] = []
    rows = []
    for unit in range(300):
        variant = "treatment" if unit % 2 else "control"
        habit = float(rng.gamma(3.0, 2.0))
        stream.append(
            {
                "event_id": f"cov{unit}",
                "type": "metric",
                "unit_id": f"u{unit}",
                "name": "sessions_last_month",
                "value": habit,
                "timestamp": (LAUNCH - timedelta(days=3)).isoformat(),
            }
        )
        stream.append(
            {
                "event_id": f"x{unit}",
                "type": "exposure",
                "experiment": "engage",
                "unit_id": f"u{unit}",
                "variant": variant,
                "timestamp": LAUNCH.isoformat(),
            }
        )
        count = int(rng.poisson(habit * (1.1 if variant == "treatment" else 1.0)))
        for k in range(count):
            stream.append(
                {
                    "event_id": f"s{unit}-{k}",
                    "type": "metric",
                    "experiment": "engage",
                    "unit_id": f"u{unit}",
                    "name": "sessions",
                    "value": 1.0,
                    "timestamp": (LAUNCH + timedelta(hours=1)).isoformat(),
                }
            )
        rows.append((variant, count, habit))
    assert ingest_events(now, events, stream).rejected == []
    frame = pd.DataFrame(rows, columns=["variant", "sessions", "habit"])
    row = experiment_results(now, events, "engage").comparisons[0]
    assert row.method == "cuped_welch_t_test"
    assert row.cuped is not None
    # Against statsmodels: the adjusted values y - theta (x - mean x), theta pooled by OLS.
    theta = np.cov(frame.sessions, frame.habit, ddof=1)[0, 1] / np.var(frame.habit, ddof=1)
    adjusted = frame.sessions - theta * (frame.habit - frame.habit.mean())
    _, p_value, _ = ttest_ind(
        adjusted[frame.variant == "treatment"],
        adjusted[frame.variant == "control"],
        usevar="unequal",
    )
    assert row.cuped.theta == pytest.approx(theta, rel=1e-9)
    assert row.p_value == pytest.approx(p_value, rel=1e-6)


# Segments


def test_segment_breakdown_with_benjamini_hochberg(ctx: Context, events: EventStore) -> None:
    setup_models(ctx)
    now = launch(ctx, "regions", LAUNCH, cuped=False)
    rng = np.random.default_rng(21)
    regions = {"eu": 0.9, "us": 0.8, "apac": 0.85}
    stream: list[dict[str, Any]] = []
    rows = []
    for unit in range(900):
        variant = "treatment" if unit % 2 else "control"
        region = list(regions)[unit % 3]
        attributes = {"region": region} if unit % 5 else {}
        stream.append(
            {
                "event_id": f"x{unit}",
                "type": "exposure",
                "experiment": "regions",
                "unit_id": f"d{unit}",
                "variant": variant,
                "attributes": attributes,
                "timestamp": LAUNCH.isoformat(),
            }
        )
        # A later exposure with another region does not move the unit: its first one counts.
        if attributes:
            stream.append(
                {
                    "event_id": f"y{unit}",
                    "type": "exposure",
                    "experiment": "regions",
                    "unit_id": f"d{unit}",
                    "variant": variant,
                    "attributes": {"region": "moved"},
                    "timestamp": (LAUNCH + timedelta(hours=2)).isoformat(),
                }
            )
        correct = labelled = 0
        for k in range(3):
            pid = f"p{unit}-{k}"
            stream.append(prediction("regions", f"d{unit}", variant, pid, LAUNCH, 10.0))
            hit = bool(rng.random() < regions[region] + (0.05 if variant == "treatment" else 0))
            stream.append(label(pid, hit, LAUNCH))
            correct += hit
            labelled += 1
        rows.append((variant, region if attributes else "(none)", correct, labelled))
    ingest_events(now, events, stream)
    frame = pd.DataFrame(rows, columns=["variant", "region", "correct", "labelled"])
    breakdown = experiment_results(now, events, "regions", segment="region").segments
    assert breakdown is not None
    assert {s.value for s in breakdown.segments} == {"eu", "us", "apac", "(none)"}
    p_values = []
    for segment in breakdown.segments:
        part = frame[frame.region == segment.value]
        expected = ratio_test(
            *(
                RatioMoments.from_values(
                    part[part.variant == v].correct, part[part.variant == v].labelled
                )
                for v in ("control", "treatment")
            )
        )
        (comparison,) = segment.comparisons
        assert comparison.p_value == pytest.approx(expected.p_value, rel=1e-9)
        units = {v.name: v.units for v in segment.variants}
        assert units["control"] == (part.variant == "control").sum()
        p_values.append(comparison.p_value)
    _, adjusted, _, _ = multipletests(p_values, method="fdr_bh")
    for segment, expected_p in zip(breakdown.segments, adjusted, strict=True):
        assert segment.comparisons[0].adjusted_p_value == pytest.approx(expected_p, rel=1e-12)


def test_a_malformed_segment_name_is_refused(ctx: Context, events: EventStore) -> None:
    setup_models(ctx)
    now = launch(ctx, "regions", LAUNCH)
    with pytest.raises(ValidationError, match="invalid segment attribute"):
        experiment_results(now, events, "regions", segment="region'; DROP TABLE x --")


# Relative guardrails


@pytest.mark.parametrize(("slowdown", "state"), [(1.5, "fail"), (1.0, "pass")])
def test_non_inferiority_guardrail_against_the_control(
    ctx: Context, events: EventStore, slowdown: float, state: str
) -> None:
    setup_models(ctx)
    now = launch(ctx, "speed", LAUNCH, guardrails=["latency_ms<=+10%"], min_samples=50)
    rng = np.random.default_rng(3)
    stream = []
    for unit in range(400):
        variant = "treatment" if unit % 2 else "control"
        for k in range(4):
            latency = float(rng.gamma(9.0, 5.0)) * (slowdown if variant == "treatment" else 1.0)
            stream.append(prediction("speed", f"d{unit}", variant, f"p{unit}-{k}", LAUNCH, latency))
    ingest_events(now, events, stream)
    results = experiment_results(now, events, "speed")
    (guardrail,) = results.guardrails
    assert guardrail.relative
    assert guardrail.state == state
    assert guardrail.violated is (state == "fail")
    assert guardrail.control_value is not None
    assert guardrail.limit == pytest.approx(guardrail.control_value * 1.1)
    if state == "fail":
        assert results.recommendation.action == "rollback"


# Time series


def test_cumulative_timeseries_equals_the_results_at_each_day(
    ctx: Context, events: EventStore
) -> None:
    setup_models(ctx)
    now = launch(ctx, "daily", LAUNCH, cuped=False)
    rng = np.random.default_rng(17)
    stream = []
    rows = []
    for unit in range(300):
        variant = "treatment" if unit % 2 else "control"
        first_day = unit % 3
        for k in range(int(rng.integers(1, 6))):
            day = first_day + int(rng.integers(0, 3 - first_day))
            when = LAUNCH + timedelta(days=day, hours=int(rng.integers(0, 24)))
            pid = f"p{unit}-{k}"
            stream.append(prediction("daily", f"d{unit}", variant, pid, when, 10.0))
            correct = bool(rng.random() < (0.85 if variant == "treatment" else 0.8))
            stream.append(label(pid, correct, when))
            rows.append((f"d{unit}", variant, when, correct))
    ingest_events(now, events, stream)
    frame = pd.DataFrame(rows, columns=["unit", "variant", "when", "correct"])
    series = experiment_timeseries(now, events, "daily", interval_name="day")
    assert [p.at for p in series.lifts] == [LAUNCH + timedelta(days=d) for d in (1, 2, 3)]
    for point in series.lifts:
        upto = frame[frame.when < point.at]
        per_unit = upto.groupby(["unit", "variant"]).agg(
            correct=("correct", "sum"), labelled=("correct", "size")
        )
        per_unit = per_unit.reset_index()
        control, treatment = (
            RatioMoments.from_values(
                per_unit[per_unit.variant == v].correct, per_unit[per_unit.variant == v].labelled
            )
            for v in ("control", "treatment")
        )
        expected = ratio_test(control, treatment)
        assert point.relative_lift == pytest.approx(expected.relative_lift, rel=1e-9)
        low, high = point.confidence_sequence
        assert low is not None
        assert high is not None
        assert low <= point.relative_lift <= high
        units = {p.variant: p.units for p in series.variants if p.at == point.at}
        assert units["control"] == control.n
    valid = [p.always_valid_p_value for p in series.lifts]
    assert all(a is not None and b is not None and b <= a for a, b in pairwise(valid))


def test_timeseries_of_a_custom_count_metric(ctx: Context, events: EventStore) -> None:
    setup_models(ctx)
    define_metric(ctx, MetricCreate(name="clicks", aggregation="count", kind="continuous"))
    now = launch(ctx, "clicks", LAUNCH, primary_metric="clicks")
    stream = []
    for unit in range(6):
        variant = "treatment" if unit % 2 else "control"
        stream.append(
            {
                "event_id": f"x{unit}",
                "type": "exposure",
                "experiment": "clicks",
                "unit_id": f"u{unit}",
                "variant": variant,
                "timestamp": LAUNCH.isoformat(),
            }
        )
        for day in range(unit % 3):
            stream.append(
                {
                    "event_id": f"c{unit}-{day}",
                    "type": "metric",
                    "experiment": "clicks",
                    "unit_id": f"u{unit}",
                    "name": "clicks",
                    "value": 1.0,
                    "timestamp": (LAUNCH + timedelta(days=day + 1, hours=1)).isoformat(),
                }
            )
    ingest_events(now, events, stream)
    series = experiment_timeseries(now, events, "clicks", interval_name="day")
    by_day = {(p.at, p.variant): p for p in series.variants}
    # Day 1: everyone exposed, no clicks yet. Units 0, 2, 4 (control) click 0, 2, 1 times.
    first = LAUNCH + timedelta(days=1)
    assert by_day[(first, "control")].units == 3
    assert by_day[(first, "control")].value == 0.0
    last = max(p.at for p in series.variants)
    assert by_day[(last, "control")].value == pytest.approx((0 + 2 + 1) / 3)
    assert by_day[(last, "treatment")].value == pytest.approx((1 + 0 + 2) / 3)


def test_timeseries_by_the_minute(ctx: Context, events: EventStore) -> None:
    """A young experiment (the console's charts, the demo) in one-minute buckets."""
    setup_models(ctx)
    define_metric(ctx, MetricCreate(name="taps", aggregation="count", kind="continuous"))
    now = launch(ctx, "taps", LAUNCH, primary_metric="taps")
    stream = []
    for unit in range(4):
        seen = LAUNCH + timedelta(minutes=unit, seconds=20)
        common = {"experiment": "taps", "unit_id": f"u{unit}"}
        stream.append(
            {
                "event_id": f"x{unit}",
                "type": "exposure",
                "variant": "treatment" if unit % 2 else "control",
                "timestamp": seen.isoformat(),
                **common,
            }
        )
        stream.append(
            {
                "event_id": f"t{unit}",
                "type": "metric",
                "name": "taps",
                "value": 1.0,
                "timestamp": (seen + timedelta(seconds=30)).isoformat(),
                **common,
            }
        )
    ingest_events(now, events, stream)
    series = experiment_timeseries(now, events, "taps", interval_name="minute")
    assert series.interval == "minute"
    units = {(p.at, p.variant): p.units for p in series.variants}
    # Unit k arrives in minute k: at the end of minute k, k // 2 + 1 control units (even k).
    for minute in range(4):
        end = LAUNCH + timedelta(minutes=minute + 1)
        assert units[(end, "control")] == minute // 2 + 1
        assert units[(end, "treatment")] == (minute + 1) // 2
    assert max(p.at for p in series.variants) == LAUNCH + timedelta(minutes=4)


def test_timeseries_refuses_an_unknown_interval_or_metric(ctx: Context, events: EventStore) -> None:
    setup_models(ctx)
    now = launch(ctx, "daily", LAUNCH)
    with pytest.raises(ValidationError, match="interval must be minute, hour or day"):
        experiment_timeseries(now, events, "daily", interval_name="week")
    with pytest.raises(ValidationError, match="does not compare 'latency_p95_ms'"):
        experiment_timeseries(now, events, "daily", metric="latency_p95_ms")


def test_scipy_agrees_on_the_welch_reference() -> None:
    """The statsmodels Welch p-value used above is scipy's too (a check of the reference)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 50), rng.normal(0.3, 2, 70)
    _, p_value, _ = ttest_ind(a, b, usevar="unequal")
    assert p_value == pytest.approx(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_custom_metric_cuped_from_its_own_events_before_launch(
    ctx: Context, events: EventStore
) -> None:
    """Spend last week (events naming no experiment) adjusts spend this week; (other) merges."""
    setup_models(ctx)
    define_metric(ctx, MetricCreate(name="spend", aggregation="sum", kind="continuous"))
    now = launch(ctx, "spend", LAUNCH, primary_metric="spend", cuped_lookback_days=7)
    rng = np.random.default_rng(31)
    stream: list[dict[str, Any]] = []
    rows = []
    for unit in range(400):
        variant = "treatment" if unit % 2 else "control"
        habit = float(rng.gamma(2.0, 20.0))
        before = habit * float(rng.uniform(0.8, 1.2))
        after = habit * float(rng.uniform(0.8, 1.2)) * (1.05 if variant == "treatment" else 1.0)
        stream.append(
            {
                "event_id": f"x{unit}",
                "type": "exposure",
                "experiment": "spend",
                "unit_id": f"u{unit}",
                "variant": variant,
                "attributes": {"country": f"c{unit % 25}"},
                "timestamp": LAUNCH.isoformat(),
            }
        )
        for event_id, value, when in (
            (f"b{unit}", before, LAUNCH - timedelta(days=3)),
            (f"old{unit}", 500.0, LAUNCH - timedelta(days=30)),  # outside the lookback
            (f"a{unit}", after, LAUNCH + timedelta(hours=2)),
        ):
            stream.append(
                {
                    "event_id": event_id,
                    "type": "metric",
                    "unit_id": f"u{unit}",
                    "name": "spend",
                    "value": value,
                    "timestamp": when.isoformat(),
                }
            )
        rows.append((variant, after, before))
    assert ingest_events(now, events, stream).rejected == []
    frame = pd.DataFrame(rows, columns=["variant", "after", "before"])
    results = experiment_results(now, events, "spend", segment="country")
    row = results.comparisons[0]
    assert row.method == "cuped_welch_t_test"
    assert row.cuped is not None
    theta = np.cov(frame.after, frame.before, ddof=1)[0, 1] / np.var(frame.before, ddof=1)
    assert row.cuped.theta == pytest.approx(theta, rel=1e-9)
    assert row.cuped.variance_reduction is not None
    assert row.cuped.variance_reduction > 0.5
    assert results.segments is not None
    values = [s.value for s in results.segments.segments]
    assert len(values) == 21
    assert values[-1] == "(other)"
    other = results.segments.segments[-1]
    assert sum(v.units for v in other.variants) == 400 - 20 * 16


def test_shadow_pairs_on_both_engines(ctx: Context, events: EventStore) -> None:
    setup_models(ctx)
    now = launch(ctx, "shadowed", LAUNCH, shadow=True)
    stream: list[dict[str, Any]] = []
    for i in range(10):
        pid = f"p{i}"
        served = prediction("shadowed", f"u{i}", "control", pid, LAUNCH, latency=10.0)
        served["output"] = float(i)
        mirrored = prediction("shadowed", f"u{i}", "treatment", pid, LAUNCH, latency=15.0)
        mirrored.update(event_id=f"s-{pid}", shadow=True, output=float(i) + (1 if i % 2 else 0))
        stream += [served, mirrored]
    assert ingest_events(now, events, stream).rejected == []
    experiment_id = experiment_results(now, events, "shadowed").experiment.id
    (sums,) = events.shadow_sums(ctx.project_id, experiment_id)
    assert (sums.variant, sums.pairs, sums.answered, sums.agreements) == ("treatment", 10, 10, 5)
    assert sums.numeric == 10
    assert sums.abs_diff == pytest.approx(5.0)
    assert sums.latency_diff == pytest.approx(50.0)
