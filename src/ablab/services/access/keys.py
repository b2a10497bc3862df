"""Use cases of API keys: create (the secret shown once), list, revoke, authenticate.

``authenticate`` is what the server calls on each request; it caches nothing itself (the
server's key cache does, briefly). A first admin key is made on a fresh store: the
operator's ``ABLAB_ADMIN_KEY`` if given, otherwise a new one printed once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ablab.domain.ids import new_id
from ablab.domain.keys import (
    KEY_PREFIX,
    ApiKey,
    Scope,
    hash_secret,
    new_secret,
    secret_matches,
    split_key,
)
from ablab.domain.limits import MAX_LABEL_LENGTH, check_identifier
from ablab.domain.projects import DEFAULT_PROJECT
from ablab.errors import Conflict, NotFound, Unauthorized, ValidationError
from ablab.services.access.audit import record
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context, utc_now
from ablab.services.ports import MetadataStore

__all__ = ["authenticate", "bootstrap_admin_key", "create_key", "list_keys", "revoke_key"]

_ID_DIGITS = 12


def create_key(ctx: Context, name: str, scopes: Iterable[Scope]) -> tuple[ApiKey, str]:
    """A new key of the project: the stored record and the whole key, to show once."""
    chosen = frozenset(scopes)
    if not chosen:
        raise ValidationError("a key needs at least one scope: admin, write, read or sdk")
    if not name.strip():
        raise ValidationError("a key needs a name (what or who uses it)")
    check_identifier(name.strip(), "name", max_length=MAX_LABEL_LENGTH)  # the console's too
    key_id = new_id("k").removeprefix("k_")[:_ID_DIGITS]
    secret = new_secret()
    key = ApiKey(
        id=key_id,
        project_id=ctx.project_id,
        name=name.strip(),
        secret_hash=hash_secret(secret),
        scopes=chosen,
        created_at=ctx.clock(),
        created_by=ctx.actor,
    )
    with ctx.store.session() as session:
        session.add_key(key)
        record(
            ctx,
            session,
            "create",
            "key",
            key.id,
            after={"name": key.name, "scopes": sorted(s.value for s in chosen)},
        )
    return key, f"{KEY_PREFIX}_{key_id}_{secret}"


def list_keys(ctx: Context) -> list[ApiKey]:
    with ctx.store.session(read_only=True) as session:
        return session.list_keys(ctx.project_id)


def revoke_key(ctx: Context, key_id: str) -> ApiKey:
    """Revoke a key of the project (revoking twice is harmless, and audited once).

    Raises:
        NotFound: no such key in this project.
    """
    key_id = key_id.removeprefix(f"{KEY_PREFIX}_")
    with ctx.store.session() as session:
        key = session.get_key(key_id)
        if key is None or key.project_id != ctx.project_id:
            raise NotFound(f"unknown API key {key_id!r}", details={"key": key_id})
        now = ctx.clock()
        # The write decides, not the read above: of two revocations at once one revokes.
        if key.revoked_at is not None or not session.revoke_key(key_id, now):
            revoked = session.get_key(key_id)
            assert revoked is not None  # keys are never deleted
            return revoked
        record(ctx, session, "revoke", "key", key_id, after={"name": key.name})
        return replace(key, revoked_at=now)


def authenticate(store: MetadataStore, token: str) -> ApiKey:
    """The live key that ``token`` is.

    Raises:
        Unauthorized: not a key, an unknown one, a wrong secret, or a revoked key.
    """
    parts = split_key(token)
    if parts is None:
        raise Unauthorized("the API key is malformed: expected abk_<id>_<secret>")
    key_id, secret = parts
    with store.session(read_only=True) as session:
        key = session.get_key(key_id)
    # The hash is compared even for an unknown id, so timing tells nothing either way.
    matches = secret_matches(secret, key.secret_hash if key else "0" * 64)
    if key is None or not matches:
        raise Unauthorized("the API key is not valid")
    if key.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    return key


def bootstrap_admin_key(
    store: MetadataStore, given: str | None, project: str = DEFAULT_PROJECT
) -> str | None:
    """On a store without any key, make the first admin key of ``project``.

    ``given`` (``ABLAB_ADMIN_KEY``) becomes that key; without it a new key is made and
    returned, for the caller to print once. Returns None when keys already exist or
    ``given`` was used.

    Raises:
        ValidationError: ``given`` is not of the form abk_<id>_<secret>.
    """
    with store.session(read_only=True) as session:
        if session.count_keys():
            return None
    owner = ensure_project(store, project)
    ctx = Context(store, owner.id, "ablab:bootstrap")
    if given is None:
        _, whole = create_key(ctx, "first admin key", [Scope.ADMIN])
        return whole
    parts = split_key(given)
    if parts is None or len(parts[1]) < 16:
        raise ValidationError(
            "ABLAB_ADMIN_KEY must read abk_<id>_<secret> with a secret of 16 characters or "
            "more (generate one with `ablab keys create` or leave it unset)"
        )
    key_id, secret = parts
    key = ApiKey(
        id=key_id,
        project_id=owner.id,
        name="ABLAB_ADMIN_KEY",
        secret_hash=hash_secret(secret),
        scopes=frozenset({Scope.ADMIN}),
        created_at=utc_now(),
        created_by="ablab:bootstrap",
    )
    try:
        with store.session() as session:
            session.add_key(key)
            record(
                ctx, session, "create", "key", key.id, after={"name": key.name, "scopes": ["admin"]}
            )
    except Conflict:
        # Another replica starting on the same fresh store stored this very key first.
        with store.session(read_only=True) as session:
            stored = session.get_key(key_id)
        if stored is None or stored.secret_hash != key.secret_hash:
            raise
    return None
