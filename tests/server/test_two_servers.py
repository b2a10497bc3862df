"""Two ``ablab serve`` replicas sharing one PostgreSQL metadata store and event store, as
``docs/production.md`` lays them out behind a load balancer, driven end to end over HTTP.

What the layout promises and this checks: an experiment made on one replica serves on the
other; a unit's variant is the same whichever replica answers, and its first assignment is
stored once; events sent half to each replica add up to one set of results that both read
alike; and the database, not either process, decides what the two do at once (reads of
the results on both each count as a look; two promotions on one model start exactly one
rollout).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from tests.concurrently import together
from tests.conftest import scratch_postgres_database
from tests.server.conftest import ADMIN_KEY
from tests.server.processes import ABLAB, ServeProcess, launch_serve, serve_environment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

UNITS = 60


@dataclass
class Replicas:
    """Two servers on one database: an admin client of each."""

    a: httpx.Client
    b: httpx.Client


@pytest.fixture(scope="module")
def replicas(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Started once for the module (most of its time is two start-ups); each test works
    on a model of its own."""
    tmp_path = tmp_path_factory.mktemp("two-servers")
    with scratch_postgres_database(postgres_url, "ablab_two_servers") as database:
        env = serve_environment(database_url=database, events_url=database, gc_freeze="false")
        # The operator's order: the schema first, by hand, then the replicas.
        upgrade = subprocess.run(
            [str(ABLAB), "db", "upgrade"],
            env={"ABLAB_HOME": str(tmp_path / "operator"), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
        # One replica makes the default project and the first admin key on a fresh store;
        # the second starts on a store that has them (two creating a project at once is
        # not safe: tests/server/test_races.py makes it before starting its pair).
        servers: list[ServeProcess] = []
        try:
            servers.append(launch_serve(tmp_path / "a", env).wait_ready())
            servers.append(launch_serve(tmp_path / "b", env).wait_ready())
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            with (
                httpx.Client(base_url=servers[0].url, headers=headers, timeout=30) as a,
                httpx.Client(base_url=servers[1].url, headers=headers, timeout=30) as b,
            ):
                yield Replicas(a, b)
        finally:
            for server in servers:
                server.stop()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def register_model(client: httpx.Client, model: str, *versions: str) -> None:
    for version in versions:
        body = {"model": model, "version": version, "endpoint": f"http://127.0.0.1:9/{version}"}
        ok(client.post("/v1/models", json=body), 201)


def create_and_launch(
    client: httpx.Client, name: str, model: str, treatment: str
) -> dict[str, Any]:
    spec = {
        "name": name,
        "model_id": model,
        "control_version": "1",
        "treatment_version": treatment,
        "traffic_split": 50,
        "draft": True,
    }
    ok(client.post("/v1/experiments", json=spec), 201)
    launched: dict[str, Any] = ok(client.post(f"/v1/experiments/{name}/launch"))
    assert launched["status"] == "running"
    return launched


def assign(client: httpx.Client, experiment: str, unit: str) -> str:
    body = {"experiment": experiment, "unit_id": unit}
    variant: str = ok(client.post("/v1/assign", json=body))["variant"]
    return variant


def events_of(unit: str, variant: str, number: int) -> list[dict[str, Any]]:
    """An exposure, a prediction and its label for ``unit``; every second one is correct."""
    now = datetime.now(UTC).isoformat()
    prediction = f"p-{unit}"
    common = {"timestamp": now}
    return [
        {**common, "type": "exposure", "event_id": f"x-{unit}", "unit_id": unit,
         "variant": variant},
        {**common, "type": "prediction", "event_id": f"y-{unit}", "unit_id": unit,
         "variant": variant, "prediction_id": prediction, "latency_ms": 10 + number % 7},
        {**common, "type": "label", "event_id": f"z-{unit}", "prediction_id": prediction,
         "correct": number % 2 == 0},
    ]  # fmt: skip


def looks(results: dict[str, Any]) -> list[int]:
    """How many looks each comparison's always-valid test has taken."""
    return [c["sequential"]["looks"] for c in results["comparisons"]]


def as_read_anywhere(results: dict[str, Any]) -> dict[str, Any]:
    """Results less what differs between two reads by design: the days run (read from the
    clock) and the count of looks (each read is one, ``services/analysis/sequential_looks``)."""
    comparisons = [
        {**c, "sequential": {k: v for k, v in c["sequential"].items() if k != "looks"}}
        for c in results["comparisons"]
    ]
    return {**results, "duration": None, "comparisons": comparisons}


def test_two_replicas_serve_one_experiment_as_one(replicas: Replicas) -> None:
    a, b = replicas.a, replicas.b
    register_model(a, "ranker", "1", "2")
    create_and_launch(a, "shared", "ranker", "2")
    units = [f"unit-{n}" for n in range(UNITS)]
    # First sight on B, then asked again on A (and B): the same variant everywhere.
    first = {unit: assign(b, "shared", unit) for unit in units}
    assert set(first.values()) == {"control", "treatment"}
    assert {unit: assign(a, "shared", unit) for unit in units} == first
    assert {unit: assign(b, "shared", unit) for unit in units} == first
    # Each unit's first assignment was stored once, whichever replica saw it again.
    stored = [ok(client.get("/v1/experiments/shared/assignments")) for client in (a, b)]
    assert stored[0] == stored[1]
    assert sum(stored[0].values()) == UNITS
    assert stored[0] == {v: list(first.values()).count(v) for v in ("control", "treatment")}

    for half, client in ((units[::2], a), (units[1::2], b)):
        batch = [e for n, u in enumerate(half) for e in events_of(u, first[u], n)]
        answer = ok(client.post("/v1/events", json={"experiment": "shared", "events": batch}))
        assert (answer["accepted"], answer["rejected"]) == (len(batch), [])

    results = [ok(client.get("/v1/experiments/shared/results")) for client in (a, b)]
    assert as_read_anywhere(results[0]) == as_read_anywhere(results[1])
    by_variant = {v["name"]: v for v in results[0]["variants"]}
    for name in ("control", "treatment"):
        expected = list(first.values()).count(name)
        assert (by_variant[name]["units"], by_variant[name]["predictions"]) == (expected,) * 2
    assert sum(v["labels"] for v in results[0]["variants"]) == UNITS
    # The looks are counted in the shared store: B's read was the second look, and reads
    # on both at once queue on its row locks rather than losing one another's look.
    assert (looks(results[0]), looks(results[1])) == ([1], [2])
    reads = [partial(client.get, "/v1/experiments/shared/results") for client in (a, b) * 3]
    assert all(r.status_code == 200 for r in together(reads))
    assert looks(ok(a.get("/v1/experiments/shared/results"))) == [2 + len(reads) + 1]


def test_promotions_on_both_replicas_start_one_rollout(replicas: Replicas) -> None:
    """The rule "one rollout in progress per model" holds across processes: it is the
    database's, so one of two simultaneous promotions is a 409."""
    a, b = replicas.a, replicas.b
    register_model(a, "scorer", "1", "2", "3")
    first = create_and_launch(a, "to-two", "scorer", "2")
    second = create_and_launch(b, "to-three", "scorer", "3")
    answers = together(
        [
            partial(a.post, "/v1/experiments/to-two/promote", json={"force": True}),
            partial(b.post, "/v1/experiments/to-three/promote", json={"force": True}),
        ]
    )
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    winner = first if answers[0].status_code == 200 else second
    refused = next(r for r in answers if r.status_code == 409).json()["error"]
    assert "model 'scorer' is rolling out" in refused["message"]
    for client in (a, b):
        rollouts = ok(client.get("/v1/rollouts", params={"model": "scorer"}))
        assert [(r["experiment_id"], r["status"]) for r in rollouts] == [(winner["id"], "running")]
