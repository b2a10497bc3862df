"""Migration 0011 (the winner of an LLM experiment) on a store with data in it: the runs
stay (a batch copy of llm_experiments on SQLite would have cascaded to them), experiments
completed before it named no winner, and it goes down again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import Engine, text

from ablab.store.metadata import SqlMetadataStore, metadata_url, open_metadata_store
from ablab.store.metadata.migrate import alembic_config

AT = datetime(2027, 2, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database without any table (foreign keys on, as the store has them)."""
    if request.param == "sqlite":
        store = open_metadata_store(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
        yield store.engine
        store.close()
        return
    base, _, _ = request.getfixturevalue("postgres_url").rpartition("/")
    name = f"ablab_llm_migration_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    store = open_metadata_store(metadata_url(tmp_path, f"{base}/{name}"), migrate=False)
    yield store.engine
    store.close()
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _runs(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM llm_runs")).scalar_one())


def test_0011_keeps_the_runs_and_names_no_winner_for_the_past(database: Engine) -> None:
    command.upgrade(alembic_config(database), "0010")
    with database.begin() as connection:
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
    command.upgrade(alembic_config(database), "0011")
    assert _runs(database) == 1
    with SqlMetadataStore(database).session() as session:
        done = session.get_llm_experiment("prj_1", "lle_done")
    assert done is not None
    assert (done.status.value, done.winner, done.winner_forced) == ("completed", None, False)
    command.downgrade(alembic_config(database), "0010")
    assert _runs(database) == 1
    command.upgrade(alembic_config(database), "0011")
    assert _runs(database) == 1
