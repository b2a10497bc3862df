"""The ``numeric`` evaluator: the number an output holds, within a tolerance of the target."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ablab.errors import ValidationError
from ablab.llm.evaluators.base import (
    EvaluatorError,
    Outcome,
    as_number,
    flag,
    known_keys,
    short,
    target,
)

__all__ = ["numeric", "parse_numeric", "read_number"]

# The thousands separators only count in groups of three, so "1,2,3" stays three numbers.
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def parse_numeric(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    known_keys(where, params, {"value", "tolerance", "relative"})
    tolerance = as_number(params.get("tolerance", 0))
    if tolerance is None or tolerance < 0:
        raise ValidationError(
            f"{where}: tolerance must be a number of 0 or more, got {params.get('tolerance')!r}"
        )
    checked: dict[str, Any] = {
        "tolerance": tolerance,
        "relative": flag(where, params, "relative", default=False),
    }
    if "value" in params:
        value = as_number(params["value"])
        if value is None:
            raise ValidationError(f"{where}: value must be a number, got {params['value']!r}")
        checked["value"] = value
    return checked


def numeric(params: Mapping[str, Any], output: Any, expected: Any, _input: Any) -> Outcome:
    wanted = read_number(target(params, expected), strict=True)
    if wanted is None:
        raise EvaluatorError(f"the expected value {short(expected)} is not a number")
    got = read_number(output, strict=False)
    if got is None:
        return False, None, f"no number in the output {short(output)}"
    tolerance: float = params.get("tolerance", 0.0)
    # Relative: a share of the expected value, so an expected 0 needs an exact answer.
    allowed = tolerance * abs(wanted) if params.get("relative", False) else tolerance
    difference = abs(got - wanted)
    if difference <= allowed:
        return True, None, f"{got:g} is within {allowed:g} of {wanted:g}"
    return False, None, f"{got:g} is {difference:g} away from {wanted:g} (allowed {allowed:g})"


def read_number(value: Any, *, strict: bool) -> float | None:
    """A number, or the number a text holds: all of it, else (unless ``strict``) the last
    number in it, where answers usually end ("... so the total is 1,250.").

    Examples:
        >>> read_number("so the total is 1,250.", strict=False)
        1250.0
        >>> read_number("so the total is 1,250.", strict=True) is None
        True
    """
    number = as_number(value)
    if number is not None or not isinstance(value, str):
        return number
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        if _NUMBER.fullmatch(text) is None:
            found = [] if strict else _NUMBER.findall(text)
            if not found:
                return None
            text = found[-1]
        number = float(text.replace(",", ""))
    return number if math.isfinite(number) else None
