"""``GET .../decision`` for Argo Rollouts and ``POST .../decision/webhook`` for Flagger."""

from __future__ import annotations

from typing import Any

from ablab.domain.keys import Scope
from tests.server.conftest import Project
from tests.server.test_sdk import setup_experiment


def traffic(project: Project, accuracy: dict[str, float], errors: float = 0.0) -> None:
    http = project.http()
    events: list[dict[str, Any]] = []
    for device in range(800):
        variant = http.post(
            "/v1/assign", json={"experiment": "trial", "unit_id": f"d{device}"}
        ).json()["variant"]
        for k in range(5):
            pid = f"{device}-{k}"
            wrong = (device * 7 + k * 3) % 100 >= accuracy[variant] * 100
            events.append(
                {
                    "event_id": f"p{pid}",
                    "type": "prediction",
                    "experiment": "trial",
                    "unit_id": f"d{device}",
                    "variant": variant,
                    "prediction_id": pid,
                    "latency_ms": 20.0,
                    "error": variant == "treatment" and k < errors * 5,
                    "timestamp": "2026-12-01T00:00:00Z",
                }
            )
            events.append(
                {
                    "event_id": f"l{pid}",
                    "type": "label",
                    "prediction_id": pid,
                    "correct": not wrong,
                    "timestamp": "2026-12-01T00:00:00Z",
                }
            )
    for start in range(0, len(events), 2000):
        http.post("/v1/events", json={"events": events[start : start + 2000]})


def test_inconclusive_before_any_data(project: Project) -> None:
    setup_experiment(project)
    http = project.http(project.key(Scope.READ))
    decided = http.get("/v1/experiments/trial/decision").json()
    assert decided["decision"] == "inconclusive"
    assert http.post("/v1/experiments/trial/decision/webhook", json={}).status_code == 425


def test_a_clear_win_passes(project: Project) -> None:
    setup_experiment(project)
    traffic(project, {"control": 0.75, "treatment": 0.95})
    decided = project.http().get("/v1/experiments/trial/decision").json()
    assert decided["decision"] == "pass", decided["reason"]
    assert decided["evidence"]["significant"] is True
    assert decided["variant"] == "treatment"
    # Flagger sends no headers: the key comes in the webhook's metadata.
    hook = project.server.http().post(
        "/v1/experiments/trial/decision/webhook",
        json={
            "name": "podinfo",
            "phase": "Progressing",
            "metadata": {"api_key": project.admin_key},
        },
    )
    assert hook.status_code == 200
    assert hook.json()["decision"] == "pass"


def test_a_broken_guardrail_fails(project: Project) -> None:
    setup_experiment(project, guardrails=["error_rate<=0.01"])
    traffic(project, {"control": 0.75, "treatment": 0.95}, errors=0.4)
    decided = project.http().get("/v1/experiments/trial/decision").json()
    assert decided["decision"] == "fail"
    assert decided["evidence"]["broken_guardrails"] == ["treatment: error_rate<=0.01"]
    hook = project.http().post("/v1/experiments/trial/decision/webhook")
    assert hook.status_code == 412


def test_the_webhook_needs_a_key(project: Project) -> None:
    setup_experiment(project)
    anonymous = project.server.http()
    assert anonymous.post("/v1/experiments/trial/decision/webhook", json={}).status_code == 401
    sdk = project.key(Scope.SDK)
    refused = anonymous.post(
        "/v1/experiments/trial/decision/webhook", json={"metadata": {"api_key": sdk}}
    )
    assert refused.status_code == 403
