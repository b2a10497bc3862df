"""LLM experiments: parameter values, the variant tree and its merge, the lifecycle."""

from __future__ import annotations

import itertools
import math
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ablab.domain.limits import MAX_TOKENS
from ablab.domain.llm import (
    LlmAction,
    LlmStatus,
    LlmVariant,
    Parameter,
    allowed_actions,
    check_config,
    check_value,
    check_variant,
    effective_config,
    lineage,
    next_status,
    overrides,
    scope_locked,
)
from ablab.errors import Conflict, InvalidTransition, ValidationError

STEPS = ["response_generator", "classifier"]
BASELINE = {
    "response_generator": {"model": "gpt-4o-mini", "temperature": 0.7, "max_tokens": 500},
    "classifier": {"model": "gpt-4o-mini", "temperature": 0.0},
}
P = Parameter


def variant(
    variant_id: str,
    parameter: Parameter,
    value: object,
    *,
    parent_id: str | None = None,
    step: str = "response_generator",
    name: str | None = None,
) -> LlmVariant:
    return LlmVariant(variant_id, name or f"name-{variant_id}", parent_id, step, parameter, value)


def grow(*new: LlmVariant) -> dict[str, LlmVariant]:
    """The variants added one by one through check_variant, as a service would."""
    variants: dict[str, LlmVariant] = {}
    for each in new:
        variants[each.id] = check_variant(STEPS, variants, each)
    return variants


# Values.


@pytest.mark.parametrize(
    ("parameter", "value", "normalised"),
    [
        (P.TEMPERATURE, 0, 0.0),
        (P.TEMPERATURE, 0.7, 0.7),
        (P.TEMPERATURE, 2, 2.0),
        (P.TOP_P, 0.0, 0.0),
        (P.TOP_P, 1, 1.0),
        (P.MAX_TOKENS, 1, 1),
        (P.MAX_TOKENS, 500, 500),
        (P.MODEL, "gpt-4o", "gpt-4o"),
        (P.SYSTEM, "You are a concise assistant.", "You are a concise assistant."),
        (P.VERBOSITY, "low", "low"),
        (P.VERBOSITY, "medium", "medium"),
        (P.VERBOSITY, "high", "high"),
    ],
)
def test_values_in_range_are_normalised(
    parameter: Parameter, value: object, normalised: object
) -> None:
    checked = check_value(parameter, value)
    assert checked == normalised
    assert type(checked) is type(normalised)


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        (P.TEMPERATURE, -0.1, "from 0 to 2"),
        (P.TEMPERATURE, 2.01, "from 0 to 2"),
        (P.TEMPERATURE, "0.5", "from 0 to 2"),
        (P.TEMPERATURE, True, "from 0 to 2"),
        (P.TEMPERATURE, math.nan, "from 0 to 2"),
        (P.TEMPERATURE, math.inf, "from 0 to 2"),
        (P.TEMPERATURE, None, "from 0 to 2"),
        (P.TOP_P, 1.1, "from 0 to 1"),
        (P.TOP_P, -1, "from 0 to 1"),
        (P.TOP_P, False, "from 0 to 1"),
        (P.MAX_TOKENS, 0, "at least 1"),
        (P.MAX_TOKENS, -5, "at least 1"),
        (P.MAX_TOKENS, True, "at least 1"),
        (P.MAX_TOKENS, False, "at least 1"),
        (P.MAX_TOKENS, 500.0, "at least 1"),
        (P.MAX_TOKENS, 1.5, "at least 1"),
        (P.MAX_TOKENS, "500", "at least 1"),
        (P.MODEL, "", "non-empty string"),
        (P.MODEL, "   ", "non-empty string"),
        (P.MODEL, 4, "non-empty string"),
        (P.SYSTEM, None, "non-empty string"),
        (P.SYSTEM, "", "non-empty string"),
        (P.VERBOSITY, "LOW", "low, medium, high"),
        (P.VERBOSITY, "extreme", "low, medium, high"),
        (P.VERBOSITY, 1, "low, medium, high"),
    ],
)
def test_values_out_of_range_or_of_the_wrong_type_are_refused_in_one_line(
    parameter: Parameter, value: object, allowed: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        check_value(parameter, value)
    message = caught.value.message
    assert message.startswith(f"{parameter.value} must be ")
    assert allowed in message
    assert repr(value) in message
    assert "\n" not in message
    assert caught.value.details["parameter"] == parameter.value


def test_an_unknown_parameter_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown parameter 'temp'.*temperature"):
        check_value("temp", 0.5)  # type: ignore[arg-type]


@given(
    st.one_of(
        st.tuples(st.just(P.TEMPERATURE), st.floats(0, 2) | st.integers(0, 2)),
        st.tuples(st.just(P.TOP_P), st.floats(0, 1)),
        st.tuples(st.just(P.MAX_TOKENS), st.integers(1, MAX_TOKENS)),
        # A model's name holds no control character (ablab.domain.limits).
        st.tuples(
            st.sampled_from([P.MODEL, P.SYSTEM]),
            st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1).filter(str.strip),
        ),
    )
)
def test_checking_a_checked_value_changes_nothing(case: tuple[Parameter, object]) -> None:
    parameter, value = case
    once = check_value(parameter, value)
    assert check_value(parameter, once) == once


