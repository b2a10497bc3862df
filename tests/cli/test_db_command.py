"""``ablab db upgrade`` on the embedded store and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ablab.store.metadata import open_metadata_store
from ablab.store.metadata.migrate import alembic_config, current_revision, head_revision
from ablab.store.metadata.tables import Base
from tests.cli.conftest import Run
from tests.conftest import scratch_postgres_database


def _upgrade(run: Run) -> dict[str, object]:
    result = run("db", "upgrade", "--output", "json")
    assert result.code == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def _tables(url: str) -> set[str]:
    store = open_metadata_store(url, migrate=False)
    try:
        return set(inspect(store.engine).get_table_names())
    finally:
        store.close()


def test_a_new_home_gets_the_whole_schema_then_nothing_to_do(run: Run, home: Path) -> None:
    head = head_revision()
    assert head is not None
    assert _upgrade(run) == {"from_revision": None, "to_revision": head, "upgraded": True}
    assert set(Base.metadata.tables) <= _tables(f"sqlite:///{home / 'ablab.db'}")

    assert _upgrade(run) == {"from_revision": head, "to_revision": head, "upgraded": False}
    again = run("db", "upgrade")
    assert again.code == 0
    assert f"already at revision {head}" in again.stdout


def test_an_older_store_is_upgraded_from_its_revision(run: Run, home: Path) -> None:
    head = head_revision()
    assert head is not None
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    store = open_metadata_store(f"sqlite:///{home / 'ablab.db'}", migrate=False)
    try:
        command.upgrade(alembic_config(store.engine), previous)
        assert current_revision(store.engine) == previous
    finally:
        store.close()

    result = run("db", "upgrade")
    assert result.code == 0, result.stderr
    assert f"upgraded from revision {previous} to {head}" in result.stdout
    assert _upgrade(run)["from_revision"] == head


def test_the_global_home_option_names_the_store(run: Run, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    result = run("--home", str(other), "db", "upgrade")
    assert result.code == 0, result.stderr
    assert "created at revision" in result.stdout
    assert (other / "ablab.db").exists()


@pytest.mark.postgres
def test_postgres_from_the_database_url(
    run: Run, home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_postgres_database(postgres_url, "ablab_db_upgrade") as url:
        monkeypatch.setenv("ABLAB_DATABASE_URL", url)
        head = head_revision()
        assert _upgrade(run) == {"from_revision": None, "to_revision": head, "upgraded": True}
        assert _upgrade(run) == {"from_revision": head, "to_revision": head, "upgraded": False}
    assert not (home / "ablab.db").exists()


def test_a_server_url_is_refused_in_one_line(run: Run, home: Path) -> None:
    result = run("--url", "http://127.0.0.1:9", "db", "upgrade")
    assert result.code == 2
    assert result.stderr.count("\n") == 1
    assert "without --url" in result.stderr
    assert not home.exists()


def test_an_unsupported_database_is_refused_in_one_line(
    run: Run, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABLAB_DATABASE_URL", "mysql://db.example/ablab")
    result = run("db", "upgrade")
    assert result.code == 2
    assert result.stderr.startswith("error: unsupported metadata database 'mysql'")
    assert result.stderr.count("\n") == 1
