"""Seed 000's flows against a running server: raw HTTP, the Python Client and the CLI.

create, update split, pause, resume, results, promote, stop, with only the host and key
changed from the embedded-store forms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ablab import Client, InvalidTransition, NotFound
from ablab.cli.main import exit_code
from tests.server.conftest import Project

NOW = datetime.now(UTC).replace(microsecond=0)


def register_models(project: Project) -> None:
    http = project.http()
    for version in ("1.0.0", "2.0.0"):
        body = {"model": "radiology-v1", "version": version, "endpoint": f"http://m/{version}"}
        assert http.post("/v1/models", json=body).status_code == 201


def traffic(project: Project, experiment: str, devices: int) -> list[dict[str, Any]]:
    """Predictions and labels of devices on the variants the server assigns them."""
    http = project.http()
    events: list[dict[str, Any]] = []
    for device in range(devices):
        answer = http.post("/v1/assign", json={"experiment": experiment, "unit_id": f"d{device}"})
        variant = answer.json()["variant"]
        stamp = (NOW - timedelta(minutes=30)).isoformat()
        for k in range(4):
            pid = f"{experiment}-{device}-{k}"
            events.append(
                {
                    "event_id": f"p-{pid}",
                    "type": "prediction",
                    "experiment": experiment,
                    "unit_id": f"d{device}",
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": 40.0 if variant == "control" else 38.0,
                    "error": False,
                    "timestamp": stamp,
                }
            )
            right = (device + k) % 10 < (9 if variant == "treatment" else 7)
            events.append(
                {
                    "event_id": f"l-{pid}",
                    "type": "label",
                    "prediction_id": pid,
                    "correct": right,
                    "timestamp": stamp,
                }
            )
    return events


def test_the_curl_flow(project: Project) -> None:
    register_models(project)
    http = project.http()
    created = http.post(
        "/v1/experiments",
        headers={"Content-Type": "application/json"},
        content=json.dumps(
            {
                "name": "my-experiment",
                "model_id": "radiology-v1",
                "control_version": "1.0.0",
                "treatment_version": "2.0.0",
                "traffic_split": 50,
            }
        ),
    )
    assert created.status_code == 201, created.text
    experiment = created.json()
    assert experiment["id"].startswith("exp_")
    assert experiment["status"] == "running"
    ref = experiment["id"]
    split = http.patch(f"/v1/experiments/{ref}", json={"traffic_split": 80})
    assert [v["weight"] for v in split.json()["variants"]] == [20.0, 80.0]
    assert http.post(f"/v1/experiments/{ref}/pause").json()["status"] == "paused"
    assert http.post(f"/v1/experiments/{ref}/resume").json()["status"] == "running"
    batch = traffic(project, "my-experiment", 700)
    for start in range(0, len(batch), 1000):
        stored = http.post("/v1/events", json={"events": batch[start : start + 1000]})
        assert stored.status_code == 200
        assert stored.json()["rejected"] == []
    results = http.get(f"/v1/experiments/{ref}/results").json()
    assert sum(v["units"] for v in results["variants"]) == 700
    assert results["srm"]["mismatch"] is False
    assert results["recommendation"]["action"] == "promote", results["recommendation"]
    promoted = http.post(f"/v1/experiments/{ref}/promote")
    assert promoted.json()["status"] == "promoted"
    assert promoted.json()["winner"] == "treatment"
    again = http.post(f"/v1/experiments/{ref}/stop")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


@pytest.fixture
def client(project: Project) -> Iterator[Client]:
    register_models(project)
    with Client(
        base_url=project.server.url, api_key=project.admin_key, ruleset_refresh=0.2
    ) as remote:
        yield remote


def test_the_python_flow(client: Client, project: Project) -> None:
    experiment = client.experiments.create(
        name="my-experiment",
        model_id="radiology-v1",
        control_version="1.0.0",
        treatment_version="2.0.0",
        traffic_split=50,
    )
    assert experiment.id.startswith("exp_")
    client.experiments.update_split(experiment.id, traffic_split=80)
    client.experiments.pause(experiment.id)
    assert client.assign("my-experiment", "d1").in_experiment is False
    client.experiments.resume(experiment.id)
    assert client.events.log(traffic(project, "my-experiment", 700)).rejected == []
    results = client.experiments.results(experiment.id)
    assert results.control.accuracy is not None, results.model_dump_json()[:1500]
    assert results.treatment.accuracy is not None
    assert results.treatment.accuracy > results.control.accuracy
    assert results.is_significant
    assert results.p_value is not None
    assert results.recommendation.action == "promote"
    assert client.experiments.promote(experiment.id).status.value == "promoted"
    with pytest.raises(InvalidTransition, match="promoted"):
        client.experiments.stop(experiment.id)
    with pytest.raises(NotFound, match="unknown experiment"):
        client.experiments.get("nope")
    second = client.experiments.create(
        "second", model_id="radiology-v1", control_version="1.0.0", treatment_version="2.0.0"
    )
    assert client.experiments.stop(second.id).status.value == "stopped"


def test_the_cli_flow(project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = ["--url", project.server.url, "--api-key", project.admin_key]

    def run(*args: str) -> tuple[int, str, str]:
        code = exit_code([*remote, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    for version in ("1.0.0", "2.0.0"):
        code, _, err = run(
            "model", "register", "radiology-v1", version, "--endpoint", f"http://m/{version}"
        )
        assert code == 0, err
    code, out, err = run(
        "experiment", "create", "my-experiment", "--model", "radiology-v1",
        "--control", "1.0.0", "--treatment", "2.0.0", "--traffic-split", "50",
    )  # fmt: skip
    assert code == 0, err
    assert "Experiment created: exp_" in out
    assert run("experiment", "update", "my-experiment", "--traffic-split", "80")[0] == 0
    assert run("experiment", "pause", "my-experiment")[0] == 0
    assert run("experiment", "resume", "my-experiment")[0] == 0
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(json.dumps(e) + "\n" for e in traffic(project, "my-experiment", 700)),
        encoding="utf-8",
    )
    code, out, err = run("events", "import", str(events))
    assert code == 0, out + err
    assert "5600 stored" in out
    code, out, err = run("experiment", "results", "my-experiment")
    assert code == 0, err
    assert "Units exposed" in out
    assert "Accuracy" in out
    assert "Recommendation: promote treatment" in out
    assert run("experiment", "promote", "my-experiment")[0] == 0
    code, _, err = run("experiment", "stop", "my-experiment")
    assert code == 2
    assert err.startswith("error: cannot stop")
    assert len(err.strip().splitlines()) == 1
    code = exit_code(
        ["--url", project.server.url, "--api-key", "abk_bad_key", "experiment", "list"]
    )
    assert code == 2
    assert "not valid" in capsys.readouterr().err
