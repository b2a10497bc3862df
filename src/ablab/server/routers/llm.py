"""``/v1/llm``: LLM configuration experiments (seed 002): tasks, the experiment with its
baseline and variant tree, runs through the user's webhook, results, and the callback by
which an application answers later."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool

from ablab.contract.base import Schema
from ablab.contract.errors import error_responses
from ablab.contract.llm import (
    LlmBaselineSet,
    LlmCompleteRequest,
    LlmExperimentCreate,
    LlmExperimentPublic,
    LlmResults,
    LlmRunPublic,
    LlmRunRequest,
    LlmTaskCreate,
    LlmTaskPublic,
    LlmTasksSelect,
    LlmVariantCreate,
)
from ablab.domain.keys import Scope
from ablab.domain.llm import LlmAction
from ablab.domain.llm_records import LlmExperiment
from ablab.errors import NotFound, Unauthorized, ValidationError
from ablab.llm.signing import verify
from ablab.llm.usage import read_usage
from ablab.server.deps import CallerContext, StateDep
from ablab.server.scoped_route import ScopedRoute, needs
from ablab.server.state import ServerState
from ablab.services.context import Context
from ablab.services.llm import experiments as llm
from ablab.services.llm.completion import complete as complete_experiment
from ablab.services.llm.matrix import task_matrix
from ablab.services.llm.results import llm_results

router = APIRouter(
    prefix="/v1/llm",
    tags=["llm"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 413, 422),
)

Ref = Annotated[str, "the experiment's id or name"]


def _public(ctx: Context, experiment: LlmExperiment) -> LlmExperimentPublic:
    return LlmExperimentPublic.from_domain(experiment, llm.progress_of(ctx, experiment))


@router.post("/tasks", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE))
def create_task(spec: LlmTaskCreate, ctx: CallerContext, state: StateDep) -> LlmTaskPublic:
    """A task: an input, an optional expected output, and the evaluators that judge it."""
    allowed = state.settings.llm_python_evaluators
    created = llm.create_task(ctx, spec.to_spec(), allow_python=allowed)
    return LlmTaskPublic.from_domain(created)


@router.get("/tasks", openapi_extra=needs(Scope.READ))
def list_tasks(ctx: CallerContext) -> list[LlmTaskPublic]:
    return [LlmTaskPublic.from_domain(t) for t in llm.list_tasks(ctx)]


@router.post("/experiments", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE))
def create(spec: LlmExperimentCreate, ctx: CallerContext) -> LlmExperimentPublic:
    """An experiment over some inference steps; with ``tasks`` it awaits its baseline."""
    return _public(ctx, llm.create_llm_experiment(ctx, spec.to_spec()))


@router.get("/experiments", openapi_extra=needs(Scope.READ))
def list_(ctx: CallerContext) -> list[LlmExperimentPublic]:
    return [_public(ctx, e) for e in llm.list_llm_experiments(ctx)]


@router.get("/experiments/{ref}", openapi_extra=needs(Scope.READ))
def get(ref: Ref, ctx: CallerContext) -> LlmExperimentPublic:
    """The experiment, its variant tree with each variant's merged configuration, and the
    progress of the configuration being run."""
    return _public(ctx, llm.get_llm_experiment(ctx, ref))


@router.put("/experiments/{ref}/tasks", openapi_extra=needs(Scope.WRITE))
def select_tasks(ref: Ref, spec: LlmTasksSelect, ctx: CallerContext) -> LlmExperimentPublic:
    """Choose the task set (locked once the baseline starts)."""
    return _public(ctx, llm.select_tasks(ctx, ref, spec.tasks))


@router.put("/experiments/{ref}/baseline", openapi_extra=needs(Scope.WRITE))
def set_baseline(ref: Ref, spec: LlmBaselineSet, ctx: CallerContext) -> LlmExperimentPublic:
    """Set the baseline's configuration, ``{step: {parameter: value}}``."""
    return _public(ctx, llm.set_baseline(ctx, ref, spec.config))


@router.post(
    "/experiments/{ref}/variants",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Scope.WRITE),
)
def add_variant(ref: Ref, spec: LlmVariantCreate, ctx: CallerContext) -> LlmExperimentPublic:
    """A variant changing one parameter of one step, from the baseline or from ``parent``."""
    return _public(ctx, llm.add_variant(ctx, ref, spec.to_spec()))


