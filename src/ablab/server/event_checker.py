"""``EventChecker``: event batches checked in worker processes, stored by the server.

Checking a batch (parse, column checks, Arrow tables) is Python work that held the GIL
about 60% of the time ``POST /v1/events`` took, competing with the event loop that answers
every other request. Here the server hands the raw body to one of ``ABLAB_EVENT_CHECKERS``
processes (:mod:`ablab.server.event_check_worker`) and gets the checked batch back as Arrow
IPC; it then stores it itself (DuckDB releases the GIL while it writes) and answers. A 2xx
still means durable: the workers store nothing.

Why these choices (measured on this 2-core machine, docs in the report of issue 16):

- The workers are forked from a ``forkserver``, never from the server: the server runs
  threads (DuckDB's, the assignment writer's) whose locks a plain fork would copy held. The
  fork server is started, by exec, before the stores open; it imports the worker once,
  and each worker (the first ones and every replacement) is forked from it ready to run.
- One body is one round trip on a ``multiprocessing`` pipe (a socketpair): two
  ``send_bytes``, two ``recv_bytes``. The thread that waits blocks in C without the GIL.
- A worker that dies (killed, out of memory) is replaced at once. Checking is pure, so the
  body is checked again by another worker, once; if that one dies too the request gets a
  503 (``Unavailable``), never a 500. A worker that takes longer than ``timeout`` is killed
  and replaced, and the request gets a 503.
- ``size=0`` checks in the calling thread, with the server's own experiment cache, as
  ``ablab events import`` and the local store do. A pool whose workers cannot start (a
  main module that starts a server again when imported, without the ``if __name__ ==
  "__main__"`` idiom multiprocessing needs) checks in-process too, and logs why, rather
  than refusing every batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import orjson

from ablab.domain.experiments import Experiment
from ablab.errors import Unavailable
from ablab.server import event_check_worker
from ablab.server.checked_wire import decode_checked
from ablab.server.event_body import read_events_body
from ablab.services.context import Context
from ablab.services.events.ingest import CheckedEvents, IngestResult, check_events, store_events
from ablab.services.ports import EventStore
from ablab.settings import Settings

__all__ = ["EventChecker"]

logger = logging.getLogger("ablab.server.events")

Lookup = Callable[[str], Experiment | None]
Remember = Callable[[dict[str, dict[str, str]]], None]

# A worker starts in a fraction of this (forked ready from the fork server: 0.1 s; the fork
# server's first start imports the worker: about 1 s here, several on a busy machine).
START_TIMEOUT = 60.0

# A 10,000-event batch checks in well under a second here; a worker still busy after this
# long is stuck, and waiting on it would hold the client and a thread for nothing.
DEFAULT_TIMEOUT = 30.0


class _WorkerLost(Exception):
    """The worker died, or took longer than the timeout (``timed_out``), before it answered."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class _Worker:
    """One checker process and the server's end of its pipe."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def round_trip(self, header: bytes, body: bytes, timeout: float) -> tuple[bytes, bytes]:
        try:
            self.connection.send_bytes(header)
            self.connection.send_bytes(body)
            if not self.connection.poll(timeout):
                raise _WorkerLost(f"no answer within {timeout:g} s", timed_out=True)
            return self.connection.recv_bytes(), self.connection.recv_bytes()
        except (EOFError, OSError) as exc:  # its end closed: it died
            raise _WorkerLost(str(exc) or type(exc).__name__) from None

    def wait_ready(self) -> None:
        """Wait for the worker's ``ready``; a worker that dies first is killed and lost."""
        try:
            ready = self.connection.poll(START_TIMEOUT) and self.connection.recv_bytes()
        except (EOFError, OSError):
            ready = False
        if ready != event_check_worker.READY:
            self.process.kill()
            self.stop(wait=1.0)
            raise _WorkerLost(f"a checker did not start (exit code {self.process.exitcode})")

    def stop(self, *, wait: float) -> None:
        self.connection.close()  # the worker reads the end of its pipe and returns
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(wait)


