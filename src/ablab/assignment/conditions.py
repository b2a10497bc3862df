"""Targeting conditions: Mongo-style queries on unit attributes, compiled to closures.

A condition is a mapping such as::

    {"region": {"$in": ["eu", "us"]}, "app_version": {"$gte": "2.1"}, "beta": True}

Keys are attribute names, or the logical operators ``$and``, ``$or``, ``$nor`` (each a
non-empty list of conditions) and ``$not`` (one condition). An attribute name with dots
("device.os") reaches into nested mappings when no attribute has that exact name. Its value is
either a bare JSON value (equality) or a mapping of field operators, all of which must hold:

=============================  ===========================================================
``$eq``, ``$ne``               equal / not equal (type-aware: ``True`` is not ``1``)
``$in``, ``$nin``              one of / none of a list; a list attribute matches when any
                               of its items is in the list
``$gt``, ``$gte``,             ordering: numbers numerically, version-like strings as
``$lt``, ``$lte``              versions ("2.10" > "2.9", "1.0.0-beta" < "1.0.0"), other
                               strings as text
``$exists``                    ``true``: the attribute is present; ``false``: absent
``$regex``                     a Python regular expression that must match somewhere
``$not``                       a mapping of field operators that must not all hold
=============================  ===========================================================

Validation is eager: ``compile_condition`` raises ``ValidationError`` naming the path of the
first fault ("invalid condition at region.$in: expected a list"), so a rule is checked when it
is saved, not when traffic arrives. Evaluation never raises: a missing attribute fails every
comparison (while ``$exists: false``, ``$ne`` and ``$nin`` hold), and values of types that do
not compare (a number against a string, a version against "latest") simply do not match.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from ablab.assignment.versions import parse_version
from ablab.errors import ValidationError

__all__ = ["AttributePredicate", "compile_condition", "validate_condition"]

AttributePredicate: TypeAlias = Callable[[Mapping[str, object]], bool]
"""A compiled condition: unit attributes in, whether the unit is targeted out."""

_ValueTest: TypeAlias = Callable[[object], bool]
"""A compiled field operator: one attribute value (or ``_MISSING``) in, match out."""

_MISSING: Final = object()
"""Stands for an absent attribute, which differs from one that is present and null."""

_ROOT: Final = "<root>"
_LOGICAL_OPERATORS: Final = ("$and", "$nor", "$not", "$or")
_ORDERINGS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def compile_condition(condition: Mapping[str, object]) -> AttributePredicate:
    """Validate a targeting condition and compile it into a predicate on unit attributes.

    Args:
        condition: A Mongo-style condition (see the module docstring). ``{}`` matches all.

    Returns:
        A function of a unit's attribute mapping that says whether the unit is targeted.
        It never raises on any attribute values.

    Raises:
        ValidationError: the condition is malformed; the message names the path of the
            fault and ``details`` holds ``path`` and ``reason``.

    Examples:
        >>> is_targeted = compile_condition(
        ...     {"region": {"$in": ["eu", "us"]}, "app": {"$gte": "2.1"}}
        ... )
        >>> is_targeted({"region": "eu", "app": "2.10"})
        True
        >>> is_targeted({"region": "eu", "app": "2.0.9"})
        False
        >>> is_targeted({"app": "3.0"})
        False
    """
    if not isinstance(condition, Mapping):
        raise _invalid(_ROOT, f"expected a mapping, got {_kind(condition)}")
    return _compile_condition(condition, "")


def validate_condition(condition: Mapping[str, object]) -> None:
    """Raise ``ValidationError`` if ``condition`` would not compile, else return nothing.

    Args:
        condition: A Mongo-style condition.

    Raises:
        ValidationError: as ``compile_condition``.

    Examples:
        >>> validate_condition({"tier": {"$in": "gold"}})
        Traceback (most recent call last):
        ...
        ablab.errors.ValidationError: invalid condition at tier.$in: expected a list, got str
    """
    compile_condition(condition)


def _compile_condition(condition: Mapping[str, object], path: str) -> AttributePredicate:
    parts: list[AttributePredicate] = []
    for key, operand in condition.items():
        if not isinstance(key, str) or not key:
            raise _invalid(path or _ROOT, f"attribute names must be non-empty strings, got {key!r}")
        here = _child(path, key)
        if key.startswith("$"):
            parts.append(_compile_logical(key, operand, here))
        else:
            parts.append(_compile_field(key, operand, here))
    return _all_predicates(parts)


def _compile_logical(name: str, operand: object, path: str) -> AttributePredicate:
    if name == "$not":
        inner = _compile_condition(_require_mapping(operand, path), path)
        return lambda attributes: not inner(attributes)
    if name not in _LOGICAL_OPERATORS:
        expected = ", ".join(_LOGICAL_OPERATORS)
        raise _invalid(path, f"unknown logical operator {name!r} (expected one of {expected})")
    if not isinstance(operand, (list, tuple)) or not operand:
        raise _invalid(path, f"expected a non-empty list of conditions, got {_kind(operand)}")
    branches = tuple(
        _compile_condition(_require_mapping(branch, f"{path}[{index}]"), f"{path}[{index}]")
        for index, branch in enumerate(operand)
    )
    if name == "$and":
        return _all_predicates(list(branches))
    if name == "$or":
        return lambda attributes: any(branch(attributes) for branch in branches)
    return lambda attributes: not any(branch(attributes) for branch in branches)


def _compile_field(name: str, operand: object, path: str) -> AttributePredicate:
    if isinstance(operand, Mapping) and any(_is_operator(key) for key in operand):
        test = _compile_operators(operand, path)
    else:
        test = _equals(operand, path)
    if "." not in name:
        # The common case: one dict lookup, then the test.
        return lambda attributes: test(attributes.get(name, _MISSING))
    steps = tuple(name.split("."))

    def nested(attributes: Mapping[str, object]) -> bool:
        # An exact key wins over a path, so flat names such as "app.version" keep working.
        value: object = attributes.get(name, _MISSING)
        if value is _MISSING:
            value = attributes
            for step in steps:
                if not isinstance(value, Mapping):
                    value = _MISSING
                    break
                value = value.get(step, _MISSING)
        return test(value)

    return nested


def _compile_operators(operators: Mapping[object, object], path: str) -> _ValueTest:
    tests: list[_ValueTest] = []
    for name, operand in operators.items():
        here = _child(path, str(name))
        if not _is_operator(name):
            raise _invalid(here, "cannot mix operators and plain keys; use $eq for an object")
        tests.append(_compile_operator(str(name), operand, here))
    if len(tests) == 1:
        return tests[0]
    return lambda value: all(test(value) for test in tests)


def _compile_operator(name: str, operand: object, path: str) -> _ValueTest:
    if name in _ORDERINGS:
        return _ordering(_ORDERINGS[name], operand, path)
    if name == "$eq":
        return _equals(operand, path)
    if name == "$ne":
        equal = _equals(operand, path)
        return lambda value: not equal(value)
    if name == "$in":
        return _membership(operand, path)
    if name == "$nin":
        member = _membership(operand, path)
        return lambda value: not member(value)
    if name == "$exists":
        if not isinstance(operand, bool):
            raise _invalid(path, f"expected true or false, got {_kind(operand)}")
        if operand:
            return lambda value: value is not _MISSING
        return lambda value: value is _MISSING
    if name == "$regex":
        return _regex(operand, path)
    if name == "$not":
        if not isinstance(operand, Mapping) or not operand:
            raise _invalid(path, f"expected a mapping of operators, got {_kind(operand)}")
        inner = _compile_operators(operand, path)
        return lambda value: not inner(value)
    raise _invalid(path, f"unknown operator {name!r}")


def _equals(operand: object, path: str) -> _ValueTest:
    _require_json(operand, path)
    if isinstance(operand, str):
        return lambda value: isinstance(value, str) and value == operand
    if isinstance(operand, bool) or operand is None:
        return lambda value: value is operand
    if isinstance(operand, (int, float)):
        return lambda value: _is_number(value) and value == operand
    return lambda value: _json_equal(value, operand)


def _membership(operand: object, path: str) -> _ValueTest:
    if not isinstance(operand, (list, tuple)):
        raise _invalid(path, f"expected a list, got {_kind(operand)}")
    for index, option in enumerate(operand):
        _require_json(option, f"{path}[{index}]")
    # Strings, by far the usual options, are looked up in a set; the rest compare one by one.
    strings = frozenset(option for option in operand if isinstance(option, str))
    others = tuple(option for option in operand if not isinstance(option, str))

    def is_option(value: object) -> bool:
        if isinstance(value, str):
            return value in strings
        return any(_json_equal(value, option) for option in others)

    def test(value: object) -> bool:
        if is_option(value):
            return True
        return isinstance(value, (list, tuple)) and any(is_option(item) for item in value)

    return test


def _ordering(compare: Callable[[Any, Any], bool], operand: object, path: str) -> _ValueTest:
    if isinstance(operand, (int, float)) and not isinstance(operand, bool):
        if math.isnan(operand):
            raise _invalid(path, "expected a number or a string, got NaN")
        return lambda value: _is_number(value) and compare(value, operand)
    if not isinstance(operand, str):
        raise _invalid(path, f"expected a number or a string, got {_kind(operand)}")
    version = parse_version(operand)
    if version is None:
        return lambda value: isinstance(value, str) and compare(value, operand)

    def versions(value: object) -> bool:
        # A value that is not a version does not compare with one ("latest" >= "2.1" is false).
        if not isinstance(value, str):
            return False
        value_version = parse_version(value)
        return value_version is not None and compare(value_version, version)

    return versions


def _regex(operand: object, path: str) -> _ValueTest:
    if not isinstance(operand, str):
        raise _invalid(path, f"expected a regular expression string, got {_kind(operand)}")
    try:
        search = re.compile(operand).search
    except re.error as error:
        raise _invalid(path, f"invalid regular expression: {error}") from None
    return lambda value: isinstance(value, str) and search(value) is not None


def _all_predicates(parts: Sequence[AttributePredicate]) -> AttributePredicate:
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda attributes: first(attributes) and second(attributes)
    frozen = tuple(parts)
    return lambda attributes: all(part(attributes) for part in frozen)


def _always(attributes: Mapping[str, object]) -> bool:
    return True


def _json_equal(value: object, operand: object) -> bool:
    """Type-aware equality of an attribute value with a validated JSON operand."""
    if isinstance(operand, str):
        return isinstance(value, str) and value == operand
    if isinstance(operand, bool) or operand is None:
        return value is operand
    if isinstance(operand, (int, float)):
        return _is_number(value) and value == operand
    if isinstance(operand, Mapping):
        return (
            isinstance(value, Mapping)
            and len(value) == len(operand)
            and all(key in value and _json_equal(value[key], item) for key, item in operand.items())
        )
    return (
        isinstance(value, (list, tuple))
        and len(value) == len(operand)  # type: ignore[arg-type]
        and all(map(_json_equal, value, operand))  # type: ignore[call-overload]
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_operator(key: object) -> bool:
    return isinstance(key, str) and key.startswith("$")


def _require_mapping(operand: object, path: str) -> Mapping[str, object]:
    if not isinstance(operand, Mapping):
        raise _invalid(path, f"expected a condition mapping, got {_kind(operand)}")
    return operand


def _require_json(operand: object, path: str) -> None:
    if operand is None or isinstance(operand, (str, bool, int, float)):
        return
    if isinstance(operand, (list, tuple)):
        for index, item in enumerate(operand):
            _require_json(item, f"{path}[{index}]")
        return
    if isinstance(operand, Mapping):
        for key, item in operand.items():
            if not isinstance(key, str):
                raise _invalid(path, f"object keys must be strings, got {key!r}")
            _require_json(item, _child(path, key))
        return
    raise _invalid(
        path,
        f"expected a JSON value (string, number, boolean, null, list or object), "
        f"got {_kind(operand)}",
    )


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(operand: object) -> str:
    return "null" if operand is None else type(operand).__name__


def _invalid(path: str, reason: str) -> ValidationError:
    return ValidationError(
        f"invalid condition at {path}: {reason}", details={"path": path, "reason": reason}
    )
