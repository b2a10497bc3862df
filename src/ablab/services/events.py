"""Ingesting events: validate each one, store the good ones, report the bad ones by index.

A batch is never refused as a whole for one bad event: each bad event comes back with its
index and a one-line reason, and every good one is stored. Storage is idempotent by
``event_id``, so a client that retries a batch after a timeout never double counts, and the
call returns only once the new events are durable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ablab.domain.experiments import Experiment
from ablab.domain.metrics import validate_metric_name
from ablab.errors import AblabError, ValidationError
from ablab.services.context import Context
from ablab.services.ports import EventRows, EventStore, MetadataSession

__all__ = ["MAX_CLOCK_SKEW", "EventError", "IngestResult", "ingest_events"]

# A device clock may run ahead; an event further in the future than this is refused.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_ID_LENGTH = 256
EVENT_TYPES = ("exposure", "prediction", "label", "metric")


@dataclass(frozen=True, slots=True)
class EventError:
    index: int
    event_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """``accepted`` counts valid events; ``stored`` those new to the store (a retry: 0)."""

    received: int
    accepted: int
    stored: int
    rejected: list[EventError] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.accepted - self.stored


class _Invalid(Exception):
    """One event's problem; becomes an EventError, never leaves this module."""


def ingest_events(
    ctx: Context,
    store: EventStore,
    events: Sequence[object],
    *,
    default_experiment: str | None = None,
) -> IngestResult:
    """Validate and store ``events`` (dicts in the wire format of DESIGN.md).

    ``default_experiment`` fills in events that name none (``ablab events import
    --experiment``).
    """
    now = ctx.clock()
    rows = EventRows([], [], [], [])
    errors: list[EventError] = []
    with ctx.store.session() as session:
        resolver = _ExperimentResolver(ctx, session)
        for index, event in enumerate(events):
            try:
                _validate_into(rows, event, resolver, now, default_experiment)
            except _Invalid as problem:
                event_id = event.get("event_id") if isinstance(event, Mapping) else None
                errors.append(
                    EventError(index, event_id if isinstance(event_id, str) else None, str(problem))
                )
    stored = store.append(rows) if len(rows) else 0
    return IngestResult(len(events), len(rows), stored, errors)


class _ExperimentResolver:
    """Experiments by id or name, looked up once per batch."""

    def __init__(self, ctx: Context, session: MetadataSession) -> None:
        self._ctx, self._session = ctx, session
        self._found: dict[str, Experiment | None] = {}

    def __call__(self, ref: str) -> Experiment:
        if ref not in self._found:
            self._found[ref] = self._session.get_experiment(self._ctx.project_id, ref)
        experiment = self._found[ref]
        if experiment is None:
            raise _Invalid(f"unknown experiment {ref!r}")
        return experiment


def _validate_into(
    rows: EventRows,
    event: object,
    resolve: _ExperimentResolver,
    now: datetime,
    default_experiment: str | None,
) -> None:
    if not isinstance(event, Mapping):
        raise _Invalid("an event must be a JSON object")
    event_id = _identifier(event, "event_id")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise _Invalid(f"type must be one of {', '.join(EVENT_TYPES)}, got {kind!r}")
    ts = _timestamp(event, now)
    if kind == "label":
        prediction_id = _identifier(event, "prediction_id")
        correct, label = event.get("correct"), event.get("label")
        if (correct is None) == (label is None):
            raise _Invalid("a label needs exactly one of correct (true/false) and label")
        if correct is not None and not isinstance(correct, bool):
            raise _Invalid(f"correct must be true or false, got {correct!r}")
        rows.labels.append(
            (event_id, prediction_id, correct, _json(label) if label is not None else None, ts, now)
        )
        return
    unit_id = _identifier(event, "unit_id")
    ref = event.get("experiment", default_experiment)
    if kind == "metric":
        experiment_id = None
        if ref is not None:
            experiment_id = resolve(_text(ref, "experiment")).id
        name = _text(event.get("name"), "name")
        try:
            validate_metric_name(name)
        except ValidationError as exc:
            raise _Invalid(exc.message) from None
        value = _number(event.get("value"), "value")
        rows.metrics.append((event_id, experiment_id, unit_id, name, value, ts, now))
        return
    if ref is None:
        raise _Invalid(f"a {kind} event needs an experiment")
    experiment = resolve(_text(ref, "experiment"))
    variant = _text(event.get("variant"), "variant")
    try:
        experiment.variant(variant)
    except AblabError:
        raise _Invalid(f"experiment {experiment.name!r} has no variant {variant!r}") from None
    if kind == "exposure":
        attributes = event.get("attributes")
        if attributes is not None and not isinstance(attributes, Mapping):
            raise _Invalid("attributes must be a JSON object")
        rows.exposures.append(
            (
                event_id,
                experiment.id,
                unit_id,
                variant,
                ts,
                _json(attributes) if attributes else None,
                now,
            )
        )
        return
    prediction_id = _identifier(event, "prediction_id")
    latency = _number(event.get("latency_ms"), "latency_ms")
    if latency < 0:
        raise _Invalid(f"latency_ms must be 0 or more, got {latency:g}")
    error = _flag(event.get("error", False), "error")
    shadow = _flag(event.get("shadow", False), "shadow")
    output = event.get("output")
    rows.predictions.append(
        (
            event_id,
            experiment.id,
            unit_id,
            variant,
            prediction_id,
            latency,
            error,
            shadow,
            _json(output) if output is not None else None,
            ts,
            now,
        )
    )


def _identifier(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{key} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise _Invalid(f"{key} is longer than {MAX_ID_LENGTH} characters")
    return value


def _text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{key} must be a non-empty string")
    return value


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise _Invalid(f"{key} must be finite, got {value!r}")
    return float(value)


def _flag(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{key} must be true or false, got {value!r}")
    return value


def _timestamp(event: Mapping[str, Any], now: datetime) -> datetime:
    value = event.get("timestamp")
    if not isinstance(value, str):
        raise _Invalid("timestamp must be an ISO 8601 string with a time zone")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"timestamp {value!r} is not ISO 8601") from None
    if ts.tzinfo is None:
        raise _Invalid(f"timestamp {value!r} has no time zone (add Z or +00:00)")
    if ts - now > MAX_CLOCK_SKEW:
        raise _Invalid(f"timestamp {value!r} is in the future")
    return ts


def _json(value: object) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise _Invalid("a field holds a value that is not JSON") from None
