"""Two real ``ablab serve`` processes on one metadata database, raced request against request.

Each race sends one request to each server at the same moment (two threads released by a
barrier), several times over, on the embedded store (one SQLite file, which serialises
writers) and on PostgreSQL (READ COMMITTED, where two transactions really interleave). What
must hold is the database's rule, not a read before the write:

- two promotions on one model: one 200, one 409, exactly one rollout in progress, and the
  refused promotion left nothing behind;
- pause on one server, stop on the other, both sent with the version they saw: one wins,
  the other is a 409; the state is the winner's, with one audit entry for it;
- the same experiment created on both: one 201, one 409;
- a rollout rolled back on both: one 200, one 409, one audit entry; a key revoked on
  both: both 200 (revoking is idempotent), one audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from ablab.domain.keys import Scope
from ablab.services.access.keys import create_key
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.store.metadata import metadata_url, open_metadata_store
from tests.concurrently import together
from tests.server.processes import ServeProcess, launch_serve, serve_environment

pytestmark = pytest.mark.slow

ROUNDS = 4


@dataclass
class Pair:
    """Two servers on one metadata database, and that database's URL."""

    first: ServeProcess
    second: ServeProcess
    database_url: str


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp(f"races-{request.param}")
    env = serve_environment(gc_freeze="false")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'shared.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
        env["ABLAB_EVENTS_URL"] = database_url
    env["ABLAB_DATABASE_URL"] = database_url
    # The schema and the default project are made here (two replicas creating the same
    # project at once is not safe); the two then start together, racing on the first key.
    store = open_metadata_store(metadata_url(folder, database_url))
    ensure_project(store, "default")
    store.close()
    replicas = [launch_serve(folder / "first", env), launch_serve(folder / "second", env)]
    try:
        for replica in replicas:
            replica.wait_ready()
        yield Pair(*replicas, database_url)
    finally:
        for replica in replicas:
            replica.stop()


@dataclass
class Project:
    """A project of its own on both servers: a client of each with its admin key."""

    one: httpx.Client
    two: httpx.Client

    def both(self) -> tuple[httpx.Client, httpx.Client]:
        return self.one, self.two


@pytest.fixture
def project(pair: Pair, tmp_path: Path) -> Iterator[Project]:
    store = open_metadata_store(metadata_url(tmp_path, pair.database_url))
    try:
        made = ensure_project(store, f"race-{uuid.uuid4().hex[:10]}")
        _, key = create_key(Context(store, made.id, "test:setup"), "racer", [Scope.ADMIN])
    finally:
        store.close()
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=pair.first.url, headers=headers, timeout=30) as one,
        httpx.Client(base_url=pair.second.url, headers=headers, timeout=30) as two,
    ):
        for client in (one, two):  # connected and the key checked before any race
            assert client.get("/v1/whoami").status_code == 200
        yield Project(one, two)


def race(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run ``calls`` in threads released together; their responses in the same order."""
    return together(calls)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response) -> str:
    """The message of a 409 in the API's error shape."""
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] in ("conflict", "invalid_transition"), error
    return str(error["message"])


def audit_actions(client: httpx.Client, object_id: str) -> list[str]:
    return [e["action"] for e in ok(client.get("/v1/audit", params={"object_id": object_id}))]


def experiment(client: httpx.Client, name: str, model: str, treatment: str) -> dict[str, Any]:
    spec = {"name": name, "model_id": model, "control_version": "1", "treatment_version": treatment}
    return ok(client.post("/v1/experiments", json=spec), 201)  # type: ignore[no-any-return]


