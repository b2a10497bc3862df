"""ablab: decide between versions of a machine-learning model on real traffic.

Importing ``ablab`` does no work: the client, the stores and the statistics load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ablab.errors import (
    AblabError,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    SchemaOutdated,
    Unauthorized,
    Unavailable,
    ValidationError,
)

if TYPE_CHECKING:
    from ablab.client import Client

__version__ = "0.1.0"

__all__ = [
    "AblabError",
    "Client",
    "Conflict",
    "Forbidden",
    "InvalidTransition",
    "NotFound",
    "PayloadTooLarge",
    "SchemaOutdated",
    "Unauthorized",
    "Unavailable",
    "ValidationError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The client pulls in SQLAlchemy or httpx; load it only when someone asks for it.
    if name == "Client":
        from ablab.client import Client  # noqa: PLC0415 - the client loads SQLAlchemy or httpx, only on use

        return Client
    raise AttributeError(f"module 'ablab' has no attribute {name!r}")
