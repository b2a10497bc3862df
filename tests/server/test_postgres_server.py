"""The server on PostgreSQL for both stores (ABLAB_DATABASE_URL, ABLAB_EVENTS_URL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from ablab import Client
from tests.server.conftest import start_server
from tests.server.test_sdk import setup_experiment

pytestmark = pytest.mark.postgres


def test_a_flow_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    running, server = start_server(
        tmp_path,
        database_url=SecretStr(postgres_url.replace("postgresql://", "postgresql+psycopg://")),
        events_url=SecretStr(postgres_url),
    )
    try:
        project = server.project()
        setup_experiment(project)
        with Client(base_url=server.url, api_key=project.admin_key) as client:
            variants = {client.assign("trial", f"d{i}").variant for i in range(40)}
            assert variants == {"control", "treatment"}
            client.flush()
            results = client.experiments.results("trial")
        assert sum(v.units for v in results.variants) == 40
        assert not (tmp_path / "ablab.db").exists()
        assert not (tmp_path / "events.duckdb").exists()
    finally:
        for http in server.clients:
            http.close()
        running.stop()
