"""Benchmark: ``POST /v1/assign`` and ``POST /v1/events`` under load, beside bare FastAPI.

Both servers run the same way in the same run: one uvicorn worker (uvloop, httptools), in
a subprocess of their own, loaded by wrk from this machine (2 threads, 64 connections,
10 s), each twice; the medians are printed. Without wrk, a Python load generator on
httpx stands in (and says so).

- assign: ours authenticates the key, parses the body with orjson, assigns a unit drawn
  at random from a million (so nearly every one is new: hashed, remembered, written
  behind), answers JSON. Anchor: ``bench/bare_app.py``'s ``POST /assign``, a pydantic
  body of the same shape and a constant answer.
- events: batches of 1,000 prediction events, each batch's ids new; ours checks every
  event and stores it durably in DuckDB before answering. Anchor: the bare endpoint
  parsing the same body into a pydantic model, storing nothing.

Run: ``.venv/bin/python bench/server.py`` (about two minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
KEY = "abk_000000bench_" + "k" * 40
RUNS = 2
DURATION = "10s"
CONNECTIONS = 64
BATCH = 1_000

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

ASSIGN_LUA = (
    THREADS_LUA
    + """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  local body = string.format(
    '{"experiment": "bench", "unit_id": "device-%%d", "attributes": {"region": "eu"}}',
    math.random(1, 1000000))
  return wrk.format(nil, "%(path)s", nil, body)
end
"""
)

# The batch template comes cut at its markers (@ID@, @TS@): each request joins the pieces
# with a new id prefix and the current second. Two gsubs over the 200 KB template cost wrk
# about 10 ms a request (half a core at 50 requests/s, measured), a join a fraction of that.
EVENTS_LUA = (
    THREADS_LUA
    + """
