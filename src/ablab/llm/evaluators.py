"""Evaluators: whether one output of one task passes.

Each task of an LLM experiment carries one or more evaluator specifications such as
``{"kind": "regex", "params": {"pattern": "^(yes|no)$"}}``. :func:`parse_evaluator` checks a
specification once, up front (a bad pattern or schema is refused before anything runs);
:func:`evaluate` applies it to an output and returns a :class:`Verdict`. A task passes when
every one of its verdicts passes (see :func:`task_passed`); the pass rate of a variant is the
share of its tasks that pass.

===========  =======================================================  ==========================
kind         params                                                   passes when
===========  =======================================================  ==========================
exact_match  ``value``?, ``case_sensitive`` = true, ``strip`` = true  output equals the value
contains     ``value``, ``case_sensitive`` = true                     output contains the value
regex        ``pattern``                                              the pattern is found
json_schema  ``schema``                                               output (JSON) is valid
numeric      ``value``?, ``tolerance`` = 0, ``relative`` = false      the number is close enough
python       ``function`` (``"module:attr"``)                         the function says so
judge        ``judge`` (a registered name), ``rubric`` = ""           the judge says so
===========  =======================================================  ==========================

Without ``value``, exact_match and numeric compare with the task's expected output.

A python function is called as ``f(output=..., expected=..., task_input=...)`` and a judge
(the LLM-as-judge hook: any callable the application registers, ablab downloads no model) as
``judge(task_input=..., output=..., expected=..., rubric=...)``. Both return a bool, a
``(bool, detail)`` pair or ``{"pass": bool, "score"?: number, "reason"?: str}``.

Two error channels, as everywhere in ablab: a specification that cannot work (a bad
parameter, a judge nobody registered, a function that does not import) raises
ValidationError; an evaluator that raises while judging one output gives that task a failed
verdict whose detail starts with ``error:``, so one broken case never stops a run.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any

import jsonschema.exceptions
import jsonschema.validators

from ablab.errors import ValidationError

__all__ = [
    "EvaluatorKind",
    "EvaluatorSpec",
    "Verdict",
    "evaluate",
    "evaluate_all",
    "load_function",
    "parse_evaluator",
    "task_passed",
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

    ``name`` defaults to the kind. Build specifications with :func:`parse_evaluator`, which
    fills in the parameters' defaults.
    """

    kind: EvaluatorKind
    name: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _kind(self.kind))
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
_Outcome = tuple[bool, float | None, str]
_Check = Callable[[Any, Any, Any], _Outcome]

_KIND_NAMES = frozenset(kind.value for kind in EvaluatorKind)
_REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
# The thousands separators only count in groups of three, so "1,2,3" stays three numbers.
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_RESULT_SHAPES = "a bool, a (bool, detail) pair or {'pass': bool, 'score'?, 'reason'?}"


class _EvaluatorError(Exception):
    """A failure while judging one output that the evaluator itself explains."""


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
    _known_keys("an evaluator", raw, {"kind", "name", "params"})
    kind = _kind(raw.get("kind"))
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
        raise _unknown_judge(where, checked["judge"], judges)
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
    except _EvaluatorError as exc:
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


# Parsing: one function per kind, returning the parameters with their defaults.


