"""The parameters an LLM variant may change, and the values each of them allows.

A baseline configuration gives each inference step in scope its parameters,
``{step: {parameter: value}}``; :func:`check_config` checks it and :func:`check_value` one
value, normalised (a temperature is a float, max_tokens an int). The variant tree built on
top of them is in :mod:`ablab.domain.llm`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum

from ablab.domain.limits import (
    MAX_ID_LENGTH,
    MAX_PROMPT_LENGTH,
    MAX_TOKENS,
    check_identifier,
    check_text,
)
from ablab.errors import ValidationError

__all__ = [
    "Parameter",
    "Verbosity",
    "as_parameter",
    "check_config",
    "check_step",
    "check_value",
    "shown",
]


class Parameter(StrEnum):
    """What a variant may change in one inference step."""

    SYSTEM = "system"  # the system message / instructions
    TEMPERATURE = "temperature"
    TOP_P = "top_p"
    MAX_TOKENS = "max_tokens"
    MODEL = "model"
    VERBOSITY = "verbosity"


_PARAMETER_NAMES = frozenset(parameter.value for parameter in Parameter)


class Verbosity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Inclusive ranges of the numeric parameters, as the providers' APIs accept them.
_RANGES: dict[Parameter, tuple[float, float]] = {
    Parameter.TEMPERATURE: (0.0, 2.0),
    Parameter.TOP_P: (0.0, 1.0),
}


def check_value(parameter: Parameter, value: object) -> str | float | int:
    """The value of ``parameter``, normalised: float for temperature and top_p, int for
    max_tokens, str otherwise.

    Raises:
        ValidationError: a wrong type or a value out of range, in one line naming the
            parameter and what it allows.

    Examples:
        >>> check_value(Parameter.TEMPERATURE, 1)
        1.0
        >>> check_value(Parameter.MAX_TOKENS, 500)
        500
        >>> check_value(Parameter.TOP_P, 1.5)
        Traceback (most recent call last):
        ...
        ablab.errors.ValidationError: top_p must be a number from 0 to 1, got 1.5
    """
    parameter = as_parameter(parameter)
    if parameter in _RANGES:
        low, high = _RANGES[parameter]
        # bool is an int to Python, but True is not a temperature anyone meant.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high  # false for NaN; no float() of a huge integer
        ):
            raise _invalid(parameter, value, f"a number from {low:g} to {high:g}")
        return float(value)
    if parameter is Parameter.MAX_TOKENS:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS:
            raise _invalid(parameter, value, f"a whole number of at least 1, at most {MAX_TOKENS}")
        return int(value)
    if parameter is Parameter.VERBOSITY:
        if not isinstance(value, str) or value not in {v.value for v in Verbosity}:
            raise _invalid(parameter, value, f"one of {', '.join(Verbosity)}")
        return str(value)
    # system and model: any text, but an empty one would silently mean "the default".
    if not isinstance(value, str) or not value.strip():
        raise _invalid(parameter, value, "a non-empty string")
    if parameter is Parameter.SYSTEM:
        return check_text(value, parameter.value, max_length=MAX_PROMPT_LENGTH)
    return check_identifier(value, parameter.value, max_length=MAX_ID_LENGTH)


def check_config(
    config: Mapping[str, Mapping[str, object]], steps: Sequence[str]
) -> dict[str, dict[str, object]]:
    """A baseline configuration, ``{step external_id: {parameter: value}}``, checked and
    normalised.

    Every step must be in scope (in ``steps``) and every parameter known and valid. A step in
    scope may be missing or empty: the application's own default then applies.

    Raises:
        ValidationError: the first step, parameter or value that is not allowed.

    Examples:
        >>> check_config({"classifier": {"temperature": 0, "model": "gpt-4o"}}, ["classifier"])
        {'classifier': {'temperature': 0.0, 'model': 'gpt-4o'}}
    """
    raw_config: object = config
    if not isinstance(raw_config, Mapping):
        raise ValidationError(
            "a baseline configuration maps step names to {parameter: value} objects"
        )
    checked: dict[str, dict[str, object]] = {}
    for step, params in config.items():
        check_step(step, steps)
        raw_params: object = params
        if not isinstance(raw_params, Mapping):
            raise ValidationError(
                f"the configuration of step {step!r} must map parameters to values",
                details={"step": step},
            )
        checked[step] = {}
        for name, value in params.items():
            parameter = as_parameter(name, step=step)
            checked[step][parameter.value] = check_value(parameter, value)
    return checked


def as_parameter(name: object, *, step: str | None = None) -> Parameter:
    """``name`` as a :class:`Parameter`, or a ValidationError listing the parameters."""
    if isinstance(name, str) and name in _PARAMETER_NAMES:
        return Parameter(name)
    where = f" for step {step!r}" if step is not None else ""
    raise ValidationError(
        f"unknown parameter {name!r}{where}: use one of {', '.join(Parameter)}",
        details={"parameter": shown(name), "allowed": sorted(_PARAMETER_NAMES)},
    )


def check_step(step: object, steps: Sequence[str]) -> None:
    """Refuse a step outside the experiment's scope (``steps``, by external id)."""
    if step not in steps:
        scope = ", ".join(steps) if steps else "none"
        raise ValidationError(
            f"step {step!r} is not in the experiment's scope (steps: {scope})",
            details={"step": shown(step), "steps": list(steps)},
        )


def _invalid(parameter: Parameter, value: object, allowed: str) -> ValidationError:
    safe = shown(value)
    # repr() of what shown() made (a clipped text, a described number), never of a huge value.
    quoted = repr(value) if safe is value else repr(safe) if isinstance(value, str) else safe
    return ValidationError(
        f"{parameter.value} must be {allowed}, got {quoted}",
        details={"parameter": parameter.value, "allowed": allowed, "value": safe},
    )


_SHOWN_LENGTH = 200


def _clipped(text: str) -> str:
    return text if len(text) <= _SHOWN_LENGTH else text[:_SHOWN_LENGTH] + "..."


def shown(value: object) -> object:
    """``value`` if JSON can carry it as is, else its repr (details go on the wire); long
    text is cut, so an error never echoes a megabyte back."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN or infinity
    if isinstance(value, str):
        return _clipped(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) <= 2**63 else "an integer beyond 64 bits"
    if value is None or isinstance(value, float | bool):
        return value
    return _clipped(repr(value))
