"""``POST /v1/assign`` and ``POST /v1/events``: the two routes on every request path.

They parse the body with orjson instead of a pydantic model and skip FastAPI's dependency
machinery: ``FastPaths`` answers them before routing, from the same handlers the documented
FastAPI routes call, so the OpenAPI document and the behaviour are one. Measured here, a
pydantic body cost about a quarter of FastAPI's throughput on a POST (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ablab.assignment import Assignment
from ablab.contract.body import check_attributes, check_reference, parse_object
from ablab.domain.keys import Scope
from ablab.errors import AblabError, ValidationError
from ablab.server.errors import ablab_error_response, internal_error
from ablab.server.state import ServerState
from ablab.services.events.ingest import IngestResult

__all__ = ["PREDICT_PREFIX", "FastPaths", "assign", "events", "predict", "respond"]

Handler = Callable[[Request], Awaitable[Response]]


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _object(body: bytes) -> dict[str, Any]:
    # NaN, Infinity and 1e400 are refused naming their field (contract.body).
    return parse_object(body)


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ablab
    return state


_ASSIGN_FIELDS = frozenset({"experiment", "unit_id", "attributes"})


def _only(data: dict[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ValidationError(
            f"unknown fields: {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})",
            details={"unknown": extra},
        )


async def assign(request: Request) -> Response:
    state = _state(request)
    principal = await state.keys.principal_async(request.headers.get("authorization"), Scope.SDK)
    data = _object(await request.body())
    _only(data, _ASSIGN_FIELDS)
    experiment = check_reference(data.get("experiment"), "experiment")
    unit_id = check_reference(data.get("unit_id"), "unit_id")
    attributes = check_attributes(data.get("attributes"))
    found = await _assigned(state, principal.project_id, experiment, unit_id, attributes)
    state.telemetry.assignments.labels("true" if found.in_experiment else "false").inc()
    return _json(
        {
            "experiment": found.experiment,
            "unit_id": found.unit_id,
            "variant": found.variant,
            "model_version": found.model_version,
            "in_experiment": found.in_experiment,
            "reason": found.reason.value,
        }
    )


async def _assigned(
    state: ServerState, project_id: str, ref: str, unit_id: str, attributes: dict[str, Any]
) -> Assignment:
    """The unit's assignment, from memory when it can be; a new unit's is durable first."""
    found = state.assigner.try_assign(project_id, ref, unit_id, attributes)
    if found is None:  # needs the store: off the event loop
        return await run_in_threadpool(state.assigner.assign, project_id, ref, unit_id, attributes)
    if isinstance(found, Future):  # a new unit: answered once its first assignment is stored
        return await asyncio.wrap_future(found)
    return found


async def events(request: Request) -> Response:
    state = _state(request)
    principal = await state.keys.principal_async(request.headers.get("authorization"), Scope.SDK)
    body = await request.body()
    # Parsed, checked and stored off the loop: the body goes to a checker process as it came
    # (server/event_checker.py), a malformed one comes back as the same 4xx.
    assert state.event_checker is not None
    result: IngestResult = await run_in_threadpool(
        partial(
            state.event_checker.ingest,
            principal.context(state.store),
            state.events,
            body,
            max_events=state.settings.max_batch_events,
            lookup=partial(state.experiments.lookup, principal.project_id),
            remember=state.assigner.remember_exposures,
        )
    )
    counter = state.telemetry.events
    counter.labels("stored").inc(result.stored)
    counter.labels("duplicate").inc(result.duplicates)
    counter.labels("rejected").inc(len(result.rejected))
    return _json(
        {
            "received": result.received,
            "accepted": result.accepted,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "rejected": [
                {"index": e.index, "event_id": e.event_id, "reason": e.reason}
                for e in result.rejected
            ],
        }
    )


_PREDICT_FIELDS = frozenset({"unit_id", "attributes", "features"})
PREDICT_PREFIX = "/v1/predict/"


async def predict(request: Request) -> Response:
    state = _state(request)
    principal = await state.keys.principal_async(request.headers.get("authorization"), Scope.SDK)
    experiment_ref = request.scope["path"][len(PREDICT_PREFIX) :]
    data = _object(await request.body())
    _only(data, _PREDICT_FIELDS)
    check_reference(experiment_ref, "experiment")
    unit_id = check_reference(data.get("unit_id"), "unit_id")
    attributes = check_attributes(data.get("attributes"))
    if "features" not in data:
        raise ValidationError("features are needed: the model's input")
    project = principal.project_id
    assigner = state.assigner
    experiment = assigner.experiment(project, experiment_ref, may_read=False)
    if experiment is None:
        experiment = await run_in_threadpool(assigner.experiment, project, experiment_ref)
    assert experiment is not None
    found = await _assigned(state, project, experiment_ref, unit_id, attributes)
    served = await state.gateway.predict(project, experiment, found, data["features"], attributes)
    return _json(
        {
            "prediction": served.prediction,
            "variant": served.variant if served.in_experiment else found.variant,
            "model_version": served.model_version,
            "prediction_id": served.prediction_id,
            "in_experiment": served.in_experiment,
            "fallback": served.fallback,
        }
    )


class FastPaths:
    """ASGI middleware that serves the hot routes before FastAPI routes the request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/assign"): assign,
            ("POST", "/v1/events"): events,
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        handler = None
        if scope["type"] == "http":
            path = scope["path"]
            handler = self.routes.get((scope["method"], path))
            if handler is None and path.startswith(PREDICT_PREFIX) and scope["method"] == "POST":
                handler = predict
        if handler is None:
            await self.app(scope, receive, send)
            return
        route = PREDICT_PREFIX + "{experiment}" if handler is predict else scope["path"]
        scope["ablab_route"] = route
        request = Request(scope, receive)
        response = await respond(handler, request)
        await response(scope, receive, send)


async def respond(handler: Handler, request: Request) -> Response:
    """Run ``handler``, mapping errors to the one JSON shape."""
    try:
        return await handler(request)
    except AblabError as exc:
        return ablab_error_response(exc)
    except Exception:
        return internal_error(request)
