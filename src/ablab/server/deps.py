"""Dependencies of the routes: the server state, the caller checked for one scope, and the
service :class:`Context` the caller acts in.

``caller(Scope.WRITE)`` reads the bearer key, checks it reaches ``write``, and gives the
route a :class:`Principal`; ``WriteContext`` gives the same caller's ``Context`` (project,
actor, clock, trust) for the services; ``StateDep`` gives the stores and caches.
``ServingWriteContext`` is ``WriteContext`` for the writes that change what is served (an
experiment, a rollout): once the route returns, and before its answer is sent, the caches of
the live rules are dropped, so the caller's next assignment sees its change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ablab.domain.keys import Scope
from ablab.server.auth import Principal
from ablab.server.state import ServerState
from ablab.services.context import Context

__all__ = [
    "AdminContext",
    "AnyCaller",
    "ReadContext",
    "SdkCaller",
    "ServingWriteContext",
    "StateDep",
    "WriteContext",
    "bearer",
    "caller",
    "check_access",
    "context_for",
]


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ablab
    return state


StateDep = Annotated[ServerState, Depends(_state)]

# Declares the scheme in the OpenAPI document; the key itself is checked by KeyCache.
bearer = HTTPBearer(
    auto_error=False, bearerFormat="abk_<id>_<secret>", description="An ablab API key"
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _header(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return f"Bearer {credentials.credentials}" if credentials is not None else None


def caller(scope: Scope) -> Callable[..., Principal]:
    def dependency(state: StateDep, credentials: Credentials) -> Principal:
        return state.keys.principal(_header(credentials)).require(scope)

    dependency.needed_scope = scope  # type: ignore[attr-defined]  # read by errors.py
    return dependency


def check_access(request: Request) -> None:
    """The key checks of the matched route, on their own.

    FastAPI reads a request's body before it runs the route's dependencies, so a body it
    cannot parse would be reported (422) before a missing key (401) or scope (403); the
    error handler calls this first to keep that order.

    Raises:
        Unauthorized: the route needs a key and the request has none that is valid.
        Forbidden: the key lacks the route's scope.
    """
    route = request.scope.get("route")
    pending = list(getattr(getattr(route, "dependant", None), "dependencies", ()))
    needs_key, scope = False, None
    while pending:
        dependant = pending.pop()
        scope = scope or getattr(dependant.call, "needed_scope", None)
        needs_key = needs_key or scope is not None or dependant.call in (_any_key, bearer)
        pending.extend(dependant.dependencies)
    if not needs_key:
        return
    principal = _state(request).keys.principal(request.headers.get("authorization"))
    if scope is not None:
        principal.require(scope)


def _any_key(state: StateDep, credentials: Credentials) -> Principal:
    return state.keys.principal(_header(credentials))


AnyCaller = Annotated[Principal, Depends(_any_key)]
SdkCaller = Annotated[Principal, Depends(caller(Scope.SDK))]


@cache
def context_for(scope: Scope) -> Callable[..., Context]:
    """The dependency giving a route the service ``Context`` of a caller with ``scope``:
    ``caller(scope)``'s key check, then the caller's project, actor, clock and trust.

    It carries ``needed_scope`` as ``caller(scope)`` does, so ``check_access`` answers
    401/403 before a body's 422.
    """
    principal_of = caller(scope)

    def dependency(state: StateDep, credentials: Credentials) -> Context:
        return principal_of(state, credentials).context(state.store)

    dependency.needed_scope = scope  # type: ignore[attr-defined]  # read by check_access
    return dependency


ReadContext = Annotated[Context, Depends(context_for(Scope.READ))]
WriteContext = Annotated[Context, Depends(context_for(Scope.WRITE))]
AdminContext = Annotated[Context, Depends(context_for(Scope.ADMIN))]


def _serving_write(state: StateDep, ctx: WriteContext) -> Iterator[Context]:
    yield ctx
    # Reached only when the route returned: a route's exception is raised at the yield.
    state.changed()


# scope="function": the caches are dropped before the answer goes out, not after it.
ServingWriteContext = Annotated[Context, Depends(_serving_write, scope="function")]
