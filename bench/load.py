"""What the HTTP benchmarks share: servers in processes of their own, and the load on them.

The load comes from wrk when it is installed (``apt-get install wrk``): a C client that
costs the 2 cores little. Without it, a Python generator (asyncio and aiohttp, in the
benchmark's own process) stands in; it needs a good share of a core itself, so its figures
are lower and its ratios less telling, and the benchmarks say which one ran.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
KEY = "abk_000000bench_" + "k" * 40
UVICORN = [str(BIN / "uvicorn"), "--loop", "uvloop", "--http", "httptools"]
UVICORN += ["--log-level", "warning", "--no-access-log", "--app-dir", str(HERE)]

# wrk runs each thread in a Lua state of its own: without a number per thread, both threads
# would draw the same "random" units and send the same event ids (a duplicate of every
# batch, which the store answers with 0 stored).
THREADS_LUA = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
function init(args)
  run_id = os.time()
  math.randomseed(run_id * 100 + thread_id)
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def tool(connections: int, seconds: float) -> str:
    """Which load generator runs, for the benchmarks' headers."""
    if have_wrk():
        return f"wrk -c{connections} -d{seconds:g}s"
    return f"a Python load generator ({connections} connections, {seconds:g} s; no wrk)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    command: list[str], port: int, env: dict[str, str], probe: str = "/docs"
) -> subprocess.Popen[bytes]:
    """``command`` started, once ``probe`` on ``port`` answers."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    number, unit = found.groups()
    return float(number) * _UNITS[unit]


def _found(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.M)
    if found is None:
        raise RuntimeError(f"wrk's output has no {pattern!r}:\n{text}")
    return found.group(1)


def wrk(url: str, script: str, connections: int, seconds: float) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 latency (ms) of one wrk run of the Lua ``script``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s"]
        # wrk's default timeout (2 s) would drop the slowest requests from the latencies.
        out = subprocess.run(
            [*command, "--timeout", "60s", "--latency", "-s", handle.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    rate = float(_found(r"Requests/sec:\s+([\d.]+)", out))
    p50 = _ms(_found(r"^\s+50%\s+(\S+)\s*$", out))
    p99 = _ms(_found(r"^\s+99%\s+(\S+)\s*$", out))
    return rate, p50, p99


def python_load(
    url: str, body: Callable[[], bytes], connections: int, seconds: float
) -> tuple[float, float, float]:
    """The stand-in for wrk: ``connections`` callers, each posting ``body()`` and awaiting
    the answer, for ``seconds``. Requests/s, p50 and p99 latency (ms)."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    async def caller(session: aiohttp.ClientSession, stop: float) -> None:
        while time.perf_counter() < stop:
            data = body()
            started = time.perf_counter()
            async with session.post(url, data=data, headers=headers) as answer:
                await answer.read()
                if answer.status >= 300:
                    raise RuntimeError(f"{answer.status} under load from {url}")
            latencies.append((time.perf_counter() - started) * 1000)

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=connections)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            begin = time.perf_counter()
            stop = begin + seconds
            await asyncio.gather(*(caller(session, stop) for _ in range(connections)))
            return time.perf_counter() - begin

    elapsed = asyncio.run(run())
    latencies.sort()
    return (
        len(latencies) / elapsed,
        latencies[len(latencies) // 2],
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    )


def load(
    url: str, lua: str, body: Callable[[], bytes], connections: int, seconds: float
) -> tuple[float, float, float]:
    """One run against ``url``: wrk with ``lua`` if installed, else ``body()`` from Python."""
    if have_wrk():
        return wrk(url, lua, connections, seconds)
    return python_load(url, body, connections, seconds)


def register_experiment(base: str, endpoint_of: Callable[[str], str]) -> None:
    """Model ``m`` in versions 1.0.0 and 2.0.0 (served at ``endpoint_of(version)``) and the
    experiment ``bench`` splitting the traffic between them 50/50, on the server at ``base``."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
        for version in ("1.0.0", "2.0.0"):
            model = {"model_id": "m", "version": version, "endpoint": endpoint_of(version)}
            http.post("/v1/models", json=model).raise_for_status()
        http.post(
            "/v1/experiments",
            json={"name": "bench", "model_id": "m", "control_version": "1.0.0",
                  "treatment_version": "2.0.0", "traffic_split": 50},
        ).raise_for_status()  # fmt: skip
