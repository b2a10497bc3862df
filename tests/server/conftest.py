"""A real ablab server on loopback (uvicorn in a thread), and keys to call it with.

One server per test module; each test works in a project of its own, so tests never see
each other's data.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from ablab.domain.keys import Scope
from ablab.server import create_app
from ablab.server.state import ServerState
from ablab.services.access.keys import create_key
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.settings import Settings

ADMIN_KEY = "abk_00000000test_" + "x" * 40


class Uvicorn:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port or 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", ws="none", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> Uvicorn:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@dataclass
class Project:
    """A project of the running server with an admin key."""

    server: RunningServer
    name: str
    id: str
    admin_key: str

    def key(self, *scopes: Scope) -> str:
        ctx = Context(self.server.state.store, self.id, "test:setup")
        _, whole = create_key(ctx, f"{'+'.join(s.value for s in scopes)} key", scopes)
        return whole

    def http(self, key: str | None = None) -> httpx.Client:
        return self.server.http(key or self.admin_key)


@dataclass
class RunningServer:
    url: str
    app: FastAPI
    home: Path
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.ablab
        return state

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def project(self, name: str | None = None) -> Project:
        name = name or f"p-{uuid.uuid4().hex[:10]}"
        project = ensure_project(self.state.store, name)
        ctx = Context(self.state.store, project.id, "test:setup")
        _, whole = create_key(ctx, "test admin", [Scope.ADMIN])
        return Project(self, name, project.id, whole)


def start_server(home: Path, **settings: object) -> tuple[Uvicorn, RunningServer]:
    options: dict[str, object] = {"home": home, "admin_key": ADMIN_KEY, "monitor_interval": 0}
    options.update(settings)
    app = create_app(Settings(**options))  # type: ignore[arg-type]
    running = Uvicorn(app).start()
    return running, RunningServer(running.url, app, home)


def serving(home: Path, **settings: object) -> Iterator[RunningServer]:
    """A server for a module's tests, stopped (its clients closed) when they are done."""
    running, server = start_server(home, **settings)
    yield server
    for client in server.clients:
        client.close()
    running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("server"))


@pytest.fixture
def project(server: RunningServer) -> Project:
    return server.project()
