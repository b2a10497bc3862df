"""``/healthz`` (the stores answer), ``/metrics`` (Prometheus text format), and the API's
documentation (``/openapi.json``, ``/docs``, ``/redoc``).

``/healthz`` is always public: a load balancer asks it, and it tells only ok or failing.
Who reads the others is the operator's setting (``ABLAB_METRICS_ACCESS``,
``ABLAB_DOCS_ACCESS``): ``public``; ``key``, a bearer key with the ``read`` scope (the
documentation pages also take a console sign-in, since a browser sends no key); or ``off``,
answered as a route that does not exist.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from ablab.contract.base import Schema
from ablab.domain.keys import Scope, grants
from ablab.errors import NotFound
from ablab.server.console.session import SESSION_COOKIE
from ablab.server.deps import StateDep
from ablab.server.state import ServerState
from ablab.services.access.console_sessions import find_session

router = APIRouter(tags=["operations"])

Access = Literal["public", "key", "off"]
# The scope a key needs where the operator chose ``key``: the least one that reads data.
OPERATIONS_SCOPE = Scope.READ


def require_access(
    access: Access, request: Request, state: ServerState, *, console: bool = False
) -> None:
    """Let the request through under the operator's ``access`` setting.

    ``console`` also lets a signed-in console session through (its role reaching
    :data:`OPERATIONS_SCOPE`).

    Raises:
        NotFound: ``off``: the same answer as a route that does not exist.
        Unauthorized: ``key`` and no valid key (nor session).
        Forbidden: ``key`` and a key without the scope.
    """
    if access == "public":
        return
    if access == "off":
        raise NotFound(f"no such route: {request.method} {request.url.path}")
    header = request.headers.get("authorization")
    if console and header is None:
        session = find_session(state.store, request.cookies.get(SESSION_COOKIE))
        if session is not None and grants(frozenset({session.role}), OPERATIONS_SCOPE):
            return
    state.keys.principal(header).require(OPERATIONS_SCOPE)


class Health(Schema):
    status: str
    checks: dict[str, str]


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "a store does not answer"}},
)
def healthz(state: StateDep) -> Response:
    """200 when the metadata and event stores answer, 503 (with which one) when not."""
    checks: dict[str, str] = {}
    for name, probe in (("metadata", state.store_ping), ("events", state.events_ping)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # a health check reports; it never raises
            checks[name] = f"failing: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "failing", "checks": checks},
        status_code=200 if healthy else 503,
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, state: StateDep) -> Response:
    """Requests and latencies by route, assignments, events, experiments by status.

    By default it needs a key with the ``read`` scope; ``ABLAB_METRICS_ACCESS=public``
    opens it, ``off`` closes it.
    """
    require_access(state.settings.metrics_access, request, state)
    return Response(state.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
def openapi_document(request: Request, state: StateDep) -> Response:
    require_access(state.settings.docs_access, request, state, console=True)
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request, state: StateDep) -> HTMLResponse:
    require_access(state.settings.docs_access, request, state, console=True)
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="ablab - Swagger UI",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect", include_in_schema=False)
def swagger_ui_redirect(request: Request, state: StateDep) -> HTMLResponse:
    require_access(state.settings.docs_access, request, state, console=True)
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", include_in_schema=False)
def redoc(request: Request, state: StateDep) -> HTMLResponse:
    require_access(state.settings.docs_access, request, state, console=True)
    return get_redoc_html(openapi_url="/openapi.json", title="ablab - ReDoc")
