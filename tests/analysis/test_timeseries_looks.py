"""The time series' always-valid figures: each bucket a look under the experiment's design.

An A/B/C experiment with its own tuning sample size and alpha, a custom metric whose
control mean changes sign, one bucket a minute: every point must be the stats-level look
(Bonferroni level alpha / 2, the experiment's N*, the running minimum and intersection)
on the same values, significant exactly when its band excludes 0, and the replay must
leave the recorded looks alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.contract.metrics import MetricCreate
from ablab.services.analysis.results import experiment_results
from ablab.services.analysis.timeseries import experiment_timeseries
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.experiments.metrics import define_metric
from ablab.store.events import DuckDBEventStore
from tests.analysis.aa_experiments import LAUNCH, clock_at
from tests.analysis.sequential_replay import (
    contradictions,
    deviation_from,
    difference_band,
    stats_level,
)

ALPHA = 0.1
TUNING = 2_000
MINUTES = 60
PER_ARM = 30  # units per arm a minute
EFFECTS = {"control": 0.0, "treatment_1": 0.0, "treatment_2": 0.3}


def _stream(values: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    stream: list[dict[str, Any]] = []
    for variant, rows in values.items():
        for minute, row in enumerate(rows, 1):
            stamp = (LAUNCH + timedelta(minutes=minute, seconds=10)).isoformat()
            for index, value in enumerate(row):
                unit = f"{variant}-{minute}-{index}"
                common = {"experiment": "abc", "unit_id": unit, "timestamp": stamp}
                stream.append(
                    {"event_id": f"x-{unit}", "type": "exposure", "variant": variant, **common}
                )
                stream.append(
                    {"event_id": f"m-{unit}", "type": "metric", "name": "score",
                     "value": float(value), **common}
                )  # fmt: skip
    return stream


@pytest.fixture
def events(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    yield store
    store.close()


def test_each_bucket_is_a_look_under_the_experiment_design(
    ctx: Context, events: DuckDBEventStore
) -> None:
    for version in ("1", "2", "3"):
        register_model_version(
            ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    define_metric(ctx, MetricCreate(name="score", aggregation="sum", kind="continuous"))
    create_experiment(
        replace(ctx, clock=clock_at(LAUNCH)),
        ExperimentCreate(
            name="abc", model_id="m", control_version="1", treatment_versions=["2", "3"],
            primary_metric="score", cuped=False, alpha=ALPHA, sequential_tuning_units=TUNING,
        ),
    )  # fmt: skip
    rng = np.random.default_rng(4)
    values = {v: rng.normal(effect, 1.0, (MINUTES, PER_ARM)) for v, effect in EFFECTS.items()}
    now = replace(ctx, clock=clock_at(LAUNCH + timedelta(minutes=MINUTES + 1)))
    assert not ingest_events(now, events, _stream(values)).rejected

    series = experiment_timeseries(now, events, "abc", interval_name="minute")

    control = {p.at: p.value for p in series.variants if p.variant == "control"}
    signs = {np.sign(value) for value in control.values() if value is not None}
    assert signs == {-1.0, 1.0}  # both sides of the relative band's division are exercised
    significant = 0
    for treatment in ("treatment_1", "treatment_2"):
        points = [p for p in series.lifts if p.variant == treatment]
        assert len(points) == MINUTES
        # Two treatments share the primary metric's alpha: each test runs at alpha / 2.
        expected = stats_level(
            values["control"], values[treatment], tuning=TUNING, level=ALPHA / 2, alpha=ALPHA
        )
        controls = [control[p.at] for p in points]
        assert deviation_from(points, controls, expected) <= 1e-9
        assert contradictions(points, ALPHA) == 0
        significant += sum(p.always_valid_p_value is not None and p.always_valid_p_value < ALPHA
                           for p in points)  # fmt: skip
        # The band is the running intersection: back on the difference's scale, each
        # point's interval lies within the one before it.
        bands = [difference_band(p, c) for p, c in zip(points, controls, strict=True)]
        for (low, high), (next_low, next_high) in pairwise(bands):
            assert next_low >= low - 1e-12 * abs(low)
            assert next_high <= high + 1e-12 * abs(high)
    assert 0 < significant < 2 * MINUTES  # both verdicts occur among the points

    # The replay recorded no look: the first results are each test's first look.
    results = experiment_results(now, events, "abc")
    rows = [row for row in results.comparisons if row.metric == "score"]
    assert len(rows) == 2
    for row in rows:
        assert row.sequential is not None
        assert row.sequential.looks == 1
        assert row.sequential.tuning_units == TUNING
        assert row.sequential.level == pytest.approx(ALPHA / 2)
