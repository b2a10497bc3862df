"""The console's sign-in throttle on a clock the test moves."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ablab.server import sign_in_throttle
from ablab.server.sign_in_throttle import SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(clock: Clock, attempts: int = 3) -> SignInThrottle:
    return SignInThrottle(attempts, timedelta(minutes=10), clock)


def test_a_name_is_refused_from_its_nth_failure_until_the_oldest_leaves_the_window(
    clock: Clock,
) -> None:
    limits = throttle(clock)
    for step in range(3):
        clock.now += 60 * step  # failures at 0, 1 and 3 minutes
        assert limits.retry_after("ana", "10.0.0.1") is None
        limits.failed("ana", "10.0.0.1")
    assert limits.retry_after("ana", "10.0.0.2") == pytest.approx(7 * 60)
    assert limits.retry_after(" ANA ", None) == pytest.approx(7 * 60)
    assert limits.retry_after("bob", "10.0.0.1") is None  # the address is under its limit
    clock.now += 7 * 60  # the first failure is 10 minutes old: one more try
    assert limits.retry_after("ana", "10.0.0.1") is None
    limits.failed("ana", "10.0.0.1")
    assert limits.retry_after("ana", None) == pytest.approx(60)


def test_a_success_forgets_the_names_failures_but_not_the_addresses(clock: Clock) -> None:
    limits = throttle(clock, attempts=2)
    for name in ("ana", "ana", "bob", "bob", "cy", "cy", "dee"):
        limits.failed(name, "10.0.0.1")
    limits.succeeded("ana")
    assert limits.retry_after("ana", None) is None
    assert limits.retry_after("bob", None) is not None
    # Eight failures from the address (four times two): everyone there waits now.
    limits.failed("eve", "10.0.0.1")
    assert limits.retry_after("ana", "10.0.0.1") is not None
    assert limits.retry_after("ana", "10.0.0.9") is None


def test_a_key_sign_in_is_counted_by_address_only(clock: Clock) -> None:
    limits = throttle(clock, attempts=1)
    for _ in range(4):
        assert limits.retry_after(None, "10.0.0.1") is None
        limits.failed(None, "10.0.0.1")
    assert limits.retry_after(None, "10.0.0.1") is not None
    assert limits.retry_after("ana", "10.0.0.2") is None


def test_made_up_names_cannot_grow_it_without_bound(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sign_in_throttle, "MAX_TRACKED", 50)
    limits = throttle(clock, attempts=1)
    for i in range(200):
        limits.failed(f"user-{i}", None)
    assert len(limits._failures) == 50
    assert limits.retry_after("user-199", None) is not None  # the newest are kept
    assert limits.retry_after("user-0", None) is None
