"""A server with short model timeouts, and model servers to route to.

The timeout is 1 s: short beside the models' 5 s hang, long enough for a loaded CI machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.model_server import ModelServer
from tests.server.conftest import Project, RunningServer, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("gateway"), model_timeout=1.0)


@pytest.fixture
def models() -> Iterator[tuple[ModelServer, ModelServer]]:
    control, treatment = ModelServer("normal"), ModelServer("pneumonia")
    yield control, treatment
    control.stop()
    treatment.stop()


@pytest.fixture
def project(server: RunningServer) -> Project:
    return server.project()
