"""``/v1/experiments``: the lifecycle, results, analysis and time series of experiments."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body, Query, Request, Response, Security, status
from fastapi.concurrency import run_in_threadpool

from ablab.contract.base import parse
from ablab.contract.body import parse_object
from ablab.contract.catalogue import AuditEntryPublic
from ablab.contract.decision import ExperimentDecision, FlaggerHook
from ablab.contract.errors import error_responses
from ablab.contract.experiments import (
    ExperimentCreate,
    ExperimentPublic,
    ExperimentUpdate,
    ExperimentWithWarnings,
    VariantCreate,
)
from ablab.contract.results import ExperimentResults
from ablab.contract.rollouts import PromoteRequest
from ablab.contract.timeseries import ExperimentTimeseries
from ablab.domain.keys import Scope
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.domain.limits import MAX_VERSION
from ablab.errors import ValidationError
from ablab.server.deps import CallerContext, ServingWriteContext, StateDep
from ablab.server.routers.bodies import json_body
from ablab.server.scoped_route import ScopedRoute, authorize_async, bearer, needs
from ablab.services.access import audit
from ablab.services.analysis.decision import decision_of
from ablab.services.analysis.results import experiment_results
from ablab.services.analysis.timeseries import experiment_timeseries
from ablab.services.assignment import assign as assignment
from ablab.services.automation.bandit import rebalance
from ablab.services.automation.guard import analyze_experiment
from ablab.services.experiments import lifecycle as experiments
from ablab.services.rollouts import promotion
from ablab.services.rollouts.traffic_warnings import action_warnings, experiment_warnings
from ablab.stats.priors import parse_prior

router = APIRouter(
    prefix="/v1/experiments",
    tags=["experiments"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 413, 422),
)

Ref = Annotated[str, "the experiment's id or name"]
ExpectedVersion = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_VERSION,
        description="The version the caller saw: 409 if the experiment changed since "
        "(of two people acting on it at once, only the first one's action is taken).",
    ),
]


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE))
def create(spec: ExperimentCreate, ctx: ServingWriteContext) -> ExperimentWithWarnings:
    """Create an experiment (seed 000's body works as is); it runs at once unless ``draft``.

    ``warnings`` says when another experiment's rollout of the model is active: the new one
    then draws its units only from the rollout's share.
    """
    created = experiments.create_experiment(ctx, spec.to_spec())
    return ExperimentWithWarnings.warned(created, experiment_warnings(ctx, created))


@router.get("", openapi_extra=needs(Scope.READ))
def list_(
    ctx: CallerContext,
    status_filter: Annotated[ExperimentStatus | None, Query(alias="status")] = None,
) -> list[ExperimentPublic]:
    found = experiments.list_experiments(ctx, status_filter)
    return [ExperimentPublic.from_domain(e) for e in found]


@router.get("/{ref}", openapi_extra=needs(Scope.READ))
def get(ref: Ref, ctx: CallerContext) -> ExperimentPublic:
    return ExperimentPublic.from_domain(experiments.get_experiment(ctx, ref))


@router.patch("/{ref}", openapi_extra=needs(Scope.WRITE))
def update(ref: Ref, spec: ExperimentUpdate, ctx: ServingWriteContext) -> ExperimentPublic:
    """Change the split (new units only), weights, guardrails, hypothesis, ..."""
    changed = experiments.update_experiment(ctx, ref, spec.to_spec())
    return ExperimentPublic.from_domain(changed)


@router.post(
    "/{ref}/variants", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE)
)
def add_variant(ref: Ref, spec: VariantCreate, ctx: ServingWriteContext) -> ExperimentPublic:
    changed = experiments.add_variant(ctx, ref, spec.to_spec())
    return ExperimentPublic.from_domain(changed)


def _transition(action: Action) -> None:
    def endpoint(
        ref: Ref,
        ctx: ServingWriteContext,
        expected_version: ExpectedVersion = None,
    ) -> ExperimentWithWarnings:
        changed = experiments.transition(ctx, ref, action, expected_version=expected_version)
        return ExperimentWithWarnings.warned(changed, action_warnings(ctx, changed, action))

    endpoint.__name__ = action.value
    endpoint.__doc__ = f"{action.value.capitalize()} the experiment."
    declare = router.post(
        f"/{{ref}}/{action.value}", name=action.value, openapi_extra=needs(Scope.WRITE)
    )
    declare(endpoint)


for _action in (Action.LAUNCH, Action.PAUSE, Action.RESUME, Action.STOP, Action.ARCHIVE):
    _transition(_action)


@router.post("/{ref}/promote", openapi_extra=needs(Scope.WRITE))
def promote(
    ref: Ref,
    ctx: ServingWriteContext,
    state: StateDep,
    body: Annotated[PromoteRequest | None, Body()] = None,
    expected_version: ExpectedVersion = None,
) -> ExperimentWithWarnings:
    """End the experiment with ``variant`` (default: the only treatment) as the winner.

    Only when the results recommend promoting it; otherwise 409 unless ``force: true``,
    which is audited as a forced promotion. A winner on another model version than the
    control's is rolled out in ``steps`` (``GET /v1/rollouts``); ``rollout: false`` serves
    it to everyone at once. While the rollout runs, experiments on the model draw their
    units only from its share: ``warnings`` says so and names those running now.
    """
    body = body or PromoteRequest()
    changed = promotion.promote_experiment(
        ctx,
        state.events,
        ref,
        variant=body.variant,
        rollout=body.settings(),
        expected_version=expected_version,
        force=body.force,
    )
    return ExperimentWithWarnings.warned(changed, action_warnings(ctx, changed, Action.PROMOTE))


@router.get("/{ref}/results", openapi_extra=needs(Scope.READ))
async def results(
    ref: Ref,
    ctx: CallerContext,
    state: StateDep,
    segment: Annotated[str | None, Query(max_length=64)] = None,
    prior: Annotated[
        list[str] | None,
        Query(
            max_length=64,
            description="Bayesian prior of this analysis, repeatable: jeffreys (default), "
            "uniform or beta:A,B for proportions; flat (default) or normal:M,V on the "
            "relative effect",
        ),
    ] = None,
) -> ExperimentResults:
    """The results as of now (a read: the background monitor takes the automatic actions)."""
    chosen = parse_prior(prior) if prior else None
    found = await run_in_threadpool(
        experiment_results, ctx, state.events, ref, segment=segment, prior=chosen
    )
    return ExperimentResults.model_validate(found)


@router.post("/{ref}/analyze", openapi_extra=needs(Scope.WRITE))
async def analyze(
    ref: Ref,
    ctx: ServingWriteContext,
    state: StateDep,
    segment: Annotated[str | None, Query(max_length=64)] = None,
) -> ExperimentResults:
    """Analyse now and take the automatic actions the results call for."""
    found = await run_in_threadpool(
        analyze_experiment, ctx, state.events, ref, state.alerts, segment=segment
    )
    return ExperimentResults.model_validate(found)


@router.post("/{ref}/rebalance", openapi_extra=needs(Scope.WRITE))
async def rebalance_weights(
    ref: Ref, ctx: ServingWriteContext, state: StateDep
) -> ExperimentPublic:
    """Bandit mode: move the weights by Thompson sampling now (the monitor does it too)."""
    await run_in_threadpool(rebalance, ctx, state.events, ref, np.random.default_rng())
    return ExperimentPublic.from_domain(experiments.get_experiment(ctx, ref))


@router.get("/{ref}/decision", openapi_extra=needs(Scope.READ))
async def decision(ref: Ref, ctx: CallerContext, state: StateDep) -> ExperimentDecision:
    """Pass, fail or inconclusive, with the evidence (for Argo Rollouts' Web provider)."""
    found = await run_in_threadpool(experiment_results, ctx, state.events, ref)
    return ExperimentDecision.model_validate(decision_of(found))


@router.post(
    "/{ref}/decision/webhook",
    # For the document: the body and a read key. The route checks its key itself.
    dependencies=[Security(bearer, scopes=[Scope.READ.value])],
    openapi_extra=json_body(FlaggerHook, required=False),
    responses={412: {"model": ExperimentDecision}, 425: {"model": ExperimentDecision}},
)
async def decision_webhook(ref: Ref, state: StateDep, request: Request) -> Response:
    """The decision as a status for Flagger: 200 pass, 412 fail, 425 inconclusive.

    Flagger sends no headers of its own, so the read key may come in the body's
    ``metadata.api_key``. A key in the header is checked before the body is read, as on
    every route; without one, a body that does not parse holds no key either: 401.
    """
    if request.headers.get("authorization") is not None:
        caller = await authorize_async(request, Scope.READ)
        _flagger_hook(await request.body())  # checked all the same: a wrong body is a 422
    else:
        try:
            key = _flagger_hook(await request.body()).metadata.get("api_key")
        except ValidationError:
            key = None
        caller = await state.keys.principal_async(f"Bearer {key}" if key else None, Scope.READ)
    found = await run_in_threadpool(
        experiment_results, caller.context(state.store), state.events, ref
    )
    verdict = ExperimentDecision.model_validate(decision_of(found))
    status_code = {"pass": 200, "fail": 412}.get(verdict.decision, 425)
    return Response(
        verdict.model_dump_json(), status_code=status_code, media_type="application/json"
    )


def _flagger_hook(body: bytes) -> FlaggerHook:
    """Flagger's post (an empty body is one without metadata).

    Raises:
        ValidationError: not a JSON object, or not the shape of :class:`FlaggerHook`.
    """
    return parse(FlaggerHook, parse_object(body)) if body.strip() else FlaggerHook()


@router.get("/{ref}/timeseries", openapi_extra=needs(Scope.READ))
async def timeseries(
    ref: Ref,
    ctx: CallerContext,
    state: StateDep,
    metric: Annotated[str | None, Query(max_length=64)] = None,
    interval: Annotated[str, Query(pattern="^(minute|hour|day)$")] = "day",
) -> ExperimentTimeseries:
    found = await run_in_threadpool(
        experiment_timeseries, ctx, state.events, ref, metric=metric, interval_name=interval
    )
    return ExperimentTimeseries.model_validate(found)


@router.get("/{ref}/assignments", openapi_extra=needs(Scope.READ))
def assignment_counts(ref: Ref, ctx: CallerContext) -> dict[str, int]:
    """Units stored per variant (a unit's first assignment is stored before it is answered)."""
    return assignment.assignment_counts(ctx, ref)


@router.get("/{ref}/audit", openapi_extra=needs(Scope.READ))
def experiment_audit(
    ref: Ref,
    ctx: CallerContext,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditEntryPublic]:
    experiment = experiments.get_experiment(ctx, ref)
    entries = audit.list_audit(ctx, object_id=experiment.id, limit=limit)
    return [AuditEntryPublic.from_domain(e) for e in entries]
