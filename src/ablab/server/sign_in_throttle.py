"""Failed console sign-ins, counted per user name and per client address.

Each failure is remembered for ``window``. Once a name has ``attempts`` failures inside it, or
an address four times as many (several people may share one address), further attempts are
refused before any password is checked, until the oldest failure leaves the window. With
the defaults (5 in 15 minutes) a guesser gets 480 tries a day at one name instead of
thousands a minute, and the server spends no argon2 hash (tens of milliseconds) on the
refused ones. A success forgets the name's failures, not the address's.

Kept in memory: per server process, forgotten on restart, and bounded (the names and
addresses seen longest ago are dropped first), so a flood of made-up names cannot grow it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import timedelta

__all__ = ["SignInThrottle"]

ADDRESS_FACTOR = 4
MAX_TRACKED = 10_000


class SignInThrottle:
    """``retry_after`` before checking a sign-in; ``failed`` or ``succeeded`` after."""

    def __init__(
        self,
        attempts: int = 5,
        window: timedelta = timedelta(minutes=15),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window.total_seconds()
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, name: str | None, address: str | None) -> float | None:
        """Seconds until ``name`` and ``address`` may try again; None when they may now."""
        now = self._clock()
        waits = []
        with self._lock:
            for key, limit in self._keys(name, address):
                failures = self._recent(key, now)
                if failures is not None and len(failures) >= limit:
                    waits.append(failures[len(failures) - limit] + self.window - now)
        return max(waits) if waits else None

    def failed(self, name: str | None, address: str | None) -> None:
        now = self._clock()
        with self._lock:
            for key, _ in self._keys(name, address):
                failures = self._recent(key, now)
                if failures is None:
                    failures = self._failures[key] = deque()
                failures.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(_name_key(name), None)

    def _keys(self, name: str | None, address: str | None) -> list[tuple[str, int]]:
        keys = []
        if name and name.strip():
            keys.append((_name_key(name), self.attempts))
        if address:
            keys.append((f"address:{address}", self.attempts * ADDRESS_FACTOR))
        return keys

    def _recent(self, key: str, now: float) -> deque[float] | None:
        """The failures of ``key`` still inside the window (None: none are)."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures


def _name_key(name: str) -> str:
    return f"name:{name.strip().casefold()}"