def _parse_exact_match(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _known_keys(where, params, {"value", "case_sensitive", "strip"})
    checked = {
        "case_sensitive": _flag(where, params, "case_sensitive", default=True),
        "strip": _flag(where, params, "strip", default=True),
    }
    # Present or absent matters: without "value" the task's expected output is the target.
    if "value" in params:
        checked["value"] = params["value"]
    return checked


def _parse_contains(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _known_keys(where, params, {"value", "case_sensitive"})
    value = params.get("value")
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where}: value must be a non-empty string, got {value!r}")
    return {"value": value, "case_sensitive": _flag(where, params, "case_sensitive", default=True)}


def _parse_regex(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _known_keys(where, params, {"pattern"})
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


def _parse_json_schema(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _known_keys(where, params, {"schema"})
    schema = params.get("schema")
    if not isinstance(schema, Mapping | bool):
        raise ValidationError(f"{where}: schema must be a JSON Schema object, got {schema!r}")
    plain = dict(schema) if isinstance(schema, Mapping) else schema
    try:
        jsonschema.validators.validator_for(plain).check_schema(plain)
    except jsonschema.exceptions.SchemaError as exc:
        raise ValidationError(
            f"{where}: the schema is not valid JSON Schema ({exc.message})"
        ) from None
    return {"schema": plain}


def _parse_numeric(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _known_keys(where, params, {"value", "tolerance", "relative"})
    tolerance = _as_number(params.get("tolerance", 0))
    if tolerance is None or tolerance < 0:
        raise ValidationError(
            f"{where}: tolerance must be a number of 0 or more, got {params.get('tolerance')!r}"
        )
    checked: dict[str, Any] = {
        "tolerance": tolerance,
        "relative": _flag(where, params, "relative", default=False),
    }
    if "value" in params:
        value = _as_number(params["value"])
        if value is None:
            raise ValidationError(f"{where}: value must be a number, got {params['value']!r}")
        checked["value"] = value
    return checked


def _parse_python(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _known_keys(where, params, {"function"})
    function = params.get("function")
    # Only the form is checked: importing runs the user's code, which waits for the run.
    if not isinstance(function, str) or not _REFERENCE.fullmatch(function):
        raise ValidationError(
            f"{where}: function must be 'module:attr' such as 'my_evals:is_polite', "
            f"got {function!r}"
        )
    return {"function": function}


def _parse_judge(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _known_keys(where, params, {"judge", "rubric"})
    judge = params.get("judge")
    if not isinstance(judge, str) or not judge:
        raise ValidationError(f"{where}: judge must name a registered judge, got {judge!r}")
    rubric = params.get("rubric", "")
    if not isinstance(rubric, str):
        raise ValidationError(f"{where}: rubric must be a string, got {rubric!r}")
    return {"judge": judge, "rubric": rubric}


_PARSERS: dict[EvaluatorKind, Callable[[str, Mapping[str, Any]], dict[str, Any]]] = {
    EvaluatorKind.EXACT_MATCH: _parse_exact_match,
    EvaluatorKind.CONTAINS: _parse_contains,
    EvaluatorKind.REGEX: _parse_regex,
    EvaluatorKind.JSON_SCHEMA: _parse_json_schema,
    EvaluatorKind.NUMERIC: _parse_numeric,
    EvaluatorKind.PYTHON: _parse_python,
    EvaluatorKind.JUDGE: _parse_judge,
}


def _kind(found: object) -> EvaluatorKind:
    if isinstance(found, str) and found in _KIND_NAMES:
        return EvaluatorKind(found)
    raise ValidationError(
        f"unknown evaluator kind {found!r}: use one of {', '.join(EvaluatorKind)}",
        details={"kind": repr(found), "allowed": sorted(_KIND_NAMES)},
    )


def _known_keys(where: str, found: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(str(key) for key in found if key not in allowed)
    if unknown:
        raise ValidationError(
            f"{where}: unknown key {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
            details={"unknown": unknown, "allowed": sorted(allowed)},
        )


def _flag(where: str, params: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _as_number(value: object) -> float | None:
    """``value`` as a finite float; None for anything else (a bool included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _unknown_judge(where: str, judge: str, judges: Collection[str]) -> ValidationError:
    registered = ", ".join(sorted(judges)) or "none"
    return ValidationError(
        f"{where}: no judge called {judge!r} is registered (registered: {registered})",
        details={"judge": judge, "registered": sorted(judges)},
    )


# Evaluating: each kind's check, with its parameters (and function or judge) bound.


def _prepare(spec: EvaluatorSpec, judges: Mapping[str, Callable[..., Any]]) -> _Check:
    params = spec.params
    if spec.kind is EvaluatorKind.PYTHON:
        reference = str(params.get("function", ""))
        function = load_function(reference)

        def call_function(output: Any, expected: Any, task_input: Any) -> _Outcome:
            result = function(output=output, expected=expected, task_input=task_input)
            return _outcome(result, reference)

        return call_function
    if spec.kind is EvaluatorKind.JUDGE:
        name = str(params.get("judge", ""))
        judge = judges.get(name)
        if judge is None:
            raise _unknown_judge(f"judge evaluator {spec.name!r}", name, judges)
        rubric = str(params.get("rubric", ""))

        def call_judge(output: Any, expected: Any, task_input: Any) -> _Outcome:
            result = judge(task_input=task_input, output=output, expected=expected, rubric=rubric)
            return _outcome(result, f"judge {name!r}")

        return call_judge
    checks: dict[EvaluatorKind, Callable[..., _Outcome]] = {
        EvaluatorKind.EXACT_MATCH: _exact_match,
        EvaluatorKind.CONTAINS: _contains,
        EvaluatorKind.REGEX: _regex,
        EvaluatorKind.JSON_SCHEMA: _json_schema,
        EvaluatorKind.NUMERIC: _numeric,
    }
    return partial(checks[spec.kind], params)


def _exact_match(params: Mapping[str, Any], output: Any, expected: Any, _input: Any) -> _Outcome:
    target = _target(params, expected)
    got = output
    if isinstance(got, str) and isinstance(target, str):
        if params.get("strip", True):
            got, target = got.strip(), target.strip()
        if not params.get("case_sensitive", True):
            got, target = got.casefold(), target.casefold()
    if got == target:
        return True, None, "matches the expected output"
    return False, None, f"expected {_short(target)}, got {_short(got)}"


def _contains(params: Mapping[str, Any], output: Any, _expected: Any, _input: Any) -> _Outcome:
    value: str = params["value"]
    text = _text(output)
    if not params.get("case_sensitive", True):
        value, text = value.casefold(), text.casefold()
    if value in text:
        return True, None, f"contains {_short(params['value'])}"
    return False, None, f"does not contain {_short(params['value'])}"


def _regex(params: Mapping[str, Any], output: Any, _expected: Any, _input: Any) -> _Outcome:
    pattern: str = params["pattern"]
    # search, not match: a pattern meant for the whole output says so with ^ and $.
    if re.search(pattern, _text(output)):
        return True, None, f"matches /{pattern}/"
    return False, None, f"no match for /{pattern}/"


def _json_schema(params: Mapping[str, Any], output: Any, _expected: Any, _input: Any) -> _Outcome:
    instance = output
    if isinstance(output, str | bytes):
        try:
            instance = json.loads(output)
        except ValueError as exc:
            return False, None, f"the output is not JSON ({exc})"
    schema = params["schema"]
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return True, None, "valid against the schema"
    path = "/".join(str(part) for part in error.absolute_path)
    return False, None, f"invalid at /{path}: {error.message}"


def _numeric(params: Mapping[str, Any], output: Any, expected: Any, _input: Any) -> _Outcome:
    target = _read_number(_target(params, expected), strict=True)
    if target is None:
        raise _EvaluatorError(f"the expected value {_short(expected)} is not a number")
    got = _read_number(output, strict=False)
    if got is None:
        return False, None, f"no number in the output {_short(output)}"
    tolerance: float = params.get("tolerance", 0.0)
    # Relative: a share of the expected value, so an expected 0 needs an exact answer.
    allowed = tolerance * abs(target) if params.get("relative", False) else tolerance
    difference = abs(got - target)
    if difference <= allowed:
        return True, None, f"{got:g} is within {allowed:g} of {target:g}"
    return False, None, f"{got:g} is {difference:g} away from {target:g} (allowed {allowed:g})"


def _outcome(result: object, source: str) -> _Outcome:
    """A python function's or judge's answer in one of its three allowed shapes."""
    if isinstance(result, bool):
        return result, None, ""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
        return result[0], None, str(result[1])
    if isinstance(result, Mapping) and isinstance(result.get("pass"), bool):
        score = result.get("score")
        number = None if score is None else _as_number(score)
        if score is not None and number is None:
            raise _EvaluatorError(f"{source} returned the score {score!r}: give a number")
        return result["pass"], number, str(result.get("reason", ""))
    raise _EvaluatorError(f"{source} returned {_short(result)}: return {_RESULT_SHAPES}")


def _target(params: Mapping[str, Any], expected: Any) -> Any:
    if "value" in params:
        return params["value"]
    if expected is None:
        raise _EvaluatorError(
            "nothing to compare with: give the task an expected output or the evaluator a value"
        )
    return expected


def _text(output: Any) -> str:
    if not isinstance(output, str):
        raise _EvaluatorError(f"the output is not text but {type(output).__name__}")
    return output


def _read_number(value: Any, *, strict: bool) -> float | None:
    """A number, or the number a text holds: all of it, else (unless ``strict``) the last
    number in it, where answers usually end ("... so the total is 1,250.")."""
    number = _as_number(value)
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


def _short(value: object, limit: int = 80) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
