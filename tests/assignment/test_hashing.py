"""The bucket hash: validation, batch inputs, uniformity, independence and determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ablab.assignment import BUCKETS, AssignmentPlan, bucket, bucket_batch, salt_seed
from ablab.errors import ValidationError

# Strings that UTF-8 can encode (lone surrogates cannot, and are rejected on purpose).
unit_id_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
salt_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
ALPHA = 0.001


@pytest.fixture(scope="module")
def million_ids() -> list[str]:
    return [f"unit-{i}" for i in range(1_000_000)]


def test_bucket_is_in_range_and_an_int() -> None:
    value = bucket("exp-1", "device-42")
    assert type(value) is int
    assert 0 <= value < BUCKETS


def test_salt_changes_the_bucket() -> None:
    ids = [f"device-{i}" for i in range(1000)]
    assert (bucket_batch("exp-1", ids) != bucket_batch("exp-2", ids)).mean() > 0.99


@pytest.mark.parametrize("unit_id", ["", None, 42, 4.2, b"device-42", ["device-42"], "\ud800"])
def test_bucket_rejects_unit_ids_that_are_not_non_empty_strings(unit_id: object) -> None:
    with pytest.raises(ValidationError, match="unit id") as raised:
        bucket("exp-1", unit_id)  # type: ignore[arg-type]
    assert raised.value.details["field"] == "unit_id"


@pytest.mark.parametrize("salt", [None, 7, b"exp-1", "\udfff"])
def test_bucket_rejects_bad_salts(salt: object) -> None:
    with pytest.raises(ValidationError, match="salt"):
        bucket(salt, "device-42")  # type: ignore[arg-type]


def test_empty_salt_is_a_salt() -> None:
    assert salt_seed("") != salt_seed(" ")
    assert 0 <= bucket("", "device-42") < BUCKETS


@pytest.mark.parametrize(
    "unit_ids",
    [
        ["a", "b", "c"],
        ("a", "b", "c"),
        np.array(["a", "b", "c"]),
        np.array(["a", "b", "c"], dtype=object),
        (unit_id for unit_id in ["a", "b", "c"]),
    ],
    ids=["list", "tuple", "str-array", "object-array", "generator"],
)
def test_bucket_batch_accepts_string_collections(unit_ids: Iterable[str]) -> None:
    buckets = bucket_batch("exp-1", unit_ids)
    assert buckets.dtype == np.int64
    assert buckets.tolist() == [bucket("exp-1", unit_id) for unit_id in "abc"]


@pytest.mark.parametrize(
    "unit_ids",
    [
        [1, 22, -3, 10**30],
        np.array([1, 22, -3], dtype=np.int64),
        np.array([1, 22, 3], dtype=np.uint32),
        ["1", 22, np.int64(-3)],
    ],
    ids=["int-list", "int64-array", "uint32-array", "mixed"],
)
def test_bucket_batch_reads_integers_as_their_decimal_strings(unit_ids: Iterable[int]) -> None:
    expected = [bucket("exp-1", str(int(unit_id))) for unit_id in unit_ids]
    assert bucket_batch("exp-1", unit_ids).tolist() == expected


def test_bucket_batch_of_nothing_is_empty() -> None:
    assert bucket_batch("exp-1", []).shape == (0,)
    assert bucket_batch("exp-1", np.array([], dtype=str)).shape == (0,)


@pytest.mark.parametrize(
    ("unit_ids", "message"),
    [
        (["a", ""], "empty"),
        (np.array(["a", ""]), "empty"),
        (["a", None], "NoneType"),
        (["a", True], "bool"),
        (["a", 1.5], "float"),
        (["a", b"b"], "bytes"),
        (["a", "\ud800"], "surrogate"),
        ("abc", "single str"),
        (b"abc", "single bytes"),
        (np.array([["a"], ["b"]]), "one-dimensional"),
        (np.array([1.5, 2.5]), "float64"),
    ],
)
def test_bucket_batch_rejects_bad_ids(unit_ids: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        bucket_batch("exp-1", unit_ids)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(salt=salt_text, unit_ids=st.lists(unit_id_text, min_size=1, max_size=30))
def test_batch_and_single_buckets_agree(salt: str, unit_ids: list[str]) -> None:
    assert bucket_batch(salt, unit_ids).tolist() == [bucket(salt, u) for u in unit_ids]


@pytest.mark.parametrize("salt", ["exp-1", "radiology-v1-2025-05"])
def test_buckets_are_uniform_over_a_million_ids(million_ids: list[str], salt: str) -> None:
    counts = np.bincount(bucket_batch(salt, million_ids), minlength=BUCKETS)
    assert counts.shape == (BUCKETS,)
    assert stats.chisquare(counts).pvalue > ALPHA


@pytest.mark.parametrize("weights", [(50, 50), (90, 10), (33.34, 33.33, 33.33)])
def test_split_matches_its_weights_over_a_million_ids(
    million_ids: list[str], weights: tuple[float, ...]
) -> None:
    plan = AssignmentPlan.from_weights(
        "exp-split", [(f"variant-{i}", weight) for i, weight in enumerate(weights)]
    )
    counts = np.bincount(plan.assign_batch(million_ids), minlength=len(weights))
    expected = np.array(plan.basis_points) / BUCKETS * len(million_ids)
    assert counts.sum() == len(million_ids)
    assert stats.chisquare(counts, expected).pvalue > ALPHA


def test_experiments_with_different_salts_split_independently() -> None:
    ids = [f"device-{i}" for i in range(200_000)]
    first = AssignmentPlan.from_weights("exp-a", [("control", 50), ("treatment", 50)])
    second = AssignmentPlan.from_weights("exp-b", [("control", 20), ("x", 30), ("y", 50)])
    a, b = first.assign_batch(ids), second.assign_batch(ids)
    table = np.zeros((2, 3), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    assert stats.chi2_contingency(table).pvalue > ALPHA


_CHILD = """
import json, sys
from ablab.assignment import bucket, bucket_batch
ids = json.loads(sys.argv[1])
singles = [bucket(salt, unit_id) for salt, unit_id in ids]
batch = bucket_batch("exp-1", [unit_id for _, unit_id in ids]).tolist()
print(json.dumps([singles, batch]))
"""


@pytest.mark.parametrize("hash_seed", ["0", "1", "4242", "random"])
def test_buckets_are_the_same_in_another_process(hash_seed: str) -> None:
    pairs = [("exp-1", f"device-{i}") for i in range(50)] + [("", "ünïcödé"), ("exp-1", "😀")]
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(pairs)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    singles, batch = json.loads(completed.stdout)
    assert singles == [bucket(salt, unit_id) for salt, unit_id in pairs]
    assert batch == bucket_batch("exp-1", [unit_id for _, unit_id in pairs]).tolist()
