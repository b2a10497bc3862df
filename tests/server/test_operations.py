"""Errors and limits, tenants' events, observability and the background monitor."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from ablab.cli.serve import _configure_logging
from ablab.domain.keys import Scope
from tests.server.conftest import Project, RunningServer, start_server
from tests.server.test_sdk import setup_experiment, wait_for


def exposure(event_id: str, experiment: str = "trial", unit: str = "u1") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "exposure",
        "experiment": experiment,
        "unit_id": unit,
        "variant": "control",
        "timestamp": "2026-12-01T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/v1/nope", None, 404, "not_found"),
        ("DELETE", "/v1/experiments", None, 405, "method_not_allowed"),
        ("POST", "/v1/experiments", b"{not json", 422, "validation_error"),
        (
            "POST",
            "/v1/experiments",
            {"name": "x", "traffic_split": "half"},
            422,
            "validation_error",
        ),
        ("POST", "/v1/experiments", {"name": "bad name!"}, 422, "validation_error"),
        ("GET", "/v1/experiments/ghost", None, 404, "not_found"),
        ("POST", "/v1/assign", b"[1, 2]", 422, "validation_error"),
        ("POST", "/v1/assign", {"experiment": "ghost", "unit_id": "u"}, 404, "not_found"),
        ("POST", "/v1/assign", {"experiment": "trial", "unit_id": ""}, 422, "validation_error"),
        ("POST", "/v1/events", {"events": "no"}, 422, "validation_error"),
        ("POST", "/v1/experiments/trial/resume", None, 409, "invalid_transition"),
    ],
)
def test_bad_input_gets_a_4xx_with_one_shape(  # noqa: PLR0917 - one parametrized case
    project: Project, method: str, path: str, body: object, status: int, code: str | None
) -> None:
    http = project.http()
    if http.get("/v1/experiments/trial").is_error:
        setup_experiment(project)
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) or body is None else body
    response = http.request(
        method, path, content=content, json=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    if code is not None:
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"]
        assert isinstance(error["details"], dict)
    assert response.headers["x-request-id"]


def test_body_and_batch_limits_are_413(tmp_path: Path) -> None:
    running, server = start_server(tmp_path, max_body_bytes=50_000, max_batch_events=100)
    try:
        project = server.project()
        setup_experiment(project)
        http = project.http()
        big = http.post("/v1/events", content=b"{" + b" " * 60_000 + b"}")
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "payload_too_large"
        chunked = http.post(
            "/v1/experiments",
            content=iter([b'{"name": "', b"x" * 60_000, b'"}']),
            headers={"Content-Type": "application/json"},
        )
        assert chunked.status_code == 413
        many = http.post("/v1/events", json={"events": [exposure(f"e{i}") for i in range(101)]})
        assert many.status_code == 413
        assert many.json()["error"]["details"] == {"limit": 100, "received": 101}
        assert http.post("/v1/events", json={"events": [exposure("ok")]}).json()["stored"] == 1
    finally:
        for client in server.clients:
            client.close()
        running.stop()


def test_two_tenants_may_use_the_same_event_ids(server: RunningServer) -> None:
    first, second = server.project(), server.project()
    for project in (first, second):
        setup_experiment(project)
        sent = project.http().post("/v1/events", json={"events": [exposure("same-id")]})
        assert sent.json()["stored"] == 1, sent.text


def test_unknown_and_revoked_keys_are_401(project: Project) -> None:
    setup_experiment(project)
    anonymous = project.server.http()
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}):
        response = anonymous.get("/v1/experiments", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    key = project.key(Scope.READ)
    reader = project.http(key)
    assert reader.get("/v1/experiments").status_code == 200
    key_id = key.split("_")[1]
    assert project.http().post(f"/v1/keys/{key_id}/revoke").status_code == 200
    refused = reader.get("/v1/experiments")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    listed = {k["id"]: k for k in project.http().get("/v1/keys").json()}
    assert listed[key_id]["revoked_at"] is not None
    assert listed[key_id]["last_used_at"] is not None
    assert "key" not in listed[key_id]  # never shown again


def test_keys_are_stored_only_as_a_hash(project: Project) -> None:
    created = project.http().post("/v1/keys", json={"name": "fleet", "scopes": ["sdk"]}).json()
    whole = created["key"]
    secret = whole.split("_", 2)[2]
    with project.server.state.store.session() as session:
        stored = session.get_key(created["id"])
    assert stored is not None
    assert secret not in stored.secret_hash
    assert stored.secret_hash != secret
    assert len(stored.secret_hash) == 64


def test_health_metrics_and_request_ids(project: Project) -> None:
    setup_experiment(project)
    http = project.http()
    for unit in range(5):
        http.post("/v1/assign", json={"experiment": "trial", "unit_id": f"u{unit}"})
    http.post("/v1/events", json={"events": [exposure("m1"), {"event_id": "bad"}]})
    assert http.get("/v1/experiments/trial").status_code == 200
    assert http.get("/v1/no-such-route").status_code == 404
    echoed = http.get("/healthz", headers={"X-Request-ID": "my-request-7"})
    assert echoed.json() == {"status": "ok", "checks": {"metadata": "ok", "events": "ok"}}
    assert echoed.headers["x-request-id"] == "my-request-7"
    assert project.server.http().get("/metrics").status_code == 401  # ABLAB_METRICS_ACCESS=key
    text = project.http(project.key(Scope.READ)).get("/metrics").text
    assert 'ablab_http_requests_total{method="POST",route="/v1/assign",status="200"}' in text
    assert 'ablab_http_request_duration_seconds_bucket{le="0.005",route="/v1/assign"}' in text
    assert 'ablab_assignments_total{in_experiment="true"}' in text
    assert 'ablab_events_total{outcome="rejected"}' in text
    assert 'ablab_experiments{status="running"}' in text
    # Labelled by the route's template, never by the path typed (ids would be unbounded).
    assert 'method="GET",route="/v1/experiments/{ref}",status="200"' in text
    assert 'method="GET",route="unmatched",status="404"' in text
    assert "/v1/experiments/trial" not in text


def test_access_log_is_one_json_line_per_request(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure_logging("info", json_logs=True, access_log=True)
    try:
        project.http().get("/v1/whoami", headers={"X-Request-ID": "log-me"})
        time.sleep(0.05)
        lines = [
            json.loads(line) for line in capsys.readouterr().err.splitlines() if "log-me" in line
        ]
    finally:
        logging.getLogger("ablab").handlers.clear()
        logging.getLogger("ablab").propagate = True
    (entry,) = lines
    assert entry["msg"] == "request"
    assert entry["route"] == "/v1/whoami"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0


def test_the_server_monitor_stops_a_broken_experiment(tmp_path: Path) -> None:
    running, server = start_server(tmp_path, monitor_interval=0.2)
    try:
        project = server.project()
        setup_experiment(project, guardrails=["error_rate<=0.01"], min_samples=50)
        stamp = "2026-12-01T00:00:00Z"
        events = []
        for device in range(200):
            variant = "treatment" if device % 2 else "control"
            for k in range(5):
                pid = f"{device}-{k}"
                events.append(
                    {
                        "event_id": pid,
                        "type": "prediction",
                        "experiment": "trial",
                        "unit_id": f"d{device}",
                        "variant": variant,
                        "prediction_id": pid,
                        "latency_ms": 30.0,
                        "error": variant == "treatment" and k < 2,
                        "timestamp": stamp,
                    }
                )
        project.http().post("/v1/events", json={"events": events})
        http = project.http()
        wait_for(lambda: http.get("/v1/experiments/trial").json()["status"] == "stopped")
        audit = http.get("/v1/experiments/trial/audit").json()
        assert audit[0]["action"] == "stopped_by_guardrail"
        assert audit[0]["actor"] == "ablab:guardrail"
    finally:
        for client in server.clients:
            client.close()
        running.stop()
