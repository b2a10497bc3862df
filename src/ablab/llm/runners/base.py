"""What every runner shares: a task run, its outcome, and the protocol a runner keeps."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ablab.llm.usage import Usage

__all__ = ["RunOutcome", "Runner", "TaskRun", "failed", "since"]


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One task to run under one configuration.

    Attributes:
        test_id: Unique per task run (task x variant x trial); the application may use it as
            an idempotency key, since a retried request carries the same one.
        task_id: The task's id in the task set.
        task_input: The task's input, any JSON value.
        expected: The task's expected output (for the evaluators; sent along for the
            application's own logging).
        experiment_id: The experiment's id.
        variant_id: The variant's id, ``None`` for the baseline.
        changes: What the variant's branch changes from the baseline, by inference step
            ``external_id``: ``{"response_generator": {"temperature": 0.9}}`` (nothing for
            the baseline).
        config: The configuration to run with, by step: the baseline's whole configuration
            with every change on the variant's branch applied. The application applies it
            (the webhook's ``overrides``); :class:`~ablab.llm.runners.CallableRunner` passes
            it to the function.
        trial: Which repetition of the same task and configuration this is, from 0.
    """

    test_id: str
    task_id: str
    task_input: Any
    expected: Any
    experiment_id: str
    variant_id: str | None
    changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trial: int = 0


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What came back for one :class:`TaskRun`.

    Attributes:
        test_id: The run's ``test_id``.
        output: The application's output (``None`` when there is none).
        error: ``None`` when the application answered; otherwise one line saying why not.
        latency_ms: Time of the last attempt, from sending it to its answer (the callback
            included when the answer came later); back-off pauses between attempts are left
            out, since they measure the retry policy and not the configuration.
        attempts: Requests sent (1 without retries; 0 when nothing could be sent).
        usage: What the application reported the run spent (:mod:`ablab.llm.usage`);
            nothing reported when it said nothing.
    """

    test_id: str
    output: Any
    error: str | None
    latency_ms: float
    attempts: int
    usage: Usage = field(default_factory=Usage)

    @property
    def ok(self) -> bool:
        """Whether the application answered (the answer may still fail evaluation)."""
        return self.error is None


class Runner(Protocol):
    """Something that gets one task run answered; it never raises for a failed task."""

    async def run(self, run: TaskRun) -> RunOutcome: ...


def failed(test_id: str, error: str, started: float, attempts: int) -> RunOutcome:
    """The outcome of a run that got no answer, timed from ``started`` (perf_counter)."""
    return RunOutcome(test_id, None, error, since(started), attempts)


def since(started: float) -> float:
    """Milliseconds from ``started`` (a ``time.perf_counter()`` reading) to now."""
    return (time.perf_counter() - started) * 1000.0
