"""``CallableRunner``: the task runs through a Python function of this process."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

from ablab.errors import ValidationError
from ablab.llm.runners.base import RunOutcome, TaskRun, failed, since
from ablab.llm.usage import Answer

__all__ = ["CallableRunner"]


class CallableRunner:
    """Run each task through a Python function of this process: ``fn(task_input, config)``.

    The function returns the output, or an :class:`~ablab.llm.usage.Answer` to report what
    the task spent beside it (tokens, cost, its own latency).

    A plain function runs in a worker thread, so a slow pipeline never blocks the event
    loop; an ``async def`` runs in the loop. Either way the wait is bounded by ``timeout``;
    a thread that overruns is abandoned, not stopped (Python cannot stop a thread), so a
    function that can hang should enforce its own deadline as well.

    Args:
        fn: Called with the task's input and the run's effective ``config``.
        timeout: Seconds allowed for each call.
    """

    def __init__(
        self, fn: Callable[[Any, Mapping[str, Mapping[str, Any]]], Any], *, timeout: float = 30.0
    ) -> None:
        if not callable(fn):
            raise ValidationError(f"the runner needs a callable, got {type(fn).__name__}")
        if timeout < 0:
            raise ValidationError("the timeout must not be negative")
        self._fn = fn
        self._timeout = timeout

    async def run(self, run: TaskRun) -> RunOutcome:
        """Call the function on ``run``; its exception or timeout becomes the ``error``."""
        started = time.perf_counter()
        deadline = asyncio.timeout(self._timeout)
        try:
            async with deadline:
                output = await self._call(run)
        except Exception as exc:
            # A TimeoutError of the function's own (its HTTP client gave up) is its failure,
            # reported like any other; only our deadline is reported as ours.
            if deadline.expired():
                problem = f"timed out after {self._timeout:g} s"
            else:
                problem = f"{type(exc).__name__}: {exc}"
            return failed(run.test_id, problem, started, 1)
        if not isinstance(output, Answer):
            return RunOutcome(run.test_id, output, None, since(started), 1)
        try:
            usage = output.usage
        except ValidationError as exc:
            return failed(run.test_id, f"the answer's usage: {exc.message}", started, 1)
        return RunOutcome(run.test_id, output.output, None, since(started), 1, usage)

    async def _call(self, run: TaskRun) -> Any:
        if inspect.iscoroutinefunction(self._fn):
            return await self._fn(run.task_input, run.config)
        result = await asyncio.to_thread(self._fn, run.task_input, run.config)
        # An object whose __call__ is async looks synchronous until it returns a coroutine.
        return await result if inspect.isawaitable(result) else result
