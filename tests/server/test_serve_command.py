"""``ablab serve`` as a user starts it: a process, a first key printed once, a real port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ABLAB = Path(sys.executable).with_name("ablab")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_prints_a_first_key_once_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env.update(ABLAB_HOME=str(tmp_path / "home"), ABLAB_MONITOR_INTERVAL="0")
    log = tmp_path / "serve.log"

    def serve() -> subprocess.Popen[bytes]:
        with log.open("ab") as handle:
            return subprocess.Popen(
                [str(ABLAB), "serve", "--port", str(port)], env=env, stderr=handle
            )

    def wait_until_up() -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    process = serve()
    try:
        wait_until_up()
    finally:
        process.terminate()
        process.wait(30)
    keys = re.findall(r"abk_[0-9a-f]+_[A-Za-z0-9_-]+", log.read_text())
    assert len(keys) == 1, log.read_text()
    key = keys[0]
    process = serve()  # the same store again: no new key is printed
    try:
        wait_until_up()
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/whoami", headers={"Authorization": f"Bearer {key}"}
        )
        assert response.json()["scopes"] == ["admin"]
    finally:
        process.terminate()
        process.wait(30)
    assert len(re.findall(r"abk_[0-9a-f]+_[A-Za-z0-9_-]+", log.read_text())) == 1


def test_several_workers_on_duckdb_are_refused_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env.update(ABLAB_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        [str(ABLAB), "serve", "--port", str(free_port()), "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: several workers need a shared event store: set ABLAB_EVENTS_URL to a "
        "postgresql:// URL (DuckDB opens in one process)"
    ]
    assert not (tmp_path / "home").exists()  # refused before anything was opened
