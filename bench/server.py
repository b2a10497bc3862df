"""Benchmark: ``POST /v1/assign`` and ``POST /v1/events`` under load, beside bare FastAPI.

Both servers run the same way in the same run: one uvicorn worker (uvloop, httptools), in
a process of their own, loaded by wrk from this machine (2 threads, 64 connections; a
Python load generator without wrk, which says so). Each run measures the four loads below
one after the other, so all see the same machine; the figures are medians of ``--runs``
runs (3; 1 with ``--quick``).

- assign: ours authenticates the key, parses the body with orjson, assigns a unit drawn
  at random from a million (so nearly every one is new: hashed, remembered, written
  behind), answers JSON. Anchor: ``bench/bare_app.py``'s ``POST /assign``, a pydantic
  body of the same shape and a constant answer.
- events: batches of 1,000 prediction events, each batch's ids new; ours checks every
  event and stores it durably in DuckDB before answering. Anchor: the bare endpoint
  parsing the same body into a pydantic model, storing nothing.

Run: ``.venv/bin/python bench/server.py [--quick] [--runs N] [--seconds S]`` (about 70 s;
``--quick`` about 20 s).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import at_least, figure, medians
from load import (
    BIN,
    KEY,
    THREADS_LUA,
    UVICORN,
    free_port,
    load,
    register_experiment,
    start,
    stop,
    tool,
)

CONNECTIONS = 64
BATCH = 1_000

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


def python_bodies(template: str) -> dict[str, Callable[[], bytes]]:
    """The Python generator's bodies: a random unit; a batch with new ids each time."""
    batches = itertools.count()
    prefix = f"{time.time_ns()}-"

    def assign() -> bytes:
        unit = random.randint(1, 1_000_000)
        return b'{"experiment": "bench", "unit_id": "device-%d"}' % unit

    def events() -> bytes:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        batch = template.replace("@ID@", f"{prefix}{next(batches)}-")
        return batch.replace("@TS@", now).encode()

    return {"assign": assign, "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of 3 s per load")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per load and run")
    options = parser.parse_args()
    runs, seconds = (1, 3.0) if options.quick else (options.runs, options.seconds)
    template = event_batch_template()
    pieces = lua_pieces(template)
    bodies = python_bodies(template)
    home = Path(tempfile.mkdtemp(prefix="ablab-bench-"))
    ours_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "ABLAB_HOME": str(home),
        "ABLAB_ADMIN_KEY": KEY,
        "ABLAB_MONITOR_INTERVAL": "0",
    }
    ours = [str(BIN / "ablab"), "serve", "--port", str(ours_port), "--no-access-log"]
    processes = [
        start([*ours, "--log-level", "warning"], ours_port, env),
        start([*UVICORN, "bare_app:app", "--port", str(bare_port)], bare_port, env),
    ]
    loads = (
        ("bare assign", bare_port, "/assign", "assign"),
        ("ours assign", ours_port, "/v1/assign", "assign"),
        ("bare events", bare_port, "/events", "events"),
        ("ours events", ours_port, "/v1/events", "events"),
    )
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name, *_ in loads}
    try:
        register_experiment(
            f"http://127.0.0.1:{ours_port}", lambda version: f"http://127.0.0.1:9/{version}"
        )
        for _ in range(runs):
            for name, port, path, kind in loads:
                lua = ASSIGN_LUA if kind == "assign" else EVENTS_LUA
                script = lua % {"key": KEY, "path": path, **pieces}
                url = f"http://127.0.0.1:{port}{path}"
                figures[name].append(load(url, script, bodies[kind], CONNECTIONS, seconds))
    finally:
        stop(processes)
        shutil.rmtree(home, ignore_errors=True)
    med = {name: medians(values) for name, values in figures.items()}
    print(f"server: {tool(CONNECTIONS, seconds)}, one uvicorn worker each, "
          f"medians of {runs} run(s), on 2 shared cores")  # fmt: skip
    for name, (rate, p50, p99) in med.items():
        print(f"  {name:12s} {rate:9,.0f} requests/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    assign, bare_assign = med["ours assign"], med["bare assign"]
    events, bare_events = med["ours events"], med["bare events"]
    figure(
        "server_events",
        events[0] * BATCH,
        bare_events[0] * BATCH,
        "events/s",
        anchor_is="bare FastAPI parsing the same batches of 1,000 into pydantic, storing nothing",
        goal=at_least(0.7),
        runs=runs,
        digits=0,
    )
    figure(
        "server_assign",
        assign[0],
        bare_assign[0],
        "req/s",
        anchor_is="bare FastAPI POST with a pydantic body, constant answer",
        goal=at_least(1.0),
        runs=runs,
        digits=0,
    )
    figure(
        "server_assign_p99",
        assign[2],
        bare_assign[2],
        "ms",
        anchor_is="the same bare FastAPI POST",
        goal=None,
        runs=runs,
    )


if __name__ == "__main__":
    main()
