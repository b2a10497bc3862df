"""Wire schemas of event ingestion: the four event kinds, the batch in, the verdict out.

Each kind is a model of its own, told apart by ``type`` (a discriminated union), so the
OpenAPI document shows every field of every kind with its limits, and Python code can check
an event before it is queued (``validate_event(event)``, or build one with
``PredictionEvent(type="prediction", ...)``; timestamps are ISO 8601 text, as on the wire).

``POST /v1/events`` does not validate through these models. It reads the raw JSON and
``services.events.validation.BatchChecker`` checks whole columns at once: 50,000 prediction
events in about 50 ms, where validating them through this union takes about 340 ms, seven
times as long (both measured in one process, one after the other). The two must hold one
rule: a Hypothesis test (``tests/events/test_event_schema_agrees.py``) checks that, for any
event, the union accepts exactly what the checker accepts, and that when both refuse they
blame the same field. The checker alone also looks the experiment and its variants up.

Two things the checker learns from the request, the schema reads from the validation
context (:func:`validate_event`): the batch's default experiment (an exposure or a
prediction may leave ``experiment`` out when the batch names one) and the server's clock
(a timestamp may be at most five minutes ahead of it). The limits are those of
:mod:`ablab.domain.limits` (README.md, "Limits").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    Strict,
    StrictBool,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Attributes, Identifier
from ablab.domain.event_kinds import EVENT_FIELDS, EVENT_TYPES
from ablab.domain.ids import NAME_PATTERN
from ablab.domain.limits import (
    EARLIEST_EVENT_TIME,
    MAX_CLOCK_SKEW,
    MAX_LATENCY_MS,
    MAX_METRIC_MAGNITUDE,
    MAX_OUTPUT_BYTES,
    inspect_json,
)

__all__ = [
    "EVENT_FIELDS",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "Event",
    "EventBatch",
    "ExposureEvent",
    "IngestResultPublic",
    "LabelEvent",
    "MetricEvent",
    "PredictionEvent",
    "RejectedEvent",
    "validate_event",
]

# Field types


def _not_blank(value: str) -> str:
    # Identifier leaves blanks to the domain; an event has no domain step after the schema.
    if value.isspace():
        raise PydanticCustomError("blank_string", "must not be blank")
    return value


# Strict: from Python the checker takes text only (bytes are not), as JSON gives it.
EventReference = Annotated[Identifier, Strict(), AfterValidator(_not_blank)]
"""An event, unit or prediction id, or an experiment by id or name: 1-256 characters, not
blank, no control character."""


def _iso_8601(value: Any) -> datetime:
    """A datetime with a zone, read from ISO 8601 text by Python's parser (the checker's
    when Arrow's stricter one fails); never from a number, nor from a datetime object,
    which the checker would not take either."""
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", "must be an ISO 8601 string with a time zone")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("timestamp_format", "is not ISO 8601") from None
    if stamp.tzinfo is None:
        raise PydanticCustomError("timestamp_zone", "has no time zone (add Z or +00:00)")
    return stamp


def _within_window(value: datetime, info: ValidationInfo) -> datetime:
    now = _context(info).get("now") or datetime.now(UTC)
    if value < EARLIEST_EVENT_TIME:
        raise PydanticCustomError(
            "timestamp_too_early",
            "is before {earliest}, the earliest accepted",
            {"earliest": f"{EARLIEST_EVENT_TIME:%Y-%m-%dT%H:%MZ}"},
        )
    if value > now + MAX_CLOCK_SKEW:
        raise PydanticCustomError("timestamp_in_future", "is in the future")
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_iso_8601),
    AfterValidator(_within_window),
    Field(
        description="ISO 8601 with a zone, from 2000-01-01T00:00Z to five minutes after "
        "the server's clock"
    ),
]


def _experiment_given(value: str | None, info: ValidationInfo) -> str | None:
    if value is None and _context(info).get("default_experiment") is None:
        raise PydanticCustomError("missing", "needed, unless the batch names an experiment")
    return value


VariantName = Annotated[str, Strict(), Field(pattern=f"^{NAME_PATTERN.pattern}$")]
"""One of the experiment's variants (a plain name); which ones exist is the server's check."""

LatencyMs = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_LATENCY_MS)]

# domain.metrics.validate_metric_name's rule (every built-in name matches it too).
MetricName = Annotated[str, Strict(), Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A built-in metric or a custom one in snake_case, up to 64 characters."""

MetricValue = Annotated[
    float,
    Field(strict=True, allow_inf_nan=False, ge=-MAX_METRIC_MAGNITUDE, le=MAX_METRIC_MAGNITUDE),
]
"""Finite, within ±2**53: the integers a double holds exactly."""


def _plain_json(value: Any) -> Any:
    problem, size = inspect_json(value)
    if problem is not None:
        raise PydanticCustomError("json_value", "{problem}", {"problem": problem})
    if size > MAX_OUTPUT_BYTES:
        raise PydanticCustomError(
            "json_too_large",
            "is {size} bytes of JSON, more than the {limit} allowed",
            {"size": size, "limit": MAX_OUTPUT_BYTES},
        )
    return value


Output = Annotated[Any, AfterValidator(_plain_json)]
"""Any JSON value up to 64 KiB: a prediction's output, a label (compared by canonical JSON)."""


def _context(info: ValidationInfo) -> Mapping[str, Any]:
    return info.context if isinstance(info.context, Mapping) else {}


# The kinds. Fields are declared in the order the checker checks them, so that the first
# error of each names the field the checker blames.


