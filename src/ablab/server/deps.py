"""Dependencies of the routes: the server state and the caller, checked for one scope.

``Caller(Scope.WRITE)`` reads the bearer key, checks it reaches ``write``, and gives the
route a :class:`Principal`; ``StateDep`` gives the stores and caches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ablab.domain.keys import Scope
from ablab.server.auth import Principal
from ablab.server.state import ServerState
from ablab.services.context import Context

__all__ = [
    "AdminCaller",
    "AnyCaller",
    "ReadCaller",
    "SdkCaller",
    "StateDep",
    "WriteCaller",
    "bearer",
    "caller",
    "context_of",
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

    return dependency


def _any_key(state: StateDep, credentials: Credentials) -> Principal:
    return state.keys.principal(_header(credentials))


AnyCaller = Annotated[Principal, Depends(_any_key)]
AdminCaller = Annotated[Principal, Depends(caller(Scope.ADMIN))]
WriteCaller = Annotated[Principal, Depends(caller(Scope.WRITE))]
ReadCaller = Annotated[Principal, Depends(caller(Scope.READ))]
SdkCaller = Annotated[Principal, Depends(caller(Scope.SDK))]


def context_of(principal: Principal, state: ServerState) -> Context:
    return principal.context(state.store)
