"""Hash version 1 vs its golden vectors: cases.json is the frozen contract, never regenerated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from xxhash import xxh3_64_intdigest

from ablab.assignment import BUCKETS, HASH_VERSION, AssignmentPlan, bucket, bucket_batch

CASES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("cases.json")).read_text(encoding="utf-8")
)
BUCKET_CASES: list[dict[str, Any]] = CASES["bucket_cases"]
ASSIGNMENT_CASES: list[dict[str, Any]] = CASES["assignment_cases"]


def test_cases_describe_the_implemented_hash_version() -> None:
    assert CASES["hash_version"] == HASH_VERSION == 1
    assert CASES["buckets"] == BUCKETS == 10_000
    assert len(BUCKET_CASES) >= 50
    assert len({(case["salt"], case["unit_id"]) for case in BUCKET_CASES}) == len(BUCKET_CASES)


@pytest.mark.parametrize("case", BUCKET_CASES, ids=lambda case: f"{case['bucket']}")
def test_bucket_reproduces_golden_vector(case: dict[str, Any]) -> None:
    assert bucket(case["salt"], case["unit_id"]) == case["bucket"]


@pytest.mark.parametrize("case", BUCKET_CASES, ids=lambda case: f"{case['bucket']}")
def test_golden_vector_follows_the_written_definition(case: dict[str, Any]) -> None:
    # The definition in hashing.py's docstring, spelled out independently of its code.
    seed = xxh3_64_intdigest(case["salt"].encode("utf-8"))
    assert xxh3_64_intdigest(case["unit_id"].encode("utf-8"), seed=seed) % 10_000 == case["bucket"]


def test_batch_reproduces_golden_vectors_salt_by_salt() -> None:
    salts = sorted({case["salt"] for case in BUCKET_CASES})
    for salt in salts:
        cases = [case for case in BUCKET_CASES if case["salt"] == salt]
        buckets = bucket_batch(salt, [case["unit_id"] for case in cases])
        assert buckets.tolist() == [case["bucket"] for case in cases]


def test_golden_vectors_cover_unicode_long_ids_and_empty_salt() -> None:
    unit_ids = [case["unit_id"] for case in BUCKET_CASES]
    salts = [case["salt"] for case in BUCKET_CASES]
    assert any(not unit_id.isascii() for unit_id in unit_ids)
    assert any(len(unit_id.encode()) > 240 for unit_id in unit_ids)
    assert "" in salts
    assert any(ord(char) > 0xFFFF for unit_id in unit_ids for char in unit_id)


@pytest.mark.parametrize(
    "case", ASSIGNMENT_CASES, ids=lambda case: f"{case['salt']}-{case['coverage_percent']}"
)
def test_assignment_reproduces_golden_vector(case: dict[str, Any]) -> None:
    plan = AssignmentPlan.from_weights(
        case["salt"],
        [(name, weight) for name, weight in case["variants"]],
        coverage_percent=case["coverage_percent"],
    )
    assert bucket(case["salt"], case["unit_id"]) == case["bucket"]
    assert plan.assign(case["unit_id"]) == case["variant"]
    assert plan.variant_names_of(plan.assign_batch([case["unit_id"]])) == [case["variant"]]


def test_assignment_cases_include_units_outside_the_coverage() -> None:
    assert any(case["variant"] is None for case in ASSIGNMENT_CASES)
    assert {case["variant"] for case in ASSIGNMENT_CASES} >= {"control", "treatment", "a", "b"}
