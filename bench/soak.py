"""Benchmark: a soak. ``ablab serve`` under mixed traffic at about half its capacity for a
while (10 minutes by default): errors, latency per route, and the server's memory.

- The server: ``ablab serve`` in a process of its own on a fresh ``ABLAB_HOME`` (embedded
  stores), or on a new database of ``--postgres URL`` (``--workers N`` needs it); a model
  server for ``/v1/predict`` (``gateway_apps.upstream``, raw ASGI on uvicorn); two model
  versions, a ``revenue`` metric and an experiment, registered through the API.
- The traffic, in a process of its own (asyncio + aiohttp, so it never shares the server's
  GIL), repeats a mix of 10 requests: 5 ``POST /v1/assign`` (3 of 10 units new, the others
  returning), 3 ``POST /v1/predict/{experiment}`` (the same units), 2 ``POST /v1/events``
  batches of 100 new events (exposures of assigned units, predictions, labels of the
  gateway's predictions, revenue metrics); besides, ``GET /v1/experiments/{ref}/results``
  every 5 s.
- The rate: ``--rate`` requests/s, or half of the mix's capacity, measured first (closed
  loop, 32 connections, 15 s). Then open loop: each request is sent at its scheduled time
  whatever the earlier ones are doing, and its latency counts from that time, so a stall
  shows as latency (and a generator falling behind shows as its lag, printed).
- After a warm-up (``--warmup`` s at the rate), ``--minutes`` of traffic: errors (any
  non-2xx or connection error) and requests sent per route, p50 and p99 per route, and the
  server's RSS (VmRSS of the server process and all its descendants: supervisor, fork
  server, workers) after the warm-up and at the end.

Run: ``.venv/bin/python bench/soak.py [--minutes 10] [--rate R] [--postgres URL]
[--workers N]`` (the minutes, plus about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BIN, KEY, free_port, start

HERE = Path(__file__).resolve().parent
EXPERIMENT = "soak"
# The mix, in the order it repeats.
MIX = ("assign", "predict", "assign", "events", "assign", "predict", "assign", "events",
       "assign", "predict")  # fmt: skip
ROUTES = ("assign", "predict", "events", "results")
EVENTS_PER_BATCH = 100
NEW_UNITS = 0.3
RESULTS_EVERY = 5.0
ESTIMATE_SECONDS = 15.0
ESTIMATE_CONNECTIONS = 32
RSS_EVERY = 5.0


# ---------------------------------------------------------------- the traffic (own process)


@dataclass
class Outcome:
    """What one route did: latencies (ms, from the scheduled time) by scheduled second."""

    sent: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


class Traffic:
    """The requests of the mix, and the units and predictions they leave behind."""

    def __init__(self, session: Any, base: str) -> None:
        self.session = session
        self.base = base
        self.headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        self.run = uuid.uuid4().hex[:8]
        self.counter = 0
        self.assigned: deque[tuple[str, str]] = deque(maxlen=200_000)
        self.predictions: deque[str] = deque(maxlen=50_000)
        self.random = random.Random(7)
        self.outcomes = {route: Outcome() for route in ROUTES}
        self.record = True

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def unit(self) -> str:
        if not self.assigned or self.random.random() < NEW_UNITS:
            return f"{self.run}-u{self._next()}"
        return self.random.choice(self.assigned)[0]

    async def call(self, route: str, scheduled: float) -> None:
        """Send one request of ``route`` now, for the time ``scheduled`` (loop time)."""
        outcome = self.outcomes[route]
        loop = asyncio.get_running_loop()
        if self.record:
            outcome.sent += 1
            outcome.lags.append((loop.time() - scheduled) * 1000)
        try:
            ok, what = await getattr(self, route)()
        except Exception as exc:
            ok, what = False, f"{type(exc).__name__}: {exc}"
        if not self.record:
            return
        if ok:
            outcome.latencies.append((scheduled, (loop.time() - scheduled) * 1000))
        else:
            outcome.error(what)

    async def _send(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = None if body is None else orjson.dumps(body)
        async with self.session.request(
            method, self.base + path, data=data, headers=self.headers
        ) as answer:
            return answer.status, await answer.read()

    async def assign(self) -> tuple[bool, str]:
        unit = self.unit()
        body = {"experiment": EXPERIMENT, "unit_id": unit, "attributes": {"region": "eu"}}
        status, text = await self._send("POST", "/v1/assign", body)
        if status != 200:
            return False, f"{status} {text[:200]!r}"
        variant = orjson.loads(text)["variant"]
        if variant is not None:
            self.assigned.append((unit, variant))
        return True, ""

    async def predict(self) -> tuple[bool, str]:
        body = {"unit_id": self.unit(), "features": [1.5, 2.5, 3.5]}
        status, text = await self._send("POST", f"/v1/predict/{EXPERIMENT}", body)
        if status != 200:
            return False, f"{status} {text[:200]!r}"
        self.predictions.append(orjson.loads(text)["prediction_id"])
        return True, ""

    async def events(self) -> tuple[bool, str]:
        status, text = await self._send("POST", "/v1/events", {"events": self._batch()})
        if status != 200:
            return False, f"{status} {text[:200]!r}"
        answer = orjson.loads(text)
        if answer["rejected"]:
            return False, f"200 with rejected events: {answer['rejected'][:2]}"
        return True, ""

    async def results(self) -> tuple[bool, str]:
        status, text = await self._send("GET", f"/v1/experiments/{EXPERIMENT}/results")
        return status == 200, f"{status} {text[:200]!r}"

    def _batch(self) -> list[dict[str, object]]:
        """A quarter each: exposures of assigned units, predictions of them, labels (of the
        gateway's predictions when there are some), revenue metrics; all ids new."""
        now = datetime.now(UTC).isoformat()
        events: list[dict[str, object]] = []
        for _ in range(EVENTS_PER_BATCH // 4):
            unit, variant = (
                self.random.choice(self.assigned) if self.assigned else (self.unit(), "control")
            )
            prediction = f"{self.run}-p{self._next()}"
            labelled = self.random.choice(self.predictions) if self.predictions else prediction
            arm = {"experiment": EXPERIMENT, "unit_id": unit, "variant": variant}
            events += [
                {"type": "exposure", **arm},
                {"type": "prediction", **arm, "prediction_id": prediction, "error": False,
                 "latency_ms": 20.0 + self.random.random() * 30, "output": "pneumonia"},
                {"type": "label", "prediction_id": labelled,
                 "correct": self.random.random() < 0.8},
                {"type": "metric", "experiment": EXPERIMENT, "unit_id": unit,
                 "name": "revenue", "value": round(self.random.random() * 10, 2)},
            ]  # fmt: skip
        for event in events:
            event["event_id"] = f"{self.run}-e{self._next()}"
            event["timestamp"] = now
        return events


async def closed_loop(traffic: Traffic, seconds: float) -> float:
    """Requests/s of the mix with ``ESTIMATE_CONNECTIONS`` callers each awaiting its answer,
    the results read every ``RESULTS_EVERY`` s besides (they hold the event store too)."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    stop = begin + seconds
    done = 0

    async def caller(offset: int) -> None:
        nonlocal done
        step = offset
        while loop.time() < stop:
            await traffic.call(MIX[step % len(MIX)], loop.time())
            step += 1
            done += 1

    async def reader() -> None:
        while loop.time() < stop:
            await traffic.call("results", loop.time())
            await asyncio.sleep(RESULTS_EVERY)

    await asyncio.gather(reader(), *(caller(n) for n in range(ESTIMATE_CONNECTIONS)))
    return done / (loop.time() - begin)


async def open_loop(traffic: Traffic, rate: float, seconds: float) -> None:
    """The mix at ``rate`` requests/s and results every ``RESULTS_EVERY`` s, each request
    sent at its scheduled time; returns when every request has its answer."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    pending: set[asyncio.Task[None]] = set()

    def launch(route: str, scheduled: float) -> None:
        task = asyncio.create_task(traffic.call(route, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def schedule(routes: Callable[[int], str], interval: float) -> None:
        step = 0
        while (scheduled := begin + step * interval) < begin + seconds:
            if (wait := scheduled - loop.time()) > 0:
                await asyncio.sleep(wait)
            launch(routes(step), scheduled)
            step += 1

    await asyncio.gather(
        schedule(lambda step: MIX[step % len(MIX)], 1 / rate),
        schedule(lambda _: "results", RESULTS_EVERY),
    )
    if pending:
        await asyncio.wait(pending)


def generate(base: str, rate: float | None, warmup: float, seconds: float, out: Connection) -> None:
    """The traffic process: the capacity (unless given), the warm-up, the soak; each step's
    news to the parent through ``out``."""

    async def main() -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=512)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            traffic = Traffic(session, base)
            traffic.record = False
            capacity = await closed_loop(traffic, ESTIMATE_SECONDS) if rate is None else None
            soak_rate = rate or (capacity or 0) / 2
            out.send(("rate", soak_rate, capacity))
            await open_loop(traffic, soak_rate, warmup)
            out.send(("warm",))
            traffic.record = True
            await open_loop(traffic, soak_rate, seconds)
            out.send(("done", traffic.outcomes))

    asyncio.run(main())


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
            body = {"model": "m", "version": version, "endpoint": upstream}
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
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(
    outcomes: dict[str, Outcome],
    rss: tuple[float, float],
    rate: float,
    capacity: float | None,
    replaced: int,
) -> None:
    print(f"{'route':8s} {'sent':>9s} {'errors':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>9s}")
    for route in ROUTES:
        outcome = outcomes[route]
        latency = [ms for _, ms in outcome.latencies]
        print(
            f"{route:8s} {outcome.sent:9,d} {outcome.errors:7d} {percentile(latency, 0.5):8.2f} "
            f"{percentile(latency, 0.99):8.2f} {max(latency, default=float('nan')):9.1f}"
        )
        for sample in outcome.error_samples:
            print(f"    error: {sample}")
    lags = [lag for outcome in outcomes.values() for lag in outcome.lags]
    print(f"generator lag behind its schedule: p99 {percentile(lags, 0.99):.1f} ms")
    start, end = rss
    growth = (end - start) / start * 100
    print(
        f"server RSS: {start:.1f} MiB after the warm-up, {end:.1f} MiB at the end ({growth:+.1f}%)"
    )
    # The embedded event store keeps the blocks of its tables in DuckDB's buffer pool, so
    # some growth follows the data; per million events sent it can be compared across rates.
    events = (outcomes["events"].sent - outcomes["events"].errors) * EVENTS_PER_BATCH
    if events:
        print(f"  that is {(end - start) / events * 1e6:.1f} MiB per million events stored")
    print(f"worker processes replaced by the supervisor: {replaced}")
    errors = sum(outcome.errors for outcome in outcomes.values())
    if capacity is not None:
        print(
            f"bench: soak_rate ours={rate:.0f}req/s anchor={capacity:.0f}req/s (the mix's "
            f"capacity, closed loop at {ESTIMATE_CONNECTIONS} connections) "
            f"ratio={rate / capacity:.2f} goal=0.5"
        )
    print(f"bench: soak_errors ours={errors}errors anchor=0errors (none) ratio=n/a goal=0errors")
    print(
        f"bench: soak_rss_growth ours={growth:.1f}% anchor=10.0% (the bound) "
        f"ratio={growth / 10:.2f} goal=<10%"
    )
    for route in ROUTES:
        first, last = fifths(outcomes[route].latencies)
        print(
            f"bench: soak_p99_{route} ours={last:.2f}ms anchor={first:.2f}ms (its p99 in the "
            f"run's first fifth; ours: the last fifth) ratio={last / first:.2f} goal=report"
        )


def fifths(latencies: list[tuple[float, float]]) -> tuple[float, float]:
    """p99 of the requests scheduled in the first fifth of the run, and in the last."""
    if not latencies:
        return float("nan"), float("nan")
    begin = min(t for t, _ in latencies)
    span = max(t for t, _ in latencies) - begin or 1.0
    first = [ms for t, ms in latencies if t - begin <= span / 5]
    last = [ms for t, ms in latencies if t - begin >= span * 4 / 5]
    return percentile(first, 0.99), percentile(last, 0.99)


# ---------------------------------------------------------------- main


def soak(base: str, server: subprocess.Popen[bytes], options: argparse.Namespace) -> None:
    context = multiprocessing.get_context("spawn")
    news, out = context.Pipe(duplex=False)
    generator = context.Process(
        target=generate, args=(base, options.rate, options.warmup, options.minutes * 60, out)
    )
    generator.start()
    out.close()
    _, rate, capacity = news.recv()
    print(f"rate: {rate:.0f} requests/s" + (f" (capacity {capacity:.0f})" if capacity else ""))
    wait_for(news, generator, "warm")
    start = rss_mib(server.pid)
    samples = [start]
    outcomes = None
    while outcomes is None:
        if news.poll(RSS_EVERY):
            message = news.recv()
            outcomes = message[1]
        samples.append(rss_mib(server.pid))
        if not generator.is_alive() and outcomes is None and not news.poll(0):
            raise RuntimeError("the traffic process died")
    generator.join(60)
    print(f"server RSS samples (MiB, every {RSS_EVERY:.0f} s): min {min(samples):.1f}, "
          f"max {max(samples):.1f}, median {statistics.median(samples):.1f}")  # fmt: skip
    log = Path(options.log).read_text(errors="replace")
    replaced = len(re.findall(r"Child process \[\d+\] died", log))
    report(outcomes, (start, samples[-1]), rate, capacity, replaced)


def wait_for(news: Connection, generator: Any, what: str) -> None:
    while not news.poll(1):
        if not generator.is_alive():
            raise RuntimeError("the traffic process died")
    message = news.recv()
    assert message[0] == what, message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--rate", type=float, help="requests/s of the mix (default: half of capacity)"
    )
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds at the rate first")
    parser.add_argument("--postgres", help="a PostgreSQL URL; the soak makes its own database")
    parser.add_argument("--workers", type=int, default=1, help="needs --postgres above 1")
    options = parser.parse_args()
    if options.workers > 1 and options.postgres is None:
        parser.error("--workers above 1 needs --postgres")
    home = Path(tempfile.mkdtemp(prefix="ablab-soak-"))
    options.log = str(home / "serve.log")
    up_port = free_port()
    uvicorn = [str(BIN / "uvicorn"), "--loop", "uvloop", "--http", "httptools"]
    uvicorn += ["--log-level", "warning", "--no-access-log", "--app-dir", str(HERE)]
    upstream = start([*uvicorn, "gateway_apps:upstream", "--port", str(up_port)], up_port,
                     dict(os.environ), "/")  # fmt: skip
    try:
        with database(options.postgres) as database_url:
            server, base = serve(home / "store", database_url, options.workers, Path(options.log))
            try:
                set_up(base, f"http://127.0.0.1:{up_port}/predict")
                stores = "PostgreSQL" if database_url else "embedded stores"
                print(f"soak: {options.minutes:g} min after a {options.warmup:g} s warm-up, "
                      f"{options.workers} worker(s), {stores}")  # fmt: skip
                soak(base, server, options)
            finally:
                stop(server)
    finally:
        upstream.terminate()
        upstream.wait(30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
