"""Text evaluators: ``exact_match``, ``contains`` and ``regex``.

Each kind has a parser (its parameters, checked, with their defaults) and a check (its
outcome on one output); :mod:`ablab.llm.evaluators.registry` maps the kinds to them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ablab.errors import ValidationError
from ablab.llm.evaluators.base import Outcome, as_text, flag, known_keys, short, target

__all__ = [
    "contains",
    "exact_match",
    "parse_contains",
    "parse_exact_match",
    "parse_regex",
    "regex",
]


def parse_exact_match(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    known_keys(where, params, {"value", "case_sensitive", "strip"})
    checked = {
        "case_sensitive": flag(where, params, "case_sensitive", default=True),
        "strip": flag(where, params, "strip", default=True),
    }
    # Present or absent matters: without "value" the task's expected output is the target.
    if "value" in params:
        checked["value"] = params["value"]
    return checked


def parse_contains(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    known_keys(where, params, {"value", "case_sensitive"})
    value = params.get("value")
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where}: value must be a non-empty string, got {value!r}")
    return {"value": value, "case_sensitive": flag(where, params, "case_sensitive", default=True)}


def parse_regex(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    known_keys(where, params, {"pattern"})
    pattern = params.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ValidationError(f"{where}: pattern must be a non-empty string, got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValidationError(
            f"{where}: the pattern does not compile ({exc})", details={"pattern": pattern}
        ) from None
    return {"pattern": pattern}


def exact_match(params: Mapping[str, Any], output: Any, expected: Any, _input: Any) -> Outcome:
    wanted = target(params, expected)
    got = output
    if isinstance(got, str) and isinstance(wanted, str):
        if params.get("strip", True):
            got, wanted = got.strip(), wanted.strip()
        if not params.get("case_sensitive", True):
            got, wanted = got.casefold(), wanted.casefold()
    if got == wanted:
        return True, None, "matches the expected output"
    return False, None, f"expected {short(wanted)}, got {short(got)}"


def contains(params: Mapping[str, Any], output: Any, _expected: Any, _input: Any) -> Outcome:
    value: str = params["value"]
    text = as_text(output)
    if not params.get("case_sensitive", True):
        value, text = value.casefold(), text.casefold()
    if value in text:
        return True, None, f"contains {short(params['value'])}"
    return False, None, f"does not contain {short(params['value'])}"


def regex(params: Mapping[str, Any], output: Any, _expected: Any, _input: Any) -> Outcome:
    pattern: str = params["pattern"]
    # search, not match: a pattern meant for the whole output says so with ^ and $.
    if re.search(pattern, as_text(output)):
        return True, None, f"matches /{pattern}/"
    return False, None, f"no match for /{pattern}/"
