"""Signing in (a user's password or an admin API key) and out."""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ablab.errors import Forbidden, Unauthorized
from ablab.server.console.session import (
    CSRF_REFUSED,
    SESSION_COOKIE,
    ConsoleRefused,
    ViewerDep,
    safe_next,
)
from ablab.server.console.templating import render
from ablab.server.deps import StateDep
from ablab.services.access.console_sessions import (
    csrf_matches,
    end_session,
    sign_in_with_key,
    sign_in_with_password,
)

router = APIRouter(include_in_schema=False)

# Before a session exists, the sign-in form is protected by a double-submitted token: a
# cookie and a hidden field that must match (a cross-site form cannot read the cookie).
LOGIN_COOKIE = "ablab_login_csrf"


@router.get("/")
def home() -> Response:
    return RedirectResponse("/experiments", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, safe_next(next))


def _login_form(
    request: Request,
    target: str,
    error: str | None = None,
    name: str = "",
    status_code: int | None = None,
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": target, "error": error, "name": name},
        status_code=status_code or (401 if error else 200),
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    *,
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/experiments",
    name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    api_key: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        raise ConsoleRefused(
            "This sign-in form was refused: its security token is missing or out of date. "
            "Reload the page and try again."
        )
    by_key = bool(api_key.strip())
    if not by_key and not name.strip():
        message = "give your user name and password, or an admin API key"
        return _login_form(request, safe_next(next), message, name=name)
    attempt = state.sign_ins.attempt(
        None if by_key else name,  # a key's guesser is counted by address alone
        request.client.host if request.client else None,
    )
    if attempt.wait is not None:
        minutes = max(1, math.ceil(attempt.wait / 60))
        message = f"Too many failed sign-ins: try again in {minutes} minute{'s' * (minutes > 1)}."
        response = _login_form(request, safe_next(next), message, name=name, status_code=429)
        response.headers["Retry-After"] = str(math.ceil(attempt.wait))
        return response
    lifetime = timedelta(hours=state.settings.console_session_hours)
    try:
        if by_key:
            token, session = sign_in_with_key(state.store, api_key, lifetime)
        else:
            token, session = sign_in_with_password(state.store, name, password, lifetime)
    except Unauthorized as exc:
        return _login_form(request, safe_next(next), exc.message, name=name)
    except Forbidden as exc:  # a real key without the admin scope: not a guess
        state.sign_ins.not_a_guess(attempt)
        return _login_form(request, safe_next(next), exc.message, name=name)
    state.sign_ins.succeeded(attempt)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE)
    del session
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep, state: StateDep) -> Response:
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_matches(viewer.session, token if isinstance(token, str) else None):
        raise ConsoleRefused(CSRF_REFUSED)
    end_session(state.store, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
