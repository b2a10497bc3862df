"""The LLM experiments' forms: a task, an experiment, its task set and baseline, a variant
branched from a parent, a run, and completing (with a winner) or archiving it.

Each form is the REST request of the same name, read by the API's own schema and taken by
the service function its route calls, with the same role (write). A refused form comes
back with the API's message and what was typed (422); the buttons (run) answer with a
message on the experiment's page. Completing and archiving ask first, on a page of their
own that states the consequence; it works without a script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ablab.contract.base import parse
from ablab.contract.llm import (
    LlmBaselineSet,
    LlmCompleteRequest,
    LlmExperimentCreate,
    LlmExperimentPublic,
    LlmTaskCreate,
    LlmTasksSelect,
    LlmVariantCreate,
)
from ablab.domain.keys import Scope
from ablab.domain.llm import LlmAction, LlmStatus, Parameter, allowed_actions, scope_locked
from ablab.domain.llm_records import BASELINE
from ablab.errors import AblabError, NotFound, ValidationError
from ablab.llm.typed import settings_from_pairs, text_or_json, typed_value
from ablab.server.console.confirm import Confirmed, ask_to_confirm
from ablab.server.console.session import Viewer, ViewerDep, WriterForm, WriterPage
from ablab.server.console.templating import flash_redirect, render, render_form
from ablab.services.llm import experiments as llm
from ablab.services.llm.completion import complete
from ablab.services.llm.results import llm_results

__all__ = ["actions", "router"]

router = APIRouter(include_in_schema=False)

_Short = Annotated[str, Form(max_length=256)]
_Long = Annotated[str, Form(max_length=20_000)]
_Many = Annotated[list[str] | None, Form()]


def _experiment(viewer: Viewer, ref: str) -> LlmExperimentPublic:
    found = llm.get_llm_experiment(viewer.ctx, ref)
    return LlmExperimentPublic.from_domain(found, llm.progress_of(viewer.ctx, found))


def _missing(request: Request, viewer: Viewer, exc: NotFound) -> Response:
    return render(request, "message.html", {"viewer": viewer, "message": exc.message}, 404)


def actions(viewer: Viewer, experiment: LlmExperimentPublic, ran: set[str]) -> dict[str, Any]:
    """What the experiment page offers this viewer now (nothing to a read-only one)."""
    allowed = set(allowed_actions(experiment.status)) if viewer.can(Scope.WRITE) else set()
    open_scope = not scope_locked(experiment.status)
    return {
        "can_choose_tasks": LlmAction.SELECT_TASKS in allowed,
        "can_set_baseline": bool(allowed)
        and (open_scope or experiment.status is LlmStatus.BASELINE_FAILED),
        "can_run_baseline": LlmAction.START_BASELINE in allowed,
        "runnable": [v for v in experiment.variants if v.id not in ran]
        if LlmAction.START_VARIANT in allowed
        else [],
        "can_branch": bool(allowed)
        and experiment.status not in (LlmStatus.COMPLETED, LlmStatus.ARCHIVED),
        "can_complete": LlmAction.COMPLETE in allowed,
        "can_archive": LlmAction.ARCHIVE in allowed,
        "all_tasks": [t.name for t in llm.list_tasks(viewer.ctx)]
        if LlmAction.SELECT_TASKS in allowed
        else [],
    }


# --- Tasks ------------------------------------------------------------------------------


@dataclass
class TaskForm:
    name: str = ""
    input: str = ""
    expected_output: str = ""
    evaluators: str = '[{"kind": "exact_match"}]'


def _tasks_page(
    request: Request, viewer: Viewer, form: TaskForm, error: str | None = None
) -> Response:
    return render_form(
        request,
        "llm_tasks.html",
        {"viewer": viewer, "tasks": llm.list_tasks(viewer.ctx), "form": form},
        error,
    )


@router.get("/llm/tasks")
def tasks_page(request: Request, viewer: ViewerDep) -> Response:
    return _tasks_page(request, viewer, TaskForm())


@router.post("/llm/tasks")
def create_task(
    request: Request,
    viewer: WriterForm,
    *,
    name: _Short = "",
    input: _Long = "",
    expected_output: _Long = "",
    evaluators: _Long = "",
) -> Response:
    form = TaskForm(name.strip(), input, expected_output, evaluators)
    try:
        request_ = _task_request(form)
        allowed = viewer.state.settings.llm_python_evaluators
        created = llm.create_task(viewer.ctx, request_.to_spec(), allow_python=allowed)
    except AblabError as exc:
        return _tasks_page(request, viewer, form, exc.message)
    return flash_redirect("/llm/tasks", f"Created task {created.name}")


def _task_request(form: TaskForm) -> LlmTaskCreate:
    if not form.name:
        raise ValidationError("give the task a name")
    if not form.input.strip():
        raise ValidationError("give the task an input")
    evaluators = typed_value(form.evaluators.strip() or "[]")
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    body = {
        "name": form.name,
        "input": text_or_json(form.input.strip()),
        "expected_output": text_or_json(form.expected_output.strip())
        if form.expected_output.strip()
        else None,
        "evaluators": evaluators,
    }
    return parse(LlmTaskCreate, body)


# --- New experiment ---------------------------------------------------------------------


@dataclass
class ExperimentForm:
    name: str = ""
    description: str = ""
    steps: str = ""
    tasks: list[str] = field(default_factory=list)
    baseline: str = ""
    trials: str = "1"
    concurrency: str = "8"
    webhook_url: str = ""
    webhook_secret: str = ""


def _new_page(
    request: Request, viewer: Viewer, form: ExperimentForm, error: str | None = None
) -> Response:
    return render_form(
        request,
        "llm_new.html",
        {
            "viewer": viewer,
            "form": form,
            "all_tasks": [t.name for t in llm.list_tasks(viewer.ctx)],
            "parameters": [p.value for p in Parameter],
        },
        error,
    )


@router.get("/llm/new")
def new_page(request: Request, viewer: WriterPage) -> Response:
    return _new_page(request, viewer, ExperimentForm())


@router.post("/llm/new")
def create_experiment(
    request: Request,
    viewer: WriterForm,
    *,
    name: _Short = "",
    description: _Long = "",
    steps: _Long = "",
    tasks: _Many = None,
    baseline: _Long = "",
    trials: _Short = "",
    concurrency: _Short = "",
    webhook_url: Annotated[str, Form(max_length=2048)] = "",
    webhook_secret: _Short = "",
) -> Response:
    form = ExperimentForm(
        name=name.strip(), description=description, steps=steps,
        tasks=[t for t in tasks or [] if t][:1000], baseline=baseline, trials=trials.strip(),
        concurrency=concurrency.strip(), webhook_url=webhook_url.strip(),
        webhook_secret=webhook_secret,
    )  # fmt: skip
    try:
        created = llm.create_llm_experiment(viewer.ctx, _create_request(form).to_spec())
    except AblabError as exc:
        # The secret is never sent back to the browser: it is typed again.
        form.webhook_secret = ""
        return _new_page(request, viewer, form, exc.message)
    return flash_redirect(f"/llm/{created.name}", f"Created {created.name}")


def _lines(text: str) -> list[str]:
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def _whole(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValidationError(f"{what} must be a whole number, got {text!r}") from None


def _create_request(form: ExperimentForm) -> LlmExperimentCreate:
    if not form.name:
        raise ValidationError("give the experiment a name")
    body: dict[str, Any] = {
        "name": form.name,
        "description": form.description.strip(),
        "steps": _lines(form.steps),
        "tasks": form.tasks,
        "baseline": settings_from_pairs(
            line for line in form.baseline.splitlines() if line.strip()
        ),
        "webhook_url": form.webhook_url or None,
        "webhook_secret": form.webhook_secret or None,
    }
    if form.trials:
        body["trials"] = _whole(form.trials, "trials")
    if form.concurrency:
        body["concurrency"] = _whole(form.concurrency, "concurrency")
    return parse(LlmExperimentCreate, body)


# --- Task set and baseline of an experiment -----------------------------------------------


@router.post("/llm/{ref}/tasks")
def choose_tasks(ref: str, viewer: WriterForm, tasks: _Many = None) -> Response:
    try:
        chosen = parse(LlmTasksSelect, {"tasks": [t for t in tasks or [] if t][:1000]})
        changed = llm.select_tasks(viewer.ctx, ref, chosen.tasks)
    except NotFound as exc:
        return flash_redirect("/llm", exc.message, "error")
    except AblabError as exc:
        return flash_redirect(f"/llm/{ref}", exc.message, "error")
    return flash_redirect(f"/llm/{changed.name}", f"{len(changed.task_ids)} tasks chosen")


@router.post("/llm/{ref}/baseline")
def set_baseline(ref: str, viewer: WriterForm, baseline: _Long = "") -> Response:
    try:
        pairs = [line for line in baseline.splitlines() if line.strip()]
        config = parse(LlmBaselineSet, {"config": settings_from_pairs(pairs)})
        changed = llm.set_baseline(viewer.ctx, ref, config.config)
    except NotFound as exc:
        return flash_redirect("/llm", exc.message, "error")
    except AblabError as exc:
        return flash_redirect(f"/llm/{ref}", exc.message, "error")
    return flash_redirect(f"/llm/{changed.name}", "Baseline saved")


# --- Branch a variant -------------------------------------------------------------------


@dataclass
class VariantForm:
    name: str = ""
    parent: str = ""
    step: str = ""
    parameter: str = ""
    value: str = ""
    hypothesis: str = ""


def _variant_page(
    request: Request,
    viewer: Viewer,
    experiment: LlmExperimentPublic,
    form: VariantForm,
    error: str | None = None,
) -> Response:
    return render_form(
        request,
        "llm_variant.html",
        {
            "viewer": viewer,
            "experiment": experiment,
            "form": form,
            "parameters": [p.value for p in Parameter],
        },
        error,
    )


@router.get("/llm/{ref}/variants/new")
def new_variant_page(request: Request, viewer: WriterPage, ref: str, parent: str = "") -> Response:
    try:
        experiment = _experiment(viewer, ref)
    except NotFound as exc:
        return _missing(request, viewer, exc)
    chosen = next((v for v in experiment.variants if parent in (v.id, v.name)), None)
    form = VariantForm(
        parent=chosen.name if chosen else "",
        step=chosen.step if chosen else (experiment.steps[0] if experiment.steps else ""),
        parameter=chosen.parameter.value if chosen else Parameter.TEMPERATURE.value,
    )
    return _variant_page(request, viewer, experiment, form)


@router.post("/llm/{ref}/variants")
def branch_variant(
    request: Request,
    ref: str,
    viewer: WriterForm,
    *,
    name: _Short = "",
    parent: _Short = "",
    step: _Short = "",
    parameter: _Short = "",
    value: _Long = "",
    hypothesis: _Long = "",
) -> Response:
    try:
        experiment = _experiment(viewer, ref)
    except NotFound as exc:
        return flash_redirect("/llm", exc.message, "error")
    form = VariantForm(name.strip(), parent.strip(), step.strip(), parameter.strip(), value,
                       hypothesis)  # fmt: skip
    try:
        if not form.name:
            raise ValidationError("give the variant a name")
        body = {
            "name": form.name, "parent": form.parent or None, "step": form.step,
            "parameter": form.parameter, "value": typed_value(form.value.strip()),
            "hypothesis": form.hypothesis.strip(),
        }  # fmt: skip
        llm.add_variant(viewer.ctx, ref, parse(LlmVariantCreate, body).to_spec())
    except AblabError as exc:
        return _variant_page(request, viewer, experiment, form, exc.message)
    return flash_redirect(f"/llm/{experiment.name}", f"Branched {form.name}")


# --- Run --------------------------------------------------------------------------------


@router.post("/llm/{ref}/run")
def run(ref: str, viewer: WriterForm, variant: _Short = "") -> Response:
    """The baseline (no ``variant``) or a variant, through the experiment's webhook in the
    server's background, as ``POST /v1/llm/experiments/{ref}/run``; the page then shows
    its progress and reloads itself until it ends."""
    chosen = variant.strip() or None
    try:
        started = viewer.state.llm_jobs.start(
            viewer.ctx,
            ref,
            None if chosen == BASELINE else chosen,
            allow_python=viewer.state.settings.llm_python_evaluators,
        )
    except NotFound as exc:
        return flash_redirect(f"/llm/{ref}" if chosen else "/llm", exc.message, "error")
    except AblabError as exc:
        return flash_redirect(f"/llm/{ref}", exc.message, "error")
    what = "the baseline" if chosen in (None, BASELINE) else chosen
    return flash_redirect(f"/llm/{started.name}", f"Running {what}")


# --- Complete (with a winner) and archive: each asks first -------------------------------


@dataclass
class CompleteForm:
    winner: str = ""
    force: bool = False
    reason: str = ""


def _complete_page(
    request: Request,
    viewer: Viewer,
    experiment: LlmExperimentPublic,
    form: CompleteForm,
    error: str | None = None,
) -> Response:
    results = llm_results(viewer.ctx, experiment.id)
    ran = [r for r in results.variants if r.variant != BASELINE and not r.pending]
    verdicts = {}
    for r in ran:
        test = r.mcnemar
        if test is None or test.p_value is None:
            verdicts[r.name] = "no paired test (no task where the two disagree)"
        elif test.significant and (test.difference or 0) > 0:
            verdicts[r.name] = "significantly better than the baseline"
        elif test.significant:
            verdicts[r.name] = "significantly worse than the baseline"
        else:
            verdicts[r.name] = "not significantly better than the baseline"
    return render_form(
        request,
        "llm_complete.html",
        {
            "viewer": viewer,
            "experiment": experiment,
            "form": form,
            "candidates": [r.name for r in ran],
            "verdicts": verdicts,
        },
        error,
    )


@router.get("/llm/{ref}/complete")
def complete_page(request: Request, viewer: WriterPage, ref: str) -> Response:
    try:
        experiment = _experiment(viewer, ref)
    except NotFound as exc:
        return _missing(request, viewer, exc)
    return _complete_page(request, viewer, experiment, CompleteForm(winner=BASELINE))


@router.post("/llm/{ref}/complete")
def complete_experiment(
    request: Request,
    ref: str,
    viewer: WriterForm,
    *,
    winner: _Short = "",
    force: Annotated[bool, Form()] = False,
    reason: _Long = "",
    confirmed: Confirmed = "",
) -> Response:
    try:
        experiment = _experiment(viewer, ref)
    except NotFound as exc:
        return flash_redirect("/llm", exc.message, "error")
    form = CompleteForm(winner.strip(), force, reason)
    if confirmed != "yes":  # a post without the confirmation page's flag asks again
        return _complete_page(request, viewer, experiment, form)
    try:
        body = {"winner": form.winner or None, "force": form.force, "reason": form.reason}
        spec = parse(LlmCompleteRequest, body)
        done = complete(viewer.ctx, ref, winner=spec.winner, force=spec.force, reason=spec.reason)
    except AblabError as exc:
        return _complete_page(request, viewer, experiment, form, exc.message)
    named = f", winner {form.winner}" if form.winner else ""
    return flash_redirect(f"/llm/{done.name}", f"{done.name} is completed{named}")


def _ask_archive(request: Request, viewer: Viewer, ref: str) -> Response:
    return ask_to_confirm(
        request,
        viewer,
        title=f"Archive {ref}",
        consequence=f"Archiving {ref} files it away: no baseline or variant of it can run "
        "again, no variant can be branched from it, and it cannot be completed. Its runs, "
        "results and audit log are kept.",
        undo="Archiving cannot be undone.",
        button=f"Archive {ref}",
        back=f"/llm/{ref}",
    )


@router.get("/llm/{ref}/archive")
def archive_page(request: Request, viewer: WriterPage, ref: str) -> Response:
    try:
        experiment = _experiment(viewer, ref)
    except NotFound as exc:
        return _missing(request, viewer, exc)
    return _ask_archive(request, viewer, experiment.name)


@router.post("/llm/{ref}/archive")
def archive(request: Request, ref: str, viewer: WriterForm, confirmed: Confirmed = "") -> Response:
    if confirmed != "yes":
        return _ask_archive(request, viewer, ref)
    try:
        done = llm.act(viewer.ctx, ref, LlmAction.ARCHIVE)
    except NotFound as exc:
        return flash_redirect("/llm", exc.message, "error")
    except AblabError as exc:
        return flash_redirect(f"/llm/{ref}", exc.message, "error")
    return flash_redirect(f"/llm/{done.name}", f"{done.name} is archived")
