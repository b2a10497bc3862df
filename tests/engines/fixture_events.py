"""One set of events that exercises every statement's corners, for the cross-engine suite.

Deterministic (a seeded generator), small enough for Spark to answer in seconds, and built
as Arrow tables straight into the stores, so ties and odd values are exactly as written:

- labels tied on time and arrival with different verdicts (the greatest event id wins),
  labels that are flags and labels that are JSON values, a later label overriding one;
- outputs that are JSON numbers, strings and objects, and errors;
- shadow copies of served predictions (numeric and text answers);
- exposures with a segment attribute that is a string, a number, JSON null or missing, and
  two exposures of one unit at the same time with different values;
- a prior experiment's predictions and metric events before launch (the CUPED pre-window);
- metric events of several names, naming the experiment or not;
- ids with quotes and backslashes, so every literal an engine is given is escaped.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ablab.domain.metrics import Aggregation, CustomMetric, MetricKind
from ablab.services.ports import EVENT_COLUMNS, EventBatch

PROJECT = "proj'ect\\1"
EXPERIMENT = "exp'eriment\\2"
PRIOR = 'prior "one"'
LAUNCH = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
PRE_WINDOW = (LAUNCH - timedelta(days=1), LAUNCH)
DAYS = 3
UNITS = 240


def custom_metrics() -> tuple[CustomMetric, ...]:
    made = datetime(2026, 11, 1, tzinfo=UTC)
    shapes = [
        ("revenue", Aggregation.SUM, MetricKind.CONTINUOUS),
        ("basket", Aggregation.MEAN, MetricKind.CONTINUOUS),
        ("clicks", Aggregation.COUNT, MetricKind.CONTINUOUS),
        ("converted", Aggregation.ANY, MetricKind.PROPORTION),
    ]
    return tuple(
        CustomMetric(f"m{i}", PROJECT, name, aggregation, kind, True, made)
        for i, (name, aggregation, kind) in enumerate(shapes)
    )


def _table(kind: str, rows: list[dict[str, object]]) -> pa.Table:
    columns = EVENT_COLUMNS[kind]
    return pa.table({name: [row.get(name) for row in rows] for name in columns})


def fixture_batch(seed: int = 17) -> EventBatch:
    """The events, as one batch of every type."""
    rng = random.Random(seed)
    exposures: list[dict[str, object]] = []
    predictions: list[dict[str, object]] = []
    labels: list[dict[str, object]] = []
    metrics: list[dict[str, object]] = []

    def at(offset_minutes: float) -> datetime:
        return LAUNCH + timedelta(minutes=offset_minutes)

    outputs = ["1", "0", '"cat"', '"dog"', "2.5", '{"a":1}']
    for u in range(UNITS):
        unit = f"unit-{u}" if u % 7 else f"unit'{u}\\"
        variant = "control" if rng.random() < 0.5 else "treatment"
        first = rng.uniform(0, DAYS * 24 * 60 - 120)
        region = rng.choice(['"eu"', '"us"', '"ap"', "7", "null", None])
        attributes = "{}" if region is None else f'{{"region":{region}}}'
        exposures.append(
            {
                "event_id": f"e{u}",
                "experiment_id": EXPERIMENT,
                "unit_id": unit,
                "variant": variant,
                "ts": at(first),
                "attributes": attributes,
                "received_at": at(first + 0.5),
            }
        )
        if u % 11 == 0:  # a second exposure at the same time, another region
            exposures.append(
                {
                    "event_id": f"e{u}-twin",
                    "experiment_id": EXPERIMENT,
                    "unit_id": unit,
                    "variant": variant,
                    "ts": at(first),
                    "attributes": '{"region":"aa"}',
                    "received_at": at(first + 0.5),
                }
            )
        for k in range(rng.randint(0, 5)):
            pid = f"x{u}-{k}"
            ts = at(first + rng.uniform(0, 100))
            output = rng.choice(outputs)
            error = rng.random() < 0.1
            predictions.append(
                {
                    "event_id": f"p{u}-{k}",
                    "experiment_id": EXPERIMENT,
                    "unit_id": unit,
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": round(rng.lognormvariate(3, 0.5), 3),
                    "error": error,
                    "shadow": False,
                    "output": None if error else output,
                    "ts": ts,
                    "received_at": ts + timedelta(seconds=1),
                }
            )
            if variant == "control" and rng.random() < 0.4:
                shadow_output = output if rng.random() < 0.6 else rng.choice(outputs)
                predictions.append(
                    {
                        "event_id": f"s{u}-{k}",
                        "experiment_id": EXPERIMENT,
                        "unit_id": unit,
                        "variant": "treatment",
                        "prediction_id": pid,
                        "latency_ms": round(rng.lognormvariate(3.2, 0.4), 3),
                        "error": rng.random() < 0.05,
                        "shadow": True,
                        "output": shadow_output,
                        "ts": ts,
                        "received_at": ts + timedelta(seconds=1),
                    }
                )
            draw = rng.random()
            label_ts = ts + timedelta(hours=1)
            if draw < 0.3:
                labels.append(_flag(f"l{u}-{k}", pid, rng.random() < 0.7, label_ts))
            elif draw < 0.55:
                value = output if rng.random() < 0.6 else rng.choice(outputs)
                labels.append(_value(f"l{u}-{k}", pid, value, label_ts))
            elif draw < 0.7:  # a tie: same time and arrival; the greater id ("b" > "B") wins
                labels.append(_flag(f"t{u}-{k}-B", pid, True, label_ts))
                labels.append(_flag(f"t{u}-{k}-b", pid, False, label_ts))
                labels.append(_value(f"t{u}-{k}-A", pid, output, label_ts))
            elif draw < 0.8:  # corrected later
                labels.append(_flag(f"o{u}-{k}", pid, False, label_ts))
                labels.append(_flag(f"n{u}-{k}", pid, True, label_ts + timedelta(hours=2)))
        if u % 3 == 0:  # the prior experiment, before launch
            for k in range(rng.randint(1, 3)):
                pid = f"q{u}-{k}"
                ts = PRE_WINDOW[0] + timedelta(minutes=rng.uniform(0, 1400))
                predictions.append(
                    {
                        "event_id": f"q{u}-{k}",
                        "experiment_id": PRIOR,
                        "unit_id": unit,
                        "variant": "control",
                        "prediction_id": pid,
                        "latency_ms": round(rng.lognormvariate(3, 0.5), 3),
                        "error": False,
                        "shadow": False,
                        "output": "1",
                        "ts": ts,
                        "received_at": ts,
                    }
                )
                labels.append(_flag(f"ql{u}-{k}", pid, rng.random() < 0.6, ts))
        for k in range(rng.randint(0, 4)):
            name = rng.choice(["revenue", "basket", "clicks", "converted"])
            before = rng.random() < 0.25
            ts = (
                PRE_WINDOW[0] + timedelta(hours=rng.uniform(0, 23))
                if before
                else (at(first + rng.uniform(-30, 200)))
            )
            metrics.append(
                {
                    "event_id": f"m{u}-{k}",
                    "project_id": PROJECT,
                    "experiment_id": None if before or rng.random() < 0.5 else EXPERIMENT,
                    "unit_id": unit,
                    "name": name,
                    "value": rng.choice([0.0, 1.0, round(rng.uniform(0, 50), 2)]),
                    "ts": ts,
                    "received_at": ts,
                }
            )
    batch = EventBatch()
    batch.tables = {
        "exposure": _table("exposure", exposures),
        "prediction": _table("prediction", predictions),
        "label": _table("label", labels),
        "metric": _table("metric", metrics),
    }
    return batch


def _flag(event_id: str, pid: str, correct: bool, ts: datetime) -> dict[str, object]:
    return {
        "event_id": event_id,
        "project_id": PROJECT,
        "prediction_id": pid,
        "correct": correct,
        "label": None,
        "ts": ts,
        "received_at": ts,
    }


def _value(event_id: str, pid: str, value: str, ts: datetime) -> dict[str, object]:
    json.loads(value)  # a label is JSON text, as ingestion keeps it
    return {
        "event_id": event_id,
        "project_id": PROJECT,
        "prediction_id": pid,
        "correct": None,
        "label": value,
        "ts": ts,
        "received_at": ts,
    }
