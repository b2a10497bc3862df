"""The SDK over the embedded store: seed 000's Python calls, typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ablab import (
    Client,
    Conflict,
    InvalidTransition,
    NotFound,
    Unauthorized,
    Unavailable,
    ValidationError,
)


@pytest.fixture
def client(home: Path) -> Client:
    with Client() as client:
        for version in ("1.0.0", "2.0.0"):
            client.models.register(
                "radiology-v1", version, endpoint=f"http://127.0.0.1:9/{version}"
            )
        yield client


def create(client: Client, name: str = "my-experiment") -> str:
    experiment = client.experiments.create(
        name=name,
        model_id="radiology-v1",
        control_version="1.0.0",
        treatment_version="2.0.0",
        traffic_split=50,
    )
    return experiment.id


def test_seed_000_python_flow(client: Client) -> None:
    experiment_id = create(client)
    assert experiment_id.startswith("exp_")
    assert client.experiments.update_split(experiment_id, traffic_split=80).traffic_split == 80
    assert client.experiments.pause(experiment_id).status == "paused"
    assert client.experiments.resume(experiment_id).status == "running"
    served = client.assign(experiment_id, "device-1", attributes={"region": "eu"})
    assert served.in_experiment
    assert served.model_version in {"1.0.0", "2.0.0"}
    assert client.experiments.assignment_counts(experiment_id)[served.variant] == 1
    promoted = client.experiments.promote(experiment_id, force=True)  # no data: forced
    assert (promoted.status, promoted.winner) == ("promoted", "treatment")
    assert client.experiments.archive(experiment_id).status == "archived"
    assert [e.action for e in client.experiments.audit(experiment_id)] == [
        "archive",
        "forced_promotion",
        "promote",
        "resume",
        "pause",
        "update",
        "create",
    ]
    assert client.experiments.list(status="archived")[0].id == experiment_id


def test_stop_keeps_control(client: Client) -> None:
    experiment_id = create(client)
    stopped = client.experiments.stop(experiment_id)
    assert stopped.status == "stopped"
    assert client.assign(experiment_id, "late-device").model_version == "1.0.0"


def test_errors_are_typed(client: Client) -> None:
    create(client)
    with pytest.raises(Conflict):
        create(client)
    with pytest.raises(NotFound):
        client.experiments.get("ghost")
    with pytest.raises(InvalidTransition):
        client.experiments.resume("my-experiment")
    with pytest.raises(ValidationError, match="traffic_split"):
        client.experiments.create(
            "x",
            model_id="radiology-v1",
            control_version="1.0.0",
            treatment_version="2.0.0",
            traffic_split="lots",
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="invalid status"):
        client.experiments.list(status="bogus")
    with pytest.raises(ValidationError, match="unit_id"):
        client.assign("my-experiment", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition, match="variants are fixed at launch"):
        client.experiments.add_variant("my-experiment", "late", weight=10)


def test_projects_are_separate(home: Path) -> None:
    with Client(project="team-a") as a, Client(project="team-b") as b:
        a.models.register("m", "1", endpoint="http://127.0.0.1:9/1")
        assert [m.name for m in a.models.list()] == ["m"]
        assert b.models.list() == []
        with pytest.raises(NotFound):
            b.models.get("m")


def test_groups(client: Client) -> None:
    group = client.groups.create("eu", rule={"region": {"$in": ["eu", "uk"]}})
    assert group.rule == {"region": {"$in": ["eu", "uk"]}}
    listed = client.groups.create("staff", members=["a", "b", "a"])
    assert listed.member_count == 2
    assert [g.name for g in client.groups.list()] == ["eu", "staff"]
    with pytest.raises(ValidationError, match="not both"):
        client.groups.create("both", rule={"a": 1}, members=["x"])
    with pytest.raises(ValidationError, match="invalid condition"):
        client.groups.create("bad", rule={"a": {"$gte": []}})


@pytest.mark.postgres
def test_metadata_on_postgresql_through_the_environment(
    postgres_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABLAB_DATABASE_URL", postgres_url)
    with Client(project="pg-client") as client:
        client.models.register("radiology-v1", "1.0.0", endpoint="http://127.0.0.1:9/1")
        client.models.register("radiology-v1", "2.0.0", endpoint="http://127.0.0.1:9/2")
        experiment_id = create(client, "pg-experiment")
        first = client.assign(experiment_id, "device-1").variant
    with Client(project="pg-client") as again:
        assert again.assign("pg-experiment", "device-1").variant == first
    assert not (home / "ablab.db").exists()


def test_remote_mode_needs_a_key_and_a_server_that_answers(home: Path) -> None:
    with pytest.raises(Unauthorized, match="an API key is needed"):
        Client(base_url="http://127.0.0.1:9")
    with (
        Client(base_url="http://127.0.0.1:9", api_key="abk_x_y") as client,
        pytest.raises(Unavailable, match="does not answer"),
    ):
        client.experiments.list()