# Baseline configurations.


def test_a_baseline_config_is_checked_and_normalised() -> None:
    checked = check_config(
        {"response_generator": {"temperature": 1, "max_tokens": 300}, "classifier": {}}, STEPS
    )
    assert checked == {
        "response_generator": {"temperature": 1.0, "max_tokens": 300},
        "classifier": {},
    }
    assert isinstance(checked["response_generator"]["temperature"], float)


def test_a_baseline_config_refuses_a_step_out_of_scope_naming_the_scope() -> None:
    with pytest.raises(ValidationError, match=r"'summariser' is not in .*response_generator"):
        check_config({"summariser": {"model": "gpt-4o"}}, STEPS)


def test_a_baseline_config_refuses_unknown_parameters_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="unknown parameter 'seed' for step 'classifier'"):
        check_config({"classifier": {"seed": 3}}, STEPS)
    with pytest.raises(ValidationError, match="top_p must be a number from 0 to 1"):
        check_config({"classifier": {"top_p": 3}}, STEPS)
    with pytest.raises(ValidationError, match="must map parameters to values"):
        check_config({"classifier": ["model"]}, STEPS)  # type: ignore[dict-item]


# Variants.


def test_check_variant_normalises_the_value_and_keeps_the_rest() -> None:
    # A parameter given by name, as it arrives from the wire, comes back as a Parameter.
    temperature: Parameter = "temperature"  # type: ignore[assignment]
    new = LlmVariant("v1", "cooler", None, "classifier", temperature, 1, hypothesis="fewer errors")
    checked = check_variant(STEPS, {}, new)
    assert checked.parameter is P.TEMPERATURE
    assert checked.value == 1.0
    assert isinstance(checked.value, float)
    assert (checked.id, checked.name, checked.step, checked.hypothesis) == (
        "v1",
        "cooler",
        "classifier",
        "fewer errors",
    )
    assert new.value == 1  # the original is left as it was


def test_check_variant_refuses_what_breaks_the_tree() -> None:
    variants = grow(variant("a", P.TEMPERATURE, 0.3))
    with pytest.raises(ValidationError, match="'summariser' is not in the experiment's scope"):
        check_variant(STEPS, variants, variant("b", P.MODEL, "gpt-4o", step="summariser"))
    with pytest.raises(ValidationError, match="unknown parent variant 'zzz'"):
        check_variant(STEPS, variants, variant("b", P.MODEL, "gpt-4o", parent_id="zzz"))
    with pytest.raises(ValidationError, match="unknown parent variant 'b'"):
        check_variant(STEPS, variants, variant("b", P.MODEL, "gpt-4o", parent_id="b"))
    with pytest.raises(Conflict, match="a variant called 'name-a' exists already"):
        check_variant(STEPS, variants, variant("b", P.MODEL, "gpt-4o", name="name-a"))
    with pytest.raises(Conflict, match="id 'a' exists already"):
        check_variant(STEPS, variants, variant("a", P.MODEL, "gpt-4o", name="other"))
    with pytest.raises(ValidationError, match="needs a name"):
        check_variant(STEPS, variants, variant("b", P.MODEL, "gpt-4o", name=" "))
    with pytest.raises(ValidationError, match="max_tokens must be a whole number"):
        check_variant(STEPS, variants, variant("b", P.MAX_TOKENS, True, parent_id="a"))


