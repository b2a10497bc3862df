"""``/v1/rollouts``: a promoted version rolled out step by step, and moved by hand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool

from ablab.contract.errors import error_responses
from ablab.contract.rollouts import RolloutActionRequest, RolloutCheckPublic, RolloutPublic
from ablab.domain.keys import Scope
from ablab.domain.rollouts import RolloutAction
from ablab.server.deps import CallerContext, ServingWriteContext, StateDep
from ablab.server.scoped_route import ScopedRoute, needs
from ablab.services.rollouts import steps as rollouts

router = APIRouter(
    prefix="/v1/rollouts",
    tags=["rollouts"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 422),
)

RolloutId = Annotated[str, "the rollout's id (ro_...)"]


@router.get("", openapi_extra=needs(Scope.READ))
def list_(
    ctx: CallerContext,
    model: Annotated[str | None, Query(max_length=128)] = None,
) -> list[RolloutPublic]:
    """The project's rollouts, newest first (of one model with ``model``)."""
    found = rollouts.list_rollouts(ctx, model)
    return [RolloutPublic.from_domain(r) for r in found]


@router.get("/{rollout_id}", openapi_extra=needs(Scope.READ))
async def get(rollout_id: RolloutId, ctx: CallerContext, state: StateDep) -> RolloutCheckPublic:
    """The rollout with its current step's evidence (units, guardrails, what comes next)."""
    found = await run_in_threadpool(rollouts.check_rollout, ctx, state.events, rollout_id)
    return RolloutCheckPublic.model_validate(found)


def _action(action: RolloutAction) -> None:
    def endpoint(
        rollout_id: RolloutId,
        ctx: ServingWriteContext,
        body: Annotated[RolloutActionRequest | None, Body()] = None,
    ) -> RolloutPublic:
        reason = body.reason if body is not None else ""
        moved = rollouts.act_on_rollout(ctx, rollout_id, action, reason)
        return RolloutPublic.from_domain(moved)

    endpoint.__name__ = f"{action.value}_rollout"
    endpoint.__doc__ = {
        RolloutAction.ADVANCE: "Go to the next step now (onto 100%: complete the rollout).",
        RolloutAction.PAUSE: "Hold the current share; the monitor leaves it alone.",
        RolloutAction.RESUME: "Carry on from the current step, its clock restarted.",
        RolloutAction.ROLLBACK: "Serve everyone the previous version again.",
    }[action]
    router.post(
        f"/{{rollout_id}}/{action.value}",
        name=f"{action.value}_rollout",
        openapi_extra=needs(Scope.WRITE),
    )(endpoint)


for _action_kind in RolloutAction:
    _action(_action_kind)
