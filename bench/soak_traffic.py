"""The soak's traffic, run in a process of its own (asyncio and aiohttp), so that it never
shares the server's GIL.

It repeats a mix of 10 requests: 5 ``POST /v1/assign`` (3 of 10 units new, the others
returning), 3 ``POST /v1/predict/{experiment}`` (the same units), 2 ``POST /v1/events``
batches of 100 new events (exposures of assigned units, predictions, labels of the
gateway's predictions, revenue metrics); besides, ``GET /v1/experiments/{ref}/results``
every 5 s. Open loop: each request is sent at its scheduled time whatever the earlier ones
are doing, and its latency counts from that time, so a stall shows as latency (and a
generator falling behind shows as its lag). After the soak, the results are read
``IDLE_READS`` times more, one after the other on the quiet server: the anchor of the
results' latency under load.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import orjson

from load import KEY

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
IDLE_READS = 5
# The server's write-behind work settles before the idle reads start.
SETTLE_SECONDS = 2.0


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


def tell(out: Connection, *message: object) -> None:
    """Send the parent one step's news as JSON (an Outcome as its fields), never a pickle."""
    out.send_bytes(orjson.dumps(message, default=lambda value: value.__dict__))


def hear(news: Connection) -> list[Any]:
    """The next news of :func:`tell`, with the outcomes of ``done`` as ``Outcome`` again."""
    message: list[Any] = orjson.loads(news.recv_bytes())
    if message[0] == "done":
        message[1] = {route: Outcome(**fields) for route, fields in message[1].items()}
    return message


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


async def idle_reads(traffic: Traffic) -> list[float]:
    """Latencies (ms) of ``IDLE_READS`` results reads one after the other, nothing else sent."""
    loop = asyncio.get_running_loop()
    latencies = []
    for _ in range(IDLE_READS):
        started = loop.time()
        ok, what = await traffic.results()
        if not ok:
            raise RuntimeError(f"results read on the quiet server failed: {what}")
        latencies.append((loop.time() - started) * 1000)
    return latencies


def generate(base: str, rate: float | None, warmup: float, seconds: float, out: Connection) -> None:
    """The traffic process: the capacity (unless a rate is given), the warm-up, the soak,
    the idle reads; each step's news to the parent through ``out``."""

    async def main() -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=512)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            traffic = Traffic(session, base)
            traffic.record = False
            capacity = await closed_loop(traffic, ESTIMATE_SECONDS) if rate is None else None
            soak_rate = rate or (capacity or 0) / 2
            tell(out, "rate", soak_rate, capacity)
            await open_loop(traffic, soak_rate, warmup)
            tell(out, "warm")
            traffic.record = True
            await open_loop(traffic, soak_rate, seconds)
            traffic.record = False
            await asyncio.sleep(SETTLE_SECONDS)
            tell(out, "done", traffic.outcomes, await idle_reads(traffic))

    asyncio.run(main())