@router.post(
    "/experiments/{ref}/run", status_code=status.HTTP_202_ACCEPTED, openapi_extra=needs(Scope.WRITE)
)
def run(
    ref: Ref, ctx: CallerContext, state: StateDep, spec: LlmRunRequest | None = None
) -> LlmExperimentPublic:
    """Run the baseline (no ``variant``) or a variant through the experiment's webhook, in
    the background; ``GET`` the experiment for its progress, then its results."""
    started = state.llm_jobs.start(
        ctx,
        ref,
        (spec or LlmRunRequest()).variant,
        allow_python=state.settings.llm_python_evaluators,
    )
    return _public(ctx, started)


@router.post("/experiments/{ref}/complete", name="llm_complete", openapi_extra=needs(Scope.WRITE))
def llm_complete(
    ref: Ref, ctx: CallerContext, spec: LlmCompleteRequest | None = None
) -> LlmExperimentPublic:
    """Complete the experiment, naming the ``winner`` if you like: ``baseline``, or a variant
    significantly better than the baseline (409 otherwise, unless ``force`` with a
    ``reason``, which the audit log keeps)."""
    found = spec or LlmCompleteRequest()
    done = complete_experiment(
        ctx, ref, winner=found.winner, force=found.force, reason=found.reason
    )
    return _public(ctx, done)


@router.post("/experiments/{ref}/archive", name="llm_archive", openapi_extra=needs(Scope.WRITE))
def llm_archive(ref: Ref, ctx: CallerContext) -> LlmExperimentPublic:
    """Archive the experiment."""
    return _public(ctx, llm.act(ctx, ref, LlmAction.ARCHIVE))


@router.get("/experiments/{ref}/results", openapi_extra=needs(Scope.READ))
async def results(ref: Ref, ctx: CallerContext) -> LlmResults:
    """Pass rates against the baseline, McNemar's score test with the interval that agrees
    with it (alone, and Bonferroni-adjusted across variants), the task breakdown with flaky
    tasks and each failed task's reason, and each evaluator's delta."""
    return LlmResults.from_domain(await run_in_threadpool(llm_results, ctx, ref))


@router.get("/experiments/{ref}/runs", openapi_extra=needs(Scope.READ))
async def runs(ref: Ref, ctx: CallerContext, task: str | None = None) -> list[LlmRunPublic]:
    """Every task run (of one ``task``, by name or id, if given): its output, verdicts and
    error, ablab's latency and what the application reported it spent (its own latency,
    tokens, cost; null when it did not say), by task, then configuration, then trial."""
    found = await run_in_threadpool(task_matrix, ctx, ref)
    return [LlmRunPublic.from_domain(*row) for row in found.listed(task)]


class CallbackAccepted(Schema):
    test_id: str
    accepted: bool = True


@router.post(
    "/callbacks/{test_id}",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def callback(test_id: str, request: Request, state: StateDep) -> CallbackAccepted:
    """The output of a task run the application answered with 202: ``{"test_id", "output"}``
    or ``{"test_id", "error"}``, signed like ablab's webhook (``X-Ablab-Signature``), with
    what the run spent if the application reports it (optional ``latency_ms``,
    ``input_tokens``, ``output_tokens``, ``total_tokens``, ``cost_usd``; 422 naming the
    field when one is malformed, and the run keeps waiting for a corrected callback). No API
    key is needed: the signature, with the experiment's own secret over a body that names
    the test, proves the sender and keeps one signed answer from standing for another test.
    """
    body = await request.body()
    await run_in_threadpool(_deliver, state, test_id, body, request.headers)
    return CallbackAccepted(test_id=test_id)


def _deliver(state: ServerState, test_id: str, body: bytes, headers: Mapping[str, str]) -> None:
    with state.store.session(read_only=True) as session:
        run_ = session.get_llm_run(test_id)
        experiment = (
            session.get_llm_experiment(run_.project_id, run_.experiment_id) if run_ else None
        )
    if run_ is None or experiment is None:
        raise NotFound(f"unknown test {test_id!r}", details={"test_id": test_id})
    if experiment.webhook_secret is None:
        raise Unauthorized("this experiment has no webhook secret to check the signature with")
    verify(experiment.webhook_secret, body, headers)
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError('the callback\'s body must be JSON: {"test_id", "output"}') from None
    if not isinstance(payload, dict) or not ({"output", "error"} & payload.keys()):
        raise ValidationError(
            'the callback\'s body is {"test_id", "output"} or {"test_id", "error"}'
        )
    if payload.get("test_id") != test_id:
        raise ValidationError(
            "the callback's body must name its test_id, the one in its URL",
            details={"test_id": payload.get("test_id")},
        )
    usage = read_usage(payload)
    error = payload.get("error")
    state.llm_jobs.deliver(
        experiment.id,
        test_id,
        payload.get("output"),
        str(error) if error is not None else None,
        usage,
    )
