"""The lifecycle use cases."""

from __future__ import annotations

import pytest

from ablab.contract.experiments import ExperimentCreate, ExperimentUpdate, VariantCreate
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.errors import Conflict, InvalidTransition, NotFound, ValidationError
from ablab.services.access.audit import list_audit
from ablab.services.context import Context
from ablab.services.experiments.lifecycle import (
    add_variant,
    create_experiment,
    get_experiment,
    list_experiments,
    transition,
    update_experiment,
)


def seed_000(**fields: object) -> ExperimentCreate:
    """The body of seed 000's cURL example, with ``fields`` changed."""
    body: dict[str, object] = {
        "name": "my-experiment",
        "model_id": "radiology-v1",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
        "traffic_split": 50,
        **fields,
    }
    return ExperimentCreate.model_validate(body)


def test_create_runs_at_once_with_seed_000_defaults(ctx: Context, model: str) -> None:
    experiment = create_experiment(ctx, seed_000())
    assert experiment.status is ExperimentStatus.RUNNING
    assert experiment.id.startswith("exp_")
    assert experiment.salt == experiment.id
    assert [(v.name, v.model_version, v.weight) for v in experiment.variants] == [
        ("control", "1.0.0", 50.0),
        ("treatment", "2.0.0", 50.0),
    ]
    assert experiment.primary_metric == "accuracy"
    assert experiment.min_samples == 100
    assert experiment.auto_promote is False
    assert experiment.started_at is not None
    assert get_experiment(ctx, "my-experiment") == experiment
    assert get_experiment(ctx, experiment.id) == experiment


