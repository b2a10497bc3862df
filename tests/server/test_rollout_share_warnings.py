"""An experiment on a model that is rolling out draws only from the rollout's share: the
promotion that starts the rollout and every experiment created, launched or resumed under
it say so (issue 18), over REST, the SDK and the CLI."""

from __future__ import annotations

import json

import httpx
import pytest

from ablab import Client
from ablab.cli.main import exit_code
from tests.server.conftest import Project


def _register(http: httpx.Client) -> None:
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        body = {"model_id": "radiology-v1", "version": version, "endpoint": f"http://m/{version}"}
        assert http.post("/v1/models", json=body).status_code == 201


def _create(http: httpx.Client, name: str, treatment: str, **options: object) -> httpx.Response:
    created = http.post(
        "/v1/experiments",
        json={
            "name": name,
            "model_id": "radiology-v1",
            "control_version": "1.0.0",
            "treatment_version": treatment,
            **options,
        },
    )
    assert created.status_code == 201, created.text
    return created


def _promote_first(http: httpx.Client) -> tuple[list[str], str]:
    """Promote ``first`` (forced: there is no data) with ``second`` running beside it."""
    assert _create(http, "first", "2.0.0").json()["warnings"] == []
    _create(http, "second", "3.0.0")
    promoted = http.post("/v1/experiments/first/promote", json={"force": True})
    assert promoted.status_code == 200, promoted.text
    (rollout,) = http.get("/v1/rollouts", params={"model": "radiology-v1"}).json()
    return promoted.json()["warnings"], rollout["id"]


def test_the_promotion_names_the_rollout_and_the_experiments_it_now_governs(
    project: Project,
) -> None:
    http = project.http()
    _register(http)

    warnings, rollout = _promote_first(http)

    assert warnings == [
        f"rollout {rollout} of radiology-v1 2.0.0 started at 10%: until it completes, "
        "experiments on radiology-v1 draw their new units only from its share (10% of units "
        "now); second now draws new units only from it"
    ]
    # Only the action's answer carries warnings; reads stay ExperimentPublic.
    assert "warnings" not in http.get("/v1/experiments/first").json()


def test_an_experiment_created_launched_or_resumed_under_a_rollout_is_warned(
    project: Project,
) -> None:
    http = project.http()
    _register(http)
    _, rollout = _promote_first(http)
    expected = [
        f"model radiology-v1 has an active rollout {rollout} (2.0.0 at 10%): experiment "
        "third draws its new units only from that share, 10% of units now (it grows as the "
        "rollout steps); the others are served 1.0.0 and not counted"
    ]

    assert _create(http, "third", "3.0.0", draft=True).json()["warnings"] == expected
    assert http.post("/v1/experiments/third/launch").json()["warnings"] == expected
    assert http.post("/v1/experiments/third/pause").json()["warnings"] == []
    assert http.post("/v1/experiments/third/resume").json()["warnings"] == expected
    # The console's API too.
    console = http.post(
        "/v1/admin/experiments", json={"name": "fourth", "model_id": "radiology-v1"}
    )
    assert console.status_code == 201, console.text
    assert "fourth draws its new units only from that share" in console.json()["warnings"][0]

    # Once the rollout is rolled back, it governs nothing: no warning.
    assert http.post(f"/v1/rollouts/{rollout}/rollback", json={}).status_code == 200
    assert _create(http, "fifth", "3.0.0").json()["warnings"] == []


def test_a_promotion_without_a_rollout_warns_of_nothing(project: Project) -> None:
    http = project.http()
    _register(http)
    _create(http, "first", "2.0.0")
    promoted = http.post("/v1/experiments/first/promote", json={"force": True, "rollout": False})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["warnings"] == []
    assert _create(http, "second", "3.0.0").json()["warnings"] == []


def test_the_sdk_exposes_the_warnings(project: Project) -> None:
    with Client(base_url=project.server.url, api_key=project.admin_key) as client:
        for version in ("1.0.0", "2.0.0"):
            client.models.register("radiology-v1", version, endpoint=f"http://m/{version}")
        client.experiments.create(
            "first", model_id="radiology-v1", control_version="1.0.0", treatment_version="2.0.0"
        )
        promoted = client.experiments.promote("first", force=True)
        assert promoted.warnings[0].startswith("rollout ro_")
        created = client.experiments.create(
            "second", model_id="radiology-v1", control_version="1.0.0", treatment_version="2.0.0"
        )
    assert "draws its new units only from that share, 10% of units now" in created.warnings[0]


def test_the_cli_prints_each_warning_as_one_line_on_stderr(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = ["--url", project.server.url, "--api-key", project.admin_key]
    _register(project.http())
    create = ["--model", "radiology-v1", "--control", "1.0.0", "--treatment", "2.0.0"]
    assert exit_code([*remote, "experiment", "create", "first", *create]) == 0
    capsys.readouterr()

    assert exit_code([*remote, "experiment", "promote", "first", "--force"]) == 0
    promoted = capsys.readouterr()
    assert "Rollout ro_" in promoted.out
    (line,) = promoted.err.strip().splitlines()
    assert line.startswith("warning: rollout ro_")

    code = exit_code([*remote, "experiment", "create", "second", *create, "--output", "json"])
    created = capsys.readouterr()
    assert code == 0
    # stdout stays one JSON document; the warning is beside it, on stderr.
    assert json.loads(created.out)["warnings"] == [created.err.strip().removeprefix("warning: ")]
    (line,) = created.err.strip().splitlines()
    assert "experiment second draws its new units only from that share" in line
