"""Console users and sessions: argon2 hashes, sign-in, expiry, revocation and disabling,
CSRF comparison."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from ablab.domain.keys import Scope
from ablab.domain.users import hash_session_token, parse_role
from ablab.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationError
from ablab.services.access import users
from ablab.services.access.console_sessions import (
    csrf_matches,
    end_session,
    find_session,
    sign_in_with_key,
    sign_in_with_password,
)
from ablab.services.access.keys import create_key, revoke_key
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context

HOUR = timedelta(hours=1)


def test_a_password_is_kept_only_as_an_argon2id_hash(ctx: Context) -> None:
    user = users.create_user(ctx, "alice", "correct horse", Scope.WRITE)
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, "correct horse")
    with ctx.store.session() as session:
        stored = session.get_user_by_name("alice")
    assert stored == user


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("alice", "short", "at least 8 characters"),
        ("alice", "x" * 257, "at most 256 characters"),
        ("bad name", "long enough", "a user name is 1-64"),
        ("-dash", "long enough", "a user name is 1-64"),
    ],
)
def test_bad_names_and_passwords_are_refused(
    ctx: Context, name: str, password: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        users.create_user(ctx, name, password, Scope.READ)
    assert users.list_users(ctx) == []


def test_names_are_unique_across_projects(ctx: Context) -> None:
    users.create_user(ctx, "alice", "correct horse", Scope.READ)
    other = Context(ctx.store, ensure_project(ctx.store, "other").id, "test:bob")
    with pytest.raises(Conflict):
        users.create_user(other, "alice", "another horse", Scope.READ)
    assert users.list_users(other) == []


def test_roles_are_the_scopes_a_person_can_hold() -> None:
    assert [parse_role(r) for r in ("admin", "Write", " read ")] == [
        Scope.ADMIN,
        Scope.WRITE,
        Scope.READ,
    ]
    for wrong in ("sdk", "boss", ""):
        with pytest.raises(ValidationError, match="use admin, write or read"):
            parse_role(wrong)


def test_signing_in_opens_a_session_that_ends_on_sign_out(ctx: Context) -> None:
    users.create_user(ctx, "alice", "correct horse", Scope.WRITE)
    token, session = sign_in_with_password(ctx.store, "alice", "correct horse", HOUR)
    assert (session.actor, session.role, session.project_id) == (
        "user:alice",
        Scope.WRITE,
        ctx.project_id,
    )
    assert session.token_hash == hash_session_token(token) != token
    assert find_session(ctx.store, token) == session
    assert find_session(ctx.store, token + "x") is None
    assert find_session(ctx.store, None) is None
    end_session(ctx.store, token)
    assert find_session(ctx.store, token) is None


def test_a_wrong_password_and_an_unknown_name_read_the_same(ctx: Context) -> None:
    users.create_user(ctx, "alice", "correct horse", Scope.READ)
    with pytest.raises(Unauthorized) as wrong:
        sign_in_with_password(ctx.store, "alice", "wrong horse", HOUR)
    with pytest.raises(Unauthorized) as unknown:
        sign_in_with_password(ctx.store, "nobody", "correct horse", HOUR)
    assert wrong.value.message == unknown.value.message


def test_an_expired_session_is_gone_and_swept(ctx: Context) -> None:
    users.create_user(ctx, "alice", "correct horse", Scope.READ)
    old, _ = sign_in_with_password(ctx.store, "alice", "correct horse", timedelta(seconds=-1))
    assert find_session(ctx.store, old) is None
    sign_in_with_password(ctx.store, "alice", "correct horse", HOUR)  # sweeps the expired
    with ctx.store.session() as session:
        assert session.get_console_session(hash_session_token(old)) is None


def test_an_admin_key_signs_in_until_revoked(ctx: Context) -> None:
    key, whole = create_key(ctx, "ops", [Scope.ADMIN])
    token, session = sign_in_with_key(ctx.store, whole, HOUR)
    assert (session.role, session.key_id) == (Scope.ADMIN, key.id)
    revoke_key(ctx, key.id)
    assert find_session(ctx.store, token) is None
    _, reader = create_key(ctx, "reader", [Scope.READ])
    with pytest.raises(Forbidden, match="only an admin API key"):
        sign_in_with_key(ctx.store, reader, HOUR)
    with pytest.raises(Unauthorized):
        sign_in_with_key(ctx.store, "abk_nothere_secret", HOUR)


def test_disabling_a_user_ends_their_sessions(ctx: Context) -> None:
    users.create_user(ctx, "alice", "correct horse", Scope.READ)
    token, _ = sign_in_with_password(ctx.store, "alice", "correct horse", HOUR)
    disabled = users.disable_user(ctx, "alice")
    assert disabled.disabled_at is not None
    assert users.disable_user(ctx, "alice") == disabled  # twice is harmless
    assert find_session(ctx.store, token) is None
    with pytest.raises(Unauthorized):
        sign_in_with_password(ctx.store, "alice", "correct horse", HOUR)
    other = Context(ctx.store, ensure_project(ctx.store, "other").id, "test:bob")
    with pytest.raises(NotFound):
        users.disable_user(other, "alice")


def test_the_csrf_token_must_match_exactly(ctx: Context) -> None:
    users.create_user(ctx, "alice", "correct horse", Scope.READ)
    _, session = sign_in_with_password(ctx.store, "alice", "correct horse", HOUR)
    assert csrf_matches(session, session.csrf_token)
    for wrong in (None, "", session.csrf_token[:-1], session.csrf_token + "x"):
        assert not csrf_matches(session, wrong)
