"""``FirstAssignmentWriter``: a unit's first assignment is durable before it is answered.

Once the server has told anyone a unit's variant (an assignment, a prediction, an
acknowledged exposure), a crash must not let the unit come back with another one: after a
split change, a lost first assignment would be re-hashed onto the new plan. So the answer
waits for the write. Writes are grouped: one thread takes every first assignment waiting
and stores them in one transaction (one commit for all the requests that arrived during
the previous one), then wakes each caller with the variant the store holds, which is
another process's when it stored the unit first.

SQLite commits in WAL mode with ``synchronous=NORMAL``, so a commit is in the operating
system's hands (it survives the process being killed) without an fsync per commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import datetime

from ablab.errors import Unavailable
from ablab.services.context import utc_now
from ablab.services.ports import MetadataStore

__all__ = ["FirstAssignmentWriter"]

logger = logging.getLogger(__name__)

Held = dict[str, str]  # unit id -> the variant the store holds


class FirstAssignmentWriter:
    """Group commit of first assignments; :meth:`close` stops it after the last write."""

    def __init__(self, store: MetadataStore, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock
        self._pending: dict[str, dict[str, str]] = {}
        self._waiting: list[tuple[Future[Held], str, tuple[str, ...]]] = []
        self._ready = threading.Condition()
        self._closed = False
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="ablab-first-assignments")
        self._thread.daemon = True
        self._thread.start()

    def persist(self, experiment_id: str, variants: Mapping[str, str]) -> Future[Held]:
        """Store ``variants`` (unit -> variant) unless a unit has one already.

        The future resolves, once the write is committed, to what the store holds for each
        of these units; it fails with :class:`Unavailable` if the store could not be written.
        """
        future: Future[Held] = Future()
        if not variants:
            future.set_result({})
            return future
        with self._ready:
            if self._closed:
                raise Unavailable("the server is shutting down: first assignments are closed")
            pending = self._pending.setdefault(experiment_id, {})
            for unit_id, variant in variants.items():
                pending.setdefault(unit_id, variant)
            self._waiting.append((future, experiment_id, tuple(variants)))
            self._ready.notify()
        return future

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._closed:
                    self._ready.wait()
                if not self._pending:
                    return  # closed, and nothing left
                pending, self._pending = self._pending, {}
                waiting, self._waiting = self._waiting, []
            self._write(pending, waiting)

    def _write(
        self,
        pending: dict[str, dict[str, str]],
        waiting: list[tuple[Future[Held], str, tuple[str, ...]]],
    ) -> None:
        try:
            at = self._clock()
            with self._store.session() as session:
                held = {e: session.add_assignments(e, units, at) for e, units in pending.items()}
        except Exception as exc:
            logger.exception("storing %d first assignments failed", sum(map(len, pending.values())))
            problem = Unavailable(
                "the metadata store could not store first assignments; retry",
                details={"reason": type(exc).__name__},
            )
            for future, _, _ in waiting:
                future.set_exception(problem)
            return
        self.batches += 1
        for future, experiment_id, units in waiting:
            stored = held[experiment_id]
            future.set_result({u: stored[u] for u in units})
