"""The server's background work, on one scheduler that the app's lifespan starts and stops.

Two kinds of job, both on worker threads and never on the event loop (they read and write
the stores, which block):

- **Periodic** (:meth:`Scheduler.every`): the monitor's rounds, the renewal of LLM run
  leases, the keys' ``last_used_at``. Each has a thread of its own, so that a long round of
  one (a monitor round analyses every running experiment) never delays another (a lease
  renewed late is a run another replica may end). A job never overlaps itself: its next
  round comes one period after the last one ended.
- **One-off** (:meth:`Scheduler.submit`): an LLM run. They share at most ``workers``
  threads, made as they are needed; more wait in a queue.

A job that raises is logged, and its schedule goes on. :meth:`Scheduler.stop` ends every
schedule, drops the one-off jobs still queued and waits for the running ones up to a
timeout. The threads are daemons: a job still running after the timeout (a webhook that
never answers) does not hold the process's exit; its thread is named in the log.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

__all__ = ["DEFAULT_WORKERS", "Scheduler"]

logger = logging.getLogger("ablab.server.scheduler")

# One-off jobs at once. An LLM run spends its time waiting for the user's webhook, not on
# the CPU; four runs in flight is more than one experiment's tasks need, and a fifth waits.
DEFAULT_WORKERS = 4


@dataclass(frozen=True, slots=True)
class _OneOff:
    name: str
    job: Callable[[], object]
    future: Future[object]


class Scheduler:
    """Periodic and one-off jobs on worker threads (see the module's docstring).

    Args:
        workers: Most one-off jobs running at once.
    """

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        if workers < 1:
            raise ValueError("a scheduler needs at least one worker")
        self._max_workers = workers
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._periodic: list[tuple[str, float, Callable[[], object]]] = []
        self._threads: list[threading.Thread] = []
        self._workers: list[threading.Thread] = []
        self._queue: queue.SimpleQueue[_OneOff | None] = queue.SimpleQueue()
        # Released by a worker that waits for a job, taken by a submit that it will serve.
        self._idle = threading.Semaphore(0)
        self._started = False
        self.failures = 0

    def every(self, seconds: float, job: Callable[[], object], *, name: str) -> None:
        """Run ``job`` every ``seconds`` (the first time one period after the start).

        Raises:
            ValueError: a period that is not positive.
            RuntimeError: the scheduler has stopped.
        """
        if not seconds > 0:
            raise ValueError(f"the period of {name} must be positive, got {seconds}")
        with self._lock:
            self._refuse_if_stopped(name)
            self._periodic.append((name, seconds, job))
            if self._started:
                self._start_periodic(name, seconds, job)

    def submit(self, job: Callable[[], object], *, name: str) -> Future[object]:
        """Run ``job`` once, on a free worker or as soon as one is free.

        Its future holds what it returned or raised (it is logged too), and is cancelled if
        the scheduler stops before the job began.

        Raises:
            RuntimeError: the scheduler has stopped.
        """
        future: Future[object] = Future()
        with self._lock:
            self._refuse_if_stopped(name)
            self._queue.put(_OneOff(name, job, future))
            if not self._idle.acquire(blocking=False) and len(self._workers) < self._max_workers:
                worker = threading.Thread(
                    target=self._work, name=f"ablab-worker-{len(self._workers)}", daemon=True
                )
                self._workers.append(worker)
                worker.start()
        return future

    def start(self) -> Scheduler:
        """Begin the periodic jobs' schedules."""
        with self._lock:
            self._refuse_if_stopped("start")
            if not self._started:
                self._started = True
                for name, seconds, job in self._periodic:
                    self._start_periodic(name, seconds, job)
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """End the schedules, drop the queued one-off jobs and wait for the running ones.

        Returns:
            Whether every job ended within ``timeout`` seconds (those that did not are
            logged and left to end, or to die with the process).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._stopping.set()
            threads = self._threads + self._workers
            workers = len(self._workers)
        while True:
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                break
            if waiting is not None:
                waiting.future.cancel()
        for _ in range(workers):
            self._queue.put(None)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        still = [t.name for t in threads if t.is_alive()]
        if still:
            logger.warning("background jobs still running %.0f s after stop: %s", timeout, still)
        return not still

    def __enter__(self) -> Scheduler:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _refuse_if_stopped(self, name: str) -> None:
        if self._stopping.is_set():
            raise RuntimeError(f"the scheduler has stopped: {name} does not run")

    def _start_periodic(self, name: str, seconds: float, job: Callable[[], object]) -> None:
        thread = threading.Thread(
            target=self._repeat, args=(name, seconds, job), name=f"ablab-every-{name}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _repeat(self, name: str, seconds: float, job: Callable[[], object]) -> None:
        while not self._stopping.wait(seconds):
            try:
                job()
            except Exception:  # one failed round must not end the schedule; it is logged
                self._failed()
                logger.exception("background job %s failed; it runs again in %s s", name, seconds)

    def _failed(self) -> None:
        with self._lock:
            self.failures += 1

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            if item.future.set_running_or_notify_cancel():
                try:
                    item.future.set_result(item.job())
                except Exception as exc:  # the job's own failure: kept and logged, never ours
                    self._failed()
                    logger.exception("background job %s failed", item.name)
                    item.future.set_exception(exc)
            self._idle.release()
