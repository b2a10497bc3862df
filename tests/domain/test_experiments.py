from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ablab.domain.experiments import (
    Experiment,
    Variant,
    apply_action,
    split_weights,
    validate_settings,
    validate_variants,
    with_traffic_split,
    with_variant_added,
    with_weights,
)
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.errors import InvalidTransition, ValidationError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def experiment(
    *variants: Variant, status: ExperimentStatus = ExperimentStatus.RUNNING
) -> Experiment:
    return Experiment(
        id="exp_1",
        project_id="prj_1",
        name="trial",
        status=status,
        salt="exp_1",
        created_at=NOW,
        updated_at=NOW,
        variants=variants
        or (Variant("control", 50, "1.0.0", is_control=True), Variant("treatment", 50, "2.0.0")),
        model="radiology-v1",
    )


@pytest.mark.parametrize(
    ("split", "treatments", "expected"),
    [
        (50, 1, (50.0, 50.0)),
        (80, 1, (20.0, 80.0)),
        (0, 1, (100.0, 0.0)),
        (100, 1, (0.0, 100.0)),
        (50, 2, (50.0, 25.0, 25.0)),
        (90, 3, (10.0, 30.0, 30.0, 30.0)),
    ],
)
def test_split_weights(split: float, treatments: int, expected: tuple[float, ...]) -> None:
    assert split_weights(split, treatments) == pytest.approx(expected)


@pytest.mark.parametrize("split", [-1, 100.5, float("nan"), float("inf")])
def test_split_outside_0_100_is_refused(split: float) -> None:
    with pytest.raises(ValidationError, match="between 0 and 100"):
        split_weights(split, 1)


def test_weights_must_sum_to_100() -> None:
    variants = [Variant("control", 50, is_control=True), Variant("treatment", 49)]
    with pytest.raises(ValidationError, match="sum to 100, got 99"):
        validate_variants(variants)


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([Variant("control", 100, is_control=True)], "at least one treatment"),
        ([Variant("a", 50), Variant("b", 50)], "a control and at least one treatment"),
        ([Variant("a", 50, is_control=True), Variant("a", 50)], "unique, repeated: a"),
        ([Variant("a", 50, is_control=True), Variant("b", 50, is_control=True)], "one control"),
        ([Variant("a", 150, is_control=True), Variant("b", -50)], "between 0 and 100"),
        ([Variant("a=b", 50, is_control=True), Variant("b", 50)], "invalid variant name"),
        ([Variant(" lead", 50, is_control=True), Variant("b", 50)], "invalid variant name"),
        (
            [Variant("a", 33.3, is_control=True), Variant("b", 33.3), Variant("c", 33.3)],
            "must sum to 100, got 99.9",
        ),
    ],
)
def test_invalid_variant_lists(variants: list[Variant], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_variants(variants)


def test_three_way_split_with_float_rounding_is_accepted() -> None:
    third = 100 / 3
    validate_variants(
        [Variant("a", third, is_control=True), Variant("b", third), Variant("c", third)]
    )


def test_weights_rounded_to_two_decimals_and_display_names_are_accepted() -> None:
    """Seed 004's console sends fractions with four decimals and names people read."""
    validate_variants(
        [
            Variant("Control", 33.33, is_control=True),
            Variant("Variant B", 33.33),
            Variant("v2 (distilled)", 33.33),
        ]
    )


def test_launch_sets_start_and_promote_names_the_only_treatment() -> None:
    draft = experiment(status=ExperimentStatus.DRAFT)
    running = apply_action(draft, Action.LAUNCH, NOW)
    assert running.status is ExperimentStatus.RUNNING
    assert running.started_at == NOW
    promoted = apply_action(running, Action.PROMOTE, NOW)
    assert promoted.winner == "treatment"
    assert promoted.ended_at == NOW


def test_promote_with_several_treatments_needs_a_variant() -> None:
    exp = experiment(Variant("control", 50, is_control=True), Variant("t1", 25), Variant("t2", 25))
    with pytest.raises(ValidationError, match="name the variant to promote"):
        apply_action(exp, Action.PROMOTE, NOW)
    with pytest.raises(ValidationError, match="is the control"):
        apply_action(exp, Action.PROMOTE, NOW, winner="control")
    with pytest.raises(ValidationError, match="no variant 't3'"):
        apply_action(exp, Action.PROMOTE, NOW, winner="t3")
    assert apply_action(exp, Action.PROMOTE, NOW, winner="t2").winner == "t2"


def test_launching_an_incomplete_draft_is_refused() -> None:
    draft = replace(experiment(status=ExperimentStatus.DRAFT), variants=())
    with pytest.raises(ValidationError, match="a control and at least one treatment"):
        apply_action(draft, Action.LAUNCH, NOW)


def test_traffic_split_shares_treatments_equally() -> None:
    exp = experiment(Variant("control", 50, is_control=True), Variant("t1", 25), Variant("t2", 25))
    updated = with_traffic_split(exp, 80, NOW)
    assert [v.weight for v in updated.variants] == pytest.approx([20, 40, 40])
    assert updated.traffic_split == pytest.approx(80)


def test_weights_update_checks_names_and_sum() -> None:
    exp = experiment()
    assert with_weights(exp, {"control": 10, "treatment": 90}, NOW).traffic_split == 90
    with pytest.raises(ValidationError, match="unknown variants: nope"):
        with_weights(exp, {"nope": 10}, NOW)
    with pytest.raises(ValidationError, match="sum to 100"):
        with_weights(exp, {"control": 10}, NOW)


@pytest.mark.parametrize(
    "status", [ExperimentStatus.STOPPED, ExperimentStatus.PROMOTED, ExperimentStatus.ARCHIVED]
)
def test_split_of_an_ended_experiment_cannot_change(status: ExperimentStatus) -> None:
    with pytest.raises(InvalidTransition, match=f"that is {status.value}"):
        with_traffic_split(experiment(status=status), 80, NOW)


def test_variants_are_added_to_drafts_only_and_the_first_is_control() -> None:
    draft = replace(experiment(status=ExperimentStatus.DRAFT), variants=())
    draft = with_variant_added(draft, Variant("A", 50), NOW)
    draft = with_variant_added(draft, Variant("B", 50), NOW)
    assert draft.control.name == "A"
    assert [v.name for v in draft.treatments] == ["B"]
    with pytest.raises(ValidationError, match="unique"):
        with_variant_added(draft, Variant("B", 0), NOW)
    with pytest.raises(InvalidTransition, match="variants are fixed at launch"):
        with_variant_added(experiment(), Variant("C", 0), NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "has space"}, "invalid experiment name"),
        ({"coverage": 0}, "coverage must be in"),
        ({"coverage": 101}, "coverage must be in"),
        ({"alpha": 1.0}, "alpha must be in"),
        ({"power": 0}, "power must be in"),
        ({"mde": -0.1}, "mde must be in"),
        ({"min_samples": -1}, "min samples"),
        ({"max_duration_days": 0}, "max duration"),
        ({"primary_metric": "Bad-Metric"}, "invalid metric name"),
        ({"secondary_metrics": ("accuracy",)}, "primary metric"),
    ],
)
def test_settings_out_of_range(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_settings(replace(experiment(), **changes))  # type: ignore[arg-type]
