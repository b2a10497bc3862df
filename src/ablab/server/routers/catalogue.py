"""``/v1/models``, ``/v1/groups`` and ``/v1/metrics``: what experiments are made of."""

from __future__ import annotations

from fastapi import APIRouter, status

from ablab.contract.catalogue import GroupCreate, GroupPublic, ModelPublic, ModelVersionCreate
from ablab.contract.errors import error_responses
from ablab.contract.metrics import MetricCreate, MetricPublic
from ablab.domain.keys import Scope
from ablab.server.deps import CallerContext
from ablab.server.scoped_route import ScopedRoute, needs
from ablab.services.experiments import catalogue, metrics

router = APIRouter(
    prefix="/v1",
    tags=["catalogue"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 413, 422),
)


@router.post("/models", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE))
def register_model_version(spec: ModelVersionCreate, ctx: CallerContext) -> ModelPublic:
    """Register a version (the model is created with its first version)."""
    model, versions = catalogue.register_model_version(ctx, spec.to_spec())
    return ModelPublic.from_domain(model, versions)


@router.get("/models", openapi_extra=needs(Scope.READ))
def list_models(ctx: CallerContext) -> list[ModelPublic]:
    return [ModelPublic.from_domain(m, v) for m, v in catalogue.list_models(ctx)]


@router.get("/models/{name}", openapi_extra=needs(Scope.READ))
def get_model(name: str, ctx: CallerContext) -> ModelPublic:
    return ModelPublic.from_domain(*catalogue.get_model(ctx, name))


@router.post("/groups", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE))
def create_group(spec: GroupCreate, ctx: CallerContext) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.create_group(ctx, spec.to_spec()))


@router.get("/groups", openapi_extra=needs(Scope.READ))
def list_groups(ctx: CallerContext) -> list[GroupPublic]:
    return [GroupPublic.from_domain(g) for g in catalogue.list_groups(ctx)]


@router.get("/groups/{name}", openapi_extra=needs(Scope.READ))
def get_group(name: str, ctx: CallerContext) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.get_group(ctx, name))


@router.post("/metrics", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.WRITE))
def define_metric(spec: MetricCreate, ctx: CallerContext) -> MetricPublic:
    """Define a custom metric computed from ``metric`` events of the same name."""
    return MetricPublic.from_domain(metrics.define_metric(ctx, spec.to_spec()))


@router.get("/metrics", openapi_extra=needs(Scope.READ))
def list_metrics(ctx: CallerContext) -> list[MetricPublic]:
    return [MetricPublic.from_domain(m) for m in metrics.list_metrics(ctx)]
