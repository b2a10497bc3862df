"""``EventBuffer``: events queued in memory and sent in the background, never in the way.

The SDK sends them to a server; the server's gateway hands them to the event store.

``track`` only appends to a bounded queue; a thread sends batches every ``interval``
seconds (or as soon as ``batch_size`` wait), retrying a failed batch with exponential
backoff. A batch the server refuses as a whole (4xx) is dropped and logged: resending it
would fail again. Nothing here raises into the caller; a full queue drops the new event
and counts it. ``close`` (and interpreter exit) sends what is left.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from ablab.errors import AblabError, Unavailable

__all__ = ["EventBuffer"]

logger = logging.getLogger("ablab.events")

Send = Callable[[list[Mapping[str, Any]]], object]


class EventBuffer:
    def __init__(
        self,
        send: Send,
        *,
        max_queue: int = 100_000,
        batch_size: int = 1_000,
        interval: float = 1.0,
        max_retries: int = 5,
        backoff: float = 0.5,
    ) -> None:
        self._send = send
        self._queue: deque[Mapping[str, Any]] = deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = interval
        self._max_retries = max_retries
        self._backoff = backoff
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._send_lock = threading.Lock()
        # Batches taken from the queue and not yet sent (or given up): flush waits for them.
        self._sending = 0
        self._sent_all = threading.Condition()
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="ablab-events", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def track(self, event: Mapping[str, Any]) -> bool:
        """Queue one event; False (and counted in ``dropped``) when the queue is full."""
        if self._closed.is_set() or len(self._queue) >= self._max_queue:
            self.dropped += 1
            return False
        self._queue.append(event)
        if len(self._queue) >= self._batch_size:
            self._wake.set()
        return True

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self, timeout: float = 60.0) -> None:
        """Send everything queued now (retrying as usual), in the caller's thread, and wait
        (up to ``timeout`` seconds) for the batch the background thread may be sending."""
        while self._queue:
            self._send_one_batch()
        with self._sent_all:
            self._sent_all.wait_for(lambda: not self._sending, timeout)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()
        atexit.unregister(self.close)

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            while self._queue and not self._closed.is_set():
                self._send_one_batch()

    def _send_one_batch(self) -> None:
        with self._send_lock:  # only while taking the batch: a retry's sleep holds nothing
            batch: list[Mapping[str, Any]] = []
            while self._queue and len(batch) < self._batch_size:
                batch.append(self._queue.popleft())
            if not batch:
                return
            with self._sent_all:
                self._sending += 1
        try:
            self._send_with_retries(batch)
        finally:
            with self._sent_all:
                self._sending -= 1
                self._sent_all.notify_all()

    def _send_with_retries(self, batch: list[Mapping[str, Any]]) -> None:
        for attempt in range(self._max_retries + 1):
            try:
                self._send(batch)
                self.sent += len(batch)
                return
            except Unavailable as exc:
                problem: AblabError = exc
            except AblabError as exc:  # refused as a whole: sending again cannot help
                logger.warning("the server refused %d events: %s", len(batch), exc.message)
                self.failed += len(batch)
                return
            if attempt < self._max_retries:
                time.sleep(self._backoff * 2**attempt)
        logger.warning("dropped %d events after retries: %s", len(batch), problem.message)
        self.failed += len(batch)
