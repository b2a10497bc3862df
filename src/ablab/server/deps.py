"""Dependencies of the routes: the server state, the caller its route checked, the service
:class:`Context` that caller acts in, and the writes that change what is served.

Who may call a route is the route's own declaration (``openapi_extra=needs(Scope.WRITE)``,
see :mod:`ablab.server.scoped_route`), checked before the body is read; ``Caller`` and
``CallerContext`` give the route that checked caller, its project, actor, clock and trust.
``StateDep`` gives the stores and caches.

``ServingChange`` marks a route that changes what is served (an experiment, a rollout, from
the API or from a console form): once the route returns, and before its answer is sent, the
live rules' caches are dropped, so the caller's next assignment sees its change. It is the
one place that drops them; ``ServingWriteContext`` is ``CallerContext`` with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Annotated

from fastapi import Depends

from ablab.server.auth import Principal
from ablab.server.scoped_route import checked_caller, server_state
from ablab.server.state import ServerState
from ablab.services.context import Context

__all__ = [
    "Caller",
    "CallerContext",
    "ServingChange",
    "ServingWriteContext",
    "StateDep",
]

StateDep = Annotated[ServerState, Depends(server_state)]
Caller = Annotated[Principal, Depends(checked_caller)]


def _context(caller: Caller, state: StateDep) -> Context:
    return replace(caller.context(state.store), sources=state.sources)


CallerContext = Annotated[Context, Depends(_context)]


def _drop_serving_caches(state: StateDep) -> Iterator[None]:
    yield
    # Reached only when the route returned: a route's exception is raised at the yield.
    state.changed()


# scope="function": the caches are dropped before the answer goes out, not after it.
ServingChange = Annotated[None, Depends(_drop_serving_caches, scope="function")]


def _serving_write(ctx: CallerContext, change: ServingChange) -> Context:
    return ctx


ServingWriteContext = Annotated[Context, Depends(_serving_write)]
