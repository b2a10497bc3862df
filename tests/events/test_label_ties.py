"""Labels tied on their time and arrival: every engine keeps the one with the greatest id."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ablab.services.analysis.results import experiment_results
from ablab.services.context import Context
from ablab.services.events.ingest import ingest_events
from ablab.services.ports import EventStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PREDICTIONS = 12


def test_tied_labels_pick_the_greatest_event_id(
    ctx: Context, trial: str, events: EventStore
) -> None:
    """Two labels per prediction, same timestamp, sent in one batch (same arrival time).

    The label with the greater id (compared byte by byte: ``a`` is after ``B``, where a
    language collation such as en_US puts it before) says wrong for every control
    prediction and right for every treatment one; the other label says the opposite. One
    of each pair is a flag, the other a value compared with the output. A tie broken by a
    hash of the id, as DuckDB's was, gets all 24 right with odds of 1 in 16 million.
    """
    now = replace(ctx, clock=lambda: NOW)
    stamp = (NOW - timedelta(hours=1)).isoformat()
    batch: list[dict[str, Any]] = []
    for k in range(2 * PREDICTIONS):
        variant = "control" if k < PREDICTIONS else "treatment"
        winner_right = variant == "treatment"
        batch.append(
            {
                "event_id": f"p{k}",
                "type": "prediction",
                "experiment": trial,
                "unit_id": f"u{k}",
                "variant": variant,
                "prediction_id": f"x{k}",
                "latency_ms": 1.0,
                "output": "cat",
                "timestamp": stamp,
            }
        )
        flag: dict[str, Any] = {"correct": winner_right if k % 2 else not winner_right}
        value: dict[str, Any] = {"label": "cat" if (k % 2 == 0) == winner_right else "dog"}
        batch.append(
            {
                "event_id": f"a-{k}",
                "type": "label",
                "prediction_id": f"x{k}",
                "timestamp": stamp,
                **(flag if k % 2 else value),
            }
        )
        batch.append(
            {
                "event_id": f"B-{k}",
                "type": "label",
                "prediction_id": f"x{k}",
                "timestamp": stamp,
                **(value if k % 2 else flag),
            }
        )
    assert ingest_events(now, events, batch).accepted == len(batch)
    results = experiment_results(now, events, trial)
    assert results.control.metrics["accuracy"].n == PREDICTIONS
    assert results.control.accuracy == 0.0
    assert results.treatment.accuracy == 1.0
