"""What the server holds while it runs: the stores and the caches on top of them.

Everything is opened in the app's lifespan, not at import, and reached by routes through
``request.app.state.ablab``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from ablab.domain.trust import Trust
from ablab.gateway.gateway import Gateway
from ablab.notify import WebhookAlerts
from ablab.server.auth import KeyCache
from ablab.server.event_checker import EventChecker
from ablab.server.experiment_cache import ExperimentCache
from ablab.server.llm_jobs import LlmJobs
from ablab.server.observability import Telemetry
from ablab.server.sign_in_throttle import SignInThrottle
from ablab.services.assignment.live import LiveAssigner
from ablab.services.automation.monitor import Monitor
from ablab.services.context import Context
from ablab.services.events.buffer import EventBuffer
from ablab.services.events.ingest import ingest_events, store_events
from ablab.services.ports import EventStore, MetadataStore, SourceChecker
from ablab.settings import Settings

__all__ = ["EventLog", "ServerState"]


class EventLog:
    """The gateway's events on their way to the store: one buffer per project, sent in the
    background in batches (so a prediction never waits for a write).

    The event loop only appends each event to its buffer. The buffer's thread serialises a
    batch and has it checked by ``checker``'s processes (checking in this process held the
    GIL the loop needs), then stores it.
    """

    def __init__(
        self,
        store: MetadataStore,
        events: EventStore,
        experiments: ExperimentCache,
        assigner: LiveAssigner,
        checker: EventChecker | None = None,
    ) -> None:
        self._store, self._events = store, events
        self._experiments, self._assigner = experiments, assigner
        self._checker = checker
        self._buffers: dict[str, EventBuffer] = {}
        self._lock = threading.Lock()

    def log(self, project_id: str, events: list[dict[str, Any]]) -> None:
        """Queue ``events`` of ``project_id`` (never raises; a full queue drops, counted)."""
        buffer = self._buffers.get(project_id)
        if buffer is None:
            with self._lock:
                buffer = self._buffers.get(project_id) or self._new_buffer(project_id)
        for event in events:
            buffer.track(event)

    def _new_buffer(self, project_id: str) -> EventBuffer:
        ctx = Context(self._store, project_id, "ablab:gateway")
        lookup = partial(self._experiments.lookup, project_id)
        remember = self._assigner.remember_exposures

        def send(batch: list[Any]) -> None:
            body = _events_body(batch) if self._checker and self._checker.size else None
            if body is None:  # checked here: no checkers, or a value JSON cannot carry
                ingest_events(ctx, self._events, batch, lookup=lookup, remember=remember)
                return
            assert self._checker is not None
            checked = self._checker.check(
                project_id, body, ctx.clock(), max_events=None, lookup=lookup
            )
            store_events(ctx, self._events, checked, remember=remember)

        buffer = self._buffers[project_id] = EventBuffer(send, batch_size=20_000, interval=1.0)
        return buffer

    @property
    def dropped(self) -> int:
        return sum(b.dropped for b in self._buffers.values())

    def flush(self) -> None:
        for buffer in list(self._buffers.values()):
            buffer.flush()

    def close(self) -> None:
        for buffer in list(self._buffers.values()):
            buffer.close()


# Serialised this many at a time: orjson holds the GIL for the whole of one call, and the
# event loop shares it (0.5 ms per 500 events here; a 20,000-event batch in one call, 20 ms).
_DUMPS_CHUNK = 500
_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _events_body(batch: list[Any]) -> bytes | None:
    """``{"events": batch}`` as JSON, or None when an event holds what JSON cannot carry (a
    model's output of a type orjson does not know): that batch is checked in-process."""
    parts = []
    try:
        for start in range(0, len(batch), _DUMPS_CHUNK):
            chunk = orjson.dumps(batch[start : start + _DUMPS_CHUNK], option=_DUMPS_OPTIONS)
            parts.append(chunk[1:-1])  # without the list's brackets
    except TypeError:
        return None
    return b'{"events":[' + b",".join(parts) + b"]}"


@dataclass
class ServerState:
    settings: Settings
    store: MetadataStore
    events: EventStore
    keys: KeyCache
    assigner: LiveAssigner
    experiments: ExperimentCache
    telemetry: Telemetry
    gateway: Gateway
    event_log: EventLog
    alerts: WebhookAlerts | None = None
    monitor: Monitor | None = None
    llm_jobs: LlmJobs = field(default_factory=LlmJobs)
    sign_ins: SignInThrottle = field(default_factory=SignInThrottle)
    # The operator's: what requests may make the server load or call.
    trust: Trust = field(default_factory=Trust)
    # Checks event batches off the event loop's GIL (server/event_checker.py).
    event_checker: EventChecker | None = None
    # The operator's analysis engines: read a source's sample when one is added.
    sources: SourceChecker | None = None

    def store_ping(self) -> None:
        with self.store.session(read_only=True) as session:
            session.get_project_by_name("")

    def events_ping(self) -> None:
        self.events.ping()

    def changed(self) -> None:
        """Something was written through this process: drop the caches that could be stale."""
        self.assigner.invalidate()
        self.experiments.invalidate()
        if self.event_checker is not None:
            self.event_checker.invalidate()