class ExposureEvent(Schema):
    """A unit was served a variant (an SDK that assigns locally reports it this way); the
    server stores it as the unit's first assignment when it has none."""

    type: Literal["exposure"]
    event_id: EventReference = Field(description="makes a retry harmless")
    timestamp: Timestamp
    experiment: Annotated[EventReference | None, AfterValidator(_experiment_given)] = Field(
        default=None,
        validate_default=True,
        description="by id or name; needed unless the batch names one",
    )
    unit_id: EventReference
    variant: VariantName
    attributes: Attributes | None = Field(
        default=None,
        description="the unit's targeting attributes: an object of at most 100 keys and "
        "16 KiB of JSON",
    )


class PredictionEvent(Schema):
    """A model answered (or failed to) for a unit; ``shadow`` marks a mirrored call whose
    answer was not served."""

    type: Literal["prediction"]
    event_id: EventReference = Field(description="makes a retry harmless")
    timestamp: Timestamp
    experiment: Annotated[EventReference | None, AfterValidator(_experiment_given)] = Field(
        default=None,
        validate_default=True,
        description="by id or name; needed unless the batch names one",
    )
    unit_id: EventReference
    variant: VariantName
    prediction_id: EventReference = Field(description="what a later label refers to")
    latency_ms: LatencyMs
    error: StrictBool | None = Field(default=False, description="null reads as false")
    shadow: StrictBool | None = Field(default=False, description="null reads as false")
    output: Output = Field(default=None, description="any JSON up to 64 KiB")


class LabelEvent(Schema):
    """The ground truth of a prediction, known later: ``correct``, or a ``label`` compared
    with the prediction's output. The latest label of a prediction wins."""

    type: Literal["label"]
    event_id: EventReference = Field(description="makes a retry harmless")
    timestamp: Timestamp
    prediction_id: EventReference
    correct: StrictBool | None = Field(default=None, description="exactly one of correct, label")
    label: Output = Field(
        default=None, description="any JSON up to 64 KiB; exactly one of correct, label"
    )

    @model_validator(mode="after")
    def _one_truth(self) -> LabelEvent:
        if (self.correct is None) == (self.label is None):
            raise PydanticCustomError(
                "label_truth", "a label needs exactly one of correct (true/false) and label"
            )
        return self


class MetricEvent(Schema):
    """A value of a custom metric for a unit (a metric sums, averages or counts them)."""

    type: Literal["metric"]
    event_id: EventReference = Field(description="makes a retry harmless")
    timestamp: Timestamp
    experiment: EventReference | None = Field(
        default=None, description="by id or name; without one, the unit's experiments count it"
    )
    unit_id: EventReference
    name: MetricName
    value: MetricValue


Event = Annotated[
    ExposureEvent | PredictionEvent | LabelEvent | MetricEvent, Field(discriminator="type")
]
"""One event of ``POST /v1/events`` (and of ``ablab events import``), by its ``type``."""

EVENT_MODELS: dict[str, type[Schema]] = {
    "exposure": ExposureEvent,
    "prediction": PredictionEvent,
    "label": LabelEvent,
    "metric": MetricEvent,
}
"""The model of each kind, by ``type`` (in ``EVENT_TYPES`` order)."""


_EVENT: TypeAdapter[Any] = TypeAdapter(Event)
_EVENTS: TypeAdapter[Any] = TypeAdapter(Annotated[list[Event], Field(max_length=10_000)])


def validate_event(
    data: Any, *, default_experiment: str | None = None, now: datetime | None = None
) -> ExposureEvent | PredictionEvent | LabelEvent | MetricEvent:
    """``data`` as its event kind, judged as the server would judge it at ``now``.

    Raises:
        pydantic.ValidationError: the event is refused; the first error names the field
            the server's checker would blame.
    """
    found: ExposureEvent | PredictionEvent | LabelEvent | MetricEvent = _EVENT.validate_python(
        data, context={"default_experiment": default_experiment, "now": now}
    )
    return found


# The batch and the verdict


def _inline_definitions(schema: dict[str, Any]) -> None:
    """Replace each ``$ref`` to ``#/$defs/...`` by the definition it names, and drop them.

    The route documents this body inline in the OpenAPI document (``openapi_extra``), where
    ``#/$defs/...`` would point at the document's root: the kinds must be spelled out in
    place. The discriminator's mapping names the same references and goes too; each kind's
    ``type`` is a constant, which tells them apart as well.
    """
    definitions: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {
                key: inline(value)
                for key, value in node.items()
                if not (key == "discriminator" and isinstance(value, dict))
            }
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined = inline(schema)
    schema.clear()
    schema.update(inlined)


class EventBatch(RequestSchema):
    """``{"events": [...]}``: each event is judged on its own; the bad ones come back in
    ``rejected`` by index with a reason, and the good ones are stored."""

    experiment: EventReference | None = Field(
        default=None, description="the experiment of the events that name none"
    )
    events: list[Event] = Field(max_length=10_000)

    @field_validator("events", mode="wrap")
    @classmethod
    def _with_the_batch_experiment(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        # Each event sees the batch's experiment, as the server's checker lets it.
        del handler
        return _EVENTS.validate_python(
            value,
            context={**_context(info), "default_experiment": info.data.get("experiment")},
        )

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = super().model_json_schema(*args, **kwargs)
        _inline_definitions(schema)
        return schema


class RejectedEvent(Schema):
    index: int
    event_id: str | None
    reason: str


class IngestResultPublic(Schema):
    """``accepted`` events were valid; ``stored`` were new (a retried batch stores none)."""

    received: int
    accepted: int
    stored: int
    duplicates: int
    rejected: list[RejectedEvent]
