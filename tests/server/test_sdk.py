"""The remote SDK: local assignment from the ruleset, ETags, a server that goes away, and
events tracked in the background."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ablab import Client, Unavailable
from ablab.domain.keys import Scope
from tests.server.conftest import Project, Uvicorn, start_server


def setup_experiment(project: Project, name: str = "trial", **options: object) -> str:
    http = project.http()
    for version in ("1.0.0", "2.0.0"):
        body = {"model": "radiology-v1", "version": version, "endpoint": f"http://m/{version}"}
        http.post("/v1/models", json=body)
    created = http.post(
        "/v1/experiments",
        json={
            "name": name,
            "model_id": "radiology-v1",
            "control_version": "1.0.0",
            "treatment_version": "2.0.0",
            "traffic_split": 50,
            **options,
        },
    )
    assert created.status_code == 201, created.text
    experiment_id: str = created.json()["id"]
    return experiment_id


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        time.sleep(0.05)


@pytest.fixture
def sdk(project: Project) -> Iterator[Client]:
    with Client(
        base_url=project.server.url, api_key=project.key(Scope.SDK), ruleset_refresh=0.2
    ) as client:
        yield client


def test_local_assignment_agrees_with_the_server(project: Project, sdk: Client) -> None:
    setup_experiment(project)
    http = project.http(project.key(Scope.SDK))
    for unit in range(300):
        local = sdk.assign("trial", f"unit-{unit}", log_exposure=False)
        remote = http.post("/v1/assign", json={"experiment": "trial", "unit_id": f"unit-{unit}"})
        assert local.variant == remote.json()["variant"]
        assert local.in_experiment
    # Sticky within the process, and served without asking the server again.
    assert (
        sdk.assign("trial", "unit-1", log_exposure=False).variant
        == http.post("/v1/assign", json={"experiment": "trial", "unit_id": "unit-1"}).json()[
            "variant"
        ]
    )


def test_targeting_and_a_changed_split_defer_to_the_server(project: Project, sdk: Client) -> None:
    http = project.http()
    http.post("/v1/groups", json={"name": "eu", "rule": {"region": {"$in": ["eu"]}}})
    ref = setup_experiment(project, group="eu")
    inside = sdk.assign("trial", "u1", {"region": "eu"}, log_exposure=False)
    outside = sdk.assign("trial", "u2", {"region": "us"}, log_exposure=False)
    assert inside.in_experiment
    assert not outside.in_experiment
    assert outside.reason == "not_targeted"
    before = {u: sdk.assign("trial", f"s{u}", {"region": "eu"}).variant for u in range(50)}
    sdk.flush()
    http.patch(f"/v1/experiments/{ref}", json={"traffic_split": 90})
    time.sleep(1.5)  # the server's rules cache, then the SDK's ruleset, catch up
    with Client(base_url=project.server.url, api_key=project.admin_key) as fresh:
        # A new process: the stored variants hold, whatever the new split says.
        after = {u: fresh.assign("trial", f"s{u}", {"region": "eu"}).variant for u in range(50)}
    assert after == before


def test_the_ruleset_has_an_etag(project: Project) -> None:
    setup_experiment(project)
    http = project.http(project.key(Scope.SDK))
    first = http.get("/v1/sdk/config")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    names = [e["name"] for e in first.json()["experiments"]]
    assert names == ["trial"]
    assert http.get("/v1/sdk/config", headers={"If-None-Match": etag}).status_code == 304
    project.http().post("/v1/experiments/trial/pause")
    changed = http.get("/v1/sdk/config", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["experiments"][0]["status"] == "paused"


def test_events_are_tracked_in_the_background(project: Project, sdk: Client) -> None:
    setup_experiment(project)
    for unit in range(20):
        sdk.assign("trial", f"u{unit}")  # logs an exposure each
    assert sdk.track(
        {
            "event_id": "m1",
            "type": "metric",
            "unit_id": "u1",
            "name": "clicks",
            "value": 1,
            "timestamp": "2026-12-01T00:00:00Z",
        }
    )
    http = project.http()

    def units() -> int:
        results = http.get("/v1/experiments/trial/results").json()
        return sum(v["units"] for v in results["variants"])

    wait_for(lambda: units() == 20)


def test_a_server_that_goes_away_and_comes_back(tmp_path: Path) -> None:
    """Last good ruleset while it is down; queued events arrive once it is back."""
    running, server = start_server(tmp_path / "home")
    project = server.project("comeback")
    setup_experiment(project)
    port = running.port
    client = Client(base_url=server.url, api_key=project.admin_key, ruleset_refresh=0.1)
    try:
        served = client.assign("trial", "u1").variant
        running.stop()
        time.sleep(0.3)  # a refresh or two fail: the last good ruleset stays
        assert client.assign("trial", "u1").variant == served
        assert client.assign("trial", "u2").in_experiment  # new units too, locally
        with pytest.raises(Unavailable):
            client.experiments.list()
        # Back on the same port and store: the queued exposures are delivered.
        again = Uvicorn(server.app, port=port).start()
        try:
            client.flush()
            wait_for(lambda: again.server.started)
            state = server.app.state.ablab
            wait_for(lambda: state.events.count("exposure") >= 2)
        finally:
            client.close()
            again.stop()
    finally:
        client.close()
        for http in server.clients:
            http.close()


def test_a_full_queue_drops_instead_of_raising(project: Project) -> None:
    setup_experiment(project)
    with Client(base_url=project.server.url, api_key=project.admin_key) as client:
        tracker = client._tracker
        assert tracker is not None
        tracker._max_queue = 5
        tracker._interval = 60.0
        accepted = [client.track({"event_id": f"e{i}", "type": "nonsense"}) for i in range(10)]
        assert accepted.count(False) >= 5
        assert tracker.dropped >= 5
    # The refused batch (4xx) was dropped after one try, not retried forever.
    assert tracker.failed + tracker.sent == 10 - tracker.dropped


def test_an_sdk_key_reaches_the_data_plane_only(project: Project) -> None:
    setup_experiment(project)
    key = project.key(Scope.SDK)
    with Client(base_url=project.server.url, api_key=key) as client:
        assert client.assign("trial", "u1").in_experiment
        assert client.events.log([]).received == 0
        with pytest.raises(Exception, match="do not allow this: it needs read"):
            client.experiments.list()
