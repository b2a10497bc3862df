"""``/v1/keys``, ``/v1/audit`` and ``/v1/whoami``: keys, the project's audit log, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ablab.contract.base import Schema
from ablab.contract.catalogue import AuditEntryPublic
from ablab.contract.errors import error_responses
from ablab.contract.keys import KeyCreate, KeyCreated, KeyPublic
from ablab.domain.keys import Scope
from ablab.server.deps import Caller, CallerContext, StateDep
from ablab.server.scoped_route import ScopedRoute, needs
from ablab.services.access import audit, keys

# Who reads the project's audit log (every change of every object, with who made it): the
# one rule of ``GET /v1/audit`` and of the console's audit page.
AUDIT_LOG_SCOPE = Scope.ADMIN

router = APIRouter(
    prefix="/v1",
    tags=["access"],
    route_class=ScopedRoute,
    responses=error_responses(401, 403, 404, 409, 413, 422),
)


class Whoami(Schema):
    project_id: str
    key: str
    name: str
    scopes: list[Scope]


@router.get("/whoami", openapi_extra=needs())
def whoami(principal: Caller) -> Whoami:
    """The caller's project and key (any valid key may ask)."""
    key = principal.key
    return Whoami(
        project_id=key.project_id, key=key.prefix, name=key.name, scopes=sorted(key.scopes)
    )


@router.post("/keys", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Scope.ADMIN))
def create_key(spec: KeyCreate, ctx: CallerContext) -> KeyCreated:
    """A new key of the caller's project; the whole key is in this response only."""
    key, whole = keys.create_key(ctx, spec.name, spec.scopes)
    return KeyCreated(**KeyPublic.from_domain(key).model_dump(), key=whole)


@router.get("/keys", openapi_extra=needs(Scope.ADMIN))
def list_keys(ctx: CallerContext, state: StateDep) -> list[KeyPublic]:
    # The uses this process noted and has not written yet (every 10 s) show here already.
    state.keys.write_touches()
    return [KeyPublic.from_domain(k) for k in keys.list_keys(ctx)]


@router.post("/keys/{key_id}/revoke", openapi_extra=needs(Scope.ADMIN))
def revoke_key(key_id: str, ctx: CallerContext, state: StateDep) -> KeyPublic:
    revoked = keys.revoke_key(ctx, key_id)
    state.keys.forget(revoked.id)
    return KeyPublic.from_domain(revoked)


@router.get("/audit", openapi_extra=needs(AUDIT_LOG_SCOPE))
def project_audit(
    ctx: CallerContext,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditEntryPublic]:
    """The project's audit log, newest first."""
    entries = audit.list_audit(ctx, object_id=object_id, limit=limit)
    return [AuditEntryPublic.from_domain(e) for e in entries]
