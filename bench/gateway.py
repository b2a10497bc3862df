"""Benchmark: ``POST /v1/predict`` beside calling the same model server directly.

The upstream model server (raw ASGI, fixed answer), ablab and a minimal FastAPI proxy on
aiohttp each run in a uvicorn process of their own (one worker, uvloop, httptools); wrk
loads them from this machine, twice each, medians printed.

- Added latency: p50 and p99 of ``/v1/predict`` minus those of the upstream called
  directly, at moderate load (wrk -t1 -c4). Ours assigns the unit, calls the model through
  its breaker, answers, and logs the exposure and the prediction in the background.
- Throughput at -c64: ours beside the aiohttp proxy (which does nothing but forward).

Run: ``.venv/bin/python bench/gateway.py`` (about two minutes).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BIN, KEY, THREADS_LUA, free_port, start, wrk

HERE = Path(__file__).resolve().parent
RUNS = 2

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


def measure(url: str, path: str, connections: int) -> tuple[float, float, float]:
    return wrk(url, LUA % {"key": KEY, "path": path}, connections)


def main() -> None:
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
    uvicorn = [str(BIN / "uvicorn"), "--loop", "uvloop", "--http", "httptools"]
    uvicorn += ["--log-level", "warning", "--no-access-log", "--app-dir", str(HERE)]
    processes = [
        start([*uvicorn, "gateway_apps:upstream", "--port", str(up_port)], up_port, env, "/"),
        start([*uvicorn, "gateway_apps:proxy", "--port", str(proxy_port)], proxy_port, env),
        start(
            [str(BIN / "ablab"), "serve", "--port", str(ours_port), "--no-access-log",
             "--log-level", "warning"],
            ours_port,
            env,
        ),
    ]  # fmt: skip
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{ours_port}", headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            for version in ("1.0.0", "2.0.0"):
                body = {"model": "m", "version": version, "endpoint": upstream_url}
                http.post("/v1/models", json=body).raise_for_status()
            http.post(
                "/v1/experiments",
                json={"name": "bench", "model_id": "m", "control_version": "1.0.0",
                      "treatment_version": "2.0.0", "traffic_split": 50},
            ).raise_for_status()  # fmt: skip
        figures: dict[str, list[tuple[float, float, float]]] = {}
        for _ in range(RUNS):
            for name, port, path, connections in (
                ("direct_moderate", up_port, "/predict", 4),
                ("proxy_moderate", proxy_port, "/predict", 4),
                ("ours_moderate", ours_port, "/v1/predict/bench", 4),
                ("proxy_full", proxy_port, "/predict", 64),
                ("ours_full", ours_port, "/v1/predict/bench", 64),
            ):
                url = f"http://127.0.0.1:{port}{path}"
                figures.setdefault(name, []).append(measure(url, path, connections))
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    med = {
        name: tuple(statistics.median(run[i] for run in runs) for i in range(3))
        for name, runs in figures.items()
    }
    print(f"wrk from the same 2 cores, one uvicorn worker each, medians of {RUNS} runs")
    for name, (rate, p50, p99) in med.items():
        print(f"  {name:16s} {rate:9,.0f} requests/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    added_p50 = med["ours_moderate"][1] - med["direct_moderate"][1]
    added_p99 = med["ours_moderate"][2] - med["direct_moderate"][2]
    print(
        f"bench: gateway_added_p50 ours={added_p50:.2f}ms anchor=0.00ms (the upstream called "
        f"directly, p50 {med['direct_moderate'][1]:.2f}ms at 4 connections) "
        f"ratio=n/a goal=<=1ms"
    )
    print(
        f"bench: gateway_added_p99 ours={added_p99:.2f}ms anchor=0.00ms (the upstream called "
        f"directly, p99 {med['direct_moderate'][2]:.2f}ms) ratio=n/a goal=<=3ms"
    )
    proxy_p50 = med["proxy_moderate"][1] - med["direct_moderate"][1]
    proxy_p99 = med["proxy_moderate"][2] - med["direct_moderate"][2]
    print(
        f"bench: gateway_added_p50_vs_proxy ours={added_p50:.2f}ms anchor={proxy_p50:.2f}ms "
        f"(what the minimal aiohttp proxy adds, same load) ratio={added_p50 / proxy_p50:.2f} "
        f"goal=report"
    )
    print(
        f"bench: gateway_added_p99_vs_proxy ours={added_p99:.2f}ms anchor={proxy_p99:.2f}ms "
        f"(the minimal aiohttp proxy) ratio={added_p99 / max(proxy_p99, 1e-9):.2f} goal=report"
    )
    ours, proxy = med["ours_full"][0], med["proxy_full"][0]
    print(
        f"bench: gateway_throughput ours={ours:.0f}req/s anchor={proxy:.0f}req/s "
        f"(minimal FastAPI proxy on aiohttp, 64 connections) ratio={ours / proxy:.2f} goal=>=1.0"
    )


if __name__ == "__main__":
    main()
