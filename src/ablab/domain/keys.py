"""API keys: a project's credentials, each with scopes, stored only as a hash.

A key reads ``abk_<id>_<secret>``: the id finds the stored row, the secret is compared
with its SHA-256 in constant time. The secret is 32 random bytes, so a fast hash is the
right one (a password hash protects low-entropy secrets; this one has none to protect).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ablab.errors import ValidationError

__all__ = [
    "KEY_PREFIX",
    "ApiKey",
    "Scope",
    "grants",
    "hash_secret",
    "new_secret",
    "parse_scopes",
    "secret_matches",
    "split_key",
]

KEY_PREFIX = "abk"


class Scope(StrEnum):
    """What a key may do. ``admin`` does everything in its project; the others only their part."""

    ADMIN = "admin"  # everything, keys and audit included
    WRITE = "write"  # manage experiments, models, groups, metrics (and read them)
    READ = "read"  # read experiments, results, models, groups
    SDK = "sdk"  # assign, read the SDK ruleset, send events; nothing else


# The scopes that satisfy a route needing a given scope.
_SATISFIED_BY: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset({Scope.ADMIN}),
    Scope.WRITE: frozenset({Scope.ADMIN, Scope.WRITE}),
    Scope.READ: frozenset({Scope.ADMIN, Scope.WRITE, Scope.READ}),
    Scope.SDK: frozenset({Scope.ADMIN, Scope.SDK}),
}


def grants(held: frozenset[Scope], needed: Scope) -> bool:
    """Whether a key holding ``held`` may call a route that needs ``needed``."""
    return not held.isdisjoint(_SATISFIED_BY[needed])


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    """Raises ValidationError for an unknown or missing scope."""
    if not values:
        raise ValidationError("a key needs at least one scope: admin, write, read or sdk")
    try:
        return frozenset(Scope(v) for v in values)
    except ValueError:
        raise ValidationError(
            f"unknown scope in {', '.join(values)}: use admin, write, read or sdk",
            details={"scopes": values},
        ) from None


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    project_id: str
    name: str
    secret_hash: str
    scopes: frozenset[Scope]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def prefix(self) -> str:
        """The part of the key that may be shown: ``abk_<id>``."""
        return f"{KEY_PREFIX}_{self.id}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def split_key(token: str) -> tuple[str, str] | None:
    """``abk_<id>_<secret>`` as (id, secret); None for anything else."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret or not key_id.isalnum():
        return None
    return key_id, secret
