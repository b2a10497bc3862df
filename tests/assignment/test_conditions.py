"""Targeting conditions: every operator, versions, missing attributes, logic, eager validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablab.assignment import compile_condition, validate_condition
from ablab.errors import ValidationError

CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    # a bare value is $eq, and equality is type-aware
    ({"region": "eu"}, {"region": "eu"}, True),
    ({"region": "eu"}, {"region": "us"}, False),
    ({"region": "eu"}, {}, False),
    ({"region": "eu"}, {"region": ["eu"]}, False),
    ({"count": 1}, {"count": 1.0}, True),
    ({"count": 1}, {"count": True}, False),
    ({"count": 1}, {"count": "1"}, False),
    ({"beta": True}, {"beta": True}, True),
    ({"beta": True}, {"beta": 1}, False),
    ({"beta": False}, {"beta": 0}, False),
    ({"note": None}, {"note": None}, True),
    ({"note": None}, {}, False),
    ({"tags": ["a", "b"]}, {"tags": ["a", "b"]}, True),
    ({"tags": ["a", "b"]}, {"tags": ("a", "b")}, True),
    ({"tags": ["a", "b"]}, {"tags": ["b", "a"]}, False),
    ({"tags": ["a", "b"]}, {"tags": ["a"]}, False),
    ({"tags": ["a", 1]}, {"tags": ["a", True]}, False),
    ({"tags": ["a"]}, {"tags": "a"}, False),
    ({"meta": {"k": 1}}, {"meta": {"k": 1}}, True),
    ({"meta": {"k": 1}}, {"meta": {"k": 2}}, False),
    ({"meta": {"k": 1}}, {"meta": {"j": 1}}, False),
    ({"meta": {"k": 1}}, {"meta": {"k": 1, "j": 2}}, False),
    ({"meta": {"k": 1}}, {"meta": [("k", 1)]}, False),
    ({"meta": {}}, {"meta": {}}, True),
    ({"region": {"$eq": "eu"}}, {"region": "eu"}, True),
    ({"region": {"$eq": "eu"}}, {"region": 5}, False),
    ({"n": {"$eq": 2.5}}, {"n": 2.5}, True),
    ({"n": {"$eq": None}}, {"n": 0}, False),
    ({"n": {"$eq": [1, [2, {"x": None}]]}}, {"n": [1, [2, {"x": None}]]}, True),
    # $ne holds for a missing attribute
    ({"region": {"$ne": "eu"}}, {"region": "us"}, True),
    ({"region": {"$ne": "eu"}}, {"region": "eu"}, False),
    ({"region": {"$ne": "eu"}}, {}, True),
    ({"n": {"$ne": 1}}, {"n": True}, True),
    # $in / $nin, with list attributes matching on any item
    ({"region": {"$in": ["eu", "us"]}}, {"region": "eu"}, True),
    ({"region": {"$in": ["eu", "us"]}}, {"region": "apac"}, False),
    ({"region": {"$in": ["eu", "us"]}}, {}, False),
    ({"region": {"$in": ["eu", "us"]}}, {"region": ["apac", "us"]}, True),
    ({"region": {"$in": ["eu", "us"]}}, {"region": ["apac"]}, False),
    ({"region": {"$in": []}}, {"region": "eu"}, False),
    ({"n": {"$in": [1, 2]}}, {"n": 2}, True),
    ({"n": {"$in": [1, 2]}}, {"n": 2.0}, True),
    ({"n": {"$in": [1, 2]}}, {"n": True}, False),
    ({"n": {"$in": ["1", 1]}}, {"n": 1}, True),
    ({"n": {"$in": [None]}}, {"n": None}, True),
    ({"n": {"$in": [["a"]]}}, {"n": ["a"]}, True),
    ({"n": {"$in": ("x", "y")}}, {"n": "y"}, True),
    ({"n": {"$in": ["a"]}}, {"n": {"a": 1}}, False),
    ({"region": {"$nin": ["eu"]}}, {"region": "us"}, True),
    ({"region": {"$nin": ["eu"]}}, {"region": "eu"}, False),
    ({"region": {"$nin": ["eu"]}}, {}, True),
    ({"region": {"$nin": ["eu"]}}, {"region": ["us", "eu"]}, False),
    # numeric ordering
    ({"age": {"$gt": 18}}, {"age": 19}, True),
    ({"age": {"$gt": 18}}, {"age": 18}, False),
    ({"age": {"$gt": 18}}, {"age": 18.5}, True),
    ({"age": {"$gt": 18}}, {"age": "19"}, False),
    ({"age": {"$gt": 18}}, {"age": True}, False),
    ({"age": {"$gt": 18}}, {}, False),
    ({"age": {"$gt": 18}}, {"age": None}, False),
    ({"age": {"$gte": 18}}, {"age": 18}, True),
    ({"age": {"$gte": 18}}, {"age": 17.99}, False),
    ({"age": {"$lt": 18}}, {"age": 17}, True),
    ({"age": {"$lt": 18}}, {"age": 18}, False),
    ({"age": {"$lte": 18}}, {"age": 18.0}, True),
    ({"age": {"$lte": 18}}, {"age": 19}, False),
    ({"age": {"$lt": 0.5}}, {"age": -math.inf}, True),
    ({"age": {"$gt": 0.5}}, {"age": math.nan}, False),
    ({"age": {"$gte": 18, "$lt": 65}}, {"age": 30}, True),
    ({"age": {"$gte": 18, "$lt": 65}}, {"age": 70}, False),
    ({"age": {"$gte": 18, "$lt": 65, "$ne": 40}}, {"age": 40}, False),
    # version-like strings compare as versions
    ({"app": {"$gt": "2.9"}}, {"app": "2.10"}, True),
    ({"app": {"$lt": "2.10"}}, {"app": "2.9"}, True),
    ({"app": {"$gte": "2.1"}}, {"app": "v2.1"}, True),
    ({"app": {"$gte": "v2.1"}}, {"app": "2.1"}, True),
    ({"app": {"$lte": "2.1"}}, {"app": "2.1.0"}, True),
    ({"app": {"$gte": "2.1"}}, {"app": "2.0.9"}, False),
    ({"app": {"$gte": "2.1"}}, {"app": "2.1.0-rc.1"}, False),
    ({"app": {"$lt": "1.0.0"}}, {"app": "1.0.0-beta"}, True),
    ({"app": {"$gt": "1.0.0-beta"}}, {"app": "1.0.0"}, True),
    ({"app": {"$lt": "1.0.0-alpha.1"}}, {"app": "1.0.0-alpha"}, True),
    ({"app": {"$lt": "1.0.0-alpha.beta"}}, {"app": "1.0.0-alpha.1"}, True),
    ({"app": {"$gt": "1.0.0-beta.2"}}, {"app": "1.0.0-beta.11"}, True),
    ({"app": {"$lte": "1.0.0"}}, {"app": "1.0.0+build.5"}, True),
    ({"app": {"$lt": "1.0.0"}}, {"app": "1.0.0+build.5"}, False),
    ({"app": {"$gt": "9"}}, {"app": "10"}, True),
    ({"app": {"$gte": "2.1"}}, {"app": "latest"}, False),
    ({"app": {"$gte": "2.1"}}, {"app": 2.5}, False),
    ({"app": {"$gte": "2.1"}}, {}, False),
    # other strings compare as text
    ({"name": {"$gt": "bob"}}, {"name": "carol"}, True),
    ({"name": {"$gt": "bob"}}, {"name": "alice"}, False),
    ({"name": {"$gt": "bob"}}, {"name": 5}, False),
    ({"name": {"$lte": "beta"}}, {"name": "alpha"}, True),
    # $exists
    ({"beta": {"$exists": True}}, {"beta": None}, True),
    ({"beta": {"$exists": True}}, {}, False),
    ({"beta": {"$exists": False}}, {}, True),
    ({"beta": {"$exists": False}}, {"beta": False}, False),
    # $regex searches anywhere unless anchored
    ({"host": {"$regex": "^dev-"}}, {"host": "dev-1"}, True),
    ({"host": {"$regex": "^dev-"}}, {"host": "prod-dev-1"}, False),
    ({"host": {"$regex": "eu"}}, {"host": "west-eu-1"}, True),
    ({"host": {"$regex": "(?i)^DEV"}}, {"host": "dev-1"}, True),
    ({"host": {"$regex": "1"}}, {"host": 1}, False),
    ({"host": {"$regex": "."}}, {}, False),
    # field-level $not
    ({"age": {"$not": {"$gt": 18}}}, {"age": 10}, True),
    ({"age": {"$not": {"$gt": 18}}}, {"age": 20}, False),
    ({"age": {"$not": {"$gt": 18}}}, {}, True),
    ({"host": {"$not": {"$regex": "^dev"}}}, {"host": "prod"}, True),
    # logic
    ({}, {}, True),
    ({}, {"anything": 1}, True),
    ({"a": 1, "b": 2}, {"a": 1, "b": 2}, True),
    ({"a": 1, "b": 2}, {"a": 1, "b": 3}, False),
    ({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3}, True),
    ({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": 4}, False),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1, "b": 2}, True),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1}, False),
    ({"$and": [{"a": 1}]}, {"a": 1}, True),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"b": 2}, True),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"a": 2, "b": 1}, False),
    ({"$nor": [{"a": 1}, {"b": 2}]}, {"a": 2}, True),
    ({"$nor": [{"a": 1}, {"b": 2}]}, {"b": 2}, False),
    ({"$not": {"a": 1}}, {"a": 2}, True),
    ({"$not": {"a": 1}}, {"a": 1}, False),
    ({"$not": {"a": 1}}, {}, True),
    (
        {"$or": [{"$and": [{"a": 1}, {"b": {"$gt": 2}}]}, {"$not": {"c": {"$exists": True}}}]},
        {"a": 1, "b": 3, "c": 0},
        True,
    ),
    (
        {"$or": [{"$and": [{"a": 1}, {"b": {"$gt": 2}}]}, {"$not": {"c": {"$exists": True}}}]},
        {"a": 1, "b": 2, "c": 0},
        False,
    ),
    (
        {"$or": [{"$and": [{"a": 1}, {"b": {"$gt": 2}}]}, {"$not": {"c": {"$exists": True}}}]},
        {"a": 0},
        True,
    ),
    (
        {"region": {"$in": ["eu", "us"]}, "$or": [{"tier": "gold"}, {"app": {"$gte": "2.1"}}]},
        {"region": "us", "tier": "free", "app": "2.10.1"},
        True,
    ),
    # dotted paths reach into nested mappings; an exact flat key wins
    ({"device.os": "ios"}, {"device": {"os": "ios"}}, True),
    ({"device.os": "ios"}, {"device": {"os": "android"}}, False),
    ({"device.os": "ios"}, {"device.os": "ios"}, True),
    ({"device.os": "ios"}, {"device": "ios"}, False),
    ({"device.os": "ios"}, {}, False),
    ({"device.os.version": {"$gte": "17"}}, {"device": {"os": {"version": "17.1"}}}, True),
    ({"device.os": {"$exists": False}}, {"device": {}}, True),
    ({"device.os": {"$exists": False}}, {"device": None}, True),
]


@pytest.mark.parametrize(("condition", "attributes", "expected"), CASES)
def test_condition_evaluates(
    condition: dict[str, Any], attributes: dict[str, Any], expected: bool
) -> None:
    predicate = compile_condition(condition)
    assert predicate(attributes) is expected
    validate_condition(condition)


def test_every_operator_has_a_case() -> None:
    used = {operator for condition, _, _ in CASES for operator in _operators_in(condition)}
    assert used >= {
        "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte",
        "$exists", "$regex", "$and", "$or", "$nor", "$not",
    }  # fmt: skip


def _operators_in(value: object) -> set[str]:
    if isinstance(value, Mapping):
        found = {key for key in value if isinstance(key, str) and key.startswith("$")}
        for item in value.values():
            found |= _operators_in(item)
        return found
    if isinstance(value, list):
        return set().union(*(_operators_in(item) for item in value))
    return set()


def test_condition_works_on_any_mapping() -> None:
    predicate = compile_condition({"device.os": "ios", "app": {"$gte": "2.1"}})
    attributes = {"device": {"os": "ios"}, "app": "2.2"}
    assert predicate(attributes)
    assert predicate(MappingProxyType({**attributes, "device": MappingProxyType({"os": "ios"})}))


@pytest.mark.parametrize(
    ("condition", "path", "reason"),
    [
        ([], "<root>", "expected a mapping, got list"),
        (None, "<root>", "expected a mapping, got null"),
        ({"": 1}, "<root>", "attribute names must be non-empty strings"),
        ({1: "x"}, "<root>", "attribute names must be non-empty strings"),
        ({"region": {"$in": "eu"}}, "region.$in", "expected a list, got str"),
        ({"region": {"$nin": None}}, "region.$nin", "expected a list, got null"),
        ({"region": {"$foo": 1}}, "region.$foo", "unknown operator '$foo'"),
        ({"$foo": []}, "$foo", "unknown logical operator '$foo'"),
        ({"$in": ["a"]}, "$in", "unknown logical operator '$in'"),
        ({"$and": {}}, "$and", "expected a non-empty list of conditions, got dict"),
        ({"$and": []}, "$and", "expected a non-empty list of conditions, got list"),
        ({"$or": ["x"]}, "$or[0]", "expected a condition mapping, got str"),
        ({"$or": [{"a": {"$in": 1}}]}, "$or[0].a.$in", "expected a list, got int"),
        ({"$not": "x"}, "$not", "expected a condition mapping, got str"),
        ({"$not": {"a": {"$gt": []}}}, "$not.a.$gt", "expected a number or a string, got list"),
        ({"a": {"$gt": None}}, "a.$gt", "expected a number or a string, got null"),
        ({"a": {"$gte": True}}, "a.$gte", "expected a number or a string, got bool"),
        ({"a": {"$lt": math.nan}}, "a.$lt", "got NaN"),
        ({"a": {"$exists": 1}}, "a.$exists", "expected true or false, got int"),
        ({"a": {"$regex": "("}}, "a.$regex", "invalid regular expression"),
        ({"a": {"$regex": 5}}, "a.$regex", "expected a regular expression string, got int"),
        ({"a": {"$not": 5}}, "a.$not", "expected a mapping of operators, got int"),
        ({"a": {"$not": {}}}, "a.$not", "expected a mapping of operators, got dict"),
        ({"a": {"$not": {"b": 1}}}, "a.$not.b", "cannot mix operators and plain keys"),
        ({"a": {"$gt": 1, "b": 2}}, "a.b", "cannot mix operators and plain keys"),
        ({"a": {"$eq": {1, 2}}}, "a.$eq", "expected a JSON value"),
        ({"a": {1: "x", "b": 2}}, "a", "object keys must be strings"),
        ({"a": {"$eq": {"k": object()}}}, "a.$eq.k", "got object"),
        ({"a": {"$in": ["x", b"y"]}}, "a.$in[1]", "got bytes"),
        ({"a": {"$ne": [1, {2}]}}, "a.$ne[1]", "got set"),
        (
            {"$and": [{"b": {"$not": {"$regex": "["}}}]},
            "$and[0].b.$not.$regex",
            "invalid regular expression",
        ),
    ],
)
def test_invalid_condition_names_its_path(condition: object, path: str, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        compile_condition(condition)  # type: ignore[arg-type]
    error = raised.value
    assert error.message.startswith(f"invalid condition at {path}: ")
    assert reason in error.message
    assert error.details["path"] == path
    with pytest.raises(ValidationError):
        validate_condition(condition)  # type: ignore[arg-type]


def test_validate_condition_returns_none_when_valid() -> None:
    assert validate_condition({"region": {"$in": ["eu"]}, "app": {"$gte": "2.1"}}) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
odd_values = st.sampled_from(
    [object(), b"2.1", {1, 2}, np.array([1, 2]), np.float64(3.5), frozenset(), complex(1, 2)]
)

EVERY_OPERATOR = compile_condition(
    {
        "$or": [
            {"a": {"$eq": [1, {"k": "v"}]}, "b": {"$ne": "x"}},
            {"a": {"$in": ["x", 1, None, [1], {"k": 1}]}, "b": {"$nin": ["y", 2.5]}},
            {"a": {"$gt": 1, "$lte": 10}, "b": {"$gte": "2.1", "$lt": "bob"}},
            {"a": {"$exists": True, "$regex": "^x", "$not": {"$eq": "x1"}}},
            {"$nor": [{"a.b.c": {"$gt": "v1.0.0-rc.1"}}], "$not": {"b": {"$lt": 0}}},
            {"a": {"k": [True, None]}},
        ]
    }
)


@settings(max_examples=150, deadline=None)
@given(
    attributes=st.dictionaries(
        st.sampled_from(["a", "b", "a.b.c", "c"]), json_values | odd_values, max_size=4
    )
)
def test_evaluation_never_raises(attributes: dict[str, object]) -> None:
    assert EVERY_OPERATOR(attributes) in (True, False)


@settings(max_examples=100, deadline=None)
@given(left=st.text(max_size=12), right=st.text(max_size=12))
def test_ordering_on_any_strings_never_raises(left: str, right: str) -> None:
    predicate = compile_condition({"v": {"$gte": right}})
    assert predicate({"v": left}) in (True, False)


def test_huge_version_numbers_compare_without_overflow() -> None:
    predicate = compile_condition({"v": {"$gt": "1." + "9" * 5000}})
    assert predicate({"v": "2.0"})
    assert not predicate({"v": "1." + "0" * 10 + "9" * 4999})
