"""The tuning sample size over HTTP: set at creation, shown, used by the results."""

from __future__ import annotations

import json
from typing import Any

from ablab.domain.keys import Scope
from ablab.stats import sequential_rho
from tests.server.conftest import Project
from tests.server.test_sdk import setup_experiment


def label_traffic(project: Project) -> None:
    events: list[dict[str, Any]] = []
    for device in range(300):
        variant = "treatment" if device % 2 else "control"
        pid = f"p{device}"
        stamp = "2026-12-01T00:00:00Z"
        events.append(
            {"event_id": pid, "type": "prediction", "experiment": "trial",
             "unit_id": f"d{device}", "variant": variant, "prediction_id": pid,
             "latency_ms": 20.0, "error": False, "timestamp": stamp}
        )  # fmt: skip
        correct = (device * 7) % 10 < (8 if variant == "treatment" else 6)
        events.append(
            {"event_id": f"l{pid}", "type": "label", "prediction_id": pid, "correct": correct,
             "timestamp": stamp}
        )  # fmt: skip
    assert project.http().post("/v1/events", json={"events": events}).status_code in (200, 202)


def test_the_api_stores_the_tuning_size_and_the_results_show_the_design(project: Project) -> None:
    setup_experiment(project, sequential_tuning_units=1_200)
    http = project.http(project.key(Scope.READ))
    assert http.get("/v1/experiments/trial").json()["sequential_tuning_units"] == 1_200
    label_traffic(project)
    first = http.get("/v1/experiments/trial/results").json()
    row = first["comparisons"][0]
    assert row["sequential"]["tuning_units"] == 1_200
    assert row["sequential"]["rho"] == sequential_rho(0.05, 1_200)
    assert row["sequential"]["mixing_variance"] > 0
    assert row["sequential"]["looks"] == 1
    second = http.get("/v1/experiments/trial/results").json()["comparisons"][0]
    assert second["sequential"]["looks"] == 2  # each results computation is a look
    low, high = second["confidence_sequence"]
    assert second["significant"] == (not low <= 0 <= high)


def test_a_bad_tuning_size_is_a_4xx_naming_the_field(project: Project) -> None:
    response = project.http().post(
        "/v1/experiments",
        json={"name": "bad", "model_id": "radiology-v1", "control_version": "1.0.0",
              "treatment_version": "2.0.0", "sequential_tuning_units": 0},
    )  # fmt: skip
    assert 400 <= response.status_code < 500
    assert "sequential_tuning_units" in json.dumps(response.json()["error"])
