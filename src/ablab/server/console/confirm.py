"""The confirmation step of a destructive console action (stop, roll back, revoke, disable,
archive): the first post of its form answers with a page that states the consequence and
posts the same fields again with ``confirmed=yes``. It needs no script, and a stray click
or a replayed form without the flag changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse

from ablab.server.console.session import Viewer, safe_next
from ablab.server.console.templating import render

__all__ = ["Confirmed", "ask_to_confirm"]

# The flag the confirmation page's button sends; any other value asks again.
Confirmed = Annotated[str, Form(max_length=8)]


def ask_to_confirm(
    request: Request,
    viewer: Viewer,
    *,
    title: str,
    consequence: str,
    button: str,
    back: str,
    fields: dict[str, str] | None = None,
    undo: str = "",
) -> HTMLResponse:
    """The page that asks before ``request``'s form is taken: ``consequence`` says what
    happens, ``undo`` how (or whether) it can be undone; Confirm re-posts ``fields``."""
    return render(
        request,
        "confirm.html",
        {
            "viewer": viewer,
            "title": title,
            "consequence": consequence,
            "undo": undo,
            "button": button,
            # The path as the browser sent it (still encoded), so a name with "?" or "#"
            # posts back to the same route.
            "action": request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
            "fields": fields or {},
            "back": safe_next(back),
        },
    )