# The tree and its merge.


def test_a_variant_of_a_variant_has_both_changes() -> None:
    variants = grow(
        variant("a", P.TEMPERATURE, 0.3),
        variant("b", P.MODEL, "gpt-4o", parent_id="a"),
    )
    b = effective_config(BASELINE, variants, "b")
    assert b["response_generator"] == {"model": "gpt-4o", "temperature": 0.3, "max_tokens": 500}
    assert b["classifier"] == BASELINE["classifier"]
    a = effective_config(BASELINE, variants, "a")
    assert a["response_generator"] == {
        "model": "gpt-4o-mini",
        "temperature": 0.3,
        "max_tokens": 500,
    }
    assert overrides(variants, "b") == {
        "response_generator": {"temperature": 0.3, "model": "gpt-4o"}
    }


def test_siblings_do_not_see_each_other() -> None:
    variants = grow(
        variant("a", P.TEMPERATURE, 0.3),
        variant("sibling", P.TEMPERATURE, 0.9),
        variant("b", P.MODEL, "gpt-4o", parent_id="a"),
    )
    assert effective_config(BASELINE, variants, "sibling")["response_generator"] == {
        "model": "gpt-4o-mini",
        "temperature": 0.9,
        "max_tokens": 500,
    }
    assert effective_config(BASELINE, variants, "a")["response_generator"]["temperature"] == 0.3
    assert effective_config(BASELINE, variants, "b")["response_generator"]["temperature"] == 0.3
    assert overrides(variants, "sibling") == {"response_generator": {"temperature": 0.9}}


def test_the_nearest_ancestor_wins() -> None:
    variants = grow(
        variant("a", P.TEMPERATURE, 0.3),
        variant("b", P.MODEL, "gpt-4o", parent_id="a"),
        variant("c", P.TEMPERATURE, 0.1, parent_id="b"),
        variant("d", P.MAX_TOKENS, 200, parent_id="c"),
    )
    d = effective_config(BASELINE, variants, "d")
    assert d["response_generator"] == {"model": "gpt-4o", "temperature": 0.1, "max_tokens": 200}
    assert overrides(variants, "d") == {
        "response_generator": {"temperature": 0.1, "model": "gpt-4o", "max_tokens": 200}
    }
    assert [v.id for v in lineage(variants, "d")] == ["a", "b", "c", "d"]


def test_overrides_across_steps_and_on_a_step_the_baseline_leaves_empty() -> None:
    variants = grow(
        variant("a", P.VERBOSITY, "low", step="classifier"),
        variant("b", P.SYSTEM, "Be brief.", parent_id="a"),
    )
    config = effective_config({"response_generator": {}}, variants, "b")
    assert config == {
        "response_generator": {"system": "Be brief."},
        "classifier": {"verbosity": "low"},
    }


def test_the_baseline_overrides_nothing_and_is_never_modified() -> None:
    variants = grow(variant("a", P.TEMPERATURE, 0.3))
    baseline = {"response_generator": {"temperature": 0.7}}
    assert overrides(variants, None) == {}
    config = effective_config(baseline, variants, None)
    assert config == baseline
    config["response_generator"]["temperature"] = 1.5
    effective_config(baseline, variants, "a")
    assert baseline == {"response_generator": {"temperature": 0.7}}


