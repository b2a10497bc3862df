"""Request ids, structured logs, Prometheus metrics and the body size limit, as ASGI middleware.

Pure ASGI (no Starlette ``BaseHTTPMiddleware``), so it costs a few microseconds per request
on the hot paths too. Every response carries ``X-Request-ID`` (the caller's, or a new
one), every request is logged as one JSON line, and ``/metrics`` exposes requests and
latencies by route, assignments, events accepted and rejected, experiments by status, and
the gateway's circuit breakers (each backend's state, and how many times it opened).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ablab.errors import PayloadTooLarge
from ablab.gateway.breaker import BreakerReading, BreakerState

__all__ = ["JsonLogFormatter", "Telemetry", "TelemetryMiddleware"]

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

access_log = logging.getLogger("ablab.server.access")

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class _ExperimentsByStatus(Collector):
    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ablab_experiments", "Experiments by lifecycle status", labels=["status"]
        )
        try:
            counts = self._count()
        except Exception:  # a scrape must not fail because the store is briefly away
            counts = {}
        for status, value in sorted(counts.items()):
            family.add_metric([status], value)
        yield family


# (project id, model version id, its breaker's reading): server/breakers.py.
BreakerLines = Callable[[], Iterable[tuple[str, str, BreakerReading]]]


class _Breakers(Collector):
    """Each breaker's state as an enum gauge (1 for its state, 0 for the two others, the
    Prometheus idiom), and a counter of its openings. Read at each scrape from the live
    breakers: one never called is absent (closed, never opened)."""

    def __init__(self, lines: BreakerLines) -> None:
        self._lines = lines

    def collect(self) -> Iterable[Metric]:
        state = GaugeMetricFamily(
            "ablab_breaker_state",
            "Circuit breaker state per backend (1 for the current state, else 0)",
            labels=["project", "backend", "state"],
        )
        opened = CounterMetricFamily(
            "ablab_breaker_opened",
            "Times a backend's circuit breaker opened (a failed half-open probe included)",
            labels=["project", "backend"],
        )
        try:
            lines = list(self._lines())
        except Exception:  # a scrape must not fail because of one collector
            lines = []
        for project, backend, reading in lines:
            for each in BreakerState:
                state.add_metric([project, backend, each.value], float(reading.state is each))
            opened.add_metric([project, backend], reading.opened)
        yield state
        yield opened


class Telemetry:
    """The server's Prometheus registry (one per app, never the global one)."""

    def __init__(
        self,
        experiments_by_status: Callable[[], dict[str, int]],
        breakers: BreakerLines | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ablab_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ablab_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.assignments = Counter(
            "ablab_assignments",
            "Units assigned, by whether they entered the experiment",
            ["in_experiment"],
            registry=self.registry,
        )
        self.events = Counter(
            "ablab_events",
            "Events received, by outcome (stored, duplicate, rejected)",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_ExperimentsByStatus(experiments_by_status))
        if breakers is not None:
            self.registry.register(_Breakers(breakers))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp, telemetry: Telemetry, max_body_bytes: int) -> None:
        self.app = app
        self.telemetry = telemetry
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or os.urandom(8).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        sent_start = False
        limit = self.max_body_bytes
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(send, request_id, limit)
            self._record(scope, 413, started, request_id)
            return
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # A chunked body: read it here, so one over the limit is refused before any
            # route (FastAPI would report a failed read as a 400), then hand it on.
            buffered, too_large = await _read_body(receive, limit)
            if too_large:
                await _too_large(send, request_id, limit)
                self._record(scope, 413, started, request_id)
                return
            receive = _replay(buffered, receive)
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(
                        f"the request body is over the limit of {limit} bytes",
                        details={"limit_bytes": limit},
                    )
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal status, sent_start
            if message["type"] == "http.response.start":
                status = message["status"]
                sent_start = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if not sent_start:
                await _too_large(send, request_id, limit)
            status = 413
        finally:
            self._record(scope, status, started, request_id)

    def _record(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or scope.get("ablab_route") or "unmatched"
        self.telemetry.requests.labels(template, scope["method"], str(status)).inc()
        self.telemetry.latency.labels(template).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return replay


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _too_large(send: Send, request_id: str, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is over the limit of {limit} bytes",
                "details": {"limit_bytes": limit},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
