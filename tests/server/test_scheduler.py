"""The server's scheduler: periodic and one-off jobs on worker threads, and a stop that
leaves no thread behind (the scheduler's own, and the whole app's after its lifespan)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ablab.server.scheduler import Scheduler
from tests.server.conftest import ADMIN_KEY, start_server

# How long a test waits for something that should happen at once: a bound for a stuck
# machine, never a measured duration.
PATIENCE = 30.0


def counting(done_after: int) -> tuple[list[int], threading.Event, Callable[[], None]]:
    """A job counting its rounds, and an event set on its ``done_after``-th round."""
    rounds: list[int] = []
    reached = threading.Event()

    def job() -> None:
        rounds.append(len(rounds))
        if len(rounds) >= done_after:
            reached.set()

    return rounds, reached, job


def test_a_periodic_job_runs_again_and_again() -> None:
    rounds, reached, job = counting(3)
    with Scheduler() as scheduler:
        scheduler.every(0.01, job, name="count")
        assert reached.wait(PATIENCE)
    assert len(rounds) >= 3


def test_a_failing_job_is_logged_and_neither_it_nor_the_others_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = threading.Event()
    attempts: list[int] = []

    def broken() -> None:
        attempts.append(1)
        if len(attempts) >= 2:
            failures.set()
        raise RuntimeError("the store is gone")

    _, reached, job = counting(3)
    with caplog.at_level(logging.ERROR, logger="ablab.server.scheduler"), Scheduler() as scheduler:
        scheduler.every(0.01, broken, name="broken")
        scheduler.every(0.01, job, name="count")
        assert failures.wait(PATIENCE)  # it failed, and was run again
        assert reached.wait(PATIENCE)
        one_off = scheduler.submit(broken, name="broken-once")
        with pytest.raises(RuntimeError, match="the store is gone"):
            one_off.result(PATIENCE)
        assert scheduler.submit(lambda: "still serving", name="after").result(PATIENCE) == (
            "still serving"
        )
    assert scheduler.failures >= 3
    assert any("background job broken failed" in r.getMessage() for r in caplog.records)
    assert any("background job broken-once failed" in r.getMessage() for r in caplog.records)


def test_stop_waits_for_the_running_jobs_and_leaves_no_thread() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def long_round() -> None:
        started.set()
        release.wait(PATIENCE)
        finished.set()

    before = set(threading.enumerate())
    scheduler = Scheduler().start()
    scheduler.every(0.01, long_round, name="long")
    scheduler.submit(long_round, name="one-off")
    assert started.wait(PATIENCE)
    stopping = threading.Thread(target=lambda: stopped.append(scheduler.stop(PATIENCE)))
    stopped: list[bool] = []
    stopping.start()
    # stop() is waiting for the running jobs: nothing returned while they hold.
    assert not finished.is_set()
    assert stopped == []
    release.set()
    stopping.join(PATIENCE)
    assert stopped == [True]
    assert finished.is_set()
    assert set(threading.enumerate()) - before == set()


def test_stop_gives_up_on_a_stuck_job_after_its_timeout_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started, release = threading.Event(), threading.Event()

    def stuck() -> None:
        started.set()
        release.wait(PATIENCE)

    scheduler = Scheduler()
    scheduler.submit(stuck, name="stuck")
    assert started.wait(PATIENCE)
    with caplog.at_level(logging.WARNING, logger="ablab.server.scheduler"):
        assert scheduler.stop(timeout=0.05) is False
    assert "ablab-worker-0" in caplog.text
    release.set()


def test_one_off_jobs_run_on_at_most_workers_threads_and_queued_ones_end_with_stop() -> None:
    release = threading.Event()
    running: list[str] = []
    both_running = threading.Event()

    def hold(name: str) -> str:
        running.append(name)
        if len(running) == 2:
            both_running.set()
        release.wait(PATIENCE)
        return name

    scheduler = Scheduler(workers=2)
    first = scheduler.submit(lambda: hold("first"), name="first")
    second = scheduler.submit(lambda: hold("second"), name="second")
    third = scheduler.submit(lambda: hold("third"), name="third")
    assert both_running.wait(PATIENCE)
    # Two workers, both busy: the third waits in the queue.
    assert sorted(running) == ["first", "second"]
    assert not third.running()
    release.set()
    assert (first.result(PATIENCE), second.result(PATIENCE)) == ("first", "second")
    assert third.result(PATIENCE) == "third"
    assert len([t for t in threading.enumerate() if t.name.startswith("ablab-worker")]) <= 2
    scheduler.stop(PATIENCE)


def test_queued_jobs_are_cancelled_by_stop_and_nothing_is_taken_after_it() -> None:
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(PATIENCE)

    scheduler = Scheduler(workers=1)
    running = scheduler.submit(hold, name="running")
    queued = scheduler.submit(lambda: "ran", name="queued")
    assert started.wait(PATIENCE)
    stopping = threading.Thread(target=scheduler.stop, args=(PATIENCE,))
    stopping.start()
    deadline = time.monotonic() + PATIENCE
    while not queued.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert queued.cancelled()  # while the one worker still held the running job
    assert not running.done()
    release.set()
    stopping.join(PATIENCE)
    assert running.done()
    with pytest.raises(RuntimeError, match="stopped"):
        scheduler.submit(lambda: None, name="late")
    with pytest.raises(RuntimeError, match="stopped"):
        scheduler.every(1.0, lambda: None, name="late")


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Scheduler().every(0, lambda: None, name="never")


def test_the_app_leaves_no_thread_behind_after_its_lifespan(tmp_path: Path) -> None:
    """Every background job of a server (the monitor, the leases, the key touches) runs on
    the scheduler its lifespan owns: once uvicorn has shut it down, no thread of the app
    lives on (the server's own thread included)."""
    before = set(threading.enumerate())
    running, server = start_server(tmp_path, monitor_interval=0.05, gc_freeze=False)
    try:
        http = server.http(ADMIN_KEY)
        assert http.get("/v1/experiments").status_code == 200
        assert http.post("/v1/assign", json={}).status_code == 422
        names = {t.name for t in threading.enumerate()}
        assert {"ablab-every-monitor", "ablab-every-llm-leases", "ablab-every-key-touches"} <= (
            names
        )
    finally:
        for client in server.clients:
            client.close()
        running.stop()
    # Threads told to end may take a moment to be gone.
    deadline = time.monotonic() + PATIENCE
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(t.name for t in left) == []
