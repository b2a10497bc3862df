"""Running a configuration of an LLM experiment: every task, ``trials`` times, through a
runner (the user's webhook, or an in-process callable), each output judged by the task's
evaluators as it arrives.

A run is recorded ``pending`` before it is sent and completed when its answer is judged,
so the progress of a long run can be read while it goes on. The baseline fails when any of
its task runs got no usable answer (every variant is compared task by task with it, so it
must be whole); a variant's failed or unanswered task counts against that variant only.

The process that begins a run holds its lease (:mod:`ablab.services.llm.leases`) and ends
it; another process ends it only once the lease has expired (:func:`recover_interrupted`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from ablab.domain.llm import (
    LlmAction,
    check_changes_something,
    effective_config,
    next_status,
    overrides,
)
from ablab.domain.llm_records import (
    BASELINE,
    LlmExperiment,
    LlmRun,
    LlmTask,
    RunState,
    bounded_reason,
)
from ablab.domain.trust import OutboundPolicy
from ablab.errors import Conflict, InvalidTransition, NotFound, ValidationError
from ablab.llm.evaluators import (
    EvaluatorKind,
    EvaluatorSpec,
    evaluate_all,
    load_function,
    parse_evaluator,
    task_passed,
)
from ablab.llm.runners import Runner, RunOutcome, TaskRun, WebhookRunner, run_all
from ablab.services.access.audit import record
from ablab.services.access.outbound import guarded_async_transport
from ablab.services.context import Context
from ablab.services.llm.experiments import PYTHON_REFUSED, require_llm_experiment
from ablab.services.llm.leases import LEASE_SECONDS, LeaseKeeper, RunLease
from ablab.services.llm.run_end import end_run, recover_interrupted

__all__ = [
    "begin_run",
    "check_webhook",
    "execute_run",
    "recover_interrupted",
    "run_configuration",
    "webhook_runner",
]

Judges = Mapping[str, Callable[..., Any]]


def check_webhook(experiment: LlmExperiment) -> tuple[str, str]:
    """The experiment's webhook URL and secret.

    Raises:
        ValidationError: the experiment has no webhook (run it with a Python callable).
    """
    if experiment.webhook_url is None or experiment.webhook_secret is None:
        raise ValidationError(
            f"{experiment.name!r} has no webhook_url: run it from Python with a callable, "
            "or create it with a webhook"
        )
    return experiment.webhook_url, experiment.webhook_secret


def webhook_runner(experiment: LlmExperiment, outbound: OutboundPolicy) -> WebhookRunner:
    """The runner of an experiment with a webhook (raises as :func:`check_webhook`); its
    requests go only where ``outbound`` allows, checked on the resolved addresses."""
    return WebhookRunner(*check_webhook(experiment), transport=guarded_async_transport(outbound))


def _specs(task: LlmTask, judges: Judges, *, allow_python: bool = True) -> list[EvaluatorSpec]:
    """The task's evaluators, each one able to run (so a run never starts half broken)."""
    specs = [parse_evaluator(raw, judges=list(judges)) for raw in task.evaluators]
    for spec in specs:
        if spec.kind is EvaluatorKind.PYTHON:
            if not allow_python:
                raise ValidationError(f"task {task.name!r}: {PYTHON_REFUSED}")
            load_function(str(spec.params["function"]))
    return specs