def test_unknown_variants_and_ancestors_are_refused() -> None:
    variants = grow(variant("a", P.TEMPERATURE, 0.3))
    with pytest.raises(ValidationError, match="unknown variant 'nope'"):
        lineage(variants, "nope")
    with pytest.raises(ValidationError, match="unknown variant 'nope'"):
        effective_config(BASELINE, variants, "nope")
    # Stored data can lose a parent (a bug or a bad import): the lineage says which.
    orphan = {"b": variant("b", P.MODEL, "gpt-4o", parent_id="gone")}
    with pytest.raises(ValidationError, match=r"unknown variant 'gone' \(an ancestor of 'b'\)"):
        overrides(orphan, "b")


def test_cycles_are_refused_instead_of_looping() -> None:
    cycle = {
        "a": variant("a", P.TEMPERATURE, 0.3, parent_id="c"),
        "b": variant("b", P.MODEL, "gpt-4o", parent_id="a"),
        "c": variant("c", P.TOP_P, 0.5, parent_id="b"),
    }
    for start in cycle:
        with pytest.raises(ValidationError, match="form a cycle"):
            lineage(cycle, start)
    looped = {"a": variant("a", P.TEMPERATURE, 0.3, parent_id="a")}
    with pytest.raises(ValidationError, match="form a cycle"):
        effective_config(BASELINE, looped, "a")


_VALUES = {
    # A system prompt is free text without NUL (ablab.domain.limits).
    P.SYSTEM: st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=20).filter(
        str.strip
    ),
    P.TEMPERATURE: st.floats(0, 2),
    P.TOP_P: st.floats(0, 1),
    P.MAX_TOKENS: st.integers(1, 10_000),
    P.MODEL: st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"]),
    P.VERBOSITY: st.sampled_from(["low", "medium", "high"]),
}
_CHANGE = st.tuples(st.sampled_from(STEPS), st.sampled_from(list(Parameter))).flatmap(
    lambda sp: st.tuples(st.just(sp[0]), st.just(sp[1]), _VALUES[sp[1]])
)


@given(st.lists(_CHANGE, min_size=1, max_size=8))
def test_a_chain_folds_its_overrides_onto_the_baseline_in_order(
    changes: list[tuple[str, Parameter, object]],
) -> None:
    chain = [
        variant(f"v{i}", parameter, value, step=step, parent_id=f"v{i - 1}" if i else None)
        for i, (step, parameter, value) in enumerate(changes)
    ]
    variants = grow(*chain)

    def apply(
        config: dict[str, dict[str, object]], change: tuple[str, Parameter, object]
    ) -> dict[str, dict[str, object]]:
        step, parameter, value = change
        return {**config, step: {**config.get(step, {}), parameter.value: value}}

    for depth in range(len(chain)):
        folded = reduce(apply, changes[: depth + 1], {s: dict(p) for s, p in BASELINE.items()})
        assert effective_config(BASELINE, variants, f"v{depth}") == folded


@given(st.lists(st.tuples(st.integers(0, 10**6), _CHANGE), min_size=1, max_size=10))
def test_in_any_tree_a_variant_is_its_parent_plus_its_own_change(
    nodes: list[tuple[int, tuple[str, Parameter, object]]],
) -> None:
    tree: list[LlmVariant] = []
    for i, (pick, (step, parameter, value)) in enumerate(nodes):
        # pick % (i + 1) == i means "from the baseline"; otherwise one of the earlier ones.
        parent = pick % (i + 1)
        parent_id = None if parent == i else f"v{parent}"
        tree.append(variant(f"v{i}", parameter, value, step=step, parent_id=parent_id))
    variants = grow(*tree)
    for node in tree:
        expected = effective_config(BASELINE, variants, node.parent_id)
        expected.setdefault(node.step, {})[node.parameter.value] = node.value
        assert effective_config(BASELINE, variants, node.id) == expected
        assert lineage(variants, node.id)[-1].id == node.id


# Lifecycle.

