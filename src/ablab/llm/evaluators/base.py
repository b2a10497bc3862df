"""What every evaluator family shares: the kinds, a specification, a verdict, and the small
checks of parameters and outputs the families all use."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ablab.errors import ValidationError

__all__ = [
    "Check",
    "EvaluatorError",
    "EvaluatorKind",
    "EvaluatorSpec",
    "Outcome",
    "Verdict",
    "as_number",
    "as_text",
    "flag",
    "kind_of",
    "known_keys",
    "short",
    "target",
]


class EvaluatorKind(StrEnum):
    EXACT_MATCH = "exact_match"
    CONTAINS = "contains"
    REGEX = "regex"
    JSON_SCHEMA = "json_schema"
    NUMERIC = "numeric"
    PYTHON = "python"
    JUDGE = "judge"


@dataclass(frozen=True, slots=True)
class EvaluatorSpec:
    """One evaluator of a task: its kind, a name for the results, its checked parameters.

    ``name`` defaults to the kind. Build specifications with
    :func:`~ablab.llm.evaluators.parse_evaluator`, which fills in the parameters' defaults.
    """

    kind: EvaluatorKind
    name: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", kind_of(self.kind))
        if not self.name:
            object.__setattr__(self, "name", str(self.kind))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one evaluator said about one output.

    ``score`` is a graded score when the evaluator gives one (a python function or a judge
    returning ``{"score": ...}``), None for a plain pass or fail.
    """

    evaluator: str
    passed: bool
    score: float | None = None
    detail: str = ""


# (passed, score, detail): what each kind's check returns before it becomes a Verdict.
Outcome = tuple[bool, float | None, str]
# A check with its parameters bound, called with (output, expected, task_input).
Check = Callable[[Any, Any, Any], Outcome]

_KIND_NAMES = frozenset(kind.value for kind in EvaluatorKind)


class EvaluatorError(Exception):
    """A failure while judging one output that the evaluator itself explains."""


def kind_of(found: object) -> EvaluatorKind:
    """``found`` as an :class:`EvaluatorKind`, or a ValidationError listing the kinds."""
    if isinstance(found, str) and found in _KIND_NAMES:
        return EvaluatorKind(found)
    raise ValidationError(
        f"unknown evaluator kind {found!r}: use one of {', '.join(EvaluatorKind)}",
        details={"kind": repr(found), "allowed": sorted(_KIND_NAMES)},
    )


# Parameters.


def known_keys(where: str, found: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(str(key) for key in found if key not in allowed)
    if unknown:
        raise ValidationError(
            f"{where}: unknown key {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
            details={"unknown": unknown, "allowed": sorted(allowed)},
        )


def flag(where: str, params: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def as_number(value: object) -> float | None:
    """``value`` as a finite float; None for anything else (a bool included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# Outputs.


def target(params: Mapping[str, Any], expected: Any) -> Any:
    """What to compare with: the evaluator's ``value``, else the task's expected output."""
    if "value" in params:
        return params["value"]
    if expected is None:
        raise EvaluatorError(
            "nothing to compare with: give the task an expected output or the evaluator a value"
        )
    return expected


def as_text(output: Any) -> str:
    if not isinstance(output, str):
        raise EvaluatorError(f"the output is not text but {type(output).__name__}")
    return output


def short(value: object, limit: int = 80) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
