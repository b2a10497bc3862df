"""``decide``: the contract's rules in order, and answering without a read only when safe."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ablab.assignment import (
    NEEDS_STORED,
    UNKNOWN,
    Assignment,
    AssignmentReason,
    ExperimentRules,
    GoverningRollout,
    OwnRollout,
    Targeting,
    VariantRule,
    compile_rules,
    decide,
    in_share,
)

BASE = ExperimentRules(
    id="exp_1",
    name="my-experiment",
    status="running",
    salt="exp_1",
    coverage=100.0,
    variants=(
        VariantRule("control", 50.0, "1.0.0", True),
        VariantRule("treatment", 50.0, "2.0.0", False),
    ),
)
UNITS = [f"device-{i}" for i in range(400)]


def answer(rules: ExperimentRules, unit: str, **kwargs: object) -> Assignment:
    found = decide(compile_rules(rules), unit, **kwargs)  # type: ignore[arg-type]
    assert isinstance(found, Assignment)
    return found


def test_a_running_experiment_hashes_new_units_and_keeps_stored_ones() -> None:
    found = [answer(BASE, u) for u in UNITS]
    assert {a.reason for a in found} == {AssignmentReason.NEW}
    assert {a.variant for a in found} == {"control", "treatment"}
    assert all(a.model_version == ("2.0.0" if a.variant == "treatment" else "1.0.0") for a in found)
    # Stored first assignments hold whatever the hash says today.
    sticky = answer(BASE, "device-1", stored="treatment")
    assert (sticky.variant, sticky.reason, sticky.in_experiment) == (
        "treatment",
        AssignmentReason.STICKY,
        True,
    )


@pytest.mark.parametrize("status", ["draft", "paused", "stopped", "archived"])
def test_an_experiment_that_is_not_running_serves_the_control_to_everyone(status: str) -> None:
    rules = replace(BASE, status=status)
    for stored in (UNKNOWN, None, "treatment"):
        found = answer(rules, "device-1", stored=stored)
        assert (found.variant, found.model_version, found.in_experiment, found.reason) == (
            "control",
            "1.0.0",
            False,
            AssignmentReason.NOT_RUNNING,
        )


def test_a_promoted_experiment_serves_its_winner_through_its_rollout() -> None:
    promoted = replace(BASE, status="promoted", winner="treatment")
    assert answer(promoted, "u").reason is AssignmentReason.PROMOTED
    assert answer(promoted, "u").variant == "treatment"
    rolling = replace(promoted, rollout=OwnRollout("ro_1", "running", 25.0))
    found = {u: answer(rolling, u) for u in UNITS}
    assert all(a.reason is AssignmentReason.ROLLOUT and a.in_experiment for a in found.values())
    assert all((a.variant == "treatment") == in_share("ro_1", 25.0, u) for u, a in found.items())
    back = replace(promoted, rollout=OwnRollout("ro_1", "rolled_back", 25.0))
    assert (answer(back, "u").variant, answer(back, "u").reason) == (
        "control",
        AssignmentReason.ROLLED_BACK,
    )


def test_outside_the_group_the_coverage_or_a_rollout_the_stored_variant_decides() -> None:
    group = replace(BASE, group=Targeting("staff", members=("device-1",)))
    assert decide(compile_rules(group), "device-2") is NEEDS_STORED
    assert answer(group, "device-2", stored=None).reason is AssignmentReason.NOT_TARGETED
    assert answer(group, "device-2", stored="treatment").reason is AssignmentReason.STICKY
    assert answer(group, "device-1").reason is AssignmentReason.NEW

    covered = compile_rules(replace(BASE, coverage=10.0))
    outside = [u for u in UNITS if decide(covered, u) is NEEDS_STORED]
    assert 300 < len(outside) < 400  # about 90%
    assert {answer(replace(BASE, coverage=10.0), u, stored=None).reason for u in outside} == {
        AssignmentReason.NOT_COVERED
    }

    governed = replace(BASE, governing_rollout=GoverningRollout("ro_9", 10.0, "0.9.0"))
    for unit in UNITS:
        if in_share("ro_9", 10.0, unit):
            assert answer(governed, unit).reason is AssignmentReason.NEW
            continue
        assert decide(compile_rules(governed), unit) is NEEDS_STORED
        found = answer(governed, unit, stored=None)
        assert (found.variant, found.model_version, found.reason) == (
            None,
            "0.9.0",
            AssignmentReason.NOT_IN_ROLLOUT,
        )


def test_a_changed_plan_always_asks_for_the_stored_variant() -> None:
    changed = compile_rules(replace(BASE, plan_changed=True))
    assert all(decide(changed, u) is NEEDS_STORED for u in UNITS)
    assert decide(changed, "device-1", stored="control") != NEEDS_STORED


rules_strategy = st.builds(
    lambda weight, coverage, members, changed, governing: replace(
        BASE,
        variants=(
            VariantRule("control", 100.0 - weight, "1.0.0", True),
            VariantRule("treatment", weight, "2.0.0", False),
        ),
        coverage=coverage,
        plan_changed=changed,
        group=None if members is None else Targeting("g", members=tuple(sorted(members))),
        governing_rollout=None if governing is None else GoverningRollout("ro_2", governing, "0"),
    ),
    st.sampled_from([0.0, 10.0, 50.0, 95.0, 100.0]),
    st.sampled_from([100.0, 50.0, 5.0]),
    st.none() | st.sets(st.sampled_from(UNITS[:20]), max_size=10),
    st.booleans(),
    st.none() | st.sampled_from([0.0, 30.0, 100.0]),
)


@given(rules=rules_strategy, unit=st.sampled_from(UNITS[:40]))
def test_an_answer_given_without_a_read_is_the_one_a_read_would_give(
    rules: ExperimentRules, unit: str
) -> None:
    """Answering from the hash alone is safe only where no stored variant could differ.

    While the plan is unchanged, a stored variant can only be what the plan gave the unit
    when it entered; whatever the store holds (nothing, or that), the answer is the same.
    """
    compiled = compile_rules(rules)
    found = decide(compiled, unit)
    if found is NEEDS_STORED:
        return
    assert not rules.plan_changed
    entered = compiled.plan.assign(unit) if compiled.plan is not None else None
    for stored in {None, entered}:
        again = decide(compiled, unit, stored=stored)
        assert isinstance(again, Assignment)
        assert (again.variant, again.model_version, again.in_experiment) == (
            found.variant,
            found.model_version,
            found.in_experiment,
        )
