"""The one exception tree of ablab.

Misuse raises one of these; expected data conditions (an empty arm, no labels yet) are
returned as a result ``status`` instead. Each edge maps the tree exactly once: the server to an
HTTP status and ``{"error": {"code", "message", "details"}}``, the SDK back to the same class,
the CLI to a one-line message and exit code 2.

::

    AblabError
    ├── ValidationError       bad input: a weight, a split, a condition, a unit id     (422)
    ├── NotFound              no such experiment, model, version, group, key        (404)
    ├── Conflict              a duplicate name, or a write based on a stale version  (409)
    ├── InvalidTransition     a lifecycle action the current status does not allow   (409)
    ├── Unauthorized          no key, or a key that is unknown or revoked            (401)
    ├── Forbidden             a key whose scope or project does not reach            (403)
    ├── PayloadTooLarge       a request body or batch over its limit                 (413)
    └── Unavailable           the server or a store does not answer                  (503)
        └── SchemaOutdated    the metadata database is behind: run ablab db upgrade  (503)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AblabError",
    "Conflict",
    "Forbidden",
    "InvalidTransition",
    "NotFound",
    "PayloadTooLarge",
    "SchemaOutdated",
    "Unauthorized",
    "Unavailable",
    "ValidationError",
]


class AblabError(Exception):
    """Base of every error ablab raises on purpose.

    Attributes:
        code: A stable snake_case identifier, the ``code`` of the JSON error body.
        message: One line that tells a person what went wrong and how to fix it.
        details: Machine-readable context (the offending field, the allowed values...).
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of the wire format."""
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationError(AblabError):
    """The input is malformed or out of range; nothing was written."""

    code = "validation_error"
    http_status = 422


class NotFound(AblabError):
    """The referenced object does not exist (or is not visible to the caller's project)."""

    code = "not_found"
    http_status = 404


class Conflict(AblabError):
    """The write clashes with the stored state: a duplicate name or a stale version."""

    code = "conflict"
    http_status = 409


class InvalidTransition(AblabError):
    """A lifecycle action that the experiment's current status does not allow."""

    code = "invalid_transition"
    http_status = 409


class Unauthorized(AblabError):
    """No credentials, or credentials that are unknown, revoked or expired."""

    code = "unauthorized"
    http_status = 401


class Forbidden(AblabError):
    """Valid credentials whose scope or project does not reach the resource."""

    code = "forbidden"
    http_status = 403


class PayloadTooLarge(AblabError):
    """A request body or batch beyond the configured limit."""

    code = "payload_too_large"
    http_status = 413


class Unavailable(AblabError):
    """The server (or a store behind it) did not answer; retrying later may work."""

    code = "unavailable"
    http_status = 503


class SchemaOutdated(Unavailable):
    """The metadata database's schema is older than this ablab's: ``ablab db upgrade``
    brings it to the newest revision (migrations never run behind an operator's back)."""

    code = "schema_outdated"


def error_class_for(code: str) -> type[AblabError]:
    """The class whose ``code`` is ``code`` (the SDK uses it to rebuild server errors)."""
    candidates: list[type[AblabError]] = [AblabError, *_all_subclasses(AblabError)]
    for cls in candidates:
        if cls.code == code:
            return cls
    return AblabError


def _all_subclasses(cls: type[AblabError]) -> list[type[AblabError]]:
    found: list[type[AblabError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found
