"""Who is looking at the console: the session cookie, the role it carries, the CSRF check.

A page needs a signed-in session (otherwise the browser is sent to ``/login``); a form post
also needs the session's CSRF token in its ``csrf_token`` field and a role that reaches the
action's scope. The session token travels only in an HttpOnly, SameSite=Lax cookie.

A form that changes what is served (an experiment's lifecycle, a rollout) takes
``ServingWriterForm``: the live rules' caches are dropped as the API's writes drop them
(``deps.ServingChange``), once the page returned and before its answer is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ablab.domain.keys import Scope, grants
from ablab.domain.users import ConsoleSession
from ablab.server.deps import ServingChange, StateDep
from ablab.server.state import ServerState
from ablab.services.access.console_sessions import csrf_matches, find_session
from ablab.services.context import Context

__all__ = [
    "CSRF_REFUSED",
    "SESSION_COOKIE",
    "AdminForm",
    "ConsoleRefused",
    "ServingWriterForm",
    "SignInNeeded",
    "Viewer",
    "ViewerDep",
    "WriterForm",
    "WriterPage",
    "safe_next",
]

SESSION_COOKIE = "ablab_session"
CSRF_REFUSED = (
    "This form was refused: its security token is missing or out of date. "
    "Reload the page and try again."
)


class SignInNeeded(Exception):
    """No live session: the browser goes to the sign-in page, then back to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class ConsoleRefused(Exception):
    """A form the session may not send: a missing or wrong CSRF token, or a role too low."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Viewer:
    session: ConsoleSession
    state: ServerState

    @property
    def ctx(self) -> Context:
        return Context(
            self.state.store, self.session.project_id, self.session.actor, trust=self.state.trust
        )

    def can(self, scope: Scope) -> bool:
        return grants(frozenset({self.session.role}), scope)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/experiments"
    return target


def _viewer(request: Request, state: StateDep) -> Viewer:
    session = find_session(state.store, request.cookies.get(SESSION_COOKIE))
    if session is None:
        path = request.url.path if request.method == "GET" else "/experiments"
        raise SignInNeeded(path + (f"?{request.url.query}" if request.url.query else ""))
    return Viewer(session, state)


ViewerDep = Annotated[Viewer, Depends(_viewer)]


def _acting(scope: Scope) -> Callable[[Request, Viewer], Awaitable[Viewer]]:
    async def dependency(request: Request, viewer: ViewerDep) -> Viewer:
        form = await request.form()
        token = form.get("csrf_token")
        if not csrf_matches(viewer.session, token if isinstance(token, str) else None):
            raise ConsoleRefused(CSRF_REFUSED)
        _require(viewer, scope)
        return viewer

    return dependency


def _require(viewer: Viewer, scope: Scope) -> None:
    if not viewer.can(scope):
        raise ConsoleRefused(
            f"Your role ({viewer.session.role.value}) does not allow this: it needs {scope.value}."
        )


def _writer_page(viewer: ViewerDep) -> Viewer:
    # The page of a form a read-only user may not send: refused as the form itself would be.
    _require(viewer, Scope.WRITE)
    return viewer


WriterPage = Annotated[Viewer, Depends(_writer_page)]
WriterForm = Annotated[Viewer, Depends(_acting(Scope.WRITE))]
AdminForm = Annotated[Viewer, Depends(_acting(Scope.ADMIN))]


def _serving_writer(viewer: WriterForm, change: ServingChange) -> Viewer:
    # A refused change is answered with a message on the page, not an error, so it drops
    # the caches too: harmless, the next assignment reloads the rules once.
    return viewer


ServingWriterForm = Annotated[Viewer, Depends(_serving_writer)]
