"""Opening a metadata store migrates nothing behind an operator's back: an empty database
gets the newest schema, one at the newest revision opens after a read of its revision, one
behind it is refused until ``upgrade_metadata`` (``ablab db upgrade``) upgrades it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from pydantic import SecretStr
from sqlalchemy import Engine, text

from ablab.errors import SchemaOutdated, Unavailable
from ablab.settings import Settings
from ablab.store.metadata import open_metadata_store
from ablab.store.metadata.migrate import HEAD_REVISION, alembic_config, current_revision
from ablab.store.open import open_metadata, upgrade_metadata


def settings_of(engine: Engine, home: Path) -> Settings:
    """Settings naming ``engine``'s database (its URL passes ``metadata_url`` unchanged)."""
    url = engine.url.render_as_string(hide_password=False)
    return Settings(home=home, database_url=SecretStr(url))


def test_an_older_database_is_refused_until_upgraded(
    empty_database: Engine, tmp_path: Path
) -> None:
    command.upgrade(alembic_config(empty_database), "0011")
    settings = settings_of(empty_database, tmp_path)
    with pytest.raises(SchemaOutdated) as refused:
        open_metadata(settings)
    assert refused.value.message == (
        f"the metadata database is at schema revision 0011, older than this ablab's "
        f"{HEAD_REVISION}: run `ablab db upgrade`"
    )
    assert refused.value.details == {"revision": "0011", "head": HEAD_REVISION}
    assert current_revision(empty_database) == "0011"  # opening changed nothing

    assert upgrade_metadata(settings) == ("0011", HEAD_REVISION)
    store = open_metadata(settings)
    with store.session(read_only=True) as session:
        assert session.list_projects() == []
    store.close()
    assert upgrade_metadata(settings) == (HEAD_REVISION, HEAD_REVISION)


def test_an_empty_database_gets_the_newest_schema(empty_database: Engine, tmp_path: Path) -> None:
    store = open_metadata(settings_of(empty_database, tmp_path))
    store.close()
    assert current_revision(empty_database) == HEAD_REVISION


def test_upgrading_an_empty_database_creates_the_schema(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert upgrade_metadata(settings) == (None, HEAD_REVISION)
    open_metadata(settings).close()


def test_a_database_newer_than_this_ablab_is_refused(
    empty_database: Engine, tmp_path: Path
) -> None:
    command.upgrade(alembic_config(empty_database), "head")
    with empty_database.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    settings = settings_of(empty_database, tmp_path)
    for attempt in (open_metadata, upgrade_metadata):
        with pytest.raises(Unavailable) as refused:
            attempt(settings)
        assert not isinstance(refused.value, SchemaOutdated)
        assert "0999" in refused.value.message
        assert refused.value.message.endswith("upgrade ablab")
    assert current_revision(empty_database) == "0999"


def test_opening_an_up_to_date_store_runs_no_alembic(tmp_path: Path) -> None:
    """One read of the revision, no migration script loaded: Alembic is not even imported
    (nor pyarrow, which the services' ports need and opening a store does not)."""
    url = f"sqlite:///{tmp_path / 'ablab.db'}"
    open_metadata_store(url).close()
    code = (
        "import sys; from ablab.store.metadata import open_metadata_store; "
        f"open_metadata_store({url!r}).close(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'pyarrow'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


_OPEN_WHEN_TOLD = """
import sys
from ablab.store.metadata import open_metadata_store
from ablab.store.metadata.migrate import current_revision
print("ready", flush=True)
sys.stdin.readline()
store = open_metadata_store(sys.argv[1])
print(current_revision(store.engine), flush=True)
store.close()
"""


def test_two_processes_opening_an_empty_database_at_once_both_open(
    empty_database: Engine,
) -> None:
    """Replicas starting together on a new database: one creates the schema, the other
    waits for it (an advisory lock on PostgreSQL, the write lock on SQLite) and opens."""
    url = empty_database.url.render_as_string(hide_password=False)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_WHEN_TOLD, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for process in processes:  # both imported and waiting: released together below
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == HEAD_REVISION
    assert current_revision(empty_database) == HEAD_REVISION
