"""``/v1/sources``: where experiments' events are read from when not ablab's own tables.

Adding a source needs an admin key: it points the server's engines at data. What they may
reach is the operator's (``ABLAB_SOURCE_FOLDERS``, ``ABLAB_SPARK_MASTER``,
``ABLAB_CLICKHOUSE``, ``ABLAB_SOURCE_SELECT``), whatever the request says.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from ablab.contract.errors import error_responses
from ablab.contract.sources import SourceCreate, SourcePublic, SourceRefresh
from ablab.domain.keys import Scope
from ablab.server.deps import CallerContext
from ablab.server.scoped_route import ScopedRoute, needs
from ablab.services.analysis import sources

router = APIRouter(
    prefix="/v1",
    tags=["sources"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 413, 422),
)


@router.post("/sources", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.ADMIN))
def add_source(spec: SourceCreate, ctx: CallerContext) -> SourcePublic:
    """Add a source once its engine has read a sample of each of its tables."""
    source, sample = sources.add_source(
        ctx, spec.name, spec.engine, spec.to_domain_tables(), spec.refresh_minutes
    )
    return SourcePublic.from_domain(source, sample)


@router.get("/sources", openapi_extra=needs(Scope.READ))
def list_sources(ctx: CallerContext) -> list[SourcePublic]:
    return [SourcePublic.from_domain(s) for s in sources.list_sources(ctx)]


@router.get("/sources/{name}", openapi_extra=needs(Scope.READ))
def get_source(name: str, ctx: CallerContext) -> SourcePublic:
    return SourcePublic.from_domain(sources.get_source(ctx, name))


@router.post("/sources/{name}/refresh", openapi_extra=needs(Scope.WRITE))
def refresh_source(
    name: str, ctx: CallerContext, spec: SourceRefresh | None = None
) -> SourcePublic:
    """Forget the answers this server kept from the source: its next reads ask the engine
    for the days that may have changed (``full``: for every day)."""
    full = spec is not None and spec.full
    return SourcePublic.from_domain(sources.refresh_source(ctx, name, full=full))


@router.post("/sources/{name}/test", openapi_extra=needs(Scope.WRITE))
def test_source(name: str, ctx: CallerContext) -> SourcePublic:
    """Read a sample of each of the source's tables again."""
    return SourcePublic.from_domain(*sources.check_source(ctx, name))
