"""Version parsing and precedence (Semantic Versioning 2.0.0, section 11, any number of parts)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablab.assignment import compare_versions, parse_version
from ablab.errors import ValidationError


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("2.9", "2.10"),
        ("2.9.9", "2.10"),
        ("1.0.0", "2.0.0"),
        ("2.0.0", "2.1.0"),
        ("2.1.0", "2.1.1"),
        ("2.1", "2.1.0.1"),
        ("9", "10"),
        ("0.0.1", "0.1"),
        ("1.0.0-alpha", "1.0.0"),
        ("1.0.0-beta", "1.0.0"),
        # the precedence example of semver.org, section 11.4
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta", "1.0.0-beta.2"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-beta.11", "1.0.0-rc.1"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-rc.1", "v1.0.0"),
        ("1.0.0-9", "1.0.0-a"),  # numeric identifiers rank below alphanumeric ones
        ("1.0.0-Z", "1.0.0-a"),  # alphanumeric identifiers compare in ASCII order
        ("1." + "9" * 30, "2"),
        ("1." + "9" * 30, "1.1" + "0" * 30),
    ],
)
def test_version_order(lower: str, higher: str) -> None:
    assert compare_versions(lower, higher) == -1
    assert compare_versions(higher, lower) == 1
    lower_version, higher_version = parse_version(lower), parse_version(higher)
    assert lower_version is not None
    assert higher_version is not None
    assert lower_version < higher_version


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("2.1", "2.1.0"),
        ("v2.1", "2.1"),
        ("V2.1.0", "2.1"),
        ("2.01", "2.1"),
        ("1.0.0+build.1", "1.0.0+build.2"),
        ("1.0.0-rc.1+build.1", "1.0.0-rc.1"),
        ("1.0.0-rc.01", "1.0.0-rc.1"),
        ("0", "0.0.0"),
        ("10", "10.0"),
    ],
)
def test_equal_versions(left: str, right: str) -> None:
    assert compare_versions(left, right) == 0
    assert parse_version(left) == parse_version(right)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "latest",
        "v",
        "2.",
        ".2",
        "2..1",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-beta..1",
        "1.0.0 ",
        " 1.0",
        "1,0",
        "1.0.0-β",
        "١.٢",  # Arabic-Indic digits are not version digits
        "vv1",
        "1.2.3.beta",
    ],
)
def test_not_a_version(text: str) -> None:
    assert parse_version(text) is None
    with pytest.raises(ValidationError, match="is not a version"):
        compare_versions(text, "1.0")
    with pytest.raises(ValidationError, match="is not a version") as raised:
        compare_versions("1.0", text)
    assert raised.value.details["field"] == "right"


def test_compare_versions_rejects_non_strings() -> None:
    with pytest.raises(ValidationError, match="is not a version"):
        compare_versions(2.1, "2.1")  # type: ignore[arg-type]


release_parts = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(left=release_parts, right=release_parts)
def test_release_order_is_zero_padded_integer_order(left: list[int], right: list[int]) -> None:
    width = max(len(left), len(right))
    padded_left = left + [0] * (width - len(left))
    padded_right = right + [0] * (width - len(right))
    expected = (padded_left > padded_right) - (padded_left < padded_right)
    left_text, right_text = ".".join(map(str, left)), ".".join(map(str, right))
    assert compare_versions(left_text, right_text) == expected
    assert compare_versions(left_text + "-rc.1", left_text) == -1
