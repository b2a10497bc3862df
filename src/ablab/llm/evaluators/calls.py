"""Evaluators that call the application's code: ``python`` functions and ``judge`` hooks.

A python function is called as ``f(output=..., expected=..., task_input=...)`` and a judge
(the LLM-as-judge hook: any callable the application registers, ablab downloads no model) as
``judge(task_input=..., output=..., expected=..., rubric=...)``. Both return a bool, a
``(bool, detail)`` pair or ``{"pass": bool, "score"?: number, "reason"?: str}``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from ablab.errors import ValidationError
from ablab.llm.evaluators.base import (
    Check,
    EvaluatorError,
    EvaluatorSpec,
    Outcome,
    as_number,
    known_keys,
    short,
)

__all__ = [
    "function_check",
    "judge_check",
    "load_function",
    "parse_judge",
    "parse_python",
    "unknown_judge",
]

_REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_RESULT_SHAPES = "a bool, a (bool, detail) pair or {'pass': bool, 'score'?, 'reason'?}"


def load_function(reference: str) -> Callable[..., Any]:
    """The callable that ``"package.module:attr"`` names (``attr`` may be dotted).

    Raises:
        ValidationError: the reference is malformed, the module does not import, or the
            attribute is missing or not callable.

    Examples:
        >>> load_function("json:dumps")([1])
        '[1]'
    """
    if not _REFERENCE.fullmatch(reference):
        raise ValidationError(
            f"a python evaluator's function is 'module:attr', got {reference!r}",
            details={"function": reference},
        )
    module_name, _, attr = reference.partition(":")
    try:
        found: object = importlib.import_module(module_name)
        for part in attr.split("."):
            found = getattr(found, part)
    except Exception as exc:
        raise ValidationError(
            f"cannot load {reference!r}: {type(exc).__name__}: {exc}",
            details={"function": reference},
        ) from exc
    if not callable(found):
        raise ValidationError(f"{reference!r} is not callable", details={"function": reference})
    return found


def parse_python(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    known_keys(where, params, {"function"})
    function = params.get("function")
    # Only the form is checked: importing runs the user's code, which waits for the run.
    if not isinstance(function, str) or not _REFERENCE.fullmatch(function):
        raise ValidationError(
            f"{where}: function must be 'module:attr' such as 'my_evals:is_polite', "
            f"got {function!r}"
        )
    return {"function": function}


def parse_judge(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    known_keys(where, params, {"judge", "rubric"})
    judge = params.get("judge")
    if not isinstance(judge, str) or not judge:
        raise ValidationError(f"{where}: judge must name a registered judge, got {judge!r}")
    rubric = params.get("rubric", "")
    if not isinstance(rubric, str):
        raise ValidationError(f"{where}: rubric must be a string, got {rubric!r}")
    return {"judge": judge, "rubric": rubric}


def unknown_judge(where: str, judge: str, judges: Collection[str]) -> ValidationError:
    registered = ", ".join(sorted(judges)) or "none"
    return ValidationError(
        f"{where}: no judge called {judge!r} is registered (registered: {registered})",
        details={"judge": judge, "registered": sorted(judges)},
    )


def function_check(spec: EvaluatorSpec) -> Check:
    """The check of a python evaluator, its function loaded now (ValidationError if not)."""
    reference = str(spec.params.get("function", ""))
    function = load_function(reference)

    def call_function(output: Any, expected: Any, task_input: Any) -> Outcome:
        result = function(output=output, expected=expected, task_input=task_input)
        return _outcome(result, reference)

    return call_function


def judge_check(spec: EvaluatorSpec, judges: Mapping[str, Callable[..., Any]]) -> Check:
    """The check of a judge evaluator (ValidationError if its judge is not registered)."""
    name = str(spec.params.get("judge", ""))
    judge = judges.get(name)
    if judge is None:
        raise unknown_judge(f"judge evaluator {spec.name!r}", name, judges)
    rubric = str(spec.params.get("rubric", ""))

    def call_judge(output: Any, expected: Any, task_input: Any) -> Outcome:
        result = judge(task_input=task_input, output=output, expected=expected, rubric=rubric)
        return _outcome(result, f"judge {name!r}")

    return call_judge


def _outcome(result: object, source: str) -> Outcome:
    """A python function's or judge's answer in one of its three allowed shapes."""
    if isinstance(result, bool):
        return result, None, ""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
        return result[0], None, str(result[1])
    if isinstance(result, Mapping) and isinstance(result.get("pass"), bool):
        score = result.get("score")
        number = None if score is None else as_number(score)
        if score is not None and number is None:
            raise EvaluatorError(f"{source} returned the score {score!r}: give a number")
        return result["pass"], number, str(result.get("reason", ""))
    raise EvaluatorError(f"{source} returned {short(result)}: return {_RESULT_SHAPES}")
