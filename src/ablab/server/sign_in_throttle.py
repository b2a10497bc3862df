"""Failed console sign-ins, counted per user name and per client address.

Each failure is remembered for ``window``. Once a name has ``attempts`` failures inside it, or
an address four times as many (several people may share one address), further attempts are
refused before any password is checked, until the oldest failure leaves the window. With
the defaults (5 in 15 minutes) a guesser gets 480 tries a day at one name instead of
thousands a minute, and the server spends no argon2 hash (tens of milliseconds) on the
refused ones. A success forgets the name's failures, not the address's.

Kept in memory: per server process (``--workers N`` gives each worker its own count),
forgotten on restart, and bounded (the names and addresses seen longest ago are dropped
first), so a flood of made-up names cannot grow it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Attempt", "SignInThrottle"]

ADDRESS_FACTOR = 4
MAX_TRACKED = 10_000


class SignInThrottle:
    """``attempt`` before checking a sign-in; ``succeeded`` or ``not_a_guess`` after it.

    An attempt counts as a failure from the moment it is let through, so a burst of
    simultaneous guesses cannot all pass the check before the first of them is recorded;
    a success takes its attempt back.
    """

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

    def attempt(self, name: str | None, address: str | None) -> Attempt:
        """Let an attempt by ``name`` from ``address`` through (counted), or say how long
        they must wait (``Attempt.wait``, not counted)."""
        now = self._clock()
        keys = self._keys(name, address)
        with self._lock:
            waits = []
            for key, limit in keys:
                failures = self._recent(key, now)
                if failures is not None and len(failures) >= limit:
                    waits.append(failures[len(failures) - limit] + self.window - now)
                    self._failures.move_to_end(key)  # still under attack: evicted last
            if waits:
                return Attempt(name, address, now, wait=max(waits))
            for key, _ in keys:
                self._failures.setdefault(key, deque()).append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)
        return Attempt(name, address, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The sign-in worked: forget the name's failures, and this attempt at the address."""
        with self._lock:
            if attempt.name is not None:
                self._failures.pop(_name_key(attempt.name), None)
            self._take_back(attempt.at, self._keys(None, attempt.address))

    def not_a_guess(self, attempt: Attempt) -> None:
        """The attempt failed for a reason other than a wrong secret: take it back."""
        with self._lock:
            self._take_back(attempt.at, self._keys(attempt.name, attempt.address))

    def _take_back(self, at: float, keys: list[tuple[str, int]]) -> None:
        """Remove the failure counted at ``at`` from each of ``keys``."""
        for key, _ in keys:
            failures = self._failures.get(key)
            if failures is not None and at in failures:
                failures.remove(at)
                if not failures:
                    del self._failures[key]

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


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in attempt; ``wait`` is set when it was refused (seconds until a retry)."""

    name: str | None
    address: str | None
    at: float
    wait: float | None = None


def _name_key(name: str) -> str:
    return f"name:{name.strip().casefold()}"
