"""Who is calling: the bearer API key, checked once and then trusted for a short while.

Each request names its key in ``Authorization: Bearer abk_<id>_<secret>``. A checked key is
cached for ``ttl`` seconds (keyed by the whole token, so a wrong secret never hits the
cache), which keeps the hot paths free of database reads; a revocation through this
process drops it at once, through another replica within ``ttl``. ``last_used_at`` is
written at most once a minute per key, in the background.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ablab.domain.keys import ApiKey, Scope, grants
from ablab.domain.trust import Trust
from ablab.errors import Forbidden, Unauthorized
from ablab.services.access.keys import authenticate
from ablab.services.context import Context, utc_now
from ablab.services.ports import MetadataStore

__all__ = ["KeyCache", "Principal", "bearer_token"]

_TOUCH_EVERY = 60.0


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
    def __init__(self, store: MetadataStore, ttl: float = 2.0, trust: Trust | None = None) -> None:
        self._store = store
        self._ttl = ttl
        self._trust = trust or Trust()
        self._checked: dict[str, tuple[float, ApiKey]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def principal(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header.

        Raises:
            Unauthorized: no key, a malformed, unknown, wrong or revoked one.
        """
        token = bearer_token(authorization)
        now = time.monotonic()
        cached = self._checked.get(token)
        if cached is not None and now - cached[0] < self._ttl:
            key = cached[1]
        else:
            key = authenticate(self._store, token)
            with self._lock:
                if len(self._checked) > 10_000:
                    self._checked.clear()
                self._checked[token] = (now, key)
        self._touch(key, now)
        return Principal(key, self._trust)

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (it was just revoked through this process)."""
        with self._lock:
            for token in [t for t, (_, k) in self._checked.items() if k.id == key_id]:
                del self._checked[token]

    def _touch(self, key: ApiKey, now: float) -> None:
        last = self._touched.get(key.id)
        if last is not None and now - last < _TOUCH_EVERY:
            return
        self._touched[key.id] = now
        threading.Thread(target=self._write_touch, args=(key.id,), daemon=True).start()

    def _write_touch(self, key_id: str) -> None:
        try:
            with self._store.session() as session:
                session.update_key_times(key_id, last_used_at=utc_now())
        except Exception:  # last_used_at is a courtesy; never fail a request for it
            pass
