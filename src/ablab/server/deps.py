"""Dependencies of the routes: the server state and the caller, checked for one scope.

``Caller(Scope.WRITE)`` reads the bearer key, checks it reaches ``write``, and gives the
route a :class:`Principal`; ``StateDep`` gives the stores and caches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

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
    "caller",
    "context_of",
]


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ablab
    return state


StateDep = Annotated[ServerState, Depends(_state)]


def caller(scope: Scope) -> Callable[..., Principal]:
    def dependency(
        state: StateDep,
        authorization: Annotated[
            str | None,
            Header(description="Bearer abk_<id>_<secret>", include_in_schema=False),
        ] = None,
    ) -> Principal:
        return state.keys.principal(authorization).require(scope)

    return dependency


def _any_key(
    state: StateDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    return state.keys.principal(authorization)


AnyCaller = Annotated[Principal, Depends(_any_key)]
AdminCaller = Annotated[Principal, Depends(caller(Scope.ADMIN))]
WriteCaller = Annotated[Principal, Depends(caller(Scope.WRITE))]
ReadCaller = Annotated[Principal, Depends(caller(Scope.READ))]
SdkCaller = Annotated[Principal, Depends(caller(Scope.SDK))]


def context_of(principal: Principal, state: ServerState) -> Context:
    return principal.context(state.store)
