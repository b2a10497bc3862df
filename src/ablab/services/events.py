"""Ingesting events: validate each one, store the good ones, report the bad ones by index.

A batch is never refused as a whole for one bad event: each bad event comes back with its
index and a one-line reason, and every good one is stored. Storage is idempotent by
``event_id``, so a client that retries a batch after a timeout never double counts, and the
call returns only once the new events are durable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ablab.domain.experiments import Experiment
from ablab.domain.metrics import validate_metric_name
from ablab.errors import ValidationError
from ablab.services.context import Context
from ablab.services.ports import EVENT_COLUMNS, EventColumns, EventStore, MetadataSession

__all__ = ["MAX_CLOCK_SKEW", "EventError", "IngestResult", "ingest_events"]

# A device clock may run ahead; an event further in the future than this is refused.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_ID_LENGTH = 256
EVENT_TYPES = ("exposure", "prediction", "label", "metric")

_Get = Callable[..., Any]


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
    batch = EventColumns()
    errors: list[EventError] = []
    with ctx.store.session() as session:
        validate = _Validator(batch, _ExperimentResolver(ctx, session), now, default_experiment)
        for index, event in enumerate(events):
            try:
                validate(event)
            except _Invalid as problem:
                event_id = event.get("event_id") if isinstance(event, Mapping) else None
                errors.append(
                    EventError(index, event_id if isinstance(event_id, str) else None, str(problem))
                )
    stored = store.append(batch) if len(batch) else 0
    return IngestResult(len(events), len(batch), stored, errors)


class _ExperimentResolver:
    """Experiments by id or name, looked up once per batch."""

    def __init__(self, ctx: Context, session: MetadataSession) -> None:
        self._ctx, self._session = ctx, session
        self.project_id = ctx.project_id
        self._found: dict[str, Experiment | None] = {}

    def __call__(self, ref: str) -> Experiment:
        if ref not in self._found:
            self._found[ref] = self._session.get_experiment(self._ctx.project_id, ref)
        experiment = self._found[ref]
        if experiment is None:
            raise _Invalid(f"unknown experiment {ref!r}")
        return experiment


class _Validator:
    """Checks one event and appends its values to the batch's columns.

    Appends happen only once every check has passed, so a bad event leaves no trace. The
    checks are written inline on purpose: this runs once per event on the ingestion path.
    """

    def __init__(
        self,
        batch: EventColumns,
        resolve: _ExperimentResolver,
        now: datetime,
        default_experiment: str | None,
    ) -> None:
        # One bound ``append`` per column, in EVENT_COLUMNS order: the cheapest way to put a
        # value into its column, once per value on the ingestion path.
        self._appenders = {
            kind: tuple(columns[name].append for name in EVENT_COLUMNS[kind])
            for kind, columns in batch.columns.items()
        }
        self._resolve = resolve
        self._project_id = resolve.project_id
        self._now = now
        self._latest = now + MAX_CLOCK_SKEW
        self._default_experiment = default_experiment

    def __call__(self, event: object) -> None:
        if not isinstance(event, Mapping):
            raise _Invalid("an event must be a JSON object")
        get = event.get
        event_id = _identifier(get("event_id"), "event_id")
        kind = get("type")
        ts = self._timestamp(get("timestamp"))
        if kind == "prediction":
            self._prediction(get, event_id, ts)
        elif kind == "exposure":
            self._exposure(get, event_id, ts)
        elif kind == "label":
            self._label(get, event_id, ts)
        elif kind == "metric":
            self._metric(get, event_id, ts)
        else:
            raise _Invalid(f"type must be one of {', '.join(EVENT_TYPES)}, got {kind!r}")

    def _experiment(self, ref: object, kind: str) -> Experiment:
        if ref is None:
            ref = self._default_experiment
            if ref is None:
                raise _Invalid(f"a {kind} event needs an experiment")
        return self._resolve(_text(ref, "experiment"))

    @staticmethod
    def _variant(experiment: Experiment, variant: object) -> str:
        name = _text(variant, "variant")
        if name not in {v.name for v in experiment.variants}:
            raise _Invalid(f"experiment {experiment.name!r} has no variant {name!r}")
        return name

    def _prediction(self, get: _Get, event_id: str, ts: datetime) -> None:
        experiment = self._experiment(get("experiment"), "prediction")
        unit_id = _identifier(get("unit_id"), "unit_id")
        variant = self._variant(experiment, get("variant"))
        prediction_id = _identifier(get("prediction_id"), "prediction_id")
        latency = _number(get("latency_ms"), "latency_ms")
        if latency < 0:
            raise _Invalid(f"latency_ms must be 0 or more, got {latency:g}")
        error = _flag(get("error", False), "error")
        shadow = _flag(get("shadow", False), "shadow")
        output = get("output")
        output_json = _json(output) if output is not None else None
        for append, value in zip(
            self._appenders["prediction"],
            (
                event_id,
                experiment.id,
                unit_id,
                variant,
                prediction_id,
                latency,
                error,
                shadow,
                output_json,
                ts,
                self._now,
            ),
            strict=True,
        ):
            append(value)

    def _exposure(self, get: _Get, event_id: str, ts: datetime) -> None:
        experiment = self._experiment(get("experiment"), "exposure")
        unit_id = _identifier(get("unit_id"), "unit_id")
        variant = self._variant(experiment, get("variant"))
        attributes = get("attributes")
        if attributes is not None and not isinstance(attributes, Mapping):
            raise _Invalid("attributes must be a JSON object")
        attributes_json = _json(attributes) if attributes else None
        for append, value in zip(
            self._appenders["exposure"],
            (event_id, experiment.id, unit_id, variant, ts, attributes_json, self._now),
            strict=True,
        ):
            append(value)

    def _label(self, get: _Get, event_id: str, ts: datetime) -> None:
        prediction_id = _identifier(get("prediction_id"), "prediction_id")
        correct, label = get("correct"), get("label")
        if (correct is None) == (label is None):
            raise _Invalid("a label needs exactly one of correct (true/false) and label")
        if correct is not None and not isinstance(correct, bool):
            raise _Invalid(f"correct must be true or false, got {correct!r}")
        label_json = _json(label) if label is not None else None
        for append, value in zip(
            self._appenders["label"],
            (event_id, self._project_id, prediction_id, correct, label_json, ts, self._now),
            strict=True,
        ):
            append(value)

    def _metric(self, get: _Get, event_id: str, ts: datetime) -> None:
        ref = get("experiment", self._default_experiment)
        experiment_id = self._resolve(_text(ref, "experiment")).id if ref is not None else None
        unit_id = _identifier(get("unit_id"), "unit_id")
        name = _text(get("name"), "name")
        try:
            validate_metric_name(name)
        except ValidationError as exc:
            raise _Invalid(exc.message) from None
        number = _number(get("value"), "value")
        for append, value in zip(
            self._appenders["metric"],
            (event_id, self._project_id, experiment_id, unit_id, name, number, ts, self._now),
            strict=True,
        ):
            append(value)

    def _timestamp(self, value: object) -> datetime:
        if type(value) is not str:
            raise _Invalid("timestamp must be an ISO 8601 string with a time zone")
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(f"timestamp {value!r} is not ISO 8601") from None
        if ts.tzinfo is None:
            raise _Invalid(f"timestamp {value!r} has no time zone (add Z or +00:00)")
        if ts > self._latest:
            raise _Invalid(f"timestamp {value!r} is in the future")
        return ts


def _identifier(value: object, key: str) -> str:
    if type(value) is not str or not value or value.isspace():
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
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise _Invalid(f"{key} is too large") from None
    if not math.isfinite(number):
        raise _Invalid(f"{key} must be finite, got {value!r}")
    return number


def _flag(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{key} must be true or false, got {value!r}")
    return value


def _json(value: object) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        raise _Invalid("a field holds a value that is not JSON") from None
