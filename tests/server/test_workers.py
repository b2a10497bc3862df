"""``ablab serve --workers 2`` on PostgreSQL as an operator runs it: uvicorn's supervisor and
its worker processes, events sent from other threads meanwhile, and a real kill -9.

uvicorn logs ``Child process [pid] died`` whenever it replaces a worker, whether the worker
died or its health check killed it; the only one these tests allow is the one they killed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from ablab.store.events import PostgresEventStore
from tests.conftest import scratch_postgres_database
from tests.server.conftest import ADMIN_KEY
from tests.server.processes import launch_serve, serve_environment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BATCH = 500


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A database of its own, empty: the workers start on a store nobody has migrated."""
    with scratch_postgres_database(postgres_url, "ablab_workers") as url:
        yield url


class Server:
    """``ablab serve --workers 2`` in a process of its own, read through its log."""

    def __init__(self, folder: Path, database: str) -> None:
        env = serve_environment(database_url=database, events_url=database)
        self.serve = launch_serve(folder, env, ["--workers", "2", "--plain-logs"])
        self.url, self.process = self.serve.url, self.serve.process

    def text(self) -> str:
        return self.serve.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"Started server process \[(\d+)\]", self.text())]

    def ready_count(self) -> int:
        return self.text().count("Application startup complete")

    def died_pids(self) -> set[int]:
        return {int(p) for p in re.findall(r"Child process \[(\d+)\] died", self.text())}

    def wait_until(self, condition: Callable[[], bool], what: str, bound: float = 120) -> None:
        """Liveness, not timing: ``bound`` is far beyond what a healthy start takes."""
        deadline = time.monotonic() + bound
        while not condition():
            assert self.process.poll() is None, f"the server exited:\n{self.text()}"
            assert time.monotonic() < deadline, f"{what} within {bound} s:\n{self.text()}"
            time.sleep(0.2)

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.serve.stop()


