"""``/v1/models``, ``/v1/groups`` and ``/v1/metrics``: what experiments are made of."""

from __future__ import annotations

from fastapi import APIRouter, status

from ablab.contract.catalogue import GroupCreate, GroupPublic, ModelPublic, ModelVersionCreate
from ablab.contract.errors import error_responses
from ablab.contract.metrics import MetricCreate, MetricPublic
from ablab.server.deps import ReadCaller, StateDep, WriteCaller, context_of
from ablab.services.experiments import catalogue, metrics

router = APIRouter(
    prefix="/v1", tags=["catalogue"], responses=error_responses(401, 403, 404, 409, 413, 422)
)


@router.post("/models", status_code=status.HTTP_201_CREATED)
def register_model_version(
    spec: ModelVersionCreate, principal: WriteCaller, state: StateDep
) -> ModelPublic:
    """Register a version (the model is created with its first version)."""
    model, versions = catalogue.register_model_version(context_of(principal, state), spec)
    return ModelPublic.from_domain(model, versions)


@router.get("/models")
def list_models(principal: ReadCaller, state: StateDep) -> list[ModelPublic]:
    return [
        ModelPublic.from_domain(m, v)
        for m, v in catalogue.list_models(context_of(principal, state))
    ]


@router.get("/models/{name}")
def get_model(name: str, principal: ReadCaller, state: StateDep) -> ModelPublic:
    return ModelPublic.from_domain(*catalogue.get_model(context_of(principal, state), name))


@router.post("/groups", status_code=status.HTTP_201_CREATED)
def create_group(spec: GroupCreate, principal: WriteCaller, state: StateDep) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.create_group(context_of(principal, state), spec))


@router.get("/groups")
def list_groups(principal: ReadCaller, state: StateDep) -> list[GroupPublic]:
    return [GroupPublic.from_domain(g) for g in catalogue.list_groups(context_of(principal, state))]


@router.get("/groups/{name}")
def get_group(name: str, principal: ReadCaller, state: StateDep) -> GroupPublic:
    return GroupPublic.from_domain(catalogue.get_group(context_of(principal, state), name))


@router.post("/metrics", status_code=status.HTTP_201_CREATED)
def define_metric(spec: MetricCreate, principal: WriteCaller, state: StateDep) -> MetricPublic:
    """Define a custom metric computed from ``metric`` events of the same name."""
    return MetricPublic.from_domain(metrics.define_metric(context_of(principal, state), spec))


@router.get("/metrics")
def list_metrics(principal: ReadCaller, state: StateDep) -> list[MetricPublic]:
    return [MetricPublic.from_domain(m) for m in metrics.list_metrics(context_of(principal, state))]
