"""The primary metric changes after creation (issue 18): through PATCH, the SDK and the CLI,
checked as at creation, audited, and read back by the next results from the raw events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ablab import Client
from ablab.cli.main import exit_code
from tests.server.conftest import Project
from tests.server.test_seed000_flows import register_models, traffic


def _create(project: Project, name: str = "trial", **options: object) -> None:
    register_models(project)
    created = project.http().post(
        "/v1/experiments",
        json={
            "name": name,
            "model_id": "radiology-v1",
            "control_version": "1.0.0",
            "treatment_version": "2.0.0",
            **options,
        },
    )
    assert created.status_code == 201, created.text


def test_a_running_experiment_is_read_again_with_its_new_primary_metric(
    project: Project,
) -> None:
    _create(project, secondary_metrics=["latency_ms", "error_rate"])
    http = project.http()
    ingested = http.post("/v1/events", json={"events": traffic(project, "trial", 60)})
    assert ingested.status_code == 200, ingested.text
    before = http.get("/v1/experiments/trial/results").json()
    assert before["primary_metric"] == "accuracy"

    changed = http.patch("/v1/experiments/trial", json={"primary_metric": "latency_ms"})

    assert changed.status_code == 200, changed.text
    assert changed.json()["primary_metric"] == "latency_ms"
    # A metric is primary or secondary, not both: the one moved up leaves the list.
    assert changed.json()["secondary_metrics"] == ["error_rate"]
    after = http.get("/v1/experiments/trial/results").json()
    assert after["primary_metric"] == "latency_ms"
    # The events sent before the change count: every prediction took 40 ms on the control.
    control = next(v for v in after["variants"] if v["name"] == "control")
    assert control["metrics"]["latency_ms"]["value"] == pytest.approx(40.0)
    assert {c["metric"] for c in after["comparisons"]} >= {"latency_ms"}
    with Client(base_url=project.server.url, api_key=project.admin_key) as client:
        (entry, *_) = client.experiments.audit("trial")
    assert entry.action == "update"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["primary_metric"], entry.after["primary_metric"]) == (
        "accuracy",
        "latency_ms",
    )


def test_a_defined_metric_may_become_primary_and_an_unknown_one_is_refused(
    project: Project,
) -> None:
    _create(project)
    http = project.http()
    unknown = http.patch("/v1/experiments/trial", json={"primary_metric": "revenue"})
    assert unknown.status_code == 404, unknown.text
    assert "unknown metric 'revenue'" in unknown.json()["error"]["message"]
    malformed = http.patch("/v1/experiments/trial", json={"primary_metric": 3})
    assert malformed.status_code == 422, malformed.text
    assert malformed.json()["error"]["message"].startswith("invalid primary_metric:")
    assert http.get("/v1/experiments/trial").json()["primary_metric"] == "accuracy"

    assert http.post("/v1/metrics", json={"name": "revenue"}).status_code == 201
    with Client(base_url=project.server.url, api_key=project.admin_key) as client:
        changed = client.experiments.update("trial", primary_metric="revenue")
    assert changed.primary_metric == "revenue"


def test_an_ended_experiment_keeps_the_metric_its_decision_was_taken_on(
    project: Project,
) -> None:
    _create(project)
    http = project.http()
    assert http.post("/v1/experiments/trial/stop").status_code == 200
    refused = http.patch("/v1/experiments/trial", json={"primary_metric": "latency_ms"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["message"] == (
        "cannot change the primary metric of an experiment that is stopped"
    )


def test_the_cli_changes_the_primary_metric(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _create(project)
    remote = ["--url", project.server.url, "--api-key", project.admin_key]

    code = exit_code([*remote, "experiment", "update", "trial", "--metric", "error_rate"])
    out = capsys.readouterr().out
    assert code == 0
    assert "primary metric error_rate" in out
    code = exit_code([*remote, "experiment", "show", "trial", "--output", "json"])
    assert json.loads(capsys.readouterr().out)["primary_metric"] == "error_rate"

    code = exit_code([*remote, "experiment", "update", "trial", "--metric", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: unknown metric 'nope'")
    assert len(err.strip().splitlines()) == 1
