"""Who is calling: the bearer API key, checked once and then trusted for a short while.

Each request names its key in ``Authorization: Bearer abk_<id>_<secret>``. A checked key is
cached for ``ttl`` seconds (keyed by the whole token, so a wrong secret never hits the
cache), which keeps the hot paths free of database reads; a revocation through this
process drops it at once, through another replica within ``ttl``.

The async routes ask :meth:`KeyCache.principal_async`: a cached key is answered on the
event loop, a miss is read in a worker thread (a database read on the loop would stall
every request meanwhile), and the requests that miss on one token at once share one read.

``last_used_at`` is noted at most once a minute per key, and the notes of every key are
written together, in one transaction, by :meth:`KeyCache.write_touches` (a periodic job of
the server's scheduler), never on a request's path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from starlette.concurrency import run_in_threadpool

from ablab.domain.keys import ApiKey, Scope, grants
from ablab.domain.trust import Trust
from ablab.errors import Forbidden, Unauthorized
from ablab.services.access.keys import authenticate
from ablab.services.context import Context, utc_now
from ablab.services.ports import MetadataStore

__all__ = ["TOUCH_WRITE_EVERY", "KeyCache", "Principal", "bearer_token"]

# A key's use is noted at most once a minute, and the notes written every 10 s: one short
# write transaction per 10 s whatever the traffic, where each note was a thread and a
# transaction of its own.
_TOUCH_EVERY = 60.0
TOUCH_WRITE_EVERY = 10.0


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its key, hence its project and scopes, and the server's
    trust (what its requests may make the server load or call)."""

    key: ApiKey
    trust: Trust = field(default_factory=Trust)

    @property
    def project_id(self) -> str:
        return self.key.project_id

    @property
    def actor(self) -> str:
        return f"key:{self.key.prefix} ({self.key.name})"

    def require(self, scope: Scope) -> Principal:
        """Raises Forbidden unless the key's scopes reach ``scope``."""
        if not grants(self.key.scopes, scope):
            held = ", ".join(sorted(s.value for s in self.key.scopes))
            raise Forbidden(
                f"this key's scopes ({held}) do not allow this: it needs {scope.value}",
                details={"needed": scope.value, "scopes": sorted(s.value for s in self.key.scopes)},
            )
        return self

    def context(self, store: MetadataStore) -> Context:
        return Context(store, self.project_id, self.actor, trust=self.trust)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header.

    Raises:
        Unauthorized: no header, or another scheme.
    """
    if not authorization:
        raise Unauthorized("an API key is needed: send Authorization: Bearer abk_<id>_<secret>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must read: Bearer abk_<id>_<secret>")
    return token.strip()


class KeyCache:
    """Checked keys by token for ``ttl`` seconds, and the keys' uses not yet written."""

    def __init__(self, store: MetadataStore, ttl: float = 2.0, trust: Trust | None = None) -> None:
        self._store = store
        self._ttl = ttl
        self._trust = trust or Trust()
        self._checked: dict[str, tuple[float, ApiKey]] = {}
        self._touched: dict[str, float] = {}
        self._unwritten: dict[str, datetime] = {}
        # Bumped by forget(): a read that began before a revocation caches nothing.
        self._generation = 0
        # The reads of the event loop's misses under way, by token (touched on the loop only).
        self._reading: dict[str, asyncio.Future[ApiKey]] = {}
        self._lock = threading.Lock()

    def principal(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header, read here and now on
        a miss (for code off the event loop; async code awaits :meth:`principal_async`).

        Raises:
            Unauthorized: no key, a malformed, unknown, wrong or revoked one.
        """
        token = bearer_token(authorization)
        now = time.monotonic()
        key = self._cached(token, now) or self._read(token)
        self._touch(key, now)
        return Principal(key, self._trust)

    async def principal_async(
        self, authorization: str | None, scope: Scope | None = None
    ) -> Principal:
        """:meth:`principal` for the event loop: a miss is read in a worker thread, once
        for all the requests that miss on the same token meanwhile. With ``scope``, the
        key must reach it (:meth:`Principal.require`).

        Raises:
            Unauthorized: no key, a malformed, unknown, wrong or revoked one.
            Forbidden: a key without ``scope``.
        """
        token = bearer_token(authorization)
        now = time.monotonic()
        key = self._cached(token, now)
        if key is None:
            reading = self._reading.get(token)
            if reading is None:
                reading = asyncio.ensure_future(run_in_threadpool(self._read, token))
                self._reading[token] = reading
                reading.add_done_callback(partial(self._read_done, token))
            # Shielded: a waiter that goes away (its client hung up) leaves the read to the
            # others.
            key = await asyncio.shield(reading)
        self._touch(key, now)
        principal = Principal(key, self._trust)
        return principal if scope is None else principal.require(scope)

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (it was just revoked through this process)."""
        with self._lock:
            self._generation += 1
            for token in [t for t, (_, k) in self._checked.items() if k.id == key_id]:
                del self._checked[token]

    def write_touches(self) -> int:
        """Write the keys' uses noted since the last call, in one transaction; how many.

        The notes of a failed write are dropped (``last_used_at`` is a courtesy); the
        failure is raised for the caller (the scheduler) to log.
        """
        with self._lock:
            unwritten, self._unwritten = self._unwritten, {}
        if unwritten:
            with self._store.session() as session:
                for key_id, used_at in unwritten.items():
                    session.update_key_times(key_id, last_used_at=used_at)
        return len(unwritten)

    def _cached(self, token: str, now: float) -> ApiKey | None:
        cached = self._checked.get(token)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        return None

    def _read(self, token: str) -> ApiKey:
        """The key of ``token`` from the store, cached unless a key was forgotten meanwhile."""
        generation, read_at = self._generation, time.monotonic()
        key = authenticate(self._store, token)
        with self._lock:
            if generation == self._generation:
                if len(self._checked) > 10_000:
                    self._checked.clear()
                self._checked[token] = (read_at, key)
        return key

    def _read_done(self, token: str, reading: asyncio.Future[ApiKey]) -> None:
        self._reading.pop(token, None)
        if not reading.cancelled():
            reading.exception()  # retrieved, should every waiter have gone: no warning

    def _touch(self, key: ApiKey, now: float) -> None:
        last = self._touched.get(key.id)
        if last is not None and now - last < _TOUCH_EVERY:
            return
        self._touched[key.id] = now
        with self._lock:
            self._unwritten[key.id] = utc_now()
