"""Routes that declare who may call them, checked before the request's body is read.

A router made with ``route_class=ScopedRoute`` gives each route the key it needs in its
decorator::

    @router.post("/models", openapi_extra=needs(Scope.WRITE))

(``needs()`` with no scope: any valid key). The route checks the ``Authorization`` header
against that scope before anything else, so a caller without a key hears 401 and one
without the scope 403, and never learns what a body should have been (FastAPI reads and
validates the body before it runs a route's dependencies, so a check made there would
answer 422 first). Then a body sent as JSON must parse: one that does not is ablab's 422
``validation_error``, in ablab's words. The checked caller waits in ``request.state`` for
the route's dependencies (``deps.Caller``, ``deps.CallerContext``).

The document shows the scope as the operation's security requirement,
``{"HTTPBearer": ["write"]}`` (OpenAPI 3.1 lets a scheme other than OAuth2 list the roles
it needs), so what it says and what the server enforces are one declaration.

A route without ``needs`` checks no key here: it is public, or it checks its caller itself
(the decision webhook reads a key from its body, an LLM callback checks a signature).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from ablab.domain.keys import Scope
from ablab.errors import ValidationError
from ablab.server.auth import Principal
from ablab.server.state import ServerState

__all__ = [
    "ScopedRoute",
    "authorize",
    "authorize_async",
    "bearer",
    "checked_caller",
    "needs",
    "server_state",
]

# The declaration travels to the route in ``openapi_extra``, the one field APIRouter hands
# to its route class as given; the route takes it out before the document is made.
_NEEDS = "x-ablab-needs"
_ANY_KEY = "any valid key"

# Declares the scheme in the OpenAPI document; the key itself is checked by KeyCache.
bearer = HTTPBearer(
    auto_error=False, bearerFormat="abk_<id>_<secret>", description="An ablab API key"
)


def needs(scope: Scope | None = None) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose callers need a key reaching ``scope`` (any
    valid key without one). Merge it with other extras by ``|``."""
    return {_NEEDS: scope.value if scope is not None else _ANY_KEY}


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ablab
    return state


def authorize(request: Request, scope: Scope | None) -> Principal:
    """The caller of ``request``: its bearer key, valid and reaching ``scope`` (any valid key
    when ``scope`` is None).

    A checked key is cached (``KeyCache``), so this reads the store once per key and ttl,
    as the hot paths do.

    Raises:
        Unauthorized: no key, or a malformed, unknown, wrong or revoked one.
        Forbidden: a key without ``scope``.
    """
    principal = server_state(request).keys.principal(request.headers.get("authorization"))
    return principal if scope is None else principal.require(scope)


async def authorize_async(request: Request, scope: Scope | None) -> Principal:
    """:func:`authorize` for the event loop: a key not cached is read in a worker thread.

    Raises:
        Unauthorized: no key, or a malformed, unknown, wrong or revoked one.
        Forbidden: a key without ``scope``.
    """
    keys = server_state(request).keys
    return await keys.principal_async(request.headers.get("authorization"), scope)


def checked_caller(request: Request) -> Principal:
    """The caller the matched route checked (see :class:`ScopedRoute`).

    Raises:
        RuntimeError: the route takes its caller but declares no ``needs``: a mistake in
            the route, which must fail loudly rather than serve without a key check.
    """
    caller: Principal | None = getattr(request.state, "caller", None)
    if caller is None:
        raise RuntimeError(
            f"{request.method} {request.url.path} takes its caller but declares no scope: "
            "give it openapi_extra=needs(...) on a router with route_class=ScopedRoute"
        )
    return caller


class ScopedRoute(APIRoute):
    """A route that checks the caller's key for its declared scope before the body is read."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        extra = dict(options.pop("openapi_extra", None) or {})
        declared = extra.pop(_NEEDS, None)
        # Set before APIRoute's __init__, which builds the handler.
        self.key_needed = declared is not None
        self.scope_needed = Scope(declared) if declared not in (None, _ANY_KEY) else None
        if self.key_needed:
            # For the document only: FastAPI shows a Security dependency's scopes as the
            # operation's security requirement. The check itself is the handler's.
            shown = [self.scope_needed.value] if self.scope_needed is not None else []
            options["dependencies"] = [
                *(options.get("dependencies") or ()),
                Security(bearer, scopes=shown),
            ]
        super().__init__(path, endpoint, openapi_extra=extra or None, **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if not self.key_needed:
            return handle
        scope = self.scope_needed

        async def checked_then_handled(request: Request) -> Response:
            request.state.caller = await authorize_async(request, scope)
            await _parse_json_body(request)
            return await handle(request)

        return checked_then_handled


def _sent_as_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``: the bodies FastAPI parses as JSON."""
    media = (content_type or "").partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _parse_json_body(request: Request) -> None:
    """Parse a body sent as JSON now, answering one that does not parse with a 422.

    Starlette keeps the parsed value on the request, and FastAPI reads the body through the
    same ``request.json()``, so the body is parsed once.

    Raises:
        ValidationError: the body is not UTF-8, not JSON, or JSON Python does not read (an
            array nested thousands deep, an integer of thousands of digits).
    """
    if not _sent_as_json(request.headers.get("content-type")) or not await request.body():
        return
    try:
        await request.json()
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            details={"line": exc.lineno, "column": exc.colno},
        ) from None
    except UnicodeDecodeError:
        raise ValidationError("the body is not valid JSON (UTF-8)") from None
    except RecursionError:
        raise ValidationError("the body is not JSON this server reads: it nests too deep") from None
    except ValueError:  # json's other ValueError: an integer past Python's 4300 digits
        raise ValidationError(
            "the body is not JSON this server reads: a number is too long"
        ) from None
