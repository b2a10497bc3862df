"""``run_all``: a batch of task runs through one runner, with bounded concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from ablab.errors import ValidationError
from ablab.llm.runners.base import Runner, RunOutcome, TaskRun

__all__ = ["run_all"]


async def run_all(
    runner: Runner,
    runs: Sequence[TaskRun],
    *,
    concurrency: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> list[RunOutcome]:
    """Run every task run, at most ``concurrency`` at a time.

    Args:
        runner: The runner to use.
        runs: The task runs, each with its own ``test_id``.
        concurrency: How many runs may be in flight at once.
        progress: Called as ``progress(done, total)`` in the event loop after each run ends.

    Returns:
        One outcome per run, in the order of ``runs``.

    Raises:
        ValidationError: ``concurrency`` is below 1, or two runs share a ``test_id``.
    """
    if concurrency < 1:
        raise ValidationError(f"concurrency must be at least 1, got {concurrency}")
    test_ids = [run.test_id for run in runs]
    if len(set(test_ids)) != len(test_ids):
        duplicates = sorted({t for t in test_ids if test_ids.count(t) > 1})
        raise ValidationError("test_id must be unique per run", details={"duplicates": duplicates})
    limit = asyncio.Semaphore(concurrency)
    outcomes: list[RunOutcome | None] = [None] * len(runs)
    done = 0

    async def one(index: int, run: TaskRun) -> None:
        nonlocal done
        async with limit:
            outcomes[index] = await runner.run(run)
        done += 1
        if progress is not None:
            progress(done, len(runs))

    # A runner that raises breaks its contract: the group cancels the other runs and
    # re-raises, rather than leaving them running unwatched.
    async with asyncio.TaskGroup() as group:
        for index, run in enumerate(runs):
            group.create_task(one(index, run))
    return [outcome for outcome in outcomes if outcome is not None]
