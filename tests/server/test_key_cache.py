"""The key cache on the event loop: a miss is read off the loop, once for all the requests
that miss on one token at once; a forgotten (revoked) key is refused; the keys' uses are
written together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from ablab.domain.keys import Scope
from ablab.errors import Forbidden, Unauthorized
from ablab.server.auth import KeyCache
from ablab.services.access.keys import create_key, revoke_key
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.services.ports import MetadataSession
from ablab.store.metadata import SqlMetadataStore, metadata_url, open_metadata_store

PATIENCE = 30.0


class CountedStore:
    """A real SQLite metadata store that counts the sessions opened on it, and can hold the
    next one at its door (``gate``) until the test lets it in."""

    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store
        self.sessions = 0
        self.entered = threading.Event()
        self.gate: threading.Event | None = None

    def session(self, *, read_only: bool = False) -> AbstractContextManager[MetadataSession]:
        self.sessions += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(PATIENCE)
        return self._store.session(read_only=read_only)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountedStore]:
    real = open_metadata_store(metadata_url(tmp_path, None))
    yield CountedStore(real)
    real.close()


@contextmanager
def counting(store: CountedStore) -> Iterator[list[int]]:
    """The sessions opened inside the block, in a list of one."""
    seen = [store.sessions]
    yield seen
    seen[0] = store.sessions - seen[0]


def new_key(store: CountedStore, *scopes: Scope) -> tuple[Context, str, str]:
    """A project's context, a new key's id and the whole key."""
    project = ensure_project(store._store, "default")
    ctx = Context(store._store, project.id, "test:setup")
    key, whole = create_key(ctx, "sdk key", scopes or [Scope.SDK])
    return ctx, key.id, whole


def test_concurrent_misses_on_one_token_share_one_store_read(store: CountedStore) -> None:
    _, key_id, whole = new_key(store)
    cache = KeyCache(store, ttl=60)  # type: ignore[arg-type]

    async def requests() -> list[str]:
        found = await asyncio.gather(
            *(cache.principal_async(f"Bearer {whole}", Scope.SDK) for _ in range(3))
        )
        return [p.key.id for p in found]

    with counting(store) as reads:
        assert asyncio.run(requests()) == [key_id] * 3
    assert reads == [1]
    with counting(store) as reads:  # cached now: answered on the loop, without a read
        assert asyncio.run(requests()) == [key_id] * 3
    assert reads == [0]


def test_concurrent_misses_on_a_wrong_token_are_all_refused_after_one_read(
    store: CountedStore,
) -> None:
    _, _, whole = new_key(store)
    cache = KeyCache(store, ttl=60)  # type: ignore[arg-type]
    wrong = f"Bearer {whole[:-4]}nope"

    async def requests() -> list[BaseException | object]:
        return await asyncio.gather(
            *(cache.principal_async(wrong) for _ in range(2)), return_exceptions=True
        )

    with counting(store) as reads:
        refused = asyncio.run(requests())
    assert reads == [1]
    assert [type(r) for r in refused] == [Unauthorized, Unauthorized]


def test_a_key_without_the_scope_is_forbidden(store: CountedStore) -> None:
    _, _, whole = new_key(store, Scope.READ)
    cache = KeyCache(store)  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match="needs sdk"):
        asyncio.run(cache.principal_async(f"Bearer {whole}", Scope.SDK))


def test_a_revoked_key_is_refused_once_forgotten(store: CountedStore) -> None:
    ctx, key_id, whole = new_key(store)
    cache = KeyCache(store, ttl=60)  # type: ignore[arg-type]
    header = f"Bearer {whole}"
    assert asyncio.run(cache.principal_async(header)).key.id == key_id
    revoke_key(ctx, key_id)
    # Within its ttl the cache still answers: revoked through another replica, the key
    # lives on here for ttl seconds (as documented).
    assert asyncio.run(cache.principal_async(header)).key.id == key_id
    cache.forget(key_id)
    with pytest.raises(Unauthorized, match="revoked"):
        asyncio.run(cache.principal_async(header))
    with pytest.raises(Unauthorized, match="revoked"):
        cache.principal(header)


def test_a_read_under_way_when_a_key_is_forgotten_is_not_cached(store: CountedStore) -> None:
    """A read that began before a revocation may answer its request, but must not keep the
    key in the cache for the next ones."""
    _, key_id, whole = new_key(store)
    cache = KeyCache(store, ttl=60)  # type: ignore[arg-type]
    header = f"Bearer {whole}"
    store.gate = threading.Event()
    store.entered.clear()

    async def scenario() -> str:
        asking = asyncio.ensure_future(cache.principal_async(header))
        assert await asyncio.to_thread(store.entered.wait, PATIENCE)  # the read has begun
        cache.forget(key_id)
        assert store.gate is not None
        store.gate.set()
        return (await asking).key.id

    assert asyncio.run(scenario()) == key_id
    store.gate = None
    with counting(store) as reads:
        assert asyncio.run(cache.principal_async(header)).key.id == key_id
    assert reads == [1]  # read again: the first read's answer was not cached


def test_the_keys_uses_are_written_together_once(store: CountedStore) -> None:
    ctx, first_id, first = new_key(store)
    _, second_id, second = new_key(store)
    cache = KeyCache(store, ttl=60)  # type: ignore[arg-type]
    for whole in (first, second, first):
        cache.principal(f"Bearer {whole}")
    with counting(store) as writes:
        assert cache.write_touches() == 2
    assert writes == [1]  # one transaction for both keys
    with counting(store) as writes:
        assert cache.write_touches() == 0  # nothing new: no transaction at all
    assert writes == [0]
    with store.session(read_only=True) as session:
        used = {k.id: k.last_used_at for k in session.list_keys(ctx.project_id)}
    assert used[first_id] is not None
    assert used[second_id] is not None
