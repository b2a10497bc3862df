"""LLM experiment runs in the background of the server, and the callbacks they wait for.

A run can take minutes (every task, every trial, through the user's webhook), so
``POST .../run`` records the runs, answers 202 and lets a thread send them. While a run
goes on its :class:`WebhookRunner` is kept here by experiment id, so that an application
answering later (202, then ``POST /v1/llm/callbacks/{test_id}``) reaches the runner that
waits for it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ablab.domain.llm_records import LlmExperiment
from ablab.errors import Conflict
from ablab.llm.runners import WebhookRunner
from ablab.services.context import Context
from ablab.services.llm_experiments import get_llm_experiment
from ablab.services.llm_runs import begin_run, check_webhook, execute_run, webhook_runner

__all__ = ["LlmJobs"]

logger = logging.getLogger("ablab.server.llm")


class LlmJobs:
    def __init__(self) -> None:
        self._runners: dict[str, WebhookRunner] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(
        self, ctx: Context, ref: str, variant: str | None, *, allow_python: bool
    ) -> LlmExperiment:
        """Record the runs (raising at once for a mistake) and send them in the background."""
        check_webhook(get_llm_experiment(ctx, ref))  # before anything is recorded
        experiment = begin_run(ctx, ref, variant, allow_python=allow_python)
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
            execute_run(ctx, experiment_id, runner)
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
