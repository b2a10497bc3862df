"""The service tests run on the in-memory metadata store (``tests/fakes``), which
``tests/store/test_metadata_port_contract.py`` holds to the SQL store's behaviour: here the
use cases are under test, not the database."""

from __future__ import annotations

import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.services.experiments.catalogue import register_model_version
from tests.fakes import InMemoryMetadataStore


@pytest.fixture
def memory_store() -> InMemoryMetadataStore:
    """An empty in-memory metadata store."""
    return InMemoryMetadataStore()


@pytest.fixture
def ctx(memory_store: InMemoryMetadataStore) -> Context:
    """A service context in a fresh project of the in-memory store, acting as
    ``test:alice`` (the SQL store's ``ctx`` of tests/conftest.py, on the fake)."""
    project = ensure_project(memory_store, "default")
    return Context(memory_store, project.id, actor="test:alice")


@pytest.fixture
def model(ctx: Context) -> str:
    """``radiology-v1`` with versions 1.0.0, 2.0.0 and 3.0.0 registered."""
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        register_model_version(
            ctx,
            ModelVersionCreate(
                model="radiology-v1", version=version, endpoint=f"http://127.0.0.1:9/{version}"
            ),
        )
    return "radiology-v1"
