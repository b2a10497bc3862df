"""Where the data lives, as the Client sees it: the embedded store or an ablab server.

A backend does one thing: it carries out an :class:`~ablab.client._operation.Operation`
with its arguments. The operations are defined once (``_api.py``, ``_llm_api.py``); the
local backend calls their functions on its stores and the HTTP backend sends them to their
routes, so the Client behaves the same either way, with the same exceptions.
"""

from __future__ import annotations

from typing import ParamSpec, Protocol, TypeVar

from ablab.client._operation import Operation

__all__ = ["Backend"]

P = ParamSpec("P")
Out = TypeVar("Out")


class Backend(Protocol):
    def call(self, operation: Operation[P, Out], /, *args: P.args, **kwargs: P.kwargs) -> Out:
        """Carry out ``operation``; raises the ablab error it raised (or the server did)."""
        ...

    def close(self) -> None: ...
