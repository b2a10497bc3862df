"""The field types of request bodies: strict about types, bounded, named after what they hold.

pydantic's default (lax) mode turns ``"50"`` into 50.0 and ``true`` into 1.0 (a 1% split),
and accepts NaN and infinity from Python's JSON parser. The types here do not:

- numbers refuse strings and booleans, and must be finite and within their range;
- integers refuse strings, booleans and fractional numbers (``3.0`` is 3);
- booleans refuse numbers and strings;
- names, identifiers and labels refuse control characters (NUL, BEL, a final newline...);
  free text refuses NUL, which PostgreSQL cannot store;
- free-form JSON must be plain JSON (finite numbers, 64-bit integers, no NUL) within a size.

Enums keep accepting their values as strings and datetimes ISO 8601 strings: those stay lax.
The limits come from :mod:`ablab.domain.limits`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool
from pydantic_core import PydanticCustomError

from ablab.domain.limits import (
    MAX_ATTRIBUTE_KEYS,
    MAX_ATTRIBUTES_BYTES,
    MAX_CONCURRENCY,
    MAX_CONFIG_BYTES,
    MAX_COUNT,
    MAX_DURATION_DAYS,
    MAX_ID_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_LOCATION_LENGTH,
    MAX_LOOKBACK_DAYS,
    MAX_MDE,
    MAX_SECRET_LENGTH,
    MAX_STEP_MINUTES,
    MAX_TASK_BYTES,
    MAX_TEXT_LENGTH,
    MAX_TRIALS,
    MAX_VERSION,
    MIN_SECRET_LENGTH,
    control_character,
    inspect_json,
)

__all__ = [
    "Attributes",
    "Concurrency",
    "ConfigObject",
    "Count",
    "Coverage",
    "DurationDays",
    "Flag",
    "Identifier",
    "Label",
    "Location",
    "LookbackDays",
    "Mde",
    "Percent",
    "Probability",
    "RecordVersion",
    "Secret",
    "Share",
    "StepConfigs",
    "StepMinutes",
    "StepUnits",
    "TaskValue",
    "Text",
    "Trials",
    "Weight",
]


def _no_control_character(value: str) -> str:
    # A blank name or id is the domain's to refuse, in its own words ("unit id must be ...").
    found = control_character(value)
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "must not hold a control character (found {character})",
            {"character": found},
        )
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not hold a NUL character")
    return value


def _whole_number(value: Any) -> Any:
    # Lax int would read "3" and True as 3 and 1; 3.0 stays welcome (JSON has one number).
    if isinstance(value, bool | str | bytes | bytearray):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def _plain_json(max_bytes: int, *, max_keys: int | None = None) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        problem, size = inspect_json(value)
        if problem is not None:
            raise PydanticCustomError("json_value", "{problem}", {"problem": problem})
        if max_keys is not None and isinstance(value, dict) and len(value) > max_keys:
            raise PydanticCustomError(
                "too_many_keys",
                "holds {keys} keys, more than the {limit} allowed",
                {"keys": len(value), "limit": max_keys},
            )
        if size > max_bytes:
            raise PydanticCustomError(
                "json_too_large",
                "is {size} bytes of JSON, more than the {limit} allowed",
                {"size": size, "limit": max_bytes},
            )
        return value

    return check


# Text

Identifier = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_no_control_character)
]
"""A unit id, a reference to another object (by name or id), a metric name, a step."""

Label = Annotated[
    str, Field(min_length=1, max_length=MAX_LABEL_LENGTH), AfterValidator(_no_control_character)
]
"""A name a person gives: of an experiment, model, version, group, variant, key, LLM task."""

Location = Annotated[
    str, Field(min_length=1, max_length=MAX_LOCATION_LENGTH), AfterValidator(_no_control_character)
]
"""Where something is: an endpoint or webhook URL, an artifact's path or ``module:attr``."""

Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(_no_nul)]
"""Free text: a hypothesis, a description, a reason."""

Secret = Annotated[
    str,
    Field(min_length=MIN_SECRET_LENGTH, max_length=MAX_SECRET_LENGTH),
    AfterValidator(_no_control_character),
]
"""A signing secret chosen by the user."""

# Numbers
#
# An experiment's settings are range-checked by ablab.domain.experiments, with one message
# per setting whichever door they came through (``traffic split must be between 0 and 100``
# from the CLI, the SDK and the API alike); their types here refuse anything that is not a
# finite number (or a whole one) and document the range. The other numbers are bounded here.


def _range(low: float, high: float) -> dict[str, float]:
    return {"minimum": low, "maximum": high}


Percent = Annotated[
    float, Field(strict=True, allow_inf_nan=False, json_schema_extra=_range(0, 100))
]
"""A percentage of traffic, 0 to 100: a traffic split or a variant's weight."""

Weight = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=100)]
"""A variant's weight, a percentage of the experiment's traffic (checked here: the domain's
message names a variant, not the field it came in)."""

Coverage = Annotated[
    float,
    Field(
        strict=True, allow_inf_nan=False, json_schema_extra={"exclusiveMinimum": 0, "maximum": 100}
    ),
]
"""The percentage of eligible units that enter the experiment, above 0 and at most 100."""

Probability = Annotated[
    float,
    Field(
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 1},
    ),
]
"""Strictly between 0 and 1: alpha, power."""

Mde = Annotated[
    float,
    Field(
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_MDE},
    ),
]
"""The minimum detectable effect, in the metric's units."""

Count = Annotated[
    int, Field(json_schema_extra=_range(0, MAX_COUNT)), BeforeValidator(_whole_number)
]
"""A number of units or samples."""

DurationDays = Annotated[
    int, Field(json_schema_extra=_range(1, MAX_DURATION_DAYS)), BeforeValidator(_whole_number)
]

LookbackDays = Annotated[
    int, Field(json_schema_extra=_range(1, MAX_LOOKBACK_DAYS)), BeforeValidator(_whole_number)
]

Share = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=100)]
"""A percentage above 0 and at most 100: a rollout step."""

StepMinutes = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_STEP_MINUTES)]

StepUnits = Annotated[int, Field(ge=1, le=MAX_COUNT), BeforeValidator(_whole_number)]

RecordVersion = Annotated[int, Field(ge=1, le=MAX_VERSION), BeforeValidator(_whole_number)]
"""An object's optimistic version, as read."""

Trials = Annotated[int, Field(ge=1, le=MAX_TRIALS), BeforeValidator(_whole_number)]

Concurrency = Annotated[int, Field(ge=1, le=MAX_CONCURRENCY), BeforeValidator(_whole_number)]

Flag = StrictBool

# Free-form JSON

ConfigObject = Annotated[dict[str, Any], AfterValidator(_plain_json(MAX_CONFIG_BYTES))]
"""A variant's config, a group's rule, an LLM configuration: at most 64 KiB of JSON."""

Attributes = Annotated[
    dict[str, Any],
    AfterValidator(_plain_json(MAX_ATTRIBUTES_BYTES, max_keys=MAX_ATTRIBUTE_KEYS)),
]
"""A unit's targeting attributes: at most 100 keys and 16 KiB of JSON."""

StepConfigs = Annotated[
    dict[Identifier, dict[str, Any]], AfterValidator(_plain_json(MAX_CONFIG_BYTES))
]
"""An LLM configuration, ``{step: {parameter: value}}``: at most 64 KiB of JSON."""

TaskValue = Annotated[Any, AfterValidator(_plain_json(MAX_TASK_BYTES))]
"""An LLM task's input or expected output: any JSON up to 256 KiB."""
