"""``/healthz`` (the stores answer) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from ablab.contract.base import Schema
from ablab.server.deps import StateDep

router = APIRouter(tags=["operations"])


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
def metrics(state: StateDep) -> Response:
    """Requests and latencies by route, assignments, events, experiments by status."""
    return Response(state.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
