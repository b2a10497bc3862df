"""kill -9 under load: nothing the server acknowledged is lost, nothing is stored twice.

A real ``ablab serve`` takes assignments and event batches from several threads and is
killed with SIGKILL at a random moment, then restarted, a few times over, with the
experiment's split changed between lives. What must hold, on the embedded stores and on
PostgreSQL:

- every unit the server answered (``POST /v1/assign``, ``POST /v1/predict``) or whose
  exposure it acknowledged (``POST /v1/events``) has its first assignment stored, with the
  variant answered;
- after the split changes, every one of them is still served that variant;
- every acknowledged event is stored once; a batch the kill left without an answer, sent
  again after the restart, is stored once too (no duplicates).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import psycopg
import pytest

from ablab.store.metadata import metadata_url, open_metadata_store
from tests.conftest import scratch_postgres_database
from tests.gateway.model_server import ModelServer
from tests.server.conftest import ADMIN_KEY
from tests.server.processes import ServeProcess, serve_environment, start_serve

pytestmark = pytest.mark.slow

LIVES = 4
SPLITS = (80, 20, 65, 35)
EXPERIMENT = "sticky"


@dataclass
class Stores:
    """Where a server keeps its data, and how to read it back afterwards."""

    env: dict[str, str]
    home: Path
    database_url: str
    events_url: str | None


@dataclass
class Acknowledged:
    """What the server answered, gathered from every thread of every life."""

    answers: dict[str, str] = field(default_factory=dict)  # unit -> variant answered
    exposed: dict[str, str] = field(default_factory=dict)  # unit -> variant of an acked exposure
    events: set[str] = field(default_factory=set)  # event ids acknowledged
    in_doubt: list[list[dict[str, object]]] = field(default_factory=list)  # unanswered batches
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    """The embedded stores in ``tmp_path``, or a PostgreSQL database of the test's own."""
    if request.param == "embedded":
        home = tmp_path / "home"
        yield Stores(serve_environment(), home, f"sqlite:///{home / 'ablab.db'}", None)
        return
    postgres_url = request.getfixturevalue("postgres_url")  # skips, or fails under CI
    with scratch_postgres_database(postgres_url, "ablab_crash") as url:
        yield Stores(serve_environment(database_url=url, events_url=url), tmp_path, url, url)


@pytest.fixture
def model() -> Iterator[ModelServer]:
    server = ModelServer("normal")
    yield server
    server.stop()


@pytest.fixture
def started() -> Iterator[list[ServeProcess]]:
    """The servers a test starts; any still running at its end (a failure) is killed."""
    processes: list[ServeProcess] = []
    yield processes
    for process in processes:
        if process.process.poll() is None:
            process.kill()


def test_kill_9_under_load_loses_no_acknowledged_assignment_or_event(
    stores: Stores, tmp_path: Path, model: ModelServer, started: list[ServeProcess]
) -> None:
    acked = Acknowledged()
    server = start_serve(tmp_path, stores.env)
    started.append(server)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        experiment_id = _set_up(http, model.url)
    rng = random.Random(13)
    for life in range(LIVES):
        _load_then_kill(server, acked, life, rng)
        server = start_serve(tmp_path, stores.env)
        started.append(server)
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            _send_again(http, acked)
            patched = http.patch(
                f"/v1/experiments/{EXPERIMENT}", json={"traffic_split": SPLITS[life]}
            )
            assert patched.status_code == 200, patched.text
    assert len(acked.answers) > 200, "too little load to judge"
    assert len(acked.exposed) > 200, "too little load to judge"

    # Stored: every answered unit's first assignment, with the variant it was answered.
    stored = _stored_assignments(stores, experiment_id, [*acked.answers, *acked.exposed])
    lost = [u for u in acked.answers if stored.get(u) != acked.answers[u]]
    lost += [u for u in acked.exposed if stored.get(u) != acked.exposed[u]]
    assert lost == [], f"{len(lost)} acknowledged first assignments lost or changed"

    # Served: after four split changes, a unit still gets what it was first answered.
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        sample = random.Random(5).sample(sorted(acked.answers), min(300, len(acked.answers)))
        served = {
            u: http.post("/v1/assign", json={"experiment": EXPERIMENT, "unit_id": u}).json()
            for u in sample
        }
    assert {u: s["variant"] for u, s in served.items()} == {u: acked.answers[u] for u in sample}
    assert {s["reason"] for s in served.values()} == {"sticky"}
    server.stop()

    counts = _event_counts(stores, experiment_id)
    missing = acked.events - counts.keys()
    assert missing == set(), f"{len(missing)} acknowledged events lost"
    twice = {e: n for e, n in counts.items() if n > 1}
    assert twice == {}, f"{len(twice)} events stored more than once"


def _set_up(http: httpx.Client, model_url: str) -> str:
    for version in ("1.0.0", "2.0.0"):
        response = http.post(
            "/v1/models", json={"model": "m", "version": version, "endpoint": model_url}
        )
        assert response.status_code == 201, response.text
    created = http.post(
        "/v1/experiments",
        json={
            "name": EXPERIMENT,
            "model_id": "m",
            "control_version": "1.0.0",
            "treatment_version": "2.0.0",
            "traffic_split": 50,
        },
    )
    assert created.status_code == 201, created.text
    experiment_id: str = created.json()["id"]
    return experiment_id