class Ingestion:
    """Threads sending batches of new exposure events until stopped; what was acknowledged
    (a 200 accepting the whole batch) and every answer that was not a 2xx."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.prefix = uuid.uuid4().hex[:8]
        self.acknowledged: list[str] = []
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(threads)]

    def __enter__(self) -> Ingestion:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)

    def _send(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
            sent = 0
            while not self._stop.is_set():
                sent += 1
                ids = [f"{self.prefix}-{number}-{sent}-{i}" for i in range(BATCH)]
                now = datetime.now(UTC).isoformat()
                events = [
                    {"event_id": event_id, "type": "exposure", "unit_id": f"u{i % 97}",
                     "variant": "control" if i % 2 else "treatment", "timestamp": now}
                    for i, event_id in enumerate(ids)
                ]  # fmt: skip
                try:
                    answer = http.post("/v1/events", json={"events": events, "experiment": "w"})
                except httpx.TransportError:
                    continue  # a killed worker's connection: not acknowledged, sent again anew
                with self._lock:
                    if answer.status_code == 200 and answer.json()["accepted"] == BATCH:
                        self.acknowledged.extend(ids)
                    else:
                        self.refused.append(f"{answer.status_code} {answer.text[:300]}")

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)


def set_up_experiment(url: str) -> None:
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as http:
        for version in ("1.0.0", "2.0.0"):
            model = {"model": "m", "version": version, "endpoint": f"http://127.0.0.1:9/{version}"}
            http.post("/v1/models", json=model).raise_for_status()
        http.post(
            "/v1/experiments",
            json={"name": "w", "model_id": "m", "control_version": "1.0.0",
                  "treatment_version": "2.0.0", "traffic_split": 50},
        ).raise_for_status()  # fmt: skip


def stored_ids(database: str, prefix: str) -> set[str]:
    with psycopg.connect(database) as connection:
        rows = connection.execute(
            "SELECT event_id FROM exposures WHERE event_id LIKE %s", [f"{prefix}-%"]
        ).fetchall()
    return {row[0] for row in rows}


def test_two_workers_under_load_are_not_killed_and_a_dead_one_is_replaced(
    tmp_path: Path, fresh_database: str
) -> None:
    server = Server(tmp_path, fresh_database)
    try:
        server.wait_until(server.answers, "both workers start on a fresh database")
        server.wait_until(lambda: server.ready_count() == 2, "both workers report ready")
        set_up_experiment(server.url)
        with Ingestion(server.url) as load:
            server.wait_until(lambda: load.count() >= 20 * BATCH, "events are acknowledged")
            time.sleep(10)  # under load for a while
            victim = server.worker_pids()[0]
            # Stopped first, so the supervisor's health check is waiting on it when it dies.
            os.kill(victim, signal.SIGSTOP)
            time.sleep(1.5)
            os.kill(victim, signal.SIGKILL)
            server.wait_until(lambda: server.ready_count() == 3, "a replacement starts")
            acknowledged_before = load.count()
            server.wait_until(
                lambda: load.count() >= acknowledged_before + 20 * BATCH,
                "events are acknowledged after the replacement started",
            )
        replacement, survivor = server.worker_pids()[2], server.worker_pids()[1]
        assert victim not in (replacement, survivor)
        # The survivor stopped for longer than uvicorn's default health-check timeout (5 s):
        # every request goes to the replacement, and the survivor is not killed for it.
        os.kill(survivor, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            for _ in range(5):
                assert httpx.get(f"{server.url}/healthz", timeout=60).status_code == 200
        finally:
            time.sleep(max(0.0, 7 - (time.monotonic() - stopped)))
            with contextlib.suppress(ProcessLookupError):  # killed: the assertion below says
                os.kill(survivor, signal.SIGCONT)
        time.sleep(1.5)  # a few health-check rounds after it answers again
        assert server.died_pids() == {victim}, server.text()
        assert server.process.poll() is None
    finally:
        server.stop()
    assert load.refused == []
    missing = set(load.acknowledged) - stored_ids(fresh_database, load.prefix)
    assert not missing, f"{len(missing)} acknowledged events were not stored"
    # The supervisor made the first admin key once; the workers made none of their own.
    assert "created the first admin key" not in server.text()
    assert server.text().count("Started server process") == 3


def test_the_event_store_opens_beside_open_writes(fresh_database: str) -> None:
    """A starting worker does not queue behind another worker's open write transaction
    (with it, every later write would queue behind the starting worker)."""
    PostgresEventStore(fresh_database).close()  # the tables exist, as a running server has them
    with psycopg.connect(fresh_database) as writer:
        writer.execute(
            "INSERT INTO exposures (event_id, experiment_id, unit_id, variant, ts, received_at) "
            "VALUES ('open', 'e', 'u', 'control', now(), now())"
        )  # left open: the writer holds its lock on the table
        # The database refuses any lock wait over 1 s, so a wait shows as an error.
        impatient = f"{fresh_database}?options=-c%20lock_timeout%3D1000"
        PostgresEventStore(impatient).close()
        writer.rollback()


def test_processes_creating_the_event_tables_at_once_all_open(fresh_database: str) -> None:
    """``CREATE TABLE IF NOT EXISTS`` alone lets one of two simultaneous creators fail."""
    failures: list[BaseException] = []

    def open_store(url: str, start: threading.Barrier) -> None:
        start.wait()
        try:
            PostgresEventStore(url).close()
        except BaseException as exc:
            failures.append(exc)

    with psycopg.connect(fresh_database, autocommit=True) as admin:
        for attempt in range(8):
            admin.execute(f"CREATE SCHEMA race{attempt}")
            url = f"{fresh_database}?options=-c%20search_path%3Drace{attempt}"
            start = threading.Barrier(3)
            openers = [threading.Thread(target=open_store, args=(url, start)) for _ in range(3)]
            for opener in openers:
                opener.start()
            for opener in openers:
                opener.join(60)
            tables = admin.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = %s", [f"race{attempt}"]
            ).fetchone()
            assert tables == (4,)
    assert failures == []