def begin_run(
    ctx: Context,
    ref: str,
    variant: str | None = None,
    *,
    lease: RunLease,
    judges: Judges | None = None,
    allow_python: bool = True,
) -> LlmExperiment:
    """Mark the baseline (``variant`` None) or a variant running and record its task runs;
    ``lease.owner`` holds the run's lease from now on (it renews it while it runs).

    Raises:
        InvalidTransition: the lifecycle does not allow it now (another run goes on, no
            baseline yet for a variant, ...).
        ValidationError: no tasks, or an evaluator that cannot run (unknown judge, python
            function that does not import).
        NotFound: no such variant.
        Conflict: the variant would run its parent's configuration.
    """
    with ctx.store.session() as session:
        current = require_llm_experiment(session, ctx, ref)
        if variant is None:
            target, action = BASELINE, LlmAction.START_BASELINE
        else:
            found = current.variant(variant)
            if found is None:
                raise NotFound(f"unknown variant {variant!r}", details={"variant": variant})
            target, action = found.id, LlmAction.START_VARIANT
        status = next_status(current.status, action)
        if variant is not None:  # the baseline may have changed since the variant was added
            check_changes_something(current.baseline, current.variants_by_id, target)
        tasks = [session.get_llm_task(ctx.project_id, t) for t in current.task_ids]
        if not tasks:
            raise ValidationError(f"choose the tasks of {current.name!r} before running it")
        for task in tasks:
            assert task is not None  # tasks are never deleted
            _specs(task, judges or {}, allow_python=allow_python)
        if variant is not None and session.list_llm_runs(current.id, target):
            raise Conflict(
                f"variant {variant!r} has run already: branch a new variant to try again",
                details={"variant": variant},
            )
        now = ctx.clock()
        runs = [
            LlmRun(
                test_id=f"llr_{secrets.token_hex(12)}",
                project_id=ctx.project_id,
                experiment_id=current.id,
                variant_id=target,
                task_id=task_id,
                trial=trial,
                state=RunState.PENDING,
                created_at=now,
            )
            for task_id in current.task_ids
            for trial in range(current.trials)
        ]
        if variant is None:  # a retried baseline starts over
            session.delete_llm_runs(current.id, BASELINE)
        session.add_llm_runs(runs)
        session.update_llm_experiment(
            replace(current, status=status, running=target, updated_at=now)
        )
        # The revision check above let only this transaction start the run, and the run
        # before it left no owner, so the lease is free; checked all the same.
        if not session.take_llm_lease(current.id, lease.owner, lease.expiry(now)):
            raise Conflict(f"another process runs {current.name!r}: wait for its run to end")
        record(
            ctx,
            session,
            action.value,
            "llm_experiment",
            current.id,
            after={"running": target, "runs": len(runs), "owner": lease.owner},
        )
        return require_llm_experiment(session, ctx, current.id)


