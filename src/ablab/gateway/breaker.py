"""A circuit breaker per backend: stop calling a model that keeps failing, try it again later.

Closed, it counts: ``failures`` consecutive failures, or an error rate of at least
``error_rate`` over the last ``window`` calls (once ``window`` calls were seen), open it.
Open, every call is refused for ``open_seconds``; then it is half open and lets one probe
through: a success closes it, a failure opens it again for another period.

``opened`` counts every time it opened, a failed probe's new period included: a backend
that stays down keeps adding to it, one that recovered stops. ``reading()`` is what the
server shows of it (``/metrics``, the console), both figures taken together.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from ablab.gateway.backends import BackendError

__all__ = ["BreakerReading", "BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerReading:
    """A breaker's state and how many times it opened, read at one moment."""

    state: BreakerState
    opened: int


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int = 5,
        error_rate: float = 0.5,
        window: int = 20,
        open_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = failures
        self._error_rate = error_rate
        self._recent: deque[bool] = deque(maxlen=window)
        self._open_seconds = open_seconds
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()
        self.opened = 0  # how many times it opened (a failed probe's reopening included)

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._open_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def reading(self) -> BreakerReading:
        """The state and the count of openings together (from any thread)."""
        with self._lock:
            return BreakerReading(self.state, self.opened)

    def allow(self) -> bool:
        """Whether to call the backend now (a half-open breaker lets one probe through)."""
        with self._lock:
            state = self.state
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def record(self, success: bool) -> None:
        with self._lock:
            if self._opened_at is not None:  # the probe's answer
                self._probing = False
                if success:
                    self._close()
                else:
                    # A late answer of a call begun before it opened extends the period;
                    # only a half-open breaker's failure opens it again (and counts).
                    if self.state is BreakerState.HALF_OPEN:
                        self.opened += 1
                    self._opened_at = self._clock()
                return
            self._recent.append(success)
            self._consecutive = 0 if success else self._consecutive + 1
            full = len(self._recent) == self._recent.maxlen
            rate = self._recent.count(False) / len(self._recent)
            if self._consecutive >= self._max_failures or (full and rate >= self._error_rate):
                self._opened_at = self._clock()
                self.opened += 1

    @contextmanager
    def guarding(self, name: str) -> Iterator[None]:
        """One call to the backend ``name`` behind this breaker (both routers' calls).

        Refused with ``BackendError`` while open; a ``BackendError`` inside counts as a
        failure, a normal exit as a success. Other exceptions are not the model's answer
        and count as neither.
        """
        if not self.allow():
            raise BackendError(f"{name}: circuit open")
        try:
            yield
        except BackendError:
            self.record(False)
            raise
        self.record(True)

    def _close(self) -> None:
        self._opened_at = None
        self._consecutive = 0
        self._recent.clear()
