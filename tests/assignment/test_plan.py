"""AssignmentPlan: construction checks, single and batch assignment, coverage, targeting."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablab.assignment import BUCKETS, AssignmentPlan, bucket, compile_condition
from ablab.errors import ValidationError

FIFTY_FIFTY = [("control", 50.0), ("treatment", 50.0)]
IDS = [f"device-{i}" for i in range(100_000)]

unit_id_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)


@st.composite
def plans(draw: st.DrawFn) -> AssignmentPlan:
    raw = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=2, max_size=5))
    if sum(raw) == 0:
        raw[0] = 1
    coverage = draw(st.sampled_from([100.0, 50.0, 12.5, 0.5])) if draw(st.booleans()) else 100.0
    return AssignmentPlan.from_weights(
        draw(st.text(max_size=10, alphabet=st.characters(exclude_categories=["Cs"]))),
        [(f"v{i}", 100 * value / sum(raw)) for i, value in enumerate(raw)],
        coverage_percent=coverage,
    )


def test_from_weights_builds_the_allocation() -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, coverage_percent=40)
    assert plan.salt == "exp-1"
    assert plan.variant_names == ("control", "treatment")
    assert plan.basis_points == (5000, 5000)
    assert plan.coverage_percent == 40.0
    assert plan.bucket_ranges == ((0, 2000), (5000, 7000))
    assert plan.targeting is None
    assert plan.members is None


def test_assign_follows_the_bucket_ranges() -> None:
    plan = AssignmentPlan.from_weights("exp-1", [("a", 20), ("b", 30), ("c", 50)], 50)
    ranges = dict(zip(plan.variant_names, plan.bucket_ranges, strict=True))
    for unit_id in IDS[:5000]:
        position = bucket("exp-1", unit_id)
        owner = next((n for n, (s, e) in ranges.items() if s <= position < e), None)
        assert plan.assign(unit_id) == owner


def test_plans_are_frozen_and_compare_by_value() -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, members=["a"])
    same = AssignmentPlan.from_weights("exp-1", [("control", 50), ("treatment", 50)], members={"a"})
    assert plan == same
    assert hash(plan) == hash(same)
    assert plan != AssignmentPlan.from_weights("exp-2", FIFTY_FIFTY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.salt = "other"  # type: ignore[misc]
    assert "members" not in repr(plan)


def test_constructor_accepts_converted_fields() -> None:
    plan = AssignmentPlan(
        salt="exp-1",
        variant_names=["control", "treatment"],  # type: ignore[arg-type]
        basis_points=[9000, 1000],  # type: ignore[arg-type]
        coverage_percent=100,
    )
    assert plan.variant_names == ("control", "treatment")
    assert plan.basis_points == (9000, 1000)
    assert plan.coverage_percent == 100.0
    assert plan == AssignmentPlan.from_weights("exp-1", [("control", 90), ("treatment", 10)])


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([("control", 100)], "at least 2 variants"),
        ([], "at least 2 variants"),
        ([("a", 50), ("a", 50)], "unique, repeated: a"),
        ([("", 50), ("b", 50)], "non-empty strings"),
        ([("  ", 50), ("b", 50)], "non-empty strings"),
        ([(None, 50), ("b", 50)], "non-empty strings"),
        ([("a", 50), ("b", 49)], "must sum to 100, got 99"),
        ([("a", 150), ("b", -50)], "variant 'b' must be a finite number >= 0"),
        ([("a", 50, 1), ("b", 50)], "#1 must be a .name, weight_percent. pair"),
        (["a", "b"], "#1 must be a .name, weight_percent. pair"),
        ("ab", "list of .name, weight_percent. pairs"),
        ({"a": 50, "b": 50}, "list of .name, weight_percent. pairs"),
    ],
)
def test_from_weights_rejects_bad_variants(variants: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AssignmentPlan.from_weights("exp-1", variants)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"salt": 5}, "salt must be a string"),
        ({"coverage_percent": 0}, r"coverage must be a percentage in \(0, 100\]"),
        ({"coverage_percent": 101}, "coverage"),
        ({"basis_points": (5000, 4999)}, "summing to 10000"),
        ({"basis_points": (10000,)}, "2 integers"),
        ({"basis_points": (5000.0, 5000.0)}, "integers"),
        ({"basis_points": (True, 9999)}, "integers"),
        ({"basis_points": (-1, 10001)}, ">= 0"),
        ({"basis_points": 10000}, "integers"),
        ({"variant_names": "ab"}, "sequence of strings"),
        ({"targeting": {"region": "eu"}}, "compiled condition"),
        ({"members": ["a", ""]}, "non-empty unit id strings"),
        ({"members": ["a", 5]}, "non-empty unit id strings"),
    ],
)
def test_constructor_rejects_inconsistent_fields(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "salt": "exp-1",
        "variant_names": ("control", "treatment"),
        "basis_points": (5000, 5000),
        **changes,
    }
    with pytest.raises(ValidationError, match=message):
        AssignmentPlan(**fields)  # type: ignore[arg-type]


def test_from_weights_rejects_a_single_string_as_members() -> None:
    with pytest.raises(ValidationError, match="not a single string"):
        AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, members="device-1")


def test_from_weights_rejects_an_invalid_condition() -> None:
    with pytest.raises(ValidationError, match=r"invalid condition at region\.\$in"):
        AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, condition={"region": {"$in": "eu"}})


@pytest.mark.parametrize("unit_id", ["", None, 42, b"device-1", "\ud800"])
def test_assign_rejects_bad_unit_ids(unit_id: object) -> None:
    plans = [
        AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY),
        AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, members=["device-1"]),
    ]
    for plan in plans:
        with pytest.raises(ValidationError, match="unit id"):
            plan.assign(unit_id)  # type: ignore[arg-type]


def test_zero_weight_variant_gets_nobody() -> None:
    plan = AssignmentPlan.from_weights("exp-1", [("control", 0), ("treatment", 100)])
    assert {plan.assign(unit_id) for unit_id in IDS[:2000]} == {"treatment"}
    plan = AssignmentPlan.from_weights("exp-1", [("a", 50), ("b", 0), ("c", 50)], 50)
    assert set(plan.variant_names_of(plan.assign_batch(IDS))) == {"a", "c", None}


@settings(max_examples=100, deadline=None)
@given(plan=plans(), unit_ids=st.lists(unit_id_text, min_size=1, max_size=40))
def test_single_and_batch_assignment_agree(plan: AssignmentPlan, unit_ids: list[str]) -> None:
    indices = plan.assign_batch(unit_ids)
    assert indices.dtype == np.int64
    assert plan.variant_names_of(indices) == [plan.assign(unit_id) for unit_id in unit_ids]


@pytest.mark.parametrize("salt", ["exp-1", "exp-2"])
def test_single_and_batch_agree_on_many_ids(salt: str) -> None:
    plan = AssignmentPlan.from_weights(salt, [("a", 33.34), ("b", 33.33), ("c", 33.33)], 70)
    names = plan.variant_names_of(plan.assign_batch(IDS[:20_000]))
    assert names == [plan.assign(unit_id) for unit_id in IDS[:20_000]]


def test_raising_coverage_never_moves_an_included_unit() -> None:
    variants = [("control", 33.34), ("a", 33.33), ("b", 33.33)]
    previous: list[str | None] | None = None
    for coverage in (1, 10, 25, 50, 50.5, 99, 100):
        plan = AssignmentPlan.from_weights("exp-ramp", variants, coverage_percent=coverage)
        names = plan.variant_names_of(plan.assign_batch(IDS))
        if previous is not None:
            kept = [(old, new) for old, new in zip(previous, names, strict=True) if old]
            assert kept
            assert all(old == new for old, new in kept)
        previous = names
    assert previous is not None
    assert None not in previous


def test_half_coverage_excludes_about_half_the_units() -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, coverage_percent=50)
    indices = plan.assign_batch(IDS)
    excluded = float(np.mean(indices == -1))
    assert 0.49 < excluded < 0.51
    assert abs(np.mean(indices == 0) - np.mean(indices == 1)) < 0.01


def test_members_restrict_the_experiment() -> None:
    members = IDS[:100]
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, members=members)
    assert all(plan.assign(unit_id) is not None for unit_id in members)
    assert all(plan.assign(unit_id) is None for unit_id in IDS[100:300])
    indices = plan.assign_batch(IDS[:300])
    assert (indices[:100] >= 0).all()
    assert (indices[100:] == -1).all()


def test_members_apply_to_integer_ids_by_their_decimal_form() -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, members=["7"])
    indices = plan.assign_batch(np.array([7, 8]))
    assert indices[0] >= 0
    assert indices[1] == -1


def test_targeting_decides_who_enters() -> None:
    plan = AssignmentPlan.from_weights(
        "exp-1", FIFTY_FIFTY, condition={"region": {"$in": ["eu", "us"]}}
    )
    assert plan.assign("device-1", {"region": "eu"}) in plan.variant_names
    assert plan.assign("device-1", {"region": "apac"}) is None
    assert plan.assign("device-1") is None
    assert plan.assign("device-1", {}) is None


def test_targeting_sees_missing_attributes_as_absent() -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, condition={"beta": {"$exists": False}})
    assert plan.assign("device-1") is not None
    assert plan.assign("device-1", {"beta": True}) is None


def test_members_and_targeting_must_both_hold() -> None:
    plan = AssignmentPlan.from_weights(
        "exp-1", FIFTY_FIFTY, condition={"region": "eu"}, members=["device-1"]
    )
    assert plan.assign("device-1", {"region": "eu"}) is not None
    assert plan.assign("device-1", {"region": "us"}) is None
    assert plan.assign("device-2", {"region": "eu"}) is None
    indices = plan.assign_batch(
        ["device-1", "device-1", "device-2"], [{"region": "eu"}, {"region": "us"}, None]
    )
    assert indices[0] >= 0
    assert indices[1:].tolist() == [-1, -1]


def test_targeting_accepts_a_precompiled_predicate() -> None:
    targeting = compile_condition({"tier": "gold"})
    plan = AssignmentPlan("exp-1", ("control", "treatment"), (5000, 5000), targeting=targeting)
    assert plan.assign("device-1", {"tier": "gold"}) is not None
    assert plan.assign("device-1", {"tier": "free"}) is None


@pytest.mark.parametrize(
    ("attributes", "expected_included"),
    [
        (None, [False, False, False]),
        ({"region": "eu"}, [True, True, True]),
        ({"region": "us"}, [False, False, False]),
        ([{"region": "eu"}, {"region": "us"}, None], [True, False, False]),
        (({"region": "eu"}, {}, {"region": "eu"}), [True, False, True]),
    ],
)
def test_batch_targeting_reads_one_mapping_or_one_per_unit(
    attributes: object, expected_included: list[bool]
) -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, condition={"region": "eu"})
    indices = plan.assign_batch(["d-1", "d-2", "d-3"], attributes)  # type: ignore[arg-type]
    assert (indices >= 0).tolist() == expected_included


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ([{"region": "eu"}], "got 1 attribute mappings for 3 unit ids"),
        ("region=eu", "a mapping or a sequence"),
        (42, "a mapping or a sequence"),
        ([{"region": "eu"}, 5, None], "attributes must be a mapping, got int"),
    ],
)
def test_batch_rejects_mismatched_attributes(attributes: object, message: str) -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, condition={"region": "eu"})
    with pytest.raises(ValidationError, match=message):
        plan.assign_batch(["d-1", "d-2", "d-3"], attributes)  # type: ignore[arg-type]


@pytest.mark.parametrize("attributes", [["region", "eu"], "region", 5])
def test_assign_rejects_attributes_that_are_not_a_mapping(attributes: object) -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, condition={"region": "eu"})
    with pytest.raises(ValidationError, match="attributes must be a mapping"):
        plan.assign("device-1", attributes)  # type: ignore[arg-type]


def test_attributes_are_ignored_without_targeting() -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY)
    assert plan.assign("device-1", {"region": "apac"}) == plan.assign("device-1")
    indices = plan.assign_batch(["device-1"], "anything")  # type: ignore[arg-type]
    assert plan.variant_names_of(indices) == [plan.assign("device-1")]


def test_attributes_may_be_any_mapping() -> None:
    class Attributes(Mapping[str, object]):
        def __getitem__(self, key: str) -> object:
            if key == "region":
                return "eu"
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            return iter(["region"])

        def __len__(self) -> int:
            return 1

    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, condition={"region": "eu"})
    assert plan.assign("device-1", Attributes()) is not None


@pytest.mark.parametrize(
    ("indices", "expected"),
    [
        (np.array([0, 1, -1]), ["control", "treatment", None]),
        ([1, 1], ["treatment", "treatment"]),
        (np.array([], dtype=np.int64), []),
        ([], []),
    ],
)
def test_variant_names_of(indices: object, expected: list[str | None]) -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY)
    assert plan.variant_names_of(indices) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("indices", [[2], [-2], np.array([0.5]), ["control"]])
def test_variant_names_of_rejects_foreign_indices(indices: object) -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY)
    with pytest.raises(ValidationError, match="from -1 to 1"):
        plan.variant_names_of(indices)  # type: ignore[arg-type]


def test_every_bucket_has_one_owner_at_full_coverage() -> None:
    plan = AssignmentPlan.from_weights("exp-1", [("a", 10), ("b", 20), ("c", 70)])
    lengths = [end - start for start, end in plan.bucket_ranges]
    assert lengths == list(plan.basis_points)
    assert plan.bucket_ranges[-1][1] == BUCKETS


def test_replace_recomputes_the_derived_fields() -> None:
    plan = AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, coverage_percent=20)
    wider = dataclasses.replace(plan, coverage_percent=60)
    assert wider.bucket_ranges == ((0, 3000), (5000, 8000))
    assert wider == AssignmentPlan.from_weights("exp-1", FIFTY_FIFTY, coverage_percent=60)
    with pytest.raises(ValidationError, match="coverage"):
        dataclasses.replace(plan, coverage_percent=0)
