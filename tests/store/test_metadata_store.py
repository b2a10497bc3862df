"""The metadata store on SQLite and PostgreSQL: the same tests on both engines."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import Experiment, Variant
from ablab.domain.groups import DeviceGroup
from ablab.domain.guardrails import parse_guardrail
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.models import BackendKind, Model, ModelVersion
from ablab.errors import Conflict
from ablab.services.context import Context
from ablab.store.metadata import SqlMetadataStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def make_experiment(ctx: Context, name: str = "trial", **changes: object) -> Experiment:
    experiment = Experiment(
        id=f"exp_{name}",
        project_id=ctx.project_id,
        name=name,
        status=ExperimentStatus.RUNNING,
        salt=f"exp_{name}",
        created_at=NOW,
        updated_at=NOW,
        variants=(
            Variant("control", 50, "1.0.0", {"threshold": 0.5}, is_control=True),
            Variant("treatment", 50, "2.0.0"),
        ),
        model="radiology-v1",
        guardrails=(parse_guardrail("error_rate<=0.01"),),
        secondary_metrics=("latency_ms",),
        started_at=NOW,
    )
    return replace(experiment, **changes)  # type: ignore[arg-type]


def test_experiment_round_trip(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    experiment = make_experiment(ctx)
    with metadata_store.session() as session:
        session.add_experiment(experiment)
    with metadata_store.session() as session:
        by_id = session.get_experiment(ctx.project_id, experiment.id)
        by_name = session.get_experiment(ctx.project_id, "trial")
    assert by_id == experiment
    assert by_name == experiment
    assert by_id is not None
    assert by_id.created_at.tzinfo is not None


def test_duplicate_experiment_name_is_a_conflict(
    ctx: Context, metadata_store: SqlMetadataStore
) -> None:
    with metadata_store.session() as session:
        session.add_experiment(make_experiment(ctx))
    with pytest.raises(Conflict, match="already exists"), metadata_store.session() as session:
        session.add_experiment(make_experiment(ctx, id="exp_other", salt="x"))


def test_stale_write_raises_conflict_instead_of_overwriting(
    ctx: Context, metadata_store: SqlMetadataStore
) -> None:
    with metadata_store.session() as session:
        session.add_experiment(make_experiment(ctx))
        original = session.get_experiment(ctx.project_id, "trial")
    assert original is not None
    with metadata_store.session() as session:
        first = session.update_experiment(replace(original, hypothesis="first writer"))
    assert first.version == original.version + 1
    stale = replace(original, hypothesis="second writer")
    with pytest.raises(Conflict, match="changed by someone else"), metadata_store.session() as s:
        s.update_experiment(stale)
    with metadata_store.session() as session:
        stored = session.get_experiment(ctx.project_id, "trial")
    assert stored is not None
    assert stored.hypothesis == "first writer"


def test_failed_transaction_writes_nothing(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    def add_then_fail() -> None:
        with metadata_store.session() as session:
            session.add_experiment(make_experiment(ctx))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        add_then_fail()
    with metadata_store.session() as session:
        assert session.get_experiment(ctx.project_id, "trial") is None


def test_list_experiments_filters_by_status_newest_first(
    ctx: Context, metadata_store: SqlMetadataStore
) -> None:
    with metadata_store.session() as session:
        session.add_experiment(make_experiment(ctx, "old"))
        session.add_experiment(make_experiment(ctx, "new", created_at=NOW + timedelta(hours=1)))
        session.add_experiment(
            make_experiment(ctx, "draft", status=ExperimentStatus.DRAFT, started_at=None)
        )
    with metadata_store.session() as session:
        running = session.list_experiments(ctx.project_id, ExperimentStatus.RUNNING)
        everything = session.list_experiments(ctx.project_id)
        other_project = session.list_experiments("prj_other")
    assert [e.name for e in running] == ["new", "old"]
    assert len(everything) == 3
    assert other_project == []


def test_assignments_keep_the_first_variant(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    with metadata_store.session() as session:
        session.add_experiment(make_experiment(ctx))
    with metadata_store.session() as session:
        held = session.add_assignments("exp_trial", {"u1": "control", "u2": "treatment"}, NOW)
    assert held == {"u1": "control", "u2": "treatment"}
    with metadata_store.session() as session:
        # A racing writer that computed another variant gets the stored one back.
        again = session.add_assignments("exp_trial", {"u1": "treatment", "u3": "control"}, NOW)
        counts = session.count_assignments("exp_trial")
    assert again == {"u1": "control", "u3": "control"}
    assert counts == {"control": 2, "treatment": 1}


def test_many_assignments_in_chunks(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    with metadata_store.session() as session:
        session.add_experiment(make_experiment(ctx))
    units = {f"u{i}": ("control" if i % 3 else "treatment") for i in range(25_000)}
    with metadata_store.session() as session:
        assert session.add_assignments("exp_trial", units, NOW) == units
    with metadata_store.session() as session:
        assert session.get_assignments("exp_trial", list(units)) == units


def test_models_versions_and_groups(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    model = Model("mdl_1", ctx.project_id, "radiology-v1", NOW, "chest X-rays")
    version = ModelVersion("mdv_1", "mdl_1", "1.0.0", BackendKind.ENDPOINT, "http://m/1", NOW)
    rule = DeviceGroup("grp_1", ctx.project_id, "eu", NOW, condition={"region": "eu"})
    listed = DeviceGroup("grp_2", ctx.project_id, "staff", NOW, members=frozenset({"a", "b"}))
    with metadata_store.session() as session:
        session.add_model(model)
        session.add_model_version(version)
        session.add_group(rule)
        session.add_group(listed)
    with metadata_store.session() as session:
        assert session.get_model(ctx.project_id, "radiology-v1") == model
        assert session.get_model_version("mdl_1", "1.0.0") == version
        assert session.get_model_version("mdl_1", "9.9.9") is None
        assert session.list_groups(ctx.project_id) == [rule, listed]
    with pytest.raises(Conflict), metadata_store.session() as session:
        session.add_model_version(replace(version, id="mdv_2"))


def test_audit_log_newest_first(ctx: Context, metadata_store: SqlMetadataStore) -> None:
    with metadata_store.session() as session:
        for i in range(3):
            session.add_audit(
                AuditEntry(
                    ctx.project_id,
                    "test:alice",
                    f"action{i}",
                    "experiment",
                    "exp_1",
                    NOW + timedelta(seconds=i),
                    before={"i": i - 1},
                    after={"i": i},
                )
            )
        session.add_audit(AuditEntry(ctx.project_id, "test:bob", "create", "model", "mdl_1", NOW))
    with metadata_store.session() as session:
        entries = session.list_audit(ctx.project_id, object_id="exp_1")
        everything = session.list_audit(ctx.project_id, limit=2)
    assert [e.action for e in entries] == ["action2", "action1", "action0"]
    assert entries[0].after == {"i": 2}
    assert [e.actor for e in everything] == ["test:bob", "test:alice"]