local counter = 0
local pieces = {%(pieces)s}
local markers = {%(markers)s}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  counter = counter + 1
  local values = {
    string.format("%%d-%%d-%%d-", run_id, thread_id, counter),
    os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ"),
  }
  local parts = {}
  for i = 1, #markers do
    parts[2 * i - 1] = pieces[i]
    parts[2 * i] = values[markers[i]]
  end
  parts[2 * #markers + 1] = pieces[#markers + 1]
  return wrk.format(nil, "%(path)s", nil, table.concat(parts))
end
"""
)


def lua_pieces(template: str) -> dict[str, str]:
    """The template cut at its markers, as Lua table items: the pieces, and which marker
    (1: the id prefix, 2: the timestamp) follows each piece but the last."""
    cut = re.split(r"(@ID@|@TS@)", template)
    pieces, markers = cut[0::2], cut[1::2]
    return {
        "pieces": ",".join("[==[" + piece + "]==]" for piece in pieces),
        "markers": ",".join("1" if marker == "@ID@" else "2" for marker in markers),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    command: list[str], port: int, env: dict[str, str], probe: str = "/docs"
) -> subprocess.Popen[bytes]:
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


def event_batch_template() -> str:
    events = [
        {
            "event_id": f"@ID@{i}",
            "type": "prediction",
            "experiment": "bench",
            "unit_id": f"device-{i % 500}",
            "variant": "control" if i % 2 else "treatment",
            "prediction_id": f"@ID@p{i}",
            "latency_ms": 20.0 + i % 30,
            "error": i % 100 == 0,
            "output": "pneumonia" if i % 3 else "normal",
            "timestamp": "@TS@",
        }
        for i in range(BATCH)
    ]
    return json.dumps({"events": events}, separators=(",", ":"))


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    number, unit = found.groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, script: str, connections: int = CONNECTIONS) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 latency (ms) of one wrk run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{DURATION}",
                "--latency",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    return rate, p50, p99


def python_load(url: str, body: bytes, seconds: float = 10.0) -> tuple[float, float, float]:
    """The fallback load generator: 64 asyncio connections on httpx."""
    latencies: list[float] = []

    async def worker(client: httpx.AsyncClient, stop: float) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = await client.post(
                url, content=body, headers={"Authorization": f"Bearer {KEY}"}
            )
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    async def main() -> float:
        limits = httpx.Limits(max_connections=CONNECTIONS)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            begin = time.perf_counter()
            await asyncio.gather(*(worker(client, begin + seconds) for _ in range(CONNECTIONS)))
            return time.perf_counter() - begin

    elapsed = asyncio.run(main())
    latencies.sort()
    return (
        len(latencies) / elapsed,
        latencies[len(latencies) // 2],
        latencies[int(len(latencies) * 0.99)],
    )


def setup(base: str) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
        for version in ("1.0.0", "2.0.0"):
            http.post(
                "/v1/models",
                json={
                    "model": "m",
                    "version": version,
                    "endpoint": f"http://127.0.0.1:9/{version}",
                },
            ).raise_for_status()
        http.post(
            "/v1/experiments",
            json={"name": "bench", "model_id": "m", "control_version": "1.0.0",
                  "treatment_version": "2.0.0", "traffic_split": 50},
        ).raise_for_status()  # fmt: skip


def measure(url: str, kind: str, template: str) -> tuple[float, float, float]:
    path = url.split("127.0.0.1:", 1)[1].split("/", 1)[1]
    if shutil.which("wrk"):
        script = (ASSIGN_LUA if kind == "assign" else EVENTS_LUA) % {
            "key": KEY,
            "path": "/" + path,
            **lua_pieces(template),
        }
        return wrk(url, script)
    body = (
        b'{"experiment": "bench", "unit_id": "device-1"}'
        if kind == "assign"
        else template.replace("@ID@", "x").replace("@TS@", "2026-12-01T00:00:00Z").encode()
    )
    return python_load(url, body)


def main() -> None:
    template = event_batch_template()
    home = Path(tempfile.mkdtemp(prefix="ablab-bench-"))
    ours_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "ABLAB_HOME": str(home),
        "ABLAB_ADMIN_KEY": KEY,
        "ABLAB_MONITOR_INTERVAL": "0",
    }
    ours = start(
        [
            str(BIN / "ablab"),
            "serve",
            "--port",
            str(ours_port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        ours_port,
        env,
    )
    bare_command = [str(BIN / "uvicorn"), "bare_app:app", "--port", str(bare_port)]
    bare_command += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    bare = start([*bare_command, "--no-access-log", "--app-dir", str(HERE)], bare_port, env)
    try:
        setup(f"http://127.0.0.1:{ours_port}")
        figures: dict[str, list[tuple[float, float, float]]] = {}
        for _ in range(RUNS):
            for name, url, kind in (
                ("bare_assign", f"http://127.0.0.1:{bare_port}/assign", "assign"),
                ("assign", f"http://127.0.0.1:{ours_port}/v1/assign", "assign"),
                ("bare_events", f"http://127.0.0.1:{bare_port}/events", "events"),
                ("events", f"http://127.0.0.1:{ours_port}/v1/events", "events"),
            ):
                figures.setdefault(name, []).append(measure(url, kind, template))
    finally:
        ours.terminate()
        bare.terminate()
        ours.wait(30)
        bare.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    medians = {
        name: tuple(statistics.median(run[i] for run in runs) for i in range(3))
        for name, runs in figures.items()
    }
    tool = "wrk -t2 -c64 -d10s" if shutil.which("wrk") else "a Python load generator (no wrk)"
    print(f"load: {tool}, one uvicorn worker each, medians of {RUNS} runs")
    for name, (rate, p50, p99) in medians.items():
        print(f"  {name:12s} {rate:9,.0f} requests/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    assign, bare_assign = medians["assign"], medians["bare_assign"]
    events, bare_events = medians["events"], medians["bare_events"]
    print(
        f"bench: server_assign ours={assign[0]:.0f}req/s anchor={bare_assign[0]:.0f}req/s "
        f"(bare FastAPI POST with a pydantic body) ratio={assign[0] / bare_assign[0]:.2f} "
        f"goal=>=1.0 (never below 0.7)"
    )
    print(
        f"bench: server_assign_p99 ours={assign[2]:.2f}ms anchor={bare_assign[2]:.2f}ms "
        f"(bare FastAPI POST) ratio={assign[2] / bare_assign[2]:.2f} goal=report"
    )
    rate = events[0] * BATCH
    print(
        f"bench: server_events ours={rate:.0f}events/s anchor={bare_events[0] * BATCH:.0f}events/s "
        f"(bare FastAPI parsing the same batches, storing nothing) "
        f"ratio={rate / (bare_events[0] * BATCH):.2f} goal=>=200000events/s"
    )


if __name__ == "__main__":
    main()
