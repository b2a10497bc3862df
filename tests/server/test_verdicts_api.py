"""Over HTTP: promotion needs evidence or ``force``; max_duration_days; the counts' names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.server.conftest import Project
from tests.server.test_sdk import setup_experiment


def test_promoting_without_data_is_a_409_until_forced(project: Project) -> None:
    experiment_id = setup_experiment(project)
    http = project.http()
    refused = http.post("/v1/experiments/trial/promote", json={"rollout": False})
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "conflict"
    assert error["message"].startswith("no evidence to promote treatment: only 0 units")
    assert '"force": true' in error["message"]
    assert error["details"]["force_required"] is True
    assert http.get("/v1/experiments/trial").json()["status"] == "running"
    assert http.get("/v1/rollouts").json() == []

    forced = http.post("/v1/experiments/trial/promote", json={"rollout": False, "force": True})
    assert forced.status_code == 200, forced.text
    assert (forced.json()["status"], forced.json()["winner"]) == ("promoted", "treatment")
    audit = http.get(f"/v1/experiments/{experiment_id}/audit").json()
    assert [e["action"] for e in audit][:2] == ["forced_promotion", "promote"]
    assert "only 0 units" in audit[0]["after"]["without_evidence"]


def test_a_stopped_experiment_cannot_be_promoted_even_by_force(project: Project) -> None:
    setup_experiment(project)
    http = project.http()
    assert http.post("/v1/experiments/trial/stop").status_code == 200
    refused = http.post("/v1/experiments/trial/promote", json={"force": True})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"
    results = http.get("/v1/experiments/trial/results").json()
    assert results["recommendation"]["action"] == "none"
    assert results["recommendation"]["decision"] == "ended"


def test_max_duration_days_is_set_on_create_and_update(project: Project) -> None:
    setup_experiment(project, max_duration_days=14)
    http = project.http()
    assert http.get("/v1/experiments/trial").json()["max_duration_days"] == 14
    changed = http.patch("/v1/experiments/trial", json={"max_duration_days": 21})
    assert changed.status_code == 200, changed.text
    assert changed.json()["max_duration_days"] == 21
    for bad in (0, 3651, 1.5, "soon"):
        refused = http.patch("/v1/experiments/trial", json={"max_duration_days": bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert "max_duration_days" in refused.text
    results = http.get("/v1/experiments/trial/results").json()
    assert results["duration"]["max_duration_days"] == 21
    assert results["duration"]["max_duration_reached"] is False


def test_results_name_every_count(project: Project) -> None:
    setup_experiment(project)
    http = project.http()
    stamp = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    events = []
    for i in range(6):
        common = {"experiment": "trial", "unit_id": f"u{i}", "variant": "control",
                  "timestamp": stamp}  # fmt: skip
        events.append({"event_id": f"x{i}", "type": "exposure", **common})
        if i < 4:
            events.append({"event_id": f"p{i}", "type": "prediction", "prediction_id": f"p{i}",
                           "latency_ms": 10.0, "error": False, **common})  # fmt: skip
        if i < 1:
            events.append({"event_id": f"l{i}", "type": "label", "prediction_id": f"p{i}",
                           "correct": True, "timestamp": stamp})  # fmt: skip
    stored = http.post("/v1/events", json={"events": events})
    assert stored.status_code == 200, stored.text
    project.server.state.event_log.flush()
    results = http.get("/v1/experiments/trial/results").json()
    control = next(v for v in results["variants"] if v["name"] == "control")
    assert {k: control[k] for k in ("units", "units_exposed", "units_with_predictions",
                                    "units_with_labels", "predictions", "labels",
                                    "conversions")} == {
        "units": 6, "units_exposed": 6, "units_with_predictions": 4, "units_with_labels": 1,
        "predictions": 4, "labels": 1, "conversions": None,
    }  # fmt: skip
    assert results["min_samples_rule"]["counts"] == "units_with_labels"
    assert results["min_samples_reached"] is False
