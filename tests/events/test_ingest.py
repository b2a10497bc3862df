"""Ingestion on DuckDB and PostgreSQL: idempotent, durable, bad events reported by index."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ablab.contract.experiments import ExperimentCreate, VariantCreate
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.experiments.lifecycle import create_experiment
from ablab.services.ports import EventStore
from ablab.store.events import DuckDBEventStore
from ablab.store.events.schema import EVENT_TABLES

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def batch() -> list[dict[str, Any]]:
    return [
        {
            "event_id": "e1",
            "type": "exposure",
            "experiment": "trial",
            "unit_id": "d1",
            "variant": "control",
            "timestamp": at(10),
            "attributes": {"region": "eu"},
        },
        {
            "event_id": "e2",
            "type": "prediction",
            "experiment": "trial",
            "unit_id": "d1",
            "variant": "control",
            "prediction_id": "p1",
            "latency_ms": 41.5,
            "error": False,
            "output": {"class": "pneumonia"},
            "timestamp": at(9),
        },
        {
            "event_id": "e3",
            "type": "label",
            "prediction_id": "p1",
            "correct": True,
            "timestamp": at(1),
        },
        {
            "event_id": "e4",
            "type": "metric",
            "experiment": "trial",
            "unit_id": "d1",
            "name": "revenue",
            "value": 12.5,
            "timestamp": at(5),
        },
        {
            "event_id": "e5",
            "type": "label",
            "prediction_id": "p2",
            "label": "normal",
            "timestamp": at(1),
        },
    ]


def clock(ctx: Context) -> Context:
    return Context(ctx.store, ctx.project_id, ctx.actor, clock=lambda: NOW)


def test_every_type_is_stored_and_a_retry_adds_nothing(
    ctx: Context, trial: str, events: EventStore
) -> None:
    first = ingest_events(clock(ctx), events, batch())
    assert (first.received, first.accepted, first.stored, first.rejected) == (5, 5, 5, [])
    assert {k: events.count(k) for k in EVENT_TABLES} == {
        "exposure": 1,
        "prediction": 1,
        "label": 2,
        "metric": 1,
    }
    retry = ingest_events(clock(ctx), events, batch())
    assert (retry.accepted, retry.stored, retry.duplicates) == (5, 0, 5)
    assert events.count("label") == 2


def test_duplicates_inside_one_batch_count_once(
    ctx: Context, trial: str, events: EventStore
) -> None:
    twice = [batch()[0], batch()[0], batch()[1]]
    result = ingest_events(clock(ctx), events, twice)
    assert (result.accepted, result.stored) == (3, 2)
    assert events.count("exposure") == 1


BAD = [
    ({"event_id": None}, "event_id must be a non-empty string"),
    ({"event_id": ""}, "event_id must be a non-empty string"),
    ({"type": "click"}, "type must be one of"),
    ({"experiment": "ghost"}, "unknown experiment 'ghost'"),
    ({"variant": "treatment_9"}, "has no variant 'treatment_9'"),
    ({"timestamp": (NOW + timedelta(hours=1)).isoformat()}, "is in the future"),
    ({"timestamp": "2026-11-23T11:00:00"}, "has no time zone"),
    ({"timestamp": "yesterday"}, "is not ISO 8601"),
    ({"unit_id": 7}, "unit_id must be a non-empty string"),
    ({"attributes": ["eu"]}, "attributes must be a JSON object"),
]


@pytest.mark.parametrize(("change", "reason"), BAD)
def test_bad_exposures_are_reported_and_the_good_ones_stored(
    ctx: Context, trial: str, events: EventStore, change: dict[str, Any], reason: str
) -> None:
    good = batch()
    bad = {**good[0], "event_id": "bad", **change}
    result = ingest_events(clock(ctx), events, [good[1], bad, good[2]])
    assert result.stored == 2
    (error,) = result.rejected
    assert error.index == 1
    assert reason in error.reason
    assert events.count("exposure") == 0


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"latency_ms": -1}, "latency_ms must be 0 or more"),
        ({"latency_ms": "fast"}, "latency_ms must be a number"),
        ({"latency_ms": float("nan")}, "latency_ms must be finite"),
        ({"error": "no"}, "error must be true or false"),
        ({"prediction_id": None}, "prediction_id must be a non-empty string"),
    ],
)
def test_bad_predictions(
    ctx: Context, trial: str, events: EventStore, event: dict[str, Any], reason: str
) -> None:
    result = ingest_events(clock(ctx), events, [{**batch()[1], **event}])
    assert [e.reason for e in result.rejected] == [result.rejected[0].reason]
    assert reason in result.rejected[0].reason
    assert result.rejected[0].event_id == "e2"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            {"type": "label", "event_id": "l", "prediction_id": "p", "timestamp": at(1)},
            "exactly one of correct",
        ),
        (
            {
                "type": "label",
                "event_id": "l",
                "prediction_id": "p",
                "correct": True,
                "label": "x",
                "timestamp": at(1),
            },
            "exactly one of correct",
        ),
        (
            {
                "type": "label",
                "event_id": "l",
                "prediction_id": "p",
                "correct": "yes",
                "timestamp": at(1),
            },
            "correct must be true or false",
        ),
        (
            {
                "type": "metric",
                "event_id": "m",
                "unit_id": "d",
                "name": "Bad Name",
                "value": 1,
                "timestamp": at(1),
            },
            "invalid metric name",
        ),
        (
            {
                "type": "metric",
                "event_id": "m",
                "unit_id": "d",
                "name": "revenue",
                "value": True,
                "timestamp": at(1),
            },
            "value must be a number",
        ),
        (
            {
                "type": "prediction",
                "event_id": "p",
                "unit_id": "d",
                "variant": "control",
                "prediction_id": "p",
                "latency_ms": 1,
                "timestamp": at(1),
            },
            "needs an experiment",
        ),
    ],
)
def test_bad_labels_and_metrics(
    ctx: Context, trial: str, events: EventStore, event: dict[str, Any], reason: str
) -> None:
    (error,) = ingest_events(clock(ctx), events, [event]).rejected
    assert reason in error.reason


def test_not_an_object_and_the_default_experiment(
    ctx: Context, trial: str, events: EventStore
) -> None:
    exposure = {k: v for k, v in batch()[0].items() if k != "experiment"}
    result = ingest_events(clock(ctx), events, ["nope", exposure], default_experiment="trial")
    assert [(e.index, e.reason) for e in result.rejected] == [(0, "an event must be a JSON object")]
    assert result.stored == 1


def test_duckdb_events_survive_reopening(ctx: Context, trial: str, tmp_path: Path) -> None:
    path = tmp_path / "durable.duckdb"
    store = DuckDBEventStore(path)
    ingest_events(clock(ctx), store, batch())
    store.close()
    reopened = DuckDBEventStore(path)
    assert reopened.count("label") == 2
    assert ingest_events(clock(ctx), reopened, batch()).stored == 0
    reopened.close()


def test_concurrent_batches_commit_together_and_count_their_own(
    ctx: Context, trial: str, events: EventStore
) -> None:
    """Group commit: 8 threads, overlapping ids; every event stored once, counts add up."""
    stamp = at(1)

    def exposures(first: int, count: int) -> list[dict[str, Any]]:
        return [
            {
                "event_id": f"g{i}",
                "type": "exposure",
                "experiment": "trial",
                "unit_id": f"u{i}",
                "variant": "control",
                "timestamp": stamp,
            }
            for i in range(first, first + count)
        ]

    # Thread k sends ids [k*500, k*500 + 1000): each half overlaps the next thread's.
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def send(k: int) -> None:
        barrier.wait()
        stored = ingest_events(clock(ctx), events, exposures(k * 500, 1000)).stored
        with lock:
            results.append(stored)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == events.count("exposure") == 4500


def prediction(i: int, **change: Any) -> dict[str, Any]:
    return {**batch()[1], "event_id": f"p{i}", "prediction_id": f"pr{i}", **change}


def test_a_batch_of_one_type_names_each_bad_event(
    ctx: Context, trial: str, events: EventStore
) -> None:
    """The usual batch (one type, one experiment) takes the checks' all-clear shortcuts;
    a few bad rows among many good ones must still be named, each with its own reason."""
    bad = {
        3: ({"unit_id": "   "}, "unit_id must be a non-empty string"),
        5: ({"event_id": "x" * 257}, "event_id is longer than 256 characters"),
        8: ({"variant": "treatment_9"}, "has no variant 'treatment_9'"),
        9: ({"variant": None}, "variant must be a non-empty string"),
        12: ({"prediction_id": ""}, "prediction_id must be a non-empty string"),
    }
    sent = [prediction(i, **bad[i][0]) if i in bad else prediction(i) for i in range(20)]
    result = ingest_events(clock(ctx), events, sent)
    assert [(e.index, e.reason) for e in result.rejected] == [
        (i, reason) if i != 8 else (i, "experiment 'trial' has no variant 'treatment_9'")
        for i, (_, reason) in sorted(bad.items())
    ]
    assert result.stored == events.count("prediction") == 15


def test_a_batch_over_two_experiments_checks_variants_per_experiment(
    ctx: Context, trial: str, events: EventStore
) -> None:
    create_experiment(
        ctx,
        ExperimentCreate(
            name="other",
            model_id="m",
            variants=[
                VariantCreate(name="control", model_version="1.0.0", weight=50, is_control=True),
                VariantCreate(name="big", model_version="2.0.0", weight=50),
            ],
        ),
    )
    sent = [
        prediction(0),
        prediction(1, experiment="other", variant="big"),
        prediction(2, variant="big"),  # 'big' is the other experiment's
        prediction(3, experiment="other", variant="treatment"),
    ]
    result = ingest_events(clock(ctx), events, sent)
    assert [(e.index, e.reason) for e in result.rejected] == [
        (2, "experiment 'trial' has no variant 'big'"),
        (3, "experiment 'other' has no variant 'treatment'"),
    ]
    assert result.stored == 2


def test_text_with_quotes_commas_newlines_and_unicode_is_stored_as_sent(
    ctx: Context, trial: str, events: EventStore
) -> None:
    """PostgreSQL's rows arrive as CSV: each awkward character must come back as it went in."""
    outputs = [
        'say "hi", then\nleave',
        "back\\slash, tab\t, nul-free ünïcödé ✓",
        "",
        {"k": ["a,b", None, 1.5, True]},
    ]
    sent = [prediction(i, output=output) for i, output in enumerate(outputs)]
    sent.append(prediction(9, unit_id='d "quoted", unit'))
    assert ingest_events(clock(ctx), events, sent).stored == 5
    _, rows = events._fetch(  # type: ignore[attr-defined]
        "SELECT output, unit_id FROM predictions ORDER BY event_id", []
    )
    assert [row[0] for row in rows] == [
        '"say \\"hi\\", then\\nleave"',
        '"back\\\\slash, tab\\t, nul-free ünïcödé ✓"',
        '""',
        '{"k":["a,b",null,1.5,true]}',
        '{"class":"pneumonia"}',
    ]
    assert rows[4][1] == 'd "quoted", unit'
