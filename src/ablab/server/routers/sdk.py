"""``/v1/assign``, ``/v1/events`` (documented here, served by ``hot_paths``) and
``/v1/sdk/config``, the ruleset SDKs assign from locally."""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request, Response

from ablab.contract.catalogue import AssignmentPublic, AssignRequest
from ablab.contract.errors import error_responses
from ablab.contract.events import EventBatch, IngestResultPublic
from ablab.contract.predictions import PredictionPublic, PredictRequest
from ablab.contract.sdk import SdkConfig
from ablab.domain.keys import Scope
from ablab.server import hot_paths
from ablab.server.deps import Caller, StateDep
from ablab.server.routers.bodies import json_body
from ablab.server.scoped_route import ScopedRoute, needs
from ablab.services.assignment.sdk_config import sdk_ruleset

router = APIRouter(
    prefix="/v1",
    tags=["sdk"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 413, 422),
)


@router.post(
    "/assign",
    response_model=AssignmentPublic,
    openapi_extra=needs(Scope.SDK) | json_body(AssignRequest),
)
async def assign(request: Request) -> Response:
    """The variant (and model version) to serve a unit; sticky, stored on first sight."""
    return await hot_paths.respond(hot_paths.assign, request)


@router.post(
    "/events",
    response_model=IngestResultPublic,
    openapi_extra=needs(Scope.SDK) | json_body(EventBatch),
)
async def events(request: Request) -> Response:
    """Store a batch of events; each bad one comes back with its index and reason.

    Idempotent by ``event_id``; durable before the response is sent.
    """
    return await hot_paths.respond(hot_paths.events, request)


@router.post(
    "/predict/{experiment}",
    response_model=PredictionPublic,
    openapi_extra=needs(Scope.SDK) | json_body(PredictRequest),
    responses=error_responses(503),
)
async def predict(experiment: str, request: Request) -> Response:
    """Assign the unit, call its variant's model (or the control's on failure), log both."""
    return await hot_paths.respond(hot_paths.predict, request)


@router.get(
    "/sdk/config",
    response_model=SdkConfig,
    responses={304: {"description": "unchanged"}},
    openapi_extra=needs(Scope.SDK),
)
def config(
    principal: Caller,
    state: StateDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The project's ruleset for local assignment, with an ETag (send If-None-Match)."""
    with state.store.session(read_only=True) as session:
        rules = sdk_ruleset(session, principal.project_id)
    body = orjson.dumps(rules)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    payload = {"project_id": principal.project_id, "version": etag.strip('"'), "experiments": rules}
    return Response(orjson.dumps(payload), media_type="application/json", headers={"ETag": etag})