def test_two_promotions_on_one_model_start_one_rollout(project: Project) -> None:
    one, two = project.both()
    for round_ in range(ROUNDS):
        model = f"model-{round_}"
        for version in ("1", "2", "3"):
            body = {"model": model, "version": version, "endpoint": "http://127.0.0.1:9/"}
            ok(one.post("/v1/models", json=body), 201)
        a = experiment(one, f"a-{round_}", model, "2")
        b = experiment(two, f"b-{round_}", model, "3")
        answers = race(
            partial(one.post, f"/v1/experiments/{a['name']}/promote", json={"force": True}),
            partial(two.post, f"/v1/experiments/{b['name']}/promote", json={"force": True}),
        )
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        won, lost = (a, b) if answers[0].status_code == 200 else (b, a)
        loser = next(r for r in answers if r.status_code == 409)
        assert f"model {model!r} is rolling out" in refused(loser)
        rollouts = ok(one.get("/v1/rollouts", params={"model": model}))
        assert [(r["experiment_id"], r["status"]) for r in rollouts] == [(won["id"], "running")]
        # The refused promotion was rolled back whole: still running, never promoted.
        stored = ok(two.get(f"/v1/experiments/{lost['name']}"))
        assert (stored["status"], stored["version"]) == ("running", lost["version"])
        assert audit_actions(two, lost["id"]) == ["create"]
        # The forced promotion's note went in with it, and out with the refused one.
        assert audit_actions(one, won["id"]) == ["forced_promotion", "promote", "create"]
        # Both servers roll the winner back at once: one does, the other is told.
        rollout_id = rollouts[0]["id"]
        answers = race(
            partial(one.post, f"/v1/rollouts/{rollout_id}/rollback"),
            partial(two.post, f"/v1/rollouts/{rollout_id}/rollback"),
        )
        assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        refused(next(r for r in answers if r.status_code == 409))
        assert audit_actions(one, rollout_id) == ["rollback", "start"]


@pytest.mark.parametrize("precondition", [True, False], ids=["expected_version", "none"])
def test_pause_and_stop_at_once(project: Project, precondition: bool) -> None:
    """With the version each caller saw, exactly one action is taken. Without it, an action
    is taken on the state it finds (pause then stop is a valid history) unless the other
    one wrote after it read (a 409). Either way every success has its one audit entry, each
    starting from the state the one before left."""
    one, two = project.both()
    for model_version in ("1", "2"):
        body = {"model": "m", "version": model_version, "endpoint": "http://127.0.0.1:9/"}
        ok(one.post("/v1/models", json=body), 201)
    for round_ in range(ROUNDS):
        made = experiment(one, f"e-{round_}", "m", "2")
        params = {"expected_version": made["version"]} if precondition else {}
        # The servers swap roles each round.
        pausing, stopping = (one, two) if round_ % 2 == 0 else (two, one)
        answers = race(
            partial(pausing.post, f"/v1/experiments/{made['name']}/pause", params=params),
            partial(stopping.post, f"/v1/experiments/{made['name']}/stop", params=params),
        )
        taken = [a for a, r in zip(("pause", "stop"), answers, strict=True) if r.is_success]
        for response in answers:
            if not response.is_success:
                refused(response)
        if precondition:
            assert len(taken) == 1, [r.text for r in answers]
        else:  # a loser read the state before the winner wrote it (PostgreSQL), or after
            assert taken in (["pause"], ["stop"], ["pause", "stop"]), [r.text for r in answers]
        final = ok(two.get(f"/v1/experiments/{made['name']}"))
        assert final["status"] == {"pause": "paused", "stop": "stopped"}[taken[-1]]
        entries = ok(one.get("/v1/audit", params={"object_id": made["id"]}))
        history = list(reversed(entries))
        assert [e["action"] for e in history] == ["create", *taken]
        for earlier, later in pairwise(history):
            assert later["before"]["status"] == earlier["after"]["status"]
            assert later["before"]["version"] == earlier["after"]["version"]


def test_the_same_name_created_on_both(project: Project) -> None:
    one, two = project.both()
    for round_ in range(ROUNDS):
        spec = {"name": f"same-{round_}", "hypothesis": f"round {round_}", "draft": True}
        answers = race(
            partial(one.post, "/v1/experiments", json=spec),
            partial(two.post, "/v1/experiments", json=spec),
        )
        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        assert "already exists" in refused(next(r for r in answers if r.status_code == 409))
        listed = [e for e in ok(one.get("/v1/experiments")) if e["name"] == spec["name"]]
        assert len(listed) == 1
        assert audit_actions(two, listed[0]["id"]) == ["create"]


def test_a_key_revoked_on_both(project: Project) -> None:
    one, two = project.both()
    for round_ in range(ROUNDS):
        key = ok(one.post("/v1/keys", json={"name": f"k{round_}", "scopes": ["read"]}), 201)
        answers = race(
            partial(one.post, f"/v1/keys/{key['id']}/revoke"),
            partial(two.post, f"/v1/keys/{key['id']}/revoke"),
        )
        revoked = [ok(r)["revoked_at"] for r in answers]
        assert revoked[0] == revoked[1] is not None
        assert audit_actions(one, key["id"]) == ["revoke", "create"]
