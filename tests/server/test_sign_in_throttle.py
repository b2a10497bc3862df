"""The console's sign-in throttle on a clock the test moves."""

from __future__ import annotations

import threading
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
        assert limits.attempt("ana", "10.0.0.1").wait is None
    assert limits.attempt("ana", "10.0.0.2").wait == pytest.approx(7 * 60)
    assert limits.attempt(" ANA ", None).wait == pytest.approx(7 * 60)
    assert limits.attempt("bob", "10.0.0.1").wait is None  # the address is under its limit
    clock.now += 7 * 60  # the first failure is 10 minutes old: one more try
    assert limits.attempt("ana", "10.0.0.1").wait is None
    assert limits.attempt("ana", None).wait == pytest.approx(60)


def test_a_success_forgets_the_names_failures_and_takes_its_attempt_back(
    clock: Clock,
) -> None:
    limits = throttle(clock, attempts=2)
    for name in ("ana", "bob", "bob", "cy", "cy", "dee"):
        limits.attempt(name, "10.0.0.1")
    limits.succeeded(limits.attempt("ana", "10.0.0.1"))
    assert limits.attempt("ana", None).wait is None  # its earlier failure is forgotten
    assert limits.attempt("bob", None).wait is not None
    # Six failures and a success from the address: two more failures reach its limit (8).
    limits.attempt("eve", "10.0.0.1")
    assert limits.attempt("fay", "10.0.0.1").wait is None
    assert limits.attempt("gus", "10.0.0.1").wait is not None
    assert limits.attempt("gus", "10.0.0.9").wait is None


def test_a_key_sign_in_is_counted_by_address_only(clock: Clock) -> None:
    limits = throttle(clock, attempts=1)
    for _ in range(4):
        assert limits.attempt(None, "10.0.0.1").wait is None
    assert limits.attempt(None, "10.0.0.1").wait is not None
    assert limits.attempt("ana", "10.0.0.2").wait is None


def test_what_is_not_a_guess_is_taken_back(clock: Clock) -> None:
    limits = throttle(clock, attempts=1)
    for _ in range(3):
        limits.not_a_guess(limits.attempt("ana", "10.0.0.1"))
    assert limits.attempt("ana", "10.0.0.1").wait is None


def test_a_burst_of_simultaneous_guesses_gets_only_the_limit_through(clock: Clock) -> None:
    limits = throttle(clock, attempts=5)
    barrier = threading.Barrier(32)
    through: list[bool] = []

    def guess() -> None:
        barrier.wait()
        through.append(limits.attempt("ana", None).wait is None)

    threads = [threading.Thread(target=guess) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert through.count(True) == 5


def test_made_up_names_cannot_grow_it_without_bound(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sign_in_throttle, "MAX_TRACKED", 50)
    limits = throttle(clock, attempts=1)
    for i in range(200):
        limits.attempt(f"user-{i}", None)
    assert len(limits._failures) == 50
    assert limits.attempt("user-199", None).wait is not None  # the newest are kept
    assert limits.attempt("user-0", None).wait is None


def test_a_name_refused_again_and_again_is_evicted_last(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sign_in_throttle, "MAX_TRACKED", 50)
    limits = throttle(clock, attempts=1)
    limits.attempt("victim", None)
    for i in range(200):
        assert limits.attempt("victim", None).wait is not None  # the guesser keeps trying
        limits.attempt(f"noise-{i}", None)
    assert limits.attempt("victim", None).wait is not None
