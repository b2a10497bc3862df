"""Console sign-in: a user's password or an admin API key opens a session; sign-out ends it.

The browser holds only the session token (in an HttpOnly cookie); the store holds its
SHA-256, the session's project, actor and role, and a CSRF token that every form sends back
(the synchronizer-token pattern of OWASP's CSRF prevention cheat sheet).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from ablab.domain.keys import Scope
from ablab.domain.users import ConsoleSession, hash_session_token, new_session_token
from ablab.errors import Forbidden
from ablab.services.access.keys import authenticate
from ablab.services.access.users import check_password
from ablab.services.context import utc_now
from ablab.services.ports import MetadataStore

__all__ = [
    "csrf_matches",
    "end_session",
    "find_session",
    "sign_in_with_key",
    "sign_in_with_password",
]


def _open(
    store: MetadataStore,
    lifetime: timedelta,
    *,
    project_id: str,
    actor: str,
    role: Scope,
    user_id: str | None = None,
    key_id: str | None = None,
) -> tuple[str, ConsoleSession]:
    token, now = new_session_token(), utc_now()
    session = ConsoleSession(
        token_hash=hash_session_token(token),
        project_id=project_id,
        actor=actor,
        role=role,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
        user_id=user_id,
        key_id=key_id,
    )
    with store.session() as tx:
        tx.add_console_session(session, expired_before=now)
    return token, session


def sign_in_with_password(
    store: MetadataStore, name: str, password: str, lifetime: timedelta
) -> tuple[str, ConsoleSession]:
    """The cookie token and the session of a user signing in.

    Raises:
        Unauthorized: the name or password is not right.
    """
    user = check_password(store, name, password)
    return _open(
        store,
        lifetime,
        project_id=user.project_id,
        actor=f"user:{user.name}",
        role=user.role,
        user_id=user.id,
    )


def sign_in_with_key(
    store: MetadataStore, token: str, lifetime: timedelta
) -> tuple[str, ConsoleSession]:
    """The cookie token and the session of an admin API key signing in.

    Raises:
        Unauthorized: not a valid, live key.
        Forbidden: a key without the admin scope.
    """
    key = authenticate(store, token.strip())
    if Scope.ADMIN not in key.scopes:
        raise Forbidden("only an admin API key signs in to the console; users sign in by name")
    return _open(
        store,
        lifetime,
        project_id=key.project_id,
        actor=f"key:{key.prefix} ({key.name})",
        role=Scope.ADMIN,
        key_id=key.id,
    )


def find_session(store: MetadataStore, token: str | None) -> ConsoleSession | None:
    """The live session of a cookie token; None when absent, unknown or expired.

    A session signed in with a key ends when the key is revoked; a user's when the user
    is disabled.
    """
    if not token:
        return None
    with store.session(read_only=True) as tx:
        session = tx.get_console_session(hash_session_token(token))
        if session is None or session.expires_at <= utc_now():
            return None
        if session.key_id is not None:
            key = tx.get_key(session.key_id)
            if key is None or key.revoked_at is not None:
                return None
    return session


def end_session(store: MetadataStore, token: str | None) -> None:
    if token:
        with store.session() as tx:
            tx.delete_console_session(hash_session_token(token))


def csrf_matches(session: ConsoleSession, presented: str | None) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return presented is not None and hmac.compare_digest(
        session.csrf_token.encode(), presented.encode()
    )
