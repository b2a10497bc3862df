"""Shared fixtures: temporary embedded stores, and PostgreSQL when it answers.

PostgreSQL tests use ``ABLAB_TEST_POSTGRES_URL`` or ``postgresql://postgres@127.0.0.1:5432/test``.
Each test session creates its own database there and drops it at the end. Where nothing
answers they skip with a reason, except under ``CI=true``, where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from sqlalchemy import Engine, text

from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.store.metadata import SqlMetadataStore, metadata_url, open_metadata_store
from ablab.store.metadata.tables import Base

# One process starts many servers here: frozen start-up objects would pile up (settings.py).
os.environ.setdefault("ABLAB_GC_FREEZE", "false")

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

# CI replays the same examples every run (a red build is reproducible); local runs keep
# exploring new ones, and Hypothesis's database replays whatever failed there before.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


def _admin_url() -> str:
    return os.environ.get("ABLAB_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, as a ``postgresql://`` URL."""
    admin = _admin_url()
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL does not answer at {admin}: {exc}")
        pytest.skip(f"PostgreSQL does not answer at {admin} (set ABLAB_TEST_POSTGRES_URL)")
    name = f"ablab_test_{uuid.uuid4().hex[:12]}"
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_postgres_database(postgres_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database beside ``postgres_url``'s, dropped afterwards."""
    base, _, _ = postgres_url.rpartition("/")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database without any table: a new SQLite file or PostgreSQL database
    (foreign keys on, as the store has them), for the migration tests."""
    if request.param == "sqlite":
        store = open_metadata_store(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
        yield store.engine
        store.close()
        return
    with scratch_postgres_database(request.getfixturevalue("postgres_url"), "ablab_empty") as url:
        store = open_metadata_store(metadata_url(tmp_path, url), migrate=False)
        yield store.engine
        store.close()


@pytest.fixture(scope="session")
def _postgres_store(postgres_url: str) -> Iterator[SqlMetadataStore]:
    store = open_metadata_store(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def metadata_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlMetadataStore]:
    """The metadata store on each engine: a new SQLite file, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        store = open_metadata_store(f"sqlite:///{tmp_path / 'ablab.db'}")
        yield store
        store.close()
        return
    store = request.getfixturevalue("_postgres_store")
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield store


@pytest.fixture
def ctx(metadata_store: SqlMetadataStore) -> Context:
    """A service context in a fresh project, acting as ``test:alice``."""
    project = ensure_project(metadata_store, "default")
    return Context(metadata_store, project.id, actor="test:alice")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``ABLAB_HOME`` for the client and the CLI."""
    folder = tmp_path / "ablab-home"
    monkeypatch.setenv("ABLAB_HOME", str(folder))
    for variable in ("ABLAB_URL", "ABLAB_API_KEY", "ABLAB_DATABASE_URL", "ABLAB_PROJECT"):
        monkeypatch.delenv(variable, raising=False)
    return folder
