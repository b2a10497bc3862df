"""``/v1/models``, ``/v1/groups`` and ``/v1/metrics``: what experiments are made of."""

from __future__ import annotations

from fastapi import APIRouter, status

from ablab.contract.catalogue import GroupCreate, GroupPublic, ModelPublic, ModelVersionCreate
from ablab.contract.errors import error_responses
from ablab.contract.metrics import MetricCreate, MetricPublic
from ablab.server.deps import ReadContext, WriteContext
from ablab.services.experiments import catalogue, metrics

router = APIRouter(
    prefix="/v1", tags=["catalogue"], responses=error_responses(401, 403, 404, 409, 413, 422)
)


@router.post("/models", status_code=status.HTTP_201_CREATED)
def register_model_version(spec: ModelVersionCreate, ctx: WriteContext) -> ModelPublic:
    """Register a version (the model is created with its first version)."""
    model, versions = catalogue.register_model_version(ctx, spec)
    return ModelPublic.from_domain(model, versions)


@router.get("/models")
def list_models(ctx: ReadContext) -> list[ModelPublic]:
    return [ModelPublic.from_domain(m, v) for m, v in catalogue.list_models(ctx)]


@router.get("/models/{name}")
def get_model(name: str, ctx: ReadContext) -> ModelPublic:
    return ModelPublic.from_domain(*catalogue.get_model(ctx, name))


@router.post("/groups", status_code=status.HTTP_201_CREATED)
def create_group(spec: GroupCreate, ctx: WriteContext) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.create_group(ctx, spec))


@router.get("/groups")
def list_groups(ctx: ReadContext) -> list[GroupPublic]:
    return [GroupPublic.from_domain(g) for g in catalogue.list_groups(ctx)]


@router.get("/groups/{name}")
def get_group(name: str, ctx: ReadContext) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.get_group(ctx, name))


@router.post("/metrics", status_code=status.HTTP_201_CREATED)
def define_metric(spec: MetricCreate, ctx: WriteContext) -> MetricPublic:
    """Define a custom metric computed from ``metric`` events of the same name."""
    return MetricPublic.from_domain(metrics.define_metric(ctx, spec))


@router.get("/metrics")
def list_metrics(ctx: ReadContext) -> list[MetricPublic]:
    return [MetricPublic.from_domain(m) for m in metrics.list_metrics(ctx)]
