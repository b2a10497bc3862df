"""``/healthz`` (the stores answer), ``/metrics`` (Prometheus text format), and the API's
documentation (``/openapi.json``, ``/docs``, ``/redoc``).

``/healthz`` is always public: a load balancer asks it, and it tells only ok or failing.
Who reads the others is the operator's setting (``ABLAB_METRICS_ACCESS``,
``ABLAB_DOCS_ACCESS``): ``public``; ``key``, a bearer key with the ``read`` scope (the
documentation pages also take a console sign-in, since a browser sends no key); or ``off``,
answered as a route that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
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
from ablab.server.scoped_route import authorize
from ablab.services.access.console_sessions import find_session
from ablab.settings import Settings

router = APIRouter(tags=["operations"])

Access = Literal["public", "key", "off"]
# The scope a key needs where the operator chose ``key``: the least one that reads data.
OPERATIONS_SCOPE = Scope.READ


def operator_access(
    setting: Callable[[Settings], Access], *, console: bool = False
) -> Callable[[Request, StateDep], None]:
    """The dependency letting a request through under the operator's ``setting``.

    ``key`` is the check every keyed route makes (:func:`~ablab.server.scoped_route.authorize`
    with :data:`OPERATIONS_SCOPE`); ``console`` also lets a signed-in console session
    through (its role reaching that scope), since a browser sends no key.

    The dependency raises NotFound for ``off`` (the same answer as a route that does not
    exist), Unauthorized for ``key`` and no valid key (nor session), Forbidden for ``key``
    and a key without the scope.
    """

    def dependency(request: Request, state: StateDep) -> None:
        access = setting(state.settings)
        if access == "public":
            return
        if access == "off":
            raise NotFound(f"no such route: {request.method} {request.url.path}")
        if console and "authorization" not in request.headers:
            session = find_session(state.store, request.cookies.get(SESSION_COOKIE))
            if session is not None and grants(frozenset({session.role}), OPERATIONS_SCOPE):
                return
        authorize(request, OPERATIONS_SCOPE)

    return dependency


MetricsAccess = Depends(operator_access(lambda settings: settings.metrics_access))
DocsAccess = Depends(operator_access(lambda settings: settings.docs_access, console=True))


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
    dependencies=[MetricsAccess],
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(state: StateDep) -> Response:
    """Requests and latencies by route, assignments, events, experiments by status.

    By default it needs a key with the ``read`` scope; ``ABLAB_METRICS_ACCESS=public``
    opens it, ``off`` closes it.
    """
    return Response(state.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", dependencies=[DocsAccess], include_in_schema=False)
def openapi_document(request: Request) -> Response:
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[DocsAccess], include_in_schema=False)
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="ablab - Swagger UI",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect", dependencies=[DocsAccess], include_in_schema=False)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", dependencies=[DocsAccess], include_in_schema=False)
def redoc() -> HTMLResponse:
    return get_redoc_html(openapi_url="/openapi.json", title="ablab - ReDoc")
