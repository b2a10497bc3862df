"""Use cases of console users: create, list, and check a password at sign-in.

Passwords are hashed with argon2id (RFC 9106) through argon2-cffi's defaults, which follow
the RFC's second recommended option (64 MiB, 3 passes); a stored hash made with weaker
parameters is upgraded at the next successful sign-in.
"""

from __future__ import annotations

from dataclasses import replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ablab.domain.ids import new_id
from ablab.domain.keys import Scope
from ablab.domain.limits import control_character
from ablab.domain.users import User, check_password_rules, check_user_name
from ablab.errors import NotFound, Unauthorized
from ablab.services.access.audit import record
from ablab.services.context import Context
from ablab.services.ports import MetadataStore

__all__ = ["check_password", "create_user", "disable_user", "list_users"]

_HASHER = PasswordHasher()
# Verified against when the name is unknown, so the answer takes as long either way.
_DECOY_HASH = _HASHER.hash("not a password of anyone")


def create_user(ctx: Context, name: str, password: str, role: Scope) -> User:
    """A new user of the project, signing in with ``name`` and ``password``.

    Raises:
        ValidationError: a name or password that breaks the rules of domain.users.
        Conflict: the name is taken (names are unique across projects).
    """
    name = check_user_name(name)
    check_password_rules(password)
    user = User(
        id=new_id("usr"),
        project_id=ctx.project_id,
        name=name,
        password_hash=_HASHER.hash(password),
        role=role,
        created_at=ctx.clock(),
        created_by=ctx.actor,
    )
    with ctx.store.session() as session:
        session.add_user(user)
        record(ctx, session, "create", "user", user.id, after={"name": name, "role": role.value})
    return user


def list_users(ctx: Context) -> list[User]:
    with ctx.store.session(read_only=True) as session:
        return session.list_users(ctx.project_id)


def disable_user(ctx: Context, name: str) -> User:
    """Stop ``name`` signing in, and sign out their browsers (disabling twice is harmless,
    and audited once).

    Raises:
        NotFound: no such user in this project.
    """
    with ctx.store.session() as session:
        user = session.get_user_by_name(name.strip()) if not control_character(name) else None
        if user is None or user.project_id != ctx.project_id:
            raise NotFound(f"unknown user {name!r}", details={"user": name})
        now = ctx.clock()
        # The write decides, not the read above: of two at once, one disables.
        if user.disabled_at is not None or not session.disable_user(user.id, now):
            return session.get_user(user.id) or user
        record(ctx, session, "disable", "user", user.id, after={"name": user.name})
        return replace(user, disabled_at=now)


def check_password(store: MetadataStore, name: str, password: str) -> User:
    """The enabled user ``name`` if ``password`` is theirs.

    Raises:
        Unauthorized: unknown name, wrong password or a disabled user (one message for all,
            so a guess learns nothing about which names exist).
    """
    with store.session(read_only=True) as session:
        # A name with a control character names nobody (and PostgreSQL refuses NUL).
        user = session.get_user_by_name(name.strip()) if not control_character(name) else None
    try:
        _HASHER.verify(user.password_hash if user else _DECOY_HASH, password)
        verified = user is not None
    except (VerificationError, InvalidHashError):
        verified = False
    if user is None or not verified or user.disabled_at is not None:
        raise Unauthorized("the user name or password is not right")
    return user