def _load_then_kill(
    server: ServeProcess, acked: Acknowledged, life: int, rng: random.Random
) -> None:
    """Assignments from two threads, predictions from one, event batches from two, until
    a kill -9."""
    stop = threading.Event()
    workers = (
        [
            threading.Thread(target=_assign_loop, args=(server.url, f"a{life}-{n}", acked, stop))
            for n in range(2)
        ]
        + [threading.Thread(target=_predict_loop, args=(server.url, f"p{life}", acked, stop))]
        + [
            threading.Thread(target=_events_loop, args=(server.url, f"e{life}-{n}", acked, stop))
            for n in range(2)
        ]
    )
    for worker in workers:
        worker.start()
    time.sleep(1.0 + rng.random() * 1.5)
    server.kill()
    stop.set()
    for worker in workers:
        worker.join(60)


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)


def _assign_loop(url: str, prefix: str, acked: Acknowledged, stop: threading.Event) -> None:
    with _client(url) as http:
        for i in range(1_000_000):
            unit = f"{prefix}-{i}"
            try:
                response = http.post("/v1/assign", json={"experiment": EXPERIMENT, "unit_id": unit})
            except httpx.HTTPError:
                return  # killed: this unit was never answered
            assert response.status_code == 200, response.text
            body = response.json()
            if body["in_experiment"]:
                with acked.lock:
                    acked.answers[unit] = body["variant"]
            if stop.is_set():
                return


def _predict_loop(url: str, prefix: str, acked: Acknowledged, stop: threading.Event) -> None:
    with _client(url) as http:
        for i in range(1_000_000):
            unit = f"{prefix}-{i}"
            body = {"unit_id": unit, "features": [i]}
            try:
                response = http.post(f"/v1/predict/{EXPERIMENT}", json=body)
            except httpx.HTTPError:
                return
            assert response.status_code == 200, response.text
            answer = response.json()
            if answer["in_experiment"]:
                with acked.lock:
                    acked.answers[unit] = answer["variant"]
            if stop.is_set():
                return


def _events_loop(url: str, prefix: str, acked: Acknowledged, stop: threading.Event) -> None:
    rng = random.Random(prefix)
    with _client(url) as http:
        for i in range(1_000_000):
            batch = _batch(f"{prefix}-{i}", rng)
            try:
                response = http.post("/v1/events", json={"events": batch})
            except httpx.HTTPError:
                with acked.lock:
                    acked.in_doubt.append(batch)
                return
            assert response.status_code == 200, response.text
            assert response.json()["rejected"] == []
            _acknowledge(acked, batch)
            if stop.is_set():
                return


def _batch(prefix: str, rng: random.Random) -> list[dict[str, object]]:
    """Exposures of 100 new units (each a random variant) and a metric for each."""
    now = datetime.now(UTC).isoformat()
    batch: list[dict[str, object]] = []
    for j in range(100):
        unit = f"{prefix}-{j}"
        batch.append(
            {
                "event_id": f"x-{unit}",
                "type": "exposure",
                "experiment": EXPERIMENT,
                "unit_id": unit,
                "variant": rng.choice(("control", "treatment")),
                "timestamp": now,
            }
        )
        batch.append(
            {
                "event_id": f"m-{unit}",
                "type": "metric",
                "experiment": EXPERIMENT,
                "unit_id": unit,
                "name": "spend",
                "value": rng.random(),
                "timestamp": now,
            }
        )
    return batch


def _acknowledge(acked: Acknowledged, batch: list[dict[str, object]]) -> None:
    with acked.lock:
        for event in batch:
            acked.events.add(str(event["event_id"]))
            if event["type"] == "exposure":
                acked.exposed[str(event["unit_id"])] = str(event["variant"])


def _send_again(http: httpx.Client, acked: Acknowledged) -> None:
    """The batches a kill left unanswered, sent again as a client retrying would."""
    for batch in acked.in_doubt:
        response = http.post("/v1/events", json={"events": batch})
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == []
        _acknowledge(acked, batch)
    acked.in_doubt.clear()


def _stored_assignments(stores: Stores, experiment_id: str, units: list[str]) -> dict[str, str]:
    url = stores.database_url
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    store = open_metadata_store(metadata_url(stores.home, url))
    try:
        with store.session() as session:
            return session.get_assignments(experiment_id, units)
    finally:
        store.close()


def _event_counts(stores: Stores, experiment_id: str) -> dict[str, int]:
    """How many rows each event id of the experiment has, over exposures and metrics."""
    query = (
        "SELECT event_id, count(*) FROM ("
        " SELECT event_id FROM exposures WHERE experiment_id = {p}"
        " UNION ALL SELECT event_id FROM metrics WHERE experiment_id = {p}"
        ") AS stored GROUP BY event_id"
    )
    if stores.events_url is None:
        with duckdb.connect(str(stores.home / "events.duckdb"), read_only=True) as connection:
            rows = connection.execute(query.format(p="?"), [experiment_id, experiment_id])
            return dict(rows.fetchall())
    with psycopg.connect(stores.events_url) as connection:
        found = connection.execute(query.format(p="%s"), [experiment_id, experiment_id])
        return dict(found.fetchall())
