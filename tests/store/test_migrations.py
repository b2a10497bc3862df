"""Alembic migrations: the recorded head is the real head, and the schema matches the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from ablab.services.llm.runs import recover_interrupted
from ablab.store.metadata import SqlMetadataStore, open_metadata_store
from ablab.store.metadata.migrate import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    head_revision,
    is_metadata_object,
    upgrade_to_head,
)
from ablab.store.metadata.tables import Base


def test_recorded_head_is_the_scripts_head() -> None:
    assert head_revision() == HEAD_REVISION


def test_migrated_schema_matches_the_tables(metadata_store: SqlMetadataStore) -> None:
    with metadata_store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": is_metadata_object}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert current_revision(metadata_store.engine) == HEAD_REVISION


def test_store_file_is_created_on_first_use_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "ablab.db"
    store = open_metadata_store(f"sqlite:///{path}")
    store.close()
    assert path.is_file()
    reopened = open_metadata_store(f"sqlite:///{path}")
    assert current_revision(reopened.engine) == HEAD_REVISION
    with reopened.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    reopened.close()
    assert mode == "wal"


def test_event_tables_in_the_same_database_are_not_alembics(
    metadata_store: SqlMetadataStore,
) -> None:
    """The event tables may share PostgreSQL with the metadata: migrations leave them be."""
    with metadata_store.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE someone_elses_events (event_id TEXT)")
    try:
        with metadata_store.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": is_metadata_object}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        with metadata_store.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE someone_elses_events")


def test_0007_keeps_the_first_of_two_rollouts_in_progress(empty_database: Engine) -> None:
    """A store where the race already happened upgrades: the later rollout is rolled back."""
    command.upgrade(alembic_config(empty_database), "0006")
    rows = [
        ("ro_first", "m", "running", 1),
        ("ro_second", "m", "paused", 2),
        ("ro_third", "m", "running", 3),
        ("ro_alone", "other", "running", 1),
        ("ro_old", "m", "completed", 0),
    ]
    with empty_database.begin() as connection:
        connection.execute(
            text("INSERT INTO projects (id, name, created_at) VALUES ('prj_1', 'p', :at)"),
            {"at": datetime(2027, 1, 1, tzinfo=UTC)},
        )
        for rollout_id, model, status, minute in rows:
            connection.execute(
                text(
                    "INSERT INTO rollouts (id, project_id, model, version, previous_version, "
                    "status, steps, step, step_started_at, created_at, updated_at, guardrails, "
                    "min_step_minutes, min_step_units, reason, revision) VALUES (:id, 'prj_1', "
                    ":model, '2', '1', :status, '[10, 100]', 0, :at, :at, :at, '[]', 60, 100, "
                    "'promoted', 1)"
                ),
                {
                    "id": rollout_id,
                    "model": model,
                    "status": status,
                    "at": datetime(2027, 1, 1, 12, minute, tzinfo=UTC),
                },
            )
    upgrade_to_head(empty_database)
    store = SqlMetadataStore(empty_database)
    with store.session() as session:
        stored = {r.id: r for r in session.list_rollouts("prj_1")}
        audit = session.list_audit("prj_1")
    assert {i: r.status.value for i, r in stored.items()} == {
        "ro_first": "running",
        "ro_second": "rolled_back",
        "ro_third": "rolled_back",
        "ro_alone": "running",
        "ro_old": "completed",
    }
    assert stored["ro_second"].reason == (
        "rolled back by migration 0007: rollout ro_first of m started first"
    )
    assert stored["ro_second"].revision == 2
    assert sorted((e.object_id, e.action, e.actor) for e in audit) == [
        ("ro_second", "rollback", "ablab:migration"),
        ("ro_third", "rollback", "ablab:migration"),
    ]
    assert current_revision(empty_database) == HEAD_REVISION


def test_0008_a_run_from_before_leases_is_ended_by_the_first_recovery(
    empty_database: Engine,
) -> None:
    """A run recorded by a server from before leases has no owner: it counts as expired,
    as every running run did at a start-up before."""
    command.upgrade(alembic_config(empty_database), "0007")
    at = datetime(2027, 1, 20, 8, 0, tzinfo=UTC)
    with empty_database.begin() as connection:
        connection.execute(
            text("INSERT INTO projects (id, name, created_at) VALUES ('prj_1', 'p', :at)"),
            {"at": at},
        )
        connection.execute(
            text(
                "INSERT INTO llm_experiments (id, project_id, name, status, description, steps, "
                "task_ids, baseline, variants, trials, concurrency, running, created_at, "
                "updated_at, revision) VALUES ('lle_old', 'prj_1', 'old', 'running_baseline', "
                "'', '[\"writer\"]', '[\"llt_1\"]', '{}', '[]', 1, 8, 'baseline', :at, :at, 2)"
            ),
            {"at": at},
        )
        connection.execute(
            text(
                "INSERT INTO llm_runs (test_id, project_id, experiment_id, variant_id, task_id, "
                "trial, state, verdicts, attempts, created_at) VALUES ('llr_1', 'prj_1', "
                "'lle_old', 'baseline', 'llt_1', 0, 'pending', '[]', 0, :at)"
            ),
            {"at": at},
        )
    upgrade_to_head(empty_database)
    store = SqlMetadataStore(empty_database)
    with store.session() as session:
        before = session.get_llm_experiment("prj_1", "lle_old")
    assert before is not None
    assert (before.running, before.run_owner, before.lease_expires_at) == ("baseline", None, None)
    assert recover_interrupted(store, clock=lambda: at) == ["lle_old"]
    with store.session() as session:
        after = session.get_llm_experiment("prj_1", "lle_old")
        (run,) = session.list_llm_runs("lle_old")
    assert after is not None
    assert (after.status.value, after.running) == ("baseline_failed", None)
    assert run.state.value == "error"
