"""Benchmark: a soak. ``ablab serve`` under mixed traffic at 32 requests/s for 3 minutes
while the results are read every 5 s: the events' p99 (the issue's goal: 50 ms while the
results are being read), the results' p99, errors, latency per route, and the server's
memory.

- The server: ``ablab serve`` in a process of its own on a fresh ``ABLAB_HOME`` (embedded
  stores), or on a new database of ``--postgres URL`` (``--workers N`` needs it); a model
  server for ``/v1/predict`` (``gateway_apps.upstream``, raw ASGI on uvicorn); two model
  versions, a ``revenue`` metric and an experiment, registered through the API.
- The traffic: ``bench/soak_traffic.py`` in a process of its own, the mix at ``--rate``
  requests/s (32), open loop; ``--capacity`` instead measures the mix's capacity first
  (closed loop, 32 connections, 15 s) and runs at half of it.
- After a warm-up (``--warmup`` s at the rate), ``--minutes`` of traffic: errors (any
  non-2xx or connection error) and requests sent per route, p50 and p99 per route, and the
  server's RSS (VmRSS of the server process and all its descendants: supervisor, fork
  server, workers) after the warm-up and at the end.
- Anchors, from the same run: for the events' p99 (of all batches, and of the batches in
  flight during a results read), the p99 of the event batches that were in flight while no
  results read was (so the ratio says what the reads cost the writes);
  for the results' p99, the median of 5 results reads on the quiet server after the soak;
  for a route's drift, its p99 in the run's first fifth beside the last fifth. One run:
  its p99s are of every request sent (about 1,150 event batches and 36 results reads in
  3 minutes; a p99 of 36 reads is their maximum).

Run: ``.venv/bin/python bench/soak.py [--quick] [--minutes 3] [--rate 32 | --capacity]
[--postgres URL] [--workers N]`` (the minutes, plus about 40 s; ``--quick``: 1 minute).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import at_most, figure, median
from load import BIN, KEY, UVICORN, free_port, start
from soak_traffic import (
    ESTIMATE_CONNECTIONS,
    EVENTS_PER_BATCH,
    EXPERIMENT,
    RESULTS_EVERY,
    ROUTES,
    Outcome,
    generate,
    hear,
)

RSS_EVERY = 5.0
EVENTS_P99_GOAL_MS = 50.0


# ---------------------------------------------------------------- the server and its memory


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, MiB."""
    total = 0
    for process in descendants(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) if found else 0
    return total / 1024


@contextmanager
def database(url: str | None) -> Iterator[str | None]:
    """A new database on the PostgreSQL server of ``url`` (dropped after), or None."""
    if url is None:
        yield None
        return
    name = f"ablab_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def serve(
    home: Path, database_url: str | None, workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``ablab serve`` answering, and its address."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env.update(ABLAB_HOME=str(home), ABLAB_ADMIN_KEY=KEY)
    if database_url is not None:
        env.update(ABLAB_DATABASE_URL=database_url, ABLAB_EVENTS_URL=database_url)
    command = [str(BIN / "ablab"), "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--plain-logs"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"ablab serve did not start:\n{log.read_text()}")
        time.sleep(0.2)


def stop(server: subprocess.Popen[bytes], patience: float = 120) -> None:
    """SIGTERM, as an operator stops it; SIGKILL to it and its processes if that hangs."""
    processes = descendants(server.pid)
    server.terminate()
    began = time.monotonic()
    try:
        server.wait(patience)
    except subprocess.TimeoutExpired:
        print(f"ablab serve did not stop within {patience:.0f} s of SIGTERM: killed")
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGKILL)
        server.wait(30)
    else:
        print(f"ablab serve stopped {time.monotonic() - began:.1f} s after SIGTERM")


def set_up(base: str, upstream: str) -> None:
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as http:
        for version in ("1.0.0", "2.0.0"):
            body = {"model_id": "m", "version": version, "endpoint": upstream}
            http.post("/v1/models", json=body).raise_for_status()
        http.post("/v1/metrics", json={"name": "revenue"}).raise_for_status()
        http.post(
            "/v1/experiments",
            json={"name": EXPERIMENT, "model_id": "m", "control_version": "1.0.0",
                  "treatment_version": "2.0.0", "traffic_split": 50,
                  "secondary_metrics": ["revenue"]},
        ).raise_for_status()  # fmt: skip


