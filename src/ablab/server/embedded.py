"""An ASGI app served by uvicorn in a background thread (the demo's servers, model servers)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

__all__ = ["ServerThread", "free_port"]


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nothing listens there, else any free loopback port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port")  # pragma: no cover - binding port 0 does not fail


class ServerThread:
    """uvicorn serving ``app`` on ``host:port`` until :meth:`stop`."""

    def __init__(self, app: Any, port: int, host: str = "127.0.0.1") -> None:
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 30.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
