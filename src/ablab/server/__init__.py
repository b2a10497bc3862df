"""The ablab server: ``create_app(settings)`` and ``ablab serve``.

``create_app`` is imported when first asked for: the server's event checker processes
import a module of this package (``ablab.server.event_check_worker``) and need none of the
app (importing it too doubled their start, 3.3 s against 1.4 s here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ablab.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ablab.server.app import create_app  # noqa: PLC0415 - see the module's docstring

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
