"""One JSON shape for every error: ``{"error": {"code", "message", "details"}}``.

Each ablab error maps to its ``http_status`` (see ``ablab.errors``); a request FastAPI could
not validate is a 422 ``validation_error``; an unknown route a 404; a wrong method a 405. An
unexpected exception is a 500 ``internal_error`` that names the request id and is logged
with its traceback; nothing else leaks.

Who may call a route is settled before its body is read (``scoped_route.ScopedRoute``, which
also answers a body sent as JSON that does not parse), so these handlers never need to put a
401 or 403 ahead of a 422 themselves.

An error body always serializes: whatever a message or its details quote (NaN, infinity, a
huge integer, a tuple, a megabyte of text) is made plain JSON first, and long text is cut.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ablab.errors import AblabError

__all__ = ["ablab_error_response", "error_response", "install_error_handlers", "internal_error"]

logger = logging.getLogger("ablab.server")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def error_response(
    status: int, code: str, message: str, details: Mapping[str, Any] | None = None
) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": _clipped(str(message)),
                "details": _plain(dict(details or {})),
            }
        },
        status_code=status,
        headers=headers,
    )


def ablab_error_response(exc: AblabError) -> JSONResponse:
    """The answer to an ablab error: its own status, code, message and details."""
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


def internal_error(request: Request) -> JSONResponse:
    """The 500 of an unexpected exception (the routes' and the hot paths'): the traceback is
    logged under the request id, and the answer names only that id.

    Call it while the exception is being handled, so the log carries its traceback.
    """
    request_id = getattr(request.state, "request_id", "-")
    logger.exception("unexpected error in request %s", request_id)
    return error_response(
        500,
        "internal_error",
        f"the server failed on this request ({request_id}); it has been logged",
        {"request_id": request_id},
    )


# An error message says what went wrong; it never needs to echo more than this of the input.
_MAX_QUOTED = 1_000
_MAX_DEPTH = 20


def _clipped(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]}... ({len(text)} chars)"


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON the response can always write (Starlette refuses NaN and infinity)."""
    if value is None or isinstance(value, bool | str):
        return _clipped(value) if isinstance(value, str) else value
    if isinstance(value, int):
        # Beyond 64 bits it is a number no client reads back; past 4300 digits even str() fails.
        return value if abs(value) < 2**63 else "an integer beyond 64 bits"
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return {_clipped(str(k)): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    return _clipped(repr(value))


def _problem(error: Mapping[str, Any]) -> dict[str, str]:
    """One of pydantic's errors as ``{"field", "problem"}``."""
    if error.get("type") == "json_invalid":
        # The body did not parse, so there is no field; its "loc" holds a character offset.
        return {"field": "", "problem": "the body is not valid JSON"}
    location = error.get("loc", ())
    field = ".".join(str(part) for part in location if part not in ("body", "query", "path"))
    return {"field": field, "problem": str(error.get("msg", "invalid"))}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AblabError)
    async def ablab_error(request: Request, exc: AblabError) -> JSONResponse:
        return ablab_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(error) for error in exc.errors()]
        first = problems[0] if problems else {"field": "", "problem": "invalid request"}
        where = f" {first['field']}:" if first["field"] else ""
        return error_response(
            422,
            "validation_error",
            f"invalid request:{where} {first['problem']}",
            {"problems": problems},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == HTTPStatus.NOT_FOUND.phrase:
            # No message of its own: no route matched.
            message = f"no such route: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        response = error_response(exc.status_code, code, message)
        if exc.headers:
            response.headers.update(exc.headers)  # Allow on a 405
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return internal_error(request)
