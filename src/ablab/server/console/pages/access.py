"""The audit log, API keys and console users (for admins).

A key made here is shown on the page that answers the form, once: it is never stored in
the clear, nor put in a URL or a cookie.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ablab.domain.keys import Scope
from ablab.domain.users import parse_role
from ablab.errors import AblabError
from ablab.server.console.confirm import Confirmed, ask_to_confirm
from ablab.server.console.session import AdminForm, Viewer, ViewerDep
from ablab.server.console.templating import flash_redirect, render
from ablab.server.routers.access import AUDIT_LOG_SCOPE
from ablab.services.access import audit, keys, users

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_page(request: Request, viewer: ViewerDep, object_id: str | None = None) -> Response:
    if not viewer.can(AUDIT_LOG_SCOPE):  # the rule of GET /v1/audit, and its 403
        return render(
            request,
            "message.html",
            {"viewer": viewer, "message": f"The audit log is for {AUDIT_LOG_SCOPE.value}s only."},
            403,
        )
    entries = audit.list_audit(viewer.ctx, object_id=object_id or None, limit=200)
    shown = [
        (
            entry,
            json.dumps(dict(entry.before), sort_keys=True, default=str) if entry.before else "",
            json.dumps(dict(entry.after), sort_keys=True, default=str) if entry.after else "",
        )
        for entry in entries
    ]
    return render(
        request, "audit.html", {"viewer": viewer, "entries": shown, "object_id": object_id}
    )


def _keys_page(
    request: Request,
    viewer: Viewer,
    created: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    if not viewer.can(Scope.ADMIN):
        return render(
            request,
            "message.html",
            {"viewer": viewer, "message": "API keys and users are for admins only."},
            403,
        )
    return render(
        request,
        "keys.html",
        {
            "viewer": viewer,
            "keys": keys.list_keys(viewer.ctx),
            "users": users.list_users(viewer.ctx),
            "created": created,
            "error": error,
            "scopes": [s.value for s in Scope],
        },
        status_code,
    )


@router.get("/keys")
def keys_page(request: Request, viewer: ViewerDep) -> Response:
    return _keys_page(request, viewer)


@router.post("/keys")
def create_key(
    request: Request,
    viewer: AdminForm,
    name: Annotated[str, Form(max_length=128)] = "",
    scope: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        chosen = [Scope(s) for s in scope or []]
        _, whole = keys.create_key(viewer.ctx, name, chosen)
    except ValueError:
        return _keys_page(request, viewer, error="unknown scope", status_code=422)
    except AblabError as exc:
        return _keys_page(request, viewer, error=exc.message, status_code=422)
    return _keys_page(request, viewer, created=whole, status_code=201)


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    request: Request, key_id: str, viewer: AdminForm, confirmed: Confirmed = ""
) -> Response:
    if confirmed != "yes":
        return ask_to_confirm(
            request,
            viewer,
            title="Revoke this API key",
            consequence="Every request made with this key is refused from now on (401): "
            "the SDKs, gateways and scripts that use it stop working until they get a new key.",
            undo="A revoked key cannot be restored; create a new one instead.",
            button="Revoke the key",
            back="/keys",
        )
    try:
        revoked = keys.revoke_key(viewer.ctx, key_id)
    except AblabError as exc:
        return flash_redirect("/keys", exc.message, "error")
    viewer.state.keys.forget(revoked.id)
    return flash_redirect("/keys", f"Revoked {revoked.prefix} ({revoked.name})")


@router.post("/users")
def create_user(
    request: Request,
    viewer: AdminForm,
    name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=16)] = "read",
) -> Response:
    try:
        user = users.create_user(viewer.ctx, name, password, parse_role(role))
    except AblabError as exc:
        return _keys_page(request, viewer, error=exc.message, status_code=422)
    return flash_redirect("/keys", f"Created user {user.name} ({user.role.value})")


@router.post("/users/{name}/disable")
def disable_user(
    request: Request, name: str, viewer: AdminForm, confirmed: Confirmed = ""
) -> Response:
    if confirmed != "yes":
        return ask_to_confirm(
            request,
            viewer,
            title=f"Disable {name}",
            consequence=f"{name} is signed out everywhere and can no longer sign in to "
            "the console.",
            undo="A disabled user cannot be enabled again; create a new user instead.",
            button=f"Disable {name}",
            back="/keys",
        )
    try:
        user = users.disable_user(viewer.ctx, name)
    except AblabError as exc:
        return flash_redirect("/keys", exc.message, "error")
    return flash_redirect("/keys", f"Disabled user {user.name}")