class EventChecker:
    """Checks event batches in ``size`` worker processes (0: in the calling thread).

    Thread-safe: each call takes a free worker for its round trip (waiting for one when all
    are busy), so up to ``size`` batches are checked at once.
    """

    def __init__(
        self,
        settings: Settings,
        size: int | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 1,
        wait: bool = True,
    ) -> None:
        self._settings = settings
        requested = settings.event_checkers if size is None else size
        # A database in this process's memory is out of the workers' reach.
        self.size = 0 if _in_memory(settings) else requested
        self._timeout = timeout
        self._retries = retries
        self._generation = 0
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._starting: list[_Worker] = []
        self.replaced = 0
        if self.size:
            self._context = multiprocessing.get_context("forkserver")
            # Takes effect when this process starts its fork server, at the first worker.
            self._context.set_forkserver_preload([event_check_worker.__name__])
            try:
                self._starting = [self._start(wait=False) for _ in range(self.size)]
            except BaseException:
                self.close()
                raise
            if wait:
                self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the workers started by the constructor (``wait=False``) are ready; if
        they cannot start, check in-process from now on (logged)."""
        starting, self._starting = self._starting, []
        try:
            for worker in starting:
                worker.wait_ready()
                self._idle.put(worker)
        except _WorkerLost as exc:
            logger.error("event checkers could not start (%s): checking in-process", exc)
            self.close()
            self.size = 0

    @property
    def pids(self) -> list[int | None]:
        """The process ids of the workers (tests, operators)."""
        with self._lock:
            return [worker.pid for worker in self._workers]

    def invalidate(self) -> None:
        """Something was written through the server: the workers drop their experiments."""
        self._generation += 1

    def check(
        self,
        project_id: str,
        body: bytes,
        now: datetime,
        *,
        max_events: int | None,
        lookup: Lookup,
    ) -> CheckedEvents:
        """The checked events of a ``{"events": [...]}`` body (``lookup`` finds experiments
        when checking in this process).

        Raises:
            ValidationError, PayloadTooLarge: the body itself is malformed or too big.
            Unavailable: the workers died or timed out on it (nothing was stored).
        """
        if not self.size:
            events, default = read_events_body(body, max_events)
            return check_events(project_id, now, events, lookup, default_experiment=default)
        header = orjson.dumps([project_id, now.isoformat(), max_events, self._generation])
        for attempt in range(self._retries + 1):
            worker = self._take()
            try:
                answer, tables = worker.round_trip(header, body, self._timeout)
            except _WorkerLost as exc:
                logger.warning("event checker %s stopped: %s; replacing it", worker.pid, exc)
                self._replace(worker)
                # Checking again could only wait as long again for a body that stalls one.
                if attempt < self._retries and not exc.timed_out:
                    continue
                raise Unavailable(
                    "an event checker stopped while checking this batch; nothing of it was "
                    "stored: send it again",
                    details={"retry": True},
                ) from None
            self._idle.put(worker)
            return decode_checked(answer, tables)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def ingest(
        self,
        ctx: Context,
        store: EventStore,
        body: bytes,
        *,
        max_events: int | None,
        lookup: Lookup,
        remember: Remember | None = None,
    ) -> IngestResult:
        """Check ``body`` (:meth:`check`), then store the good events durably."""
        checked = self.check(
            ctx.project_id, body, ctx.clock(), max_events=max_events, lookup=lookup
        )
        return store_events(ctx, store, checked, remember=remember)

    def close(self, wait: float = 5.0) -> None:
        """Stop the workers (each finishes the batch it holds)."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(wait=wait)

    # The pool

    def _start(self, *, wait: bool = True) -> _Worker:
        mine, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=event_check_worker.serve,
            args=(theirs, self._settings),
            name="ablab-event-checker",
            daemon=True,
        )
        process.start()
        theirs.close()  # the worker holds its end; ours alone stays here
        worker = _Worker(process, mine)
        with self._lock:
            self._workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def _take(self) -> _Worker:
        try:
            return self._idle.get(timeout=self._timeout)
        except queue.Empty:
            raise Unavailable(
                "no event checker is free: the server is overloaded, send the batch again later",
                details={"retry": True},
            ) from None

    def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.stop(wait=1.0)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            if self._closed:
                return
        try:
            self._idle.put(self._start())
            self.replaced += 1
        except Exception:  # the next request finds one worker fewer, and says so in time
            logger.exception("could not start an event checker")


def _in_memory(settings: Settings) -> bool:
    url = settings.database_url.get_secret_value() if settings.database_url else ""
    return url.startswith("sqlite") and (":memory:" in url or url.rstrip("/") == "sqlite:")
