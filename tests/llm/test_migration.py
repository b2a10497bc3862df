"""Migrations 0011 (the winner of an LLM experiment) and 0014 (what a run spent) on a store
with data in it: the runs stay (a batch copy on SQLite would have cascaded to them),
experiments completed before 0011 named no winner, runs before 0014 reported nothing, and
each goes down again."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, text

from ablab.store.metadata import SqlMetadataStore
from ablab.store.metadata.migrate import alembic_config

AT = datetime(2027, 2, 20, 8, 0, tzinfo=UTC)


def _runs(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM llm_runs")).scalar_one())


def test_0011_keeps_the_runs_and_names_no_winner_for_the_past(empty_database: Engine) -> None:
    command.upgrade(alembic_config(empty_database), "0010")
    with empty_database.begin() as connection:
        connection.execute(
            text("INSERT INTO projects (id, name, created_at) VALUES ('prj_1', 'p', :at)"),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO llm_experiments (id, project_id, name, status, description, steps, "
                "task_ids, baseline, variants, trials, concurrency, created_at, updated_at, "
                "revision) VALUES ('lle_done', 'prj_1', 'done', 'completed', '', '[\"writer\"]', "
                "'[\"llt_1\"]', '{}', '[]', 1, 8, :at, :at, 3)"
            ),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO llm_runs (test_id, project_id, experiment_id, variant_id, task_id, "
                "trial, state, verdicts, attempts, created_at) VALUES ('llr_1', 'prj_1', "
                "'lle_done', 'baseline', 'llt_1', 0, 'passed', '[]', 1, :at)"
            ),
            {"at": AT},
        )
    command.upgrade(alembic_config(empty_database), "0011")
    assert _runs(empty_database) == 1
    with SqlMetadataStore(empty_database).session() as session:
        done = session.get_llm_experiment("prj_1", "lle_done")
    assert done is not None
    assert (done.status.value, done.winner, done.winner_forced) == ("completed", None, False)
    command.downgrade(alembic_config(empty_database), "0010")
    assert _runs(empty_database) == 1
    command.upgrade(alembic_config(empty_database), "0011")
    assert _runs(empty_database) == 1


def test_0014_keeps_the_runs_and_reports_nothing_for_the_past(empty_database: Engine) -> None:
    command.upgrade(alembic_config(empty_database), "0013")
    with empty_database.begin() as connection:
        connection.execute(
            text("INSERT INTO projects (id, name, created_at) VALUES ('prj_1', 'p', :at)"),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO llm_experiments (id, project_id, name, status, description, steps, "
                "task_ids, baseline, variants, trials, concurrency, created_at, updated_at, "
                "revision) VALUES ('lle_old', 'prj_1', 'old', 'idle', '', '[\"writer\"]', "
                "'[\"llt_1\"]', '{}', '[]', 1, 8, :at, :at, 3)"
            ),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO llm_runs (test_id, project_id, experiment_id, variant_id, task_id, "
                "trial, state, verdicts, attempts, latency_ms, created_at) VALUES ('llr_1', "
                "'prj_1', 'lle_old', 'baseline', 'llt_1', 0, 'passed', '[]', 1, 12.5, :at)"
            ),
            {"at": AT},
        )
    command.upgrade(alembic_config(empty_database), "0014")
    with SqlMetadataStore(empty_database).session() as session:
        run = session.get_llm_run("llr_1")
    assert run is not None
    assert (run.latency_ms, run.reported_latency_ms, run.total_tokens, run.cost_usd) == (
        12.5, None, None, None
    )  # fmt: skip
    command.downgrade(alembic_config(empty_database), "0013")
    assert _runs(empty_database) == 1
