"""People who sign in to the console, and their signed-in sessions.

A user belongs to one project and has one role, named like the API key scopes it mirrors:
``admin`` (everything, keys and users included), ``write`` (run experiments and rollouts)
or ``read`` (look only). Passwords are kept only as argon2 hashes (made in the service
layer). A console session is a random token in an HttpOnly cookie; only its SHA-256 is
stored, beside the session's CSRF token, which every form must send back.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from ablab.domain.keys import Scope
from ablab.errors import ValidationError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "ConsoleSession",
    "User",
    "check_password_rules",
    "check_user_name",
    "hash_session_token",
    "new_session_token",
    "parse_role",
]

# NIST SP 800-63B, section 5.1.1.2: at least 8 characters, no composition rules.
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
ROLES = (Scope.ADMIN, Scope.WRITE, Scope.READ)
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    project_id: str
    name: str
    password_hash: str
    role: Scope
    created_at: datetime
    created_by: str
    disabled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in browser: who (a user or an admin key), in which project, until when.

    Attributes:
        token_hash: SHA-256 of the cookie's token (the token itself is never stored).
        actor: As the audit log records it: ``user:alice`` or ``key:abk_<id> (name)``.
        role: What the session may do, a scope of :mod:`ablab.domain.keys`.
        csrf_token: Sent back in every form; a post without it is refused.
    """

    token_hash: str
    project_id: str
    actor: str
    role: Scope
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    user_id: str | None = None
    key_id: str | None = None


def check_user_name(name: str) -> str:
    """The name, stripped; raises ValidationError unless it is a plain login name."""
    name = name.strip()
    if not _USER_NAME.fullmatch(name):
        raise ValidationError(
            "a user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
            "letter or digit",
            details={"name": name},
        )
    return name


def check_password_rules(password: str) -> None:
    """Raises ValidationError for a password too short or too long to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")


def parse_role(value: str) -> Scope:
    """Raises ValidationError unless ``value`` is admin, write or read."""
    try:
        role = Scope(value.strip().lower())
    except ValueError:
        role = None
    if role not in ROLES:
        raise ValidationError(
            f"unknown role {value!r}: use admin, write or read", details={"role": value}
        )
    assert role is not None
    return role


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def hash_session_token(token: str) -> str:
    """The stored form of a session token: 32 random bytes need no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()
