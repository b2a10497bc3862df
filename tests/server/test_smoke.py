"""The server answers: health, a key, an experiment, an assignment, an event."""

from __future__ import annotations

from tests.server.conftest import Project, RunningServer


def test_health_and_a_first_flow(server: RunningServer, project: Project) -> None:
    http = project.http()
    assert server.http().get("/healthz").json()["status"] == "ok"
    assert http.get("/v1/whoami").json()["project_id"] == project.id
    for version in ("1.0.0", "2.0.0"):
        body = {"model": "radiology-v1", "version": version, "endpoint": f"http://m/{version}"}
        assert http.post("/v1/models", json=body).status_code == 201
    created = http.post(
        "/v1/experiments",
        json={
            "name": "my-experiment",
            "model_id": "radiology-v1",
            "control_version": "1.0.0",
            "treatment_version": "2.0.0",
            "traffic_split": 50,
        },
    )
    assert created.status_code == 201, created.text
    assigned = http.post("/v1/assign", json={"experiment": "my-experiment", "unit_id": "d1"})
    assert assigned.json()["in_experiment"] is True