def execute_run(
    ctx: Context,
    ref: str,
    runner: Runner,
    *,
    lease: RunLease,
    judges: Judges | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LlmExperiment:
    """Send the pending runs of the configuration being run, judge and store each answer,
    then move the lifecycle on. Closes a :class:`WebhookRunner` when done.

    The caller keeps ``lease`` renewed meanwhile (a :class:`LeaseKeeper`); the run is ended
    here only if ``lease.owner`` still holds it (else another process ended it already).

    Raises:
        InvalidTransition: nothing is running, or another process runs it.
    """
    with ctx.store.session(read_only=True) as session:
        experiment = require_llm_experiment(session, ctx, ref)
    if experiment.running is None:
        raise InvalidTransition(f"nothing of {experiment.name!r} is running")
    if experiment.run_owner != lease.owner:
        raise InvalidTransition(
            f"the run of {experiment.name!r} belongs to another process",
            details={"owner": experiment.run_owner},
        )
    try:
        _send(ctx, experiment, runner, judges or {}, progress)
    finally:
        # Whatever happened, the run ends: what is still pending counts as unanswered.
        finished = end_run(
            ctx,
            experiment.id,
            lambda session: session.release_llm_lease(experiment.id, lease.owner),
        )
    if finished is None:  # its lease expired, and another process ended it
        with ctx.store.session(read_only=True) as session:
            return require_llm_experiment(session, ctx, experiment.id)
    return finished


def _send(
    ctx: Context,
    experiment: LlmExperiment,
    runner: Runner,
    judge_map: Judges,
    progress: Callable[[int, int], None] | None,
) -> None:
    with ctx.store.session(read_only=True) as session:
        pending = [
            r
            for r in session.list_llm_runs(experiment.id, experiment.running)
            if r.state is RunState.PENDING
        ]
        found = {t: session.get_llm_task(ctx.project_id, t) for t in experiment.task_ids}
    tasks = {t: task for t, task in found.items() if task is not None}
    chosen = experiment.running
    variant_id = None if chosen == BASELINE else chosen
    by_id = experiment.variants_by_id
    changes = overrides(by_id, variant_id)
    config = effective_config(experiment.baseline, by_id, variant_id)
    specs = {t: _specs(task, judge_map) for t, task in tasks.items()}
    stored_runs = {r.test_id: r for r in pending}

    def store(run: TaskRun, outcome: RunOutcome) -> None:
        task = tasks[run.task_id]
        problem = outcome.error or _not_json(outcome.output)
        if problem is None:
            verdicts = evaluate_all(
                specs[run.task_id],
                outcome.output,
                expected=task.expected_output,
                task_input=task.input,
                judges=judge_map,
            )
            state = RunState.PASSED if task_passed(verdicts) else RunState.FAILED
        else:
            verdicts, state = [], RunState.ERROR
        finished = replace(
            stored_runs[run.test_id],
            state=state,
            output=outcome.output if problem is None or outcome.error else None,
            # The application and python evaluators write these: bounded before storing.
            error=None if problem is None else bounded_reason(problem),
            verdicts=tuple(
                {
                    "evaluator": v.evaluator,
                    "passed": v.passed,
                    "score": v.score,
                    "detail": bounded_reason(v.detail),
                }
                for v in verdicts
            ),
            latency_ms=outcome.latency_ms,
            attempts=outcome.attempts,
            completed_at=ctx.clock(),
            # Kept for a failed run too: what the application spent on it was spent.
            reported_latency_ms=outcome.usage.latency_ms,
            input_tokens=outcome.usage.input_tokens,
            output_tokens=outcome.usage.output_tokens,
            total_tokens=outcome.usage.total_tokens,
            cost_usd=outcome.usage.cost_usd,
        )
        with ctx.store.session() as tx:
            tx.update_llm_run(finished)

    class Judged:
        async def run(self, run: TaskRun) -> RunOutcome:
            outcome = await runner.run(run)
            await asyncio.to_thread(store, run, outcome)
            return outcome

    planned = [
        TaskRun(
            test_id=r.test_id,
            task_id=r.task_id,
            task_input=tasks[r.task_id].input,
            expected=tasks[r.task_id].expected_output,
            experiment_id=experiment.id,
            variant_id=variant_id,
            changes=changes,
            config=config,
            trial=r.trial,
        )
        for r in pending
    ]

    async def everything() -> None:
        try:
            await run_all(Judged(), planned, concurrency=experiment.concurrency, progress=progress)
        finally:
            if isinstance(runner, WebhookRunner):
                await runner.aclose()

    _run_to_the_end(everything)


def _not_json(output: Any) -> str | None:
    """Why ``output`` cannot be stored (None when it can): JSON, without NaN or infinity."""
    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"the output is not JSON: {exc}"
    return None


def _run_to_the_end(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``asyncio.run(work())``, in a thread of its own when this thread already runs an
    event loop (a notebook, an async application, a browser test's driver)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work())
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ablab-llm") as pool:
        pool.submit(lambda: asyncio.run(work())).result()


def run_configuration(
    ctx: Context,
    ref: str,
    variant: str | None = None,
    *,
    runner: Runner | None = None,
    judges: Judges | None = None,
    progress: Callable[[int, int], None] | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> LlmExperiment:
    """Run the baseline (``variant`` None) or a variant to the end, here and now.

    Without ``runner`` the experiment's webhook is called. The run's lease lasts
    ``lease_seconds`` and is renewed from a thread of this process until the run ends.
    """
    if runner is None:  # checked before anything is recorded: a mistake changes nothing
        with ctx.store.session(read_only=True) as session:
            check_webhook(require_llm_experiment(session, ctx, ref))
    # A run whose process died (a CLI run killed) is ended once its lease has expired, so
    # that trying again works without a server to recover it.
    recover_interrupted(ctx.store, clock=ctx.clock)
    # This process owns the run, under an id of its own, and keeps its lease while it runs:
    # a server on the same database leaves it alone, and ends it if this process dies.
    lease = RunLease.new("local", lease_seconds)
    experiment = begin_run(ctx, ref, variant, lease=lease, judges=judges)
    chosen = runner if runner is not None else webhook_runner(experiment, ctx.trust.outbound)
    with LeaseKeeper(ctx.store, lease, lambda: {experiment.id}, clock=ctx.clock):
        return execute_run(
            ctx, experiment.id, chosen, lease=lease, judges=judges, progress=progress
        )
