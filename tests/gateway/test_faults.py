"""Fault injection with real model servers: errors, hangs, a server down; the breaker; shadows."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.gateway.model_server import ModelServer
from tests.server.conftest import Project
from tests.server.test_sdk import wait_for


def setup(project: Project, control: ModelServer, treatment: ModelServer, **options: Any) -> None:
    http = project.http()
    for version, model in (("1.0.0", control), ("2.0.0", treatment)):
        body = {"model": "radiology-v1", "version": version, "endpoint": model.url}
        assert http.post("/v1/models", json=body).status_code == 201
    created = http.post(
        "/v1/experiments",
        json={
            "name": "trial",
            "model_id": "radiology-v1",
            "control_version": "1.0.0",
            "treatment_version": "2.0.0",
            "traffic_split": 50,
            **options,
        },
    )
    assert created.status_code == 201, created.text


Models = tuple[ModelServer, ModelServer]


def predict(http: httpx.Client, unit: str) -> httpx.Response:
    return http.post("/v1/predict/trial", json={"unit_id": unit, "features": [1, 2, 3]})


def test_healthy_models_answer_by_variant(project: Project, models: Models) -> None:
    control, treatment = models
    setup(project, control, treatment)
    http = project.http()
    answers = [predict(http, f"d{i}").json() for i in range(60)]
    for answer in answers:
        expected = "pneumonia" if answer["variant"] == "treatment" else "normal"
        assert answer["prediction"] == expected
        assert answer["fallback"] is False
    assert {a["variant"] for a in answers} == {"control", "treatment"}
    project.server.state.event_log.flush()
    results = http.get("/v1/experiments/trial/results").json()
    assert sum(v["predictions"] for v in results["variants"]) == 60


def test_a_failing_treatment_falls_back_and_the_breaker_opens_and_recovers(
    project: Project, models: Models
) -> None:
    control, treatment = models
    setup(project, control, treatment)
    http = project.http()
    treatment_units = [
        f"d{i}" for i in range(200) if predict(http, f"d{i}").json()["variant"] == "treatment"
    ]
    treatment.mode = "error"
    before = treatment.calls
    answers = [predict(http, unit) for unit in treatment_units[:40]]
    assert all(a.status_code == 200 for a in answers)  # zero failed responses
    assert all(a.json()["fallback"] and a.json()["prediction"] == "normal" for a in answers)
    # The breaker opened after a few failures: most requests never reached the model.
    assert treatment.calls - before < 20
    breaker = project.server.state.gateway.breakers[(project.id, "radiology-v1@2.0.0")]
    assert breaker.opened >= 1
    # Recovered: after the open period a probe closes it again.
    treatment.mode = "ok"
    breaker._opened_at = (breaker._opened_at or 0) - 60
    wait_for(lambda: predict(http, treatment_units[0]).json()["fallback"] is False)
    assert predict(http, treatment_units[1]).json()["prediction"] == "pneumonia"
    project.server.state.event_log.flush()
    results = http.get("/v1/experiments/trial/results").json()
    treatment_rate = next(v for v in results["variants"] if v["name"] == "treatment")
    assert treatment_rate["metrics"]["error_rate"]["value"] > 0  # counted against it


def test_a_hanging_or_down_treatment_still_answers(project: Project, models: Models) -> None:
    control, treatment = models
    setup(project, control, treatment)
    http = project.http()
    units = [f"h{i}" for i in range(100) if predict(http, f"h{i}").json()["variant"] == "treatment"]
    treatment.mode = "hang"
    started = time.perf_counter()
    answer = predict(http, units[0])
    assert answer.status_code == 200
    assert answer.json()["fallback"]
    assert time.perf_counter() - started < 3  # the 1 s timeout, not the 5 s hang
    treatment.stop()
    assert predict(http, units[1]).json()["prediction"] == "normal"


def test_no_model_at_all_is_a_503(project: Project, models: Models) -> None:
    control, treatment = models
    setup(project, control, treatment)
    control.mode = treatment.mode = "error"
    response = predict(project.http(), "x1")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


def test_shadow_adds_no_latency_and_pairs_its_answers(project: Project, models: Models) -> None:
    control, treatment = models
    treatment.gate = threading.Event()  # the challenger holds every call open until released
    setup(project, control, treatment, shadow=True)
    http = project.http()
    for i in range(20):
        answer = predict(http, f"s{i}").json()
        assert answer["prediction"] == "normal"  # everyone is served the control
        assert answer["variant"] == "control"
    # Every answer came back while no shadow call had finished: none waited for one.
    assert treatment.answered == 0
    treatment.gate.set()
    wait_for(lambda: treatment.calls >= 20)


def test_the_shadow_report_pairs_the_answers(project: Project, models: Models) -> None:
    control, treatment = models
    control.answer = lambda features: "normal" if features[0] < 5 else "pneumonia"
    treatment.answer = lambda features: "pneumonia" if features[0] < 2 else "normal"
    setup(project, control, treatment, shadow=True)
    http = project.http()
    labels = []
    for i in range(40):
        answer = http.post("/v1/predict/trial", json={"unit_id": f"u{i}", "features": [i % 10]})
        truth = "normal" if i % 10 < 4 else "pneumonia"
        labels.append(
            {
                "event_id": f"l{i}",
                "type": "label",
                "prediction_id": answer.json()["prediction_id"],
                "label": truth,
                "timestamp": "2026-12-01T00:00:00Z",
            }
        )
    wait_for(lambda: treatment.calls >= 40)
    state = project.server.state
    wait_for(lambda: (state.event_log.flush() or True) and state.events.count("prediction") > 0)
    http.post("/v1/events", json={"events": labels})

    def report() -> dict[str, Any] | None:
        state.event_log.flush()
        body = http.get("/v1/experiments/trial/results").json()
        assert "shadow" in body, body
        found = body["shadow"]
        return found[0] if found and found[0]["pairs"] == 40 else None

    wait_for(lambda: report() is not None)
    shadow = report()
    assert shadow is not None
    # x in 0..9: control says normal below 5, the treatment normal from 2: they agree on
    # x = 2, 3, 4 (normal); truth is normal below 4.
    assert shadow["agreement_rate"]["value"] == pytest.approx(12 / 40)
    assert shadow["mean_absolute_difference"] is None  # classes, not numbers
    assert shadow["labelled"] == 40
    assert shadow["served_accuracy"] == pytest.approx(36 / 40)  # wrong at x = 4
    assert shadow["shadow_accuracy"] == pytest.approx(8 / 40)  # right only at x = 2, 3
    results = http.get("/v1/experiments/trial/results").json()
    assert results["srm"]["mismatch"] is False
