"""``/v1/admin/experiments``: the console's API (seed 004), over the same services.

Its shapes are the console's own where seed 004 needs them (``traffic_weight`` as a
fraction, 0.5 is half; an optional ``project_id`` that must be the key's project); the
bandit flag is ``bandit``, as everywhere, with ``bandit_enabled`` kept as its old name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool

from ablab.contract.admin import AdminExperimentCreate, AdminVariantCreate
from ablab.contract.errors import error_responses
from ablab.contract.experiments import (
    ExperimentCreate,
    ExperimentPublic,
    ExperimentWithWarnings,
    VariantCreate,
)
from ablab.contract.results import ExperimentResults
from ablab.domain.keys import Scope
from ablab.domain.lifecycle import Action
from ablab.errors import Forbidden
from ablab.server.deps import CallerContext, ServingWriteContext, StateDep
from ablab.server.scoped_route import ScopedRoute, needs
from ablab.services.automation.guard import analyze_experiment
from ablab.services.context import Context
from ablab.services.experiments import lifecycle as experiments
from ablab.services.rollouts.traffic_warnings import experiment_warnings

router = APIRouter(
    prefix="/v1/admin/experiments",
    tags=["admin"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 413, 422),
)


def _own_project(ctx: Context, project_id: str | None) -> None:
    if project_id is not None and project_id != ctx.project_id:
        raise Forbidden("this key belongs to another project", details={"project_id": project_id})


@router.get("", openapi_extra=needs(Scope.READ))
def list_(
    ctx: CallerContext,
    project_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ExperimentPublic]:
    _own_project(ctx, project_id)
    found = experiments.list_experiments(ctx)
    return [ExperimentPublic.from_domain(e) for e in found]


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE))
def create(spec: AdminExperimentCreate, ctx: ServingWriteContext) -> ExperimentWithWarnings:
    """A draft experiment; add variants, then launch it."""
    _own_project(ctx, spec.project_id)
    created = experiments.create_experiment(
        ctx,
        ExperimentCreate(
            name=spec.name,
            hypothesis=spec.hypothesis,
            bandit=spec.bandit,
            model_id=spec.model_id,
            primary_metric=spec.primary_metric,
            draft=True,
        ).to_spec(),
    )
    return ExperimentWithWarnings.warned(created, experiment_warnings(ctx, created))


@router.post(
    "/{ref}/variants", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE)
)
def add_variant(ref: str, spec: AdminVariantCreate, ctx: ServingWriteContext) -> ExperimentPublic:
    changed = experiments.add_variant(
        ctx,
        ref,
        VariantCreate(
            name=spec.name, weight=spec.traffic_weight * 100, model_version=spec.model_version
        ).to_spec(),
    )
    return ExperimentPublic.from_domain(changed)


@router.post("/{ref}/launch", openapi_extra=needs(Scope.WRITE))
def launch(ref: str, ctx: ServingWriteContext) -> ExperimentWithWarnings:
    changed = experiments.transition(ctx, ref, Action.LAUNCH)
    return ExperimentWithWarnings.warned(changed, experiment_warnings(ctx, changed))


@router.post("/{ref}/stop", openapi_extra=needs(Scope.WRITE))
def stop(ref: str, ctx: ServingWriteContext) -> ExperimentPublic:
    changed = experiments.transition(ctx, ref, Action.STOP)
    return ExperimentPublic.from_domain(changed)


@router.post("/{ref}/analyze", openapi_extra=needs(Scope.WRITE))
async def analyze(ref: str, ctx: ServingWriteContext, state: StateDep) -> ExperimentResults:
    found = await run_in_threadpool(analyze_experiment, ctx, state.events, ref, state.alerts)
    return ExperimentResults.model_validate(found)