def test_create_abn_and_draft(ctx: Context, model: str) -> None:
    experiment = create_experiment(
        ctx,
        seed_000(
            treatment_version=None,
            treatment_versions=["2.0.0", "3.0.0"],
            traffic_split=60,
            draft=True,
        ),
    )
    assert experiment.status is ExperimentStatus.DRAFT
    assert [(v.name, v.weight) for v in experiment.variants] == [
        ("control", 40.0),
        ("treatment_1", 30.0),
        ("treatment_2", 30.0),
    ]
    launched = transition(ctx, experiment.name, Action.LAUNCH)
    assert launched.status is ExperimentStatus.RUNNING


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"model_id": "unknown-model"}, NotFound, "unknown model 'unknown-model'"),
        ({"treatment_version": "9.9.9"}, NotFound, "no version '9.9.9'"),
        ({"group": "nobody"}, NotFound, "unknown device group 'nobody'"),
        ({"traffic_split": 120}, ValidationError, "between 0 and 100"),
        ({"traffic_split": -5}, ValidationError, "between 0 and 100"),
        ({"name": "bad name!"}, ValidationError, "invalid experiment name"),
        ({"primary_metric": "Not A Metric"}, ValidationError, "invalid metric name"),
        ({"primary_metric": "latency_p95_ms"}, ValidationError, "reported and guarded but not"),
        ({"secondary_metrics": ["revenue"]}, NotFound, "unknown metric 'revenue'"),
        ({"guardrails": ["error_rte<=0.01"]}, NotFound, "unknown metric 'error_rte'"),
        ({"guardrails": ["latency_ms<=-100%"]}, ValidationError, "above -100%"),
        ({"cuped_lookback_days": 0}, ValidationError, "lookback must be 1 to 365"),
        ({"guardrails": ["error_rate<"]}, ValidationError, "invalid guardrail"),
        ({"control_version": None}, ValidationError, "control version"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    ctx: Context, model: str, fields: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        create_experiment(ctx, seed_000(**fields))
    assert list_experiments(ctx) == []
    assert all(e.object_type == "model" for e in list_audit(ctx))


def test_weights_not_summing_to_100_are_refused(ctx: Context, model: str) -> None:
    spec = ExperimentCreate(
        name="weights",
        model_id=model,
        variants=[
            VariantCreate(name="control", model_version="1.0.0", weight=60),
            VariantCreate(name="treatment", model_version="2.0.0", weight=30),
        ],
    )
    with pytest.raises(ValidationError, match="sum to 100, got 90"):
        create_experiment(ctx, spec)
    assert list_experiments(ctx) == []


def test_duplicate_name_is_a_conflict(ctx: Context, model: str) -> None:
    create_experiment(ctx, seed_000())
    with pytest.raises(Conflict, match="already exists"):
        create_experiment(ctx, seed_000())
    assert len(list_experiments(ctx)) == 1


def test_update_split_pause_resume_promote_archive(ctx: Context, model: str) -> None:
    created = create_experiment(ctx, seed_000())
    updated = update_experiment(ctx, "my-experiment", ExperimentUpdate(traffic_split=80))
    assert [v.weight for v in updated.variants] == [20.0, 80.0]
    assert updated.version == created.version + 1
    assert transition(ctx, "my-experiment", Action.PAUSE).status is ExperimentStatus.PAUSED
    with pytest.raises(InvalidTransition, match="cannot pause an experiment that is paused"):
        transition(ctx, "my-experiment", Action.PAUSE)
    assert transition(ctx, "my-experiment", Action.RESUME).status is ExperimentStatus.RUNNING
    promoted = transition(ctx, "my-experiment", Action.PROMOTE)
    assert promoted.winner == "treatment"
    with pytest.raises(InvalidTransition, match=r"allowed: archive"):
        transition(ctx, "my-experiment", Action.RESUME)
    assert transition(ctx, "my-experiment", Action.ARCHIVE).status is ExperimentStatus.ARCHIVED


def test_stale_expected_version_is_a_conflict(ctx: Context, model: str) -> None:
    created = create_experiment(ctx, seed_000())
    update_experiment(ctx, created.id, ExperimentUpdate(traffic_split=70))
    with pytest.raises(Conflict, match="read it again"):
        update_experiment(
            ctx, created.id, ExperimentUpdate(traffic_split=10, expected_version=created.version)
        )
    assert [v.weight for v in get_experiment(ctx, created.id).variants] == [30.0, 70.0]


def test_every_change_is_audited_with_before_and_after(ctx: Context, model: str) -> None:
    created = create_experiment(ctx, seed_000())
    update_experiment(ctx, created.id, ExperimentUpdate(traffic_split=80))
    transition(ctx, created.id, Action.PAUSE)
    entries = list_audit(ctx, object_id=created.id)
    assert [e.action for e in entries] == ["pause", "update", "create"]
    assert all(e.actor == "test:alice" for e in entries)
    pause, update, create = entries
    assert create.before is None
    assert create.after is not None
    assert create.after["status"] == "running"
    assert update.before is not None
    assert update.after is not None
    assert update.before["traffic_split"] == 50
    assert update.after["traffic_split"] == 80
    assert pause.before is not None
    assert pause.after is not None
    assert (pause.before["status"], pause.after["status"]) == ("running", "paused")


def test_admin_style_draft_built_variant_by_variant(ctx: Context) -> None:
    draft = create_experiment(
        ctx, ExperimentCreate(name="checkout", hypothesis="B converts better", draft=True)
    )
    assert draft.variants == ()
    with pytest.raises(ValidationError, match="a control and at least one treatment"):
        transition(ctx, "checkout", Action.LAUNCH)
    add_variant(ctx, "checkout", VariantCreate(name="A", weight=50))
    add_variant(ctx, "checkout", VariantCreate(name="B", weight=50))
    launched = transition(ctx, "checkout", Action.LAUNCH)
    assert launched.control.name == "A"
    with pytest.raises(InvalidTransition, match="variants are fixed at launch"):
        add_variant(ctx, "checkout", VariantCreate(name="C", weight=0))


def test_unknown_experiment(ctx: Context) -> None:
    with pytest.raises(NotFound, match="unknown experiment 'ghost'"):
        transition(ctx, "ghost", Action.STOP)


def test_update_other_settings_and_weights(ctx: Context, model: str) -> None:
    created = create_experiment(ctx, seed_000())
    updated = update_experiment(
        ctx,
        created.id,
        ExperimentUpdate(
            hypothesis="2.0.0 is better on night shifts",
            min_samples=500,
            guardrails=["error_rate<=0.02"],
            auto_promote=True,
            weights={"control": 70, "treatment": 30},
        ),
    )
    assert updated.hypothesis == "2.0.0 is better on night shifts"
    assert updated.min_samples == 500
    assert [str(g) for g in updated.guardrails] == ["error_rate<=0.02"]
    assert updated.auto_promote is True
    assert updated.traffic_split == 30
    unchanged = update_experiment(ctx, created.id, ExperimentUpdate(min_samples=500))
    assert unchanged.version == updated.version  # nothing changed, nothing written
    with pytest.raises(ValidationError, match="not both"):
        update_experiment(
            ctx, created.id, ExperimentUpdate(traffic_split=50, weights={"control": 50})
        )
    with pytest.raises(ValidationError, match="min samples"):
        update_experiment(ctx, created.id, ExperimentUpdate(min_samples=-1))
