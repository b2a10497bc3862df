"""Two real ``ablab serve`` processes on one metadata database, and an LLM experiment's run
that belongs to the first (issue 13: a crash must not break promises, and a starting
replica must not break a live one's).

The first server runs a baseline whose tasks the webhook answers later (202, then a
signed callback), so the run stays in progress. The second server starting, and a few
leases passing, leave it running, and a callback still lands on it. Once the first is
killed (kill -9: no shutdown, no lease handed back) the second ends the run as soon as the
lease has expired, once, counting the answered task as answered. A short lease
(``ABLAB_LLM_RUN_LEASE_SECONDS``) keeps this to seconds.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ablab.llm.signing import sign
from ablab.services.access.projects import ensure_project
from ablab.store.metadata import metadata_url, open_metadata_store
from tests.llm.example_app import ExampleApp
from tests.server.conftest import ADMIN_KEY
from tests.server.processes import ServeProcess, serve_environment, start_serve

pytestmark = pytest.mark.slow

SECRET = "a-secret-of-some-length"
LEASE_SECONDS = 3.0  # renewed every 0.5 s: six renewals may fail on a loaded machine
TASKS = 3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The ``ablab serve`` environment of replicas on one metadata database."""
    if request.param == "sqlite":
        settings = {"database_url": f"sqlite:///{tmp_path / 'shared.db'}"}
    else:
        url = request.getfixturevalue("postgres_url")
        # The session's database, shared with other tests: names here are made unique.
        settings = {"database_url": url, "events_url": url}
    store = open_metadata_store(metadata_url(tmp_path, settings["database_url"]))
    ensure_project(store, "default")  # made once here, not by both replicas at once
    store.close()
    return serve_environment(llm_run_lease_seconds=str(LEASE_SECONDS), **settings)


@pytest.fixture
def app() -> Iterator[ExampleApp]:
    with ExampleApp(secret=SECRET) as running:
        running.state.mode = "later"  # 202, and the answer only when the test posts it
        yield running


def http(server: ServeProcess) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    )


def create_experiment(client: httpx.Client, app: ExampleApp, name: str) -> None:
    for i in range(TASKS):
        task = {
            "name": f"{name}-t{i}",
            "input": {"answer": str(i)},
            "expected_output": str(i),
            "evaluators": [{"kind": "exact_match"}],
        }
        assert client.post("/v1/llm/tasks", json=task).status_code == 201
    spec = {
        "name": name,
        "steps": ["response_generator"],
        "tasks": [f"{name}-t{i}" for i in range(TASKS)],
        "webhook_url": app.url,
        "webhook_secret": SECRET,
    }
    created = client.post("/v1/llm/experiments", json=spec)
    assert created.status_code == 201, created.text


def until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)
    return found


def experiment(client: httpx.Client, name: str) -> dict[str, Any]:
    answer = client.get(f"/v1/llm/experiments/{name}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def run_endings(client: httpx.Client, experiment_id: str) -> list[dict[str, Any]]:
    entries = client.get("/v1/audit", params={"object_id": experiment_id})
    assert entries.status_code == 200, entries.text
    ends = {"baseline_failed", "baseline_succeeded", "variant_finished"}
    return [e for e in entries.json() if e["action"] in ends]


def deliver(server: ServeProcess, test_id: str, output: str) -> httpx.Response:
    body = json.dumps({"test_id": test_id, "output": output}).encode()
    headers = {"Content-Type": "application/json", **sign(SECRET, body, int(time.time()))}
    return httpx.post(
        f"{server.url}/v1/llm/callbacks/{test_id}", content=body, headers=headers, timeout=30
    )


def test_a_replica_ends_only_the_runs_of_a_dead_one(
    shared_database: dict[str, str], app: ExampleApp, tmp_path: Path
) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    first = start_serve(tmp_path / "first", shared_database)
    second: ServeProcess | None = None
    try:
        with http(first) as one:
            create_experiment(one, app, name)
            started = one.post(f"/v1/llm/experiments/{name}/run")
            assert started.status_code == 202, started.text
            experiment_id = started.json()["id"]
            began = time.monotonic()
            until(lambda: len(app.state.later) == TASKS, 30, "every task sent to the webhook")

        # The second replica starts (its start-up recovery runs), and leases go by.
        second = start_serve(tmp_path / "second", shared_database)
        with http(second) as two:
            # The first still runs it: a late answer reaches its runner and is stored.
            (answered, *_) = app.state.later
            task_input = next(r for r in app.state.received if r["test_id"] == answered)
            delivered = deliver(first, answered, task_input["task"]["input"]["answer"])
            assert delivered.status_code == 202, delivered.text
            until(
                lambda: experiment(two, name)["progress"]["done"] == 1,
                10,
                "the late answer stored",
            )
            # Two leases since it began (the first renews it), and at least three of the
            # second's recovery rounds: the run goes on.
            deadline = max(began + 2 * LEASE_SECONDS, time.monotonic() + LEASE_SECONDS / 2)
            while time.monotonic() < deadline:
                assert experiment(two, name)["status"] == "running_baseline"
                time.sleep(0.1)
            assert run_endings(two, experiment_id) == []

            first.kill()  # kill -9: its lease is never handed back
            killed_at = time.monotonic()
            ended = until(
                lambda: (found := experiment(two, name))["status"] != "running_baseline" and found,
                10 * LEASE_SECONDS,
                "the dead replica's run ended by the live one",
            )
            # Not before the lease the first renewed last could have expired.
            assert time.monotonic() - killed_at > LEASE_SECONDS / 2
            assert ended["status"] == "baseline_failed"
            assert ended["progress"] == {"running": None, "done": 0, "total": 0}
            (ending,) = run_endings(two, experiment_id)
            assert ending["actor"] == "ablab:recovery"
            assert ending["after"] == {"ran": "baseline", "runs": TASKS, "errors": TASKS - 1}
            results = two.get(f"/v1/llm/experiments/{name}/results")
            assert results.status_code == 200, results.text
            (baseline,) = results.json()["variants"]
            assert (baseline["errors"], baseline["tasks_passed"]) == (TASKS - 1, 1)
    finally:
        for server in (first, second):
            if server is not None and server.process.poll() is None:
                server.stop()
