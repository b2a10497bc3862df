"""The bodies of the hot routes (``/v1/assign``, ``/v1/events``, ``/v1/predict``), read by hand.

Those routes skip pydantic for speed (``server.hot_paths``), so their fields are checked here
against the same limits as :mod:`ablab.contract.fields`: one function per field kind, each
cheap on the usual input, each raising :class:`~ablab.errors.ValidationError` naming the field.

orjson parses the body: it refuses NaN, Infinity and numbers beyond a double (``1e400``)
like any JSON syntax error. Only then is the body read again by the standard library to
name the field that held such a number.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import orjson

from ablab.domain.limits import (
    MAX_ATTRIBUTE_KEYS,
    MAX_ATTRIBUTES_BYTES,
    check_identifier,
    check_json,
)
from ablab.errors import ValidationError

__all__ = ["check_attributes", "check_reference", "parse_object"]


def parse_object(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``.

    Raises:
        ValidationError: not JSON, not an object, or a number JSON does not allow (NaN,
            Infinity, beyond a double), named by its place such as ``attributes.score``.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        place = _out_of_range(body)
        if place is not None:
            where, literal = place
            shown = literal if len(literal) <= 40 else f"{literal[:20]}...({len(literal)} digits)"
            raise ValidationError(
                f"invalid {where or 'body'}: {shown} is not a JSON number "
                "(numbers must be finite and within a double's range)",
                details={"field": where or "body", "number": shown},
            ) from None
        raise ValidationError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    return data


def check_reference(value: object, field: str) -> str:
    """``value`` if it is a non-blank string of at most 256 characters, no control ones."""
    if type(value) is not str:
        raise ValidationError(f"{field} must be a non-empty string", details={"field": field})
    return check_identifier(value, field)


def check_attributes(value: object, field: str = "attributes") -> dict[str, Any]:
    """``value`` if it is a JSON object within the attribute limits (None reads as ``{}``).

    Raises:
        ValidationError: not an object, more than ``MAX_ATTRIBUTE_KEYS`` keys, more than
            ``MAX_ATTRIBUTES_BYTES`` of JSON, or a NUL in a key or a string.
    """
    if value is None:
        return {}
    if type(value) is not dict:
        raise ValidationError(f"{field} must be a JSON object", details={"field": field})
    if not value:
        return value
    if len(value) > MAX_ATTRIBUTE_KEYS:
        raise ValidationError(
            f"{field} holds {len(value)} keys, more than the {MAX_ATTRIBUTE_KEYS} allowed",
            details={"field": field, "limit": MAX_ATTRIBUTE_KEYS},
        )
    check_json(value, field, max_bytes=MAX_ATTRIBUTES_BYTES)
    return value


class _OutOfRange:
    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _number(literal: str) -> float | _OutOfRange:
    number = float(literal)
    return number if abs(number) != float("inf") else _OutOfRange(literal)


def _integer(literal: str) -> int | _OutOfRange:
    # Beyond a double's range orjson refuses an integer too; Python would build it.
    return int(literal) if len(literal) <= 308 else _OutOfRange(literal)


def _out_of_range(body: bytes) -> tuple[str, str] | None:
    """The place and text of the first number orjson refused, if that was the problem."""
    try:
        data = json.loads(body, parse_constant=_OutOfRange, parse_float=_number, parse_int=_integer)
    except ValueError:  # not JSON at all (UnicodeDecodeError and JSONDecodeError included)
        return None
    pending: deque[tuple[str, Any]] = deque([("", data)])
    while pending:  # breadth first: the shallowest place is named
        where, item = pending.popleft()
        if isinstance(item, _OutOfRange):
            return where, item.literal
        if isinstance(item, dict):
            pending.extend((f"{where}.{k}" if where else k, v) for k, v in item.items())
        elif isinstance(item, list):
            pending.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
    return None
