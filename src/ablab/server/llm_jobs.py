"""LLM experiment runs in the background of the server, and the callbacks they wait for.

A run can take minutes (every task, every trial, through the user's webhook), so
``POST .../run`` records the runs, answers 202 and lets a thread send them. While a run
goes on its :class:`WebhookRunner` is kept here by experiment id, so that an application
answering later (202, then ``POST /v1/llm/callbacks/{test_id}``) reaches the runner that
waits for it.

Each server instance owns the runs it starts under an id of its own (:class:`RunLease`):
its :class:`LeaseKeeper` renews their leases every few seconds while their threads go on,
and after each renewal ends the runs of any process whose lease expired (a replica killed
on the same database), so a dead replica's runs end even if no server restarts.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ablab.domain.llm_records import LlmExperiment
from ablab.errors import Conflict
from ablab.llm.runners import WebhookRunner
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
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._keeper: LeaseKeeper | None = None

    def open(self, store: MetadataStore) -> None:
        """Start renewing this instance's leases and recovering expired runs."""
        self._keeper = LeaseKeeper(
            store, self.lease, self.running, also=lambda: recover_interrupted(store)
        ).start()

    def close(self) -> None:
        """Stop renewing, and let the leases of the runs still going on here expire now: this
        process is going away, and a replica (or this server started again) ends them at
        once instead of a lease later."""
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
        check_webhook(get_llm_experiment(ctx, ref))  # before anything is recorded
        experiment = begin_run(ctx, ref, variant, lease=self.lease, allow_python=allow_python)
        runner = webhook_runner(experiment, ctx.trust.outbound)
        with self._lock:
            self._runners[experiment.id] = runner
        thread = threading.Thread(
            target=self._run, args=(ctx, experiment.id, runner), daemon=True, name="ablab-llm"
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
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

    def deliver(self, experiment_id: str, test_id: str, output: Any, error: str | None) -> None:
        """Hand a later answer to the runner waiting for it.

        Raises:
            Conflict: no run of the experiment waits for this test id (it finished, timed
                out, or was never asked to answer later).
        """
        with self._lock:
            runner = self._runners.get(experiment_id)
        if runner is None or not runner.deliver(test_id, output, error):
            raise Conflict(
                f"no run waits for test {test_id!r}: it finished or timed out",
                details={"test_id": test_id},
            )

    def wait(self, timeout: float = 30.0) -> None:
        """Until the background runs end (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)
