"""``/healthz`` (the stores answer) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from ablab.server.deps import StateDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
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


@router.get("/metrics")
def metrics(state: StateDep) -> Response:
    """Requests and latencies by route, assignments, events, experiments by status."""
    return Response(state.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
