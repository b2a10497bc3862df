"""Use cases of LLM configuration experiments: tasks, the experiment, its baseline and its
variant tree, and the lifecycle of seed 002 (see :mod:`ablab.domain.llm`).

The task set and the steps in scope may change until the baseline starts; afterwards they
are locked, so every variant is judged on the same tasks as the baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlsplit

from ablab.domain.ids import is_valid_name, new_id
from ablab.domain.llm import (
    LlmAction,
    LlmStatus,
    LlmVariant,
    check_changes_something,
    check_config,
    check_variant,
    next_status,
    scope_locked,
)
from ablab.domain.llm_records import LlmExperiment, LlmTask, RunState
from ablab.domain.llm_results import LlmProgress
from ablab.domain.llm_specs import LlmExperimentSpec, LlmTaskSpec, LlmVariantSpec
from ablab.errors import InvalidTransition, NotFound, ValidationError
from ablab.llm.evaluators import parse_evaluator
from ablab.services.access.audit import record
from ablab.services.access.outbound import check_url
from ablab.services.context import Context
from ablab.services.ports import MetadataSession

__all__ = [
    "PYTHON_REFUSED",
    "act",
    "add_variant",
    "create_llm_experiment",
    "create_task",
    "get_llm_experiment",
    "list_llm_experiments",
    "list_tasks",
    "progress_of",
    "require_llm_experiment",
    "select_tasks",
    "set_baseline",
]

PYTHON_REFUSED = (
    "python evaluators run code in the server's process: this server does not allow them "
    "(ABLAB_LLM_PYTHON_EVALUATORS=true does); use them with the embedded store, or a judge "
    "or webhook instead"
)


def create_task(ctx: Context, spec: LlmTaskSpec, *, allow_python: bool = True) -> LlmTask:
    """A task of the project; its evaluators are checked now, before anything runs.

    ``allow_python`` False refuses ``python`` evaluators: on a shared server they would run
    any importable function with the server's rights (``ABLAB_LLM_PYTHON_EVALUATORS``).

    Raises:
        ValidationError: a bad name or evaluator specification, or a python evaluator
            where they are not allowed.
        Conflict: a task of that name exists.
    """
    if not is_valid_name(spec.name):
        raise ValidationError(
            f"task name {spec.name!r}: use letters, digits, '.', '_' and '-'",
            details={"name": spec.name},
        )
    evaluators = tuple(
        {"kind": checked.kind.value, "name": checked.name, "params": dict(checked.params)}
        for checked in (parse_evaluator(e) for e in spec.evaluators)
    )
    if not allow_python and any(e["kind"] == "python" for e in evaluators):
        raise ValidationError(PYTHON_REFUSED)
    if not evaluators:
        raise ValidationError(
            f"task {spec.name!r} needs at least one evaluator, e.g. "
            '{"kind": "exact_match"} against its expected output'
        )
    task = LlmTask(
        id=new_id("llt"),
        project_id=ctx.project_id,
        name=spec.name,
        input=spec.input,
        expected_output=spec.expected_output,
        evaluators=evaluators,
        created_at=ctx.clock(),
    )
    with ctx.store.session() as session:
        session.add_llm_task(task)
        record(ctx, session, "create", "llm_task", task.id, after={"name": task.name})
    return task


def list_tasks(ctx: Context) -> list[LlmTask]:
    with ctx.store.session(read_only=True) as session:
        return session.list_llm_tasks(ctx.project_id)


def _task_ids(session: MetadataSession, ctx: Context, refs: Iterable[str]) -> tuple[str, ...]:
    ids: list[str] = []
    for ref in refs:
        task = session.get_llm_task(ctx.project_id, ref)
        if task is None:
            raise NotFound(f"unknown task {ref!r}", details={"task": ref})
        if task.id in ids:
            raise ValidationError(f"task {ref!r} is chosen twice", details={"task": ref})
        ids.append(task.id)
    return tuple(ids)


def _check_webhook(url: str | None, secret: str | None) -> None:
    if url is None:
        if secret is not None:
            raise ValidationError("a webhook secret without a webhook_url signs nothing")
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            f"webhook_url must be an http(s) URL, got {url!r}", details={"webhook_url": url}
        )
    if secret is None:
        raise ValidationError(
            "a webhook needs a webhook_secret (16 characters or more): every request is signed "
            "with it, and the application checks the signature"
        )


def create_llm_experiment(ctx: Context, spec: LlmExperimentSpec) -> LlmExperiment:
    """A draft experiment over ``spec.steps``; with tasks it is ready for its baseline.

    Raises:
        ValidationError: a bad name, step, baseline value, webhook or task reference.
        NotFound: an unknown task.
        Conflict: an experiment of that name exists.
    """
    if not is_valid_name(spec.name):
        raise ValidationError(
            f"experiment name {spec.name!r}: use letters, digits, '.', '_' and '-'",
            details={"name": spec.name},
        )
    steps = tuple(dict.fromkeys(s.strip() for s in spec.steps))
    for step in steps:
        if not is_valid_name(step):
            raise ValidationError(f"step external_id {step!r} is not a plain name")
    _check_webhook(spec.webhook_url, spec.webhook_secret)
    if spec.webhook_url is not None:  # the host alone; each call checks where it resolves
        check_url(ctx.trust.outbound, spec.webhook_url, "webhook_url")
    now = ctx.clock()
    with ctx.store.session() as session:
        task_ids = _task_ids(session, ctx, spec.tasks)
        experiment = LlmExperiment(
            id=new_id("lle"),
            project_id=ctx.project_id,
            name=spec.name,
            status=LlmStatus.BASELINE_PENDING if task_ids else LlmStatus.DRAFT,
            created_at=now,
            updated_at=now,
            description=spec.description,
            steps=steps,
            task_ids=task_ids,
            baseline=check_config(spec.baseline, steps),
            trials=spec.trials,
            concurrency=spec.concurrency,
            webhook_url=spec.webhook_url,
            webhook_secret=spec.webhook_secret,
        )
        session.add_llm_experiment(experiment)
        record(ctx, session, "create", "llm_experiment", experiment.id, after=_snapshot(experiment))
    return experiment


def _snapshot(experiment: LlmExperiment) -> dict[str, object]:
    return {
        "name": experiment.name,
        "status": experiment.status.value,
        "steps": list(experiment.steps),
        "tasks": len(experiment.task_ids),
        "variants": len(experiment.variants),
    }


def require_llm_experiment(session: MetadataSession, ctx: Context, ref: str) -> LlmExperiment:
    """Raises: NotFound: no such experiment in the project."""
    found = session.get_llm_experiment(ctx.project_id, ref)
    if found is None:
        raise NotFound(f"unknown LLM experiment {ref!r}", details={"experiment": ref})
    return found


def get_llm_experiment(ctx: Context, ref: str) -> LlmExperiment:
    with ctx.store.session(read_only=True) as session:
        return require_llm_experiment(session, ctx, ref)


def list_llm_experiments(ctx: Context) -> list[LlmExperiment]:
    with ctx.store.session(read_only=True) as session:
        return session.list_llm_experiments(ctx.project_id)


def progress_of(ctx: Context, experiment: LlmExperiment) -> LlmProgress:
    """How far the configuration being run has got (0 of 0 when nothing runs)."""
    if experiment.running is None:
        return LlmProgress(running=None, done=0, total=0)
    with ctx.store.session(read_only=True) as session:
        runs = session.list_llm_runs(experiment.id, experiment.running)
    done = sum(r.state is not RunState.PENDING for r in runs)
    return LlmProgress(running=experiment.running, done=done, total=len(runs))


def _write(
    ctx: Context, session: MetadataSession, before: LlmExperiment, after: LlmExperiment, action: str
) -> LlmExperiment:
    stored = session.update_llm_experiment(replace(after, updated_at=ctx.clock()))
    record(
        ctx,
        session,
        action,
        "llm_experiment",
        stored.id,
        before=_snapshot(before),
        after=_snapshot(stored),
    )
    return stored


def select_tasks(ctx: Context, ref: str, tasks: Iterable[str]) -> LlmExperiment:
    """Choose the task set (again, until the baseline starts).

    Raises:
        InvalidTransition: the baseline has started: the task set is locked.
    """
    with ctx.store.session() as session:
        current = require_llm_experiment(session, ctx, ref)
        if scope_locked(current.status):
            raise InvalidTransition(
                f"the tasks of {current.name!r} are locked: its baseline has started "
                f"({current.status.value}); create a new experiment for another task set",
                details={"status": current.status.value},
            )
        task_ids = _task_ids(session, ctx, tasks)
        if not task_ids:
            raise ValidationError("choose at least one task")
        status = next_status(current.status, LlmAction.SELECT_TASKS)
        changed = replace(current, task_ids=task_ids, status=status)
        return _write(ctx, session, current, changed, "select_tasks")


def set_baseline(ctx: Context, ref: str, config: dict[str, dict[str, object]]) -> LlmExperiment:
    """Set the baseline configuration (until it runs; a failed baseline may be corrected).

    Raises:
        InvalidTransition: the baseline has run (its configuration is locked).
        ValidationError: a step out of scope or a bad value.
    """
    with ctx.store.session() as session:
        current = require_llm_experiment(session, ctx, ref)
        editable = (LlmStatus.DRAFT, LlmStatus.BASELINE_PENDING, LlmStatus.BASELINE_FAILED)
        if current.status not in editable:
            raise InvalidTransition(
                f"the baseline of {current.name!r} is locked ({current.status.value})",
                details={"status": current.status.value},
            )
        changed = replace(current, baseline=check_config(config, current.steps))
        return _write(ctx, session, current, changed, "set_baseline")


def add_variant(ctx: Context, ref: str, spec: LlmVariantSpec) -> LlmExperiment:
    """A variant overriding one parameter of one step, branching from ``spec.parent``.

    Raises:
        ValidationError: the step is out of scope, the parent unknown, the value invalid.
        Conflict: a variant of that name exists, or it would run its parent's configuration
            (the parent has that value already).
        InvalidTransition: the experiment is completed or archived.
    """
    with ctx.store.session() as session:
        current = require_llm_experiment(session, ctx, ref)
        if current.status in (LlmStatus.COMPLETED, LlmStatus.ARCHIVED):
            raise InvalidTransition(
                f"{current.name!r} is {current.status.value}: it takes no more variants",
                details={"status": current.status.value},
            )
        parent = None
        if spec.parent is not None:
            found = current.variant(spec.parent)
            if found is None:
                raise ValidationError(
                    f"unknown parent variant {spec.parent!r}", details={"parent": spec.parent}
                )
            parent = found.id
        variant = check_variant(
            current.steps,
            current.variants_by_id,
            LlmVariant(
                id=new_id("llv"),
                name=spec.name,
                parent_id=parent,
                step=spec.step,
                parameter=spec.parameter,
                value=spec.value,
                hypothesis=spec.hypothesis,
                created_at=ctx.clock(),
            ),
        )
        changed = replace(current, variants=(*current.variants, variant))
        check_changes_something(current.baseline, changed.variants_by_id, variant.id)
        return _write(ctx, session, current, changed, "add_variant")


def act(ctx: Context, ref: str, action: LlmAction) -> LlmExperiment:
    """Complete or archive by hand (running is :mod:`ablab.services.llm.runs`'s job).

    Raises:
        InvalidTransition: the action is not allowed now.
    """
    if action not in (LlmAction.COMPLETE, LlmAction.ARCHIVE):
        raise ValidationError(f"{action.value} is not an action to take by hand")
    with ctx.store.session() as session:
        current = require_llm_experiment(session, ctx, ref)
        changed = replace(current, status=next_status(current.status, action))
        return _write(ctx, session, current, changed, action.value)
