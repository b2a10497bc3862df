"""Benchmark: ``POST /v1/predict`` beside a bare aiohttp proxy to the same model server.

The upstream model server (raw ASGI, fixed answer), ablab and a minimal FastAPI proxy on
aiohttp (``bench/gateway_apps.py``) each run in a uvicorn process of their own (one
worker, uvloop, httptools); wrk loads them from this machine (a Python generator without
wrk). Each run measures the five loads below one after the other, so all see the same
machine; the figures are medians of ``--runs`` runs (3; 1 with ``--quick``).

- Added latency, p50 and p99, at moderate load (4 connections): a path's latency minus
  that of the upstream called directly. Ours assigns the unit, calls the model through its
  breaker, answers, and logs the exposure and the prediction in the background; the
  anchor is what the proxy adds, which does nothing but forward.
- Throughput at 64 connections: ours beside the proxy.

Run: ``.venv/bin/python bench/gateway.py [--quick] [--runs N] [--seconds S]`` (about 90 s;
``--quick`` about 20 s).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import at_least, at_most, figure, medians
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

MODERATE, FULL = 4, 64

LUA = (
    THREADS_LUA
    + """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  local body = string.format(
    '{"unit_id": "device-%%d", "features": [1.5, 2.5, 3.5]}', math.random(1, 100000))
  return wrk.format(nil, "%(path)s", nil, body)
end
"""
)


def body() -> bytes:
    unit = random.randint(1, 100_000)
    return b'{"unit_id": "device-%d", "features": [1.5, 2.5, 3.5]}' % unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of 3 s per load")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per load and run")
    options = parser.parse_args()
    runs, seconds = (1, 3.0) if options.quick else (options.runs, options.seconds)
    home = Path(tempfile.mkdtemp(prefix="ablab-gateway-"))
    up_port, ours_port, proxy_port = free_port(), free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{up_port}/predict"
    env = {
        **os.environ,
        "ABLAB_HOME": str(home),
        "ABLAB_ADMIN_KEY": KEY,
        "ABLAB_MONITOR_INTERVAL": "0",
        "BENCH_UPSTREAM": upstream_url,
    }
    ours = [str(BIN / "ablab"), "serve", "--port", str(ours_port), "--no-access-log"]
    processes = [
        start([*UVICORN, "gateway_apps:upstream", "--port", str(up_port)], up_port, env, "/"),
        start([*UVICORN, "gateway_apps:proxy", "--port", str(proxy_port)], proxy_port, env),
        start([*ours, "--log-level", "warning"], ours_port, env),
    ]
    loads = (
        ("direct, 4 connections", up_port, "/predict", MODERATE),
        ("proxy, 4 connections", proxy_port, "/predict", MODERATE),
        ("ours, 4 connections", ours_port, "/v1/predict/bench", MODERATE),
        ("proxy, 64 connections", proxy_port, "/predict", FULL),
        ("ours, 64 connections", ours_port, "/v1/predict/bench", FULL),
    )
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name, *_ in loads}
    try:
        register_experiment(f"http://127.0.0.1:{ours_port}", lambda _version: upstream_url)
        for _ in range(runs):
            for name, port, path, connections in loads:
                lua = LUA % {"key": KEY, "path": path}
                url = f"http://127.0.0.1:{port}{path}"
                figures[name].append(load(url, lua, body, connections, seconds))
    finally:
        stop(processes)
        shutil.rmtree(home, ignore_errors=True)
    med = {name: medians(values) for name, values in figures.items()}
    print(f"gateway: {tool(MODERATE, seconds)} and -c{FULL}, one uvicorn worker each, "
          f"medians of {runs} run(s), on 2 shared cores")  # fmt: skip
    for name, (rate, p50, p99) in med.items():
        print(f"  {name:22s} {rate:9,.0f} requests/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    direct, proxy, ours_moderate = (med[name] for name, *_ in loads[:3])
    for index, percentile, goal in ((1, "p50", at_most(1, "ms")), (2, "p99", at_most(3, "ms"))):
        figure(
            f"gateway_added_{percentile}",
            ours_moderate[index] - direct[index],
            proxy[index] - direct[index],
            "ms",
            anchor_is=f"what a bare FastAPI+aiohttp proxy adds to the upstream's {percentile} "
            f"of {direct[index]:.2f}ms, {MODERATE} connections",
            goal=goal,
            runs=runs,
        )
    figure(
        "gateway_throughput",
        med["ours, 64 connections"][0],
        med["proxy, 64 connections"][0],
        "req/s",
        anchor_is=f"the bare FastAPI+aiohttp proxy, {FULL} connections",
        goal=at_least(1.0),
        runs=runs,
        digits=0,
    )


if __name__ == "__main__":
    main()