# ---------------------------------------------------------------- the report


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def split_by_reads(
    latencies: list[tuple[float, float]], reads: list[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    """Latencies (ms) of the requests in flight while some results read was, and of the
    others; both given as (scheduled time in s, latency in ms)."""
    spans = [(begin, begin + ms / 1000) for begin, ms in reads]
    during: list[float] = []
    outside: list[float] = []
    for begin, ms in latencies:
        end = begin + ms / 1000
        overlaps = any(read_begin < end and begin < read_end for read_begin, read_end in spans)
        (during if overlaps else outside).append(ms)
    return during, outside


def fifths(latencies: list[tuple[float, float]]) -> tuple[float, float]:
    """p99 of the requests scheduled in the first fifth of the run, and in the last."""
    if not latencies:
        return math.nan, math.nan
    begin = min(t for t, _ in latencies)
    span = max(t for t, _ in latencies) - begin or 1.0
    first = [ms for t, ms in latencies if t - begin <= span / 5]
    last = [ms for t, ms in latencies if t - begin >= span * 4 / 5]
    return percentile(first, 0.99), percentile(last, 0.99)


def print_routes(outcomes: dict[str, Outcome]) -> None:
    print(f"{'route':8s} {'sent':>9s} {'errors':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>9s}")
    for route in ROUTES:
        outcome = outcomes[route]
        latency = [ms for _, ms in outcome.latencies]
        print(
            f"{route:8s} {outcome.sent:9,d} {outcome.errors:7d} {percentile(latency, 0.5):8.2f} "
            f"{percentile(latency, 0.99):8.2f} {max(latency, default=math.nan):9.1f}"
        )
        for sample in outcome.error_samples:
            print(f"    error: {sample}")
    lags = [lag for outcome in outcomes.values() for lag in outcome.lags]
    print(f"generator lag behind its schedule: p99 {percentile(lags, 0.99):.1f} ms")


def report(
    outcomes: dict[str, Outcome],
    idle: list[float],
    *,
    rss: tuple[float, float],
    rate: float,
    capacity: float | None,
    replaced: int,
) -> None:
    print_routes(outcomes)
    start, end = rss
    print(f"server RSS: {start:.1f} MiB after the warm-up, {end:.1f} MiB at the end")
    # The embedded event store keeps the blocks of its tables in DuckDB's buffer pool, so
    # some growth follows the data; per million events sent it can be compared across rates.
    events = (outcomes["events"].sent - outcomes["events"].errors) * EVENTS_PER_BATCH
    if events:
        print(f"  that is {(end - start) / events * 1e6:.1f} MiB per million events stored")
    print(f"worker processes replaced by the supervisor: {replaced}")
    during, outside = split_by_reads(outcomes["events"].latencies, outcomes["results"].latencies)
    print(f"event batches in flight during a results read: {len(during):,}, "
          f"p99 {percentile(during, 0.99):.2f} ms; the others: {len(outside):,}, "
          f"p99 {percentile(outside, 0.99):.2f} ms")  # fmt: skip
    print(f"results reads on the quiet server after the soak (ms): "
          f"{', '.join(f'{ms:.0f}' for ms in idle)}")  # fmt: skip
    events_ms = [ms for _, ms in outcomes["events"].latencies]
    figure(
        "soak_events_p99",
        percentile(events_ms, 0.99),
        percentile(outside, 0.99),
        "ms",
        anchor_is=f"p99 of the batches in flight while no results read was; {rate:.0f} req/s, "
        f"results read every {RESULTS_EVERY:g} s",
        goal=at_most(EVENTS_P99_GOAL_MS, "ms"),
        runs=1,
    )
    figure(
        "soak_events_p99_during_reads",
        percentile(during, 0.99),
        percentile(outside, 0.99),
        "ms",
        anchor_is=f"p99 of the batches in flight while no results read was ({len(outside):,}); "
        f"ours: of the {len(during):,} in flight during one",
        goal=at_most(EVENTS_P99_GOAL_MS, "ms"),
        runs=1,
    )
    results_ms = [ms for _, ms in outcomes["results"].latencies]
    figure(
        "soak_results_p99",
        percentile(results_ms, 0.99),
        median(idle),
        "ms",
        anchor_is=f"median of {len(idle)} reads on the quiet server after the soak",
        goal=None,
        runs=1,
    )
    errors = sum(outcome.errors for outcome in outcomes.values())
    sent = sum(outcome.sent for outcome in outcomes.values())
    figure(
        "soak_errors",
        errors,
        sent,
        "requests",
        anchor_is="the requests sent; the ratio is the share that failed",
        goal=at_most(0, "requests"),
        runs=1,
        digits=0,
    )
    figure(
        "soak_rss",
        end,
        start,
        "MiB",
        anchor_is="the server's RSS after the warm-up",
        goal=at_most(1.1),
        runs=1,
        digits=1,
    )
    if capacity is not None:
        figure(
            "soak_rate",
            rate,
            capacity,
            "req/s",
            anchor_is=f"the mix's capacity, closed loop at {ESTIMATE_CONNECTIONS} connections",
            goal=None,
            runs=1,
            digits=0,
        )
    for route in ROUTES:
        first, last = fifths(outcomes[route].latencies)
        figure(
            f"soak_p99_drift_{route}",
            last,
            first,
            "ms",
            anchor_is="its p99 in the run's first fifth; ours: the last fifth",
            goal=None,
            runs=1,
        )


# ---------------------------------------------------------------- main


def soak(base: str, server: subprocess.Popen[bytes], options: argparse.Namespace) -> None:
    context = multiprocessing.get_context("spawn")
    news, out = context.Pipe(duplex=False)
    generator = context.Process(
        target=generate, args=(base, options.rate, options.warmup, options.minutes * 60, out)
    )
    generator.start()
    out.close()
    _, rate, capacity = hear(news)
    print(f"rate: {rate:.0f} requests/s" + (f" (capacity {capacity:.0f})" if capacity else ""))
    wait_for(news, generator, "warm")
    start = rss_mib(server.pid)
    samples = [start]
    done = None
    while done is None:
        if news.poll(RSS_EVERY):
            done = hear(news)
        samples.append(rss_mib(server.pid))
        if not generator.is_alive() and done is None and not news.poll(0):
            raise RuntimeError("the traffic process died")
    generator.join(60)
    _, outcomes, idle = done
    print(f"server RSS samples (MiB, every {RSS_EVERY:.0f} s): min {min(samples):.1f}, "
          f"max {max(samples):.1f}, median {statistics.median(samples):.1f}")  # fmt: skip
    log = Path(options.log).read_text(errors="replace")
    replaced = len(re.findall(r"Child process \[\d+\] died", log))
    report(
        outcomes, idle, rss=(start, samples[-1]), rate=rate, capacity=capacity, replaced=replaced
    )


def wait_for(news: Connection, generator: Any, what: str) -> None:
    while not news.poll(1):
        if not generator.is_alive():
            raise RuntimeError("the traffic process died")
    message = hear(news)
    assert message[0] == what, message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 minute after a 10 s warm-up")
    parser.add_argument("--minutes", type=float, default=3.0)
    rates = parser.add_mutually_exclusive_group()
    rates.add_argument("--rate", type=float, default=32.0, help="requests/s of the mix (32)")
    rates.add_argument(
        "--capacity", action="store_true", help="measure the capacity first, run at half of it"
    )
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds at the rate first")
    parser.add_argument("--postgres", help="a PostgreSQL URL; the soak makes its own database")
    parser.add_argument("--workers", type=int, default=1, help="needs --postgres above 1")
    options = parser.parse_args()
    if options.workers > 1 and options.postgres is None:
        parser.error("--workers above 1 needs --postgres")
    if options.quick:
        options.minutes, options.warmup = 1.0, 10.0
    if options.capacity:
        options.rate = None
    home = Path(tempfile.mkdtemp(prefix="ablab-soak-"))
    options.log = str(home / "serve.log")
    up_port = free_port()
    upstream = start([*UVICORN, "gateway_apps:upstream", "--port", str(up_port)], up_port,
                     dict(os.environ), "/")  # fmt: skip
    try:
        with database(options.postgres) as database_url:
            server, base = serve(home / "store", database_url, options.workers, Path(options.log))
            try:
                set_up(base, f"http://127.0.0.1:{up_port}/predict")
                stores = "PostgreSQL" if database_url else "embedded stores"
                print(f"soak: {options.minutes:g} min after a {options.warmup:g} s warm-up, "
                      f"{options.workers} worker(s), {stores}, on 2 shared cores")  # fmt: skip
                soak(base, server, options)
            finally:
                stop(server)
    finally:
        upstream.terminate()
        upstream.wait(30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
