"""LLM experiment runs in the background of the server, and the callbacks they wait for.

A run can take minutes (every task, every trial, through the user's webhook), so
``POST .../run`` records the runs, answers 202 and hands them to the server's
:class:`~ablab.server.scheduler.Scheduler`, whose workers send them. While a run
goes on its :class:`WebhookRunner` is kept here by experiment id, so that an application
answering later (202, then ``POST /v1/llm/callbacks/{test_id}``) reaches the runner that
waits for it.

Each server instance owns the runs it starts under an id of its own (:class:`RunLease`):
its :class:`LeaseKeeper` renews their leases every few seconds (a periodic job of the same
scheduler) while they go on, and after each renewal ends the runs of any process whose
lease expired (a replica killed on the same database), so a dead replica's runs end even if
no server restarts. A run waiting for a free worker is held, and its lease renewed, too.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from concurrent.futures import wait as wait_for_futures
from functools import partial
from typing import Any

from ablab.domain.llm_records import LlmExperiment
from ablab.errors import Conflict, Unavailable
from ablab.llm.runners import Usage, WebhookRunner
from ablab.server.scheduler import Scheduler
from ablab.services.context import Context
from ablab.services.llm.experiments import get_llm_experiment
from ablab.services.llm.leases import LeaseKeeper, RunLease
from ablab.services.llm.runs import (
    begin_run,
    check_webhook,
    execute_run,
    recover_interrupted,
    webhook_runner,
)
from ablab.services.ports import MetadataStore

__all__ = ["LlmJobs"]

logger = logging.getLogger("ablab.server.llm")


class LlmJobs:
    """The runs this server instance executes, and their leases.

    Args:
        lease: The instance's id and lease length (a fresh ``server@...`` id by default).
    """

    def __init__(self, lease: RunLease | None = None) -> None:
        self.lease = lease or RunLease.new("server")
        self._runners: dict[str, WebhookRunner] = {}
        self._runs: list[Future[object]] = []
        self._lock = threading.Lock()
        self._keeper: LeaseKeeper | None = None
        self._scheduler: Scheduler | None = None

    def open(self, store: MetadataStore, scheduler: Scheduler) -> None:
        """Renew this instance's leases and recover expired runs on ``scheduler``, and send
        the runs on its workers from now on."""
        self._keeper = LeaseKeeper(
            store, self.lease, self.running, also=lambda: recover_interrupted(store)
        )
        self._scheduler = scheduler
        scheduler.every(self._keeper.renew_every, self._keeper.tick, name="llm-leases")

    def close(self) -> None:
        """Let the leases of the runs still going on here expire now: this process is going
        away, and a replica (or this server started again) ends them at once instead of a
        lease later. Called once the scheduler has stopped (no renewal comes after it)."""
        if self._keeper is None:
            return
        keeper, self._keeper = self._keeper, None
        try:
            keeper.stop(hand_back=True)
        except Exception:  # the database is gone: the leases expire on their own
            logger.exception("could not hand back the leases of LLM runs on shutdown")

    def running(self) -> set[str]:
        """The experiments whose runs go on in this instance now."""
        with self._lock:
            return set(self._runners)

    def start(
        self, ctx: Context, ref: str, variant: str | None, *, allow_python: bool
    ) -> LlmExperiment:
        """Record the runs (raising at once for a mistake) and send them in the background."""
        if self._scheduler is None:
            raise RuntimeError("LlmJobs.open(store, scheduler) comes before any run")
        check_webhook(get_llm_experiment(ctx, ref))  # before anything is recorded
        experiment = begin_run(ctx, ref, variant, lease=self.lease, allow_python=allow_python)
        runner = webhook_runner(experiment, ctx.trust.outbound)
        with self._lock:
            self._runners[experiment.id] = runner
        try:
            run = self._scheduler.submit(
                partial(self._run, ctx, experiment.id, runner), name=f"llm-run {experiment.id}"
            )
        except RuntimeError:
            # The server is stopping: the run stays held, so that close() hands its lease
            # back and the next recovery ends it.
            raise Unavailable("the server is shutting down: run the experiment again") from None
        with self._lock:
            self._runs = [r for r in self._runs if not r.done()] + [run]
        return experiment

    def _run(self, ctx: Context, experiment_id: str, runner: WebhookRunner) -> None:
        try:
            execute_run(ctx, experiment_id, runner, lease=self.lease)
        except Exception:  # the run's own bookkeeping failed: log it, keep serving
            logger.exception("the LLM experiment run of %s broke off", experiment_id)
        finally:
            with self._lock:  # only its own: the next run of the experiment may have begun
                if self._runners.get(experiment_id) is runner:
                    del self._runners[experiment_id]

    def deliver(
        self,
        experiment_id: str,
        test_id: str,
        output: Any,
        error: str | None,
        usage: Usage | None = None,
    ) -> None:
        """Hand a later answer (and what the run spent, if reported) to the runner waiting
        for it.

        Raises:
            Conflict: no run of the experiment waits for this test id (it finished, timed
                out, or was never asked to answer later).
        """
        with self._lock:
            runner = self._runners.get(experiment_id)
        if runner is None or not runner.deliver(test_id, output, error, usage):
            raise Conflict(
                f"no run waits for test {test_id!r}: it finished or timed out",
                details={"test_id": test_id},
            )

    def wait(self, timeout: float = 30.0) -> None:
        """Until the background runs end, or ``timeout`` seconds (tests)."""
        with self._lock:
            runs = list(self._runs)
        wait_for_futures(runs, timeout)
