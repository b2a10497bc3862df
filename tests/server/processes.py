"""``ablab serve`` as a real process: started, waited for, stopped or killed.

For the tests that need what threads cannot give: kill -9, several processes on one
database, uvicorn's own worker supervisor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import ADMIN_KEY
from tests.server.test_serve_command import free_port

ABLAB = Path(sys.executable).with_name("ablab")


def serve_environment(**settings: str) -> dict[str, str]:
    """This process's environment without its ``ABLAB_*`` variables, plus ``settings``
    (``ABLAB_`` is prefixed to each name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env.update(ABLAB_ADMIN_KEY=ADMIN_KEY, ABLAB_MONITOR_INTERVAL="0")
    env.update({f"ABLAB_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class ServeProcess:
    """One ``ablab serve`` on a free port, its output in ``log``."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def wait_ready(self, timeout: float = 90.0) -> ServeProcess:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"ablab serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9: no shutdown, nothing flushed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()


def launch_serve(
    folder: Path,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    port: int | None = None,
) -> ServeProcess:
    """``ablab serve`` with ``env`` and ``ABLAB_HOME=folder/home``, started but not waited
    for (several servers can start together); its output, both streams, in
    ``folder/serve.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = folder / "serve.log"
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [str(ABLAB), "serve", "--port", str(port), "--no-access-log", *args],
            env={"ABLAB_HOME": str(folder / "home"), **env},
            stdout=handle,
            stderr=handle,
        )
    return ServeProcess(process, f"http://127.0.0.1:{port}", log)


def start_serve(
    folder: Path,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    port: int | None = None,
) -> ServeProcess:
    """:func:`launch_serve`, ready to answer."""
    return launch_serve(folder, env, args, port).wait_ready()