S, A = LlmStatus, LlmAction
ALLOWED: dict[tuple[LlmStatus, LlmAction], LlmStatus] = {
    (S.DRAFT, A.SELECT_TASKS): S.BASELINE_PENDING,
    (S.BASELINE_PENDING, A.SELECT_TASKS): S.BASELINE_PENDING,
    (S.BASELINE_PENDING, A.START_BASELINE): S.RUNNING_BASELINE,
    (S.BASELINE_FAILED, A.START_BASELINE): S.RUNNING_BASELINE,
    (S.RUNNING_BASELINE, A.BASELINE_SUCCEEDED): S.BASELINE_COMPLETE,
    (S.RUNNING_BASELINE, A.BASELINE_FAILED): S.BASELINE_FAILED,
    (S.BASELINE_COMPLETE, A.START_VARIANT): S.RUNNING_VARIANT,
    (S.IDLE, A.START_VARIANT): S.RUNNING_VARIANT,
    (S.RUNNING_VARIANT, A.VARIANT_FINISHED): S.IDLE,
    (S.BASELINE_COMPLETE, A.COMPLETE): S.COMPLETED,
    (S.IDLE, A.COMPLETE): S.COMPLETED,
    **{
        (status, A.ARCHIVE): S.ARCHIVED
        for status in S
        if status not in (S.ARCHIVED, S.RUNNING_BASELINE, S.RUNNING_VARIANT)
    },
}


@pytest.mark.parametrize(("move", "target"), ALLOWED.items())
def test_allowed_moves(move: tuple[LlmStatus, LlmAction], target: LlmStatus) -> None:
    assert next_status(*move) is target


REFUSED = [m for m in itertools.product(S, A) if m not in ALLOWED]


@pytest.mark.parametrize("move", REFUSED)
def test_every_other_move_is_refused_saying_what_is_allowed(
    move: tuple[LlmStatus, LlmAction],
) -> None:
    status, action = move
    with pytest.raises(InvalidTransition) as caught:
        next_status(status, action)
    error = caught.value
    assert f"cannot {action.value}" in error.message
    assert status.value in error.message
    allowed = [a.value for a in A if (status, a) in ALLOWED]
    assert error.details["allowed_actions"] == allowed
    for each in allowed:
        assert each in error.message


def test_the_task_set_is_locked_once_the_baseline_has_started() -> None:
    assert [s for s in S if not scope_locked(s)] == [S.DRAFT, S.BASELINE_PENDING]
    for status in (S.RUNNING_BASELINE, S.BASELINE_COMPLETE, S.BASELINE_FAILED, S.IDLE):
        assert scope_locked(status)
        with pytest.raises(InvalidTransition, match="cannot select_tasks"):
            next_status(status, A.SELECT_TASKS)


def test_variants_wait_for_a_complete_baseline_and_run_one_at_a_time() -> None:
    for status in (S.DRAFT, S.BASELINE_PENDING, S.RUNNING_BASELINE, S.BASELINE_FAILED):
        with pytest.raises(InvalidTransition, match="cannot start_variant"):
            next_status(status, A.START_VARIANT)
    with pytest.raises(InvalidTransition, match=r"running_variant \(allowed: variant_finished"):
        next_status(S.RUNNING_VARIANT, A.START_VARIANT)
    with pytest.raises(InvalidTransition, match="cannot complete"):
        next_status(S.RUNNING_VARIANT, A.COMPLETE)


def test_archived_is_final() -> None:
    assert allowed_actions(S.ARCHIVED) == ()
    with pytest.raises(InvalidTransition, match="no action is allowed"):
        next_status(S.ARCHIVED, A.ARCHIVE)


def test_a_whole_experiment_with_a_failed_baseline_retried() -> None:
    status = S.DRAFT
    for action in (
        A.SELECT_TASKS,
        A.SELECT_TASKS,
        A.START_BASELINE,
        A.BASELINE_FAILED,
        A.START_BASELINE,
        A.BASELINE_SUCCEEDED,
        A.START_VARIANT,
        A.VARIANT_FINISHED,
        A.START_VARIANT,
        A.VARIANT_FINISHED,
        A.COMPLETE,
        A.ARCHIVE,
    ):
        status = next_status(status, action)
    assert status is S.ARCHIVED
