"""The evaluator kinds mapped to their families: parse a specification, evaluate an output.

Each family module (:mod:`~ablab.llm.evaluators.matching`,
:mod:`~ablab.llm.evaluators.json_schema`, :mod:`~ablab.llm.evaluators.numeric`,
:mod:`~ablab.llm.evaluators.calls`) gives each of its kinds a parser and a check; the two
tables below are the only place that names them all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from typing import Any

from ablab.errors import ValidationError
from ablab.llm.evaluators import calls, json_schema, matching, numeric
from ablab.llm.evaluators.base import (
    Check,
    EvaluatorError,
    EvaluatorKind,
    EvaluatorSpec,
    Outcome,
    Verdict,
    kind_of,
    known_keys,
)

__all__ = ["evaluate", "evaluate_all", "parse_evaluator", "task_passed"]

_PARSERS: dict[EvaluatorKind, Callable[[str, Mapping[str, Any]], dict[str, Any]]] = {
    EvaluatorKind.EXACT_MATCH: matching.parse_exact_match,
    EvaluatorKind.CONTAINS: matching.parse_contains,
    EvaluatorKind.REGEX: matching.parse_regex,
    EvaluatorKind.JSON_SCHEMA: json_schema.parse_json_schema,
    EvaluatorKind.NUMERIC: numeric.parse_numeric,
    EvaluatorKind.PYTHON: calls.parse_python,
    EvaluatorKind.JUDGE: calls.parse_judge,
}

# The kinds whose check needs only its parameters (python and judge load code first).
_CHECKS: dict[EvaluatorKind, Callable[..., Outcome]] = {
    EvaluatorKind.EXACT_MATCH: matching.exact_match,
    EvaluatorKind.CONTAINS: matching.contains,
    EvaluatorKind.REGEX: matching.regex,
    EvaluatorKind.JSON_SCHEMA: json_schema.json_schema,
    EvaluatorKind.NUMERIC: numeric.numeric,
}


def parse_evaluator(
    raw: Mapping[str, Any], *, judges: Collection[str] | None = None
) -> EvaluatorSpec:
    """An evaluator specification, ``{"kind", "name"?, "params"?}``, checked and with the
    defaults of its parameters filled in.

    Args:
        raw: The specification as the user wrote it.
        judges: The names of the registered judges, to check a judge evaluator against now;
            None leaves that check to :func:`evaluate`.

    Raises:
        ValidationError: an unknown kind or key, a missing or wrong parameter, a pattern that
            does not compile, a schema that is not a valid JSON Schema, a function reference
            that is not ``module:attr``, a judge not among ``judges``.
        MissingExtra: a json_schema evaluator where jsonschema is not installed.

    Examples:
        >>> parse_evaluator({"kind": "contains", "params": {"value": "Paris"}}).params
        {'value': 'Paris', 'case_sensitive': True}
        >>> parse_evaluator({"kind": "regex", "params": {"pattern": "("}})
        Traceback (most recent call last):
        ...
        ablab.errors.ValidationError: regex evaluator 'regex': the pattern does not compile (...)
    """
    found: object = raw
    if not isinstance(found, Mapping):
        raise ValidationError('an evaluator is an object such as {"kind": "exact_match"}')
    known_keys("an evaluator", raw, {"kind", "name", "params"})
    kind = kind_of(raw.get("kind"))
    name = raw.get("name", kind.value)
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(
            f"the name of a {kind.value} evaluator must be a non-empty string, got {name!r}"
        )
    params = raw.get("params", {})
    if not isinstance(params, Mapping):
        raise ValidationError(f"the params of evaluator {name!r} must be an object")
    where = f"{kind.value} evaluator {name!r}"
    checked = _PARSERS[kind](where, params)
    if judges is not None and kind is EvaluatorKind.JUDGE and checked["judge"] not in judges:
        raise calls.unknown_judge(where, checked["judge"], judges)
    return EvaluatorSpec(kind=kind, name=name, params=checked)


def evaluate(
    spec: EvaluatorSpec,
    output: Any,
    *,
    expected: Any = None,
    task_input: Any = None,
    judges: Mapping[str, Callable[..., Any]] | None = None,
) -> Verdict:
    """The verdict of ``spec`` on ``output``.

    Args:
        spec: A specification from :func:`parse_evaluator`.
        output: What the step produced for the task.
        expected: The task's expected output, if it has one.
        task_input: The task's input, for python functions and judges.
        judges: The registered judges by name.

    Raises:
        ValidationError: the judge is not registered or the python function does not load;
            every task would fail the same way, so the run should not start.

    Examples:
        >>> spec = parse_evaluator({"kind": "numeric", "params": {"tolerance": 0.5}})
        >>> evaluate(spec, "It is about 41.8 degrees.", expected=42)
        Verdict(evaluator='numeric', passed=True, score=None, detail='41.8 is within 0.5 of 42')
    """
    check = _prepare(spec, judges or {})
    try:
        passed, score, detail = check(output, expected, task_input)
    except EvaluatorError as exc:
        return Verdict(spec.name, passed=False, detail=f"error: {exc}")
    except Exception as exc:
        return Verdict(spec.name, passed=False, detail=f"error: {type(exc).__name__}: {exc}")
    return Verdict(spec.name, passed=passed, score=score, detail=detail)


def evaluate_all(
    specs: Sequence[EvaluatorSpec],
    output: Any,
    *,
    expected: Any = None,
    task_input: Any = None,
    judges: Mapping[str, Callable[..., Any]] | None = None,
) -> list[Verdict]:
    """The verdict of each of ``specs`` on ``output``, in order (see :func:`evaluate`)."""
    return [
        evaluate(spec, output, expected=expected, task_input=task_input, judges=judges)
        for spec in specs
    ]


def task_passed(verdicts: Sequence[Verdict]) -> bool:
    """Whether a task passes: it has at least one verdict and every verdict passes.

    A task without evaluators does not pass: nothing vouched for its output.

    Examples:
        >>> task_passed([Verdict("a", True), Verdict("b", False)]), task_passed([])
        (False, False)
    """
    return bool(verdicts) and all(verdict.passed for verdict in verdicts)


def _prepare(spec: EvaluatorSpec, judges: Mapping[str, Callable[..., Any]]) -> Check:
    """Each kind's check, with its parameters (and function or judge) bound."""
    if spec.kind is EvaluatorKind.PYTHON:
        return calls.function_check(spec)
    if spec.kind is EvaluatorKind.JUDGE:
        return calls.judge_check(spec, judges)
    return partial(_CHECKS[spec.kind], spec.params)
