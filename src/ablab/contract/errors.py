"""The wire shape of every error: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ablab.contract.base import Schema

__all__ = ["ErrorBody", "ErrorDetail", "error_responses"]


class ErrorDetail(Schema):
    code: str = Field(description="stable snake_case identifier, e.g. validation_error")
    message: str = Field(description="one line saying what went wrong and how to fix it")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(Schema):
    error: ErrorDetail


_MEANINGS = {
    401: "no API key, or one that is unknown, wrong or revoked",
    403: "the key's scope or project does not reach this",
    404: "no such object in the key's project",
    409: "a conflict: a taken name, a stale version, or an action the status does not allow",
    413: "the body or batch is over its limit",
    422: "the request is malformed or out of range",
    503: "a store does not answer",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all with ``ErrorBody``."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}
