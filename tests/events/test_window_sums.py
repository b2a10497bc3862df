"""``metric_sums_by_window`` on DuckDB and PostgreSQL: one statement per metric group gives,
for every window, exactly what ``metric_sums`` gives for a request of that window alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.contract.experiments import ExperimentCreate
from ablab.contract.metrics import MetricCreate
from ablab.services.analysis.metric_request import analysis_setup
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.catalogue import register_model_version
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.experiments.metrics import define_metric
from ablab.services.ports import EventStore, MetricRequest, VariantSums

LAUNCH = datetime(2027, 1, 4, tzinfo=UTC)
DAY = timedelta(days=1)
# Five windows of a day from launch; the fourth (day 3) gets no event at all. Events also
# fall on day -1 and day 5, outside every window.
EDGES = [LAUNCH + k * DAY for k in range(6)]
EVENT_DAYS = (-1, 0, 1, 2, 4, 5)
CUSTOM = {"revenue": ("sum", "continuous"), "converted": ("any", "proportion"),
          "basket": ("mean", "continuous"), "visits": ("count", "continuous")}  # fmt: skip


def launch(ctx: Context) -> Context:
    for version in ("1", "2"):
        register_model_version(
            ctx, ModelVersionCreate(model="m", version=version, endpoint="http://127.0.0.1:9/")
        )
    for name, (aggregation, kind) in CUSTOM.items():
        define_metric(ctx, MetricCreate(name=name, aggregation=aggregation, kind=kind))
    at_launch = replace(ctx, clock=lambda: LAUNCH - DAY)
    create_experiment(
        at_launch,
        ExperimentCreate(
            name="trial",
            model_id="m",
            control_version="1",
            treatment_version="2",
            secondary_metrics=list(CUSTOM),
            cuped=False,
        ),
    )
    return replace(ctx, clock=lambda: LAUNCH + 7 * DAY)


def stream(seed: int) -> list[dict[str, Any]]:
    """Units coming back on several days, with every case a window must get right.

    Events at a window's first instant (which belongs to it), shadow predictions, units
    only exposed, a variant only exposed on day 2, relabelled predictions and JSON labels,
    and metric events that name the experiment or none, some before the unit's first
    sighting of the day (counted only when they name the experiment). Latencies and metric
    values are multiples of 1/4, so every sum is exact whatever order an engine adds in:
    an inequality below is a difference of events, never of rounding.
    """
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []

    def stamp(day: int, seconds: float) -> str:
        return (LAUNCH + day * DAY + timedelta(seconds=seconds)).isoformat()

    for day in EVENT_DAYS:
        for unit in range(40):
            variant = "treatment" if unit % 2 else "control"
            if rng.random() < 0.3:
                continue  # not back that day
            key = f"{unit}-{day}"
            # The first instant of the day, or a random microsecond of it.
            seen = 0.0 if unit % 7 == 0 else float(rng.integers(3600, 80_000_000_000)) / 1e6
            events.append({"event_id": f"x-{key}", "type": "exposure", "experiment": "trial",
                           "unit_id": f"u{unit}", "variant": variant,
                           "timestamp": stamp(day, seen)})  # fmt: skip
            only_exposed = unit % 5 == 0 or (day == 2 and variant == "treatment")
            for k in range(0 if only_exposed else int(rng.integers(1, 4))):
                pid = f"p-{key}-{k}"
                when = stamp(day, seen + 60 * k)
                output = int(rng.integers(0, 3))
                events.append({"event_id": f"e-{pid}", "type": "prediction",
                               "experiment": "trial", "unit_id": f"u{unit}",
                               "variant": variant, "prediction_id": pid,
                               "latency_ms": float(rng.integers(4, 400)) / 4,
                               "error": bool(rng.random() < 0.1), "output": output,
                               "shadow": bool(rng.random() < 0.15),
                               "timestamp": when})  # fmt: skip
                for n in range(int(rng.integers(0, 3))):
                    verdict: dict[str, Any] = (
                        {"correct": bool(rng.random() < 0.7)}
                        if rng.random() < 0.6
                        else {"label": int(rng.integers(0, 3))}
                    )
                    events.append({"event_id": f"l-{pid}-{n}", "type": "label",
                                   "prediction_id": pid, "timestamp": stamp(day, seen + n),
                                   **verdict})  # fmt: skip
            for n, name in enumerate(rng.choice(list(CUSTOM), size=int(rng.integers(0, 5)))):
                # Up to an hour before the sighting, or after it.
                offset = float(rng.integers(-3600, 7200))
                named = {"experiment": "trial"} if rng.random() < 0.5 else {}
                events.append({"event_id": f"m-{key}-{n}", "type": "metric",
                               "unit_id": f"u{unit}", "name": str(name),
                               "value": float(rng.integers(-8, 40)) / 4,
                               "timestamp": stamp(day, max(seen + offset, 0.0)),
                               **named})  # fmt: skip
    return events


def request_of(ctx: Context) -> MetricRequest:
    return replace(analysis_setup(ctx, "trial").request, until=None)


def by_variant(sums: list[VariantSums]) -> dict[tuple[str | None, str], VariantSums]:
    found = {(s.segment, s.variant): s for s in sums}
    assert len(found) == len(sums)
    return found


def test_each_window_sums_what_a_request_of_that_window_alone_sums(
    ctx: Context, events: EventStore
) -> None:
    later = launch(ctx)
    assert ingest_events(later, events, stream(seed=3)).rejected == []
    request = request_of(later)
    assert {m.name for m in request.custom} == set(CUSTOM)
    grouped = events.metric_sums_by_window(request, EDGES)
    assert len(grouped) == len(EDGES) - 1
    for window, (since, until) in zip(grouped, pairwise(EDGES), strict=True):
        alone = events.metric_sums(replace(request, since=since, until=until))
        assert by_variant(window) == by_variant(alone)
    # The comparison had something to compare: both arms on days 0-2, nothing on day 3,
    # the treatment only exposed on day 2, units counted again on each day they came.
    assert [sorted(s.variant for s in window) for window in grouped] == [
        ["control", "treatment"]
    ] * 3 + [[], ["control", "treatment"]]
    day_2 = by_variant(grouped[2])[None, "treatment"]
    assert day_2.units == 0
    assert day_2.seen > 0
    assert day_2.metrics["revenue"].metric.n == day_2.seen
    whole = by_variant(events.metric_sums(replace(request, since=EDGES[0], until=EDGES[-1])))
    control = [by_variant(window)[None, "control"] for window in grouped if window]
    assert sum(s.units for s in control) > whole[None, "control"].units > 0


def test_one_window_is_the_request_of_its_span(ctx: Context, events: EventStore) -> None:
    later = launch(ctx)
    assert ingest_events(later, events, stream(seed=4)).rejected == []
    request = request_of(later)
    model_only = replace(request, custom=())
    for asked in (request, model_only):
        (window,) = events.metric_sums_by_window(asked, [EDGES[1], EDGES[4]])
        alone = events.metric_sums(replace(asked, since=EDGES[1], until=EDGES[4]))
        assert by_variant(window) == by_variant(alone)
        assert {s.variant for s in window} == {"control", "treatment"}


@pytest.mark.parametrize(
    ("change", "edges"),
    [
        ({}, [LAUNCH]),
        ({}, [LAUNCH + DAY, LAUNCH]),
        ({}, [LAUNCH, LAUNCH, LAUNCH + DAY]),
        ({"segment": "country"}, EDGES),
        ({"covariate": "revenue"}, EDGES),
        ({"pre_window": (LAUNCH - 7 * DAY, LAUNCH)}, EDGES),
        ({"period_boundaries": (LAUNCH + DAY,)}, EDGES),
    ],
)
def test_what_has_no_window_form_is_refused(
    ctx: Context, events: EventStore, change: dict[str, Any], edges: list[datetime]
) -> None:
    request = replace(request_of(launch(ctx)), **change)
    with pytest.raises(ValueError, match="window"):
        events.metric_sums_by_window(request, edges)
