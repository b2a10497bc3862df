"""``/v1/rollouts`` and promotion over HTTP, and the SDK assigning from a rollout's share."""

from __future__ import annotations

import pytest

from ablab import Client, Conflict, InvalidTransition, NotFound, ValidationError
from ablab.domain.keys import Scope
from tests.server.conftest import Project
from tests.server.test_sdk import setup_experiment, wait_for


def test_promote_starts_a_rollout_moved_by_hand(project: Project) -> None:
    setup_experiment(project)
    http = project.http()
    promoted = http.post(
        "/v1/experiments/trial/promote",
        json={"steps": [20, 60, 100], "min_step_units": 10, "force": True},
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["status"] == "promoted"
    (rollout,) = http.get("/v1/rollouts", params={"model": "radiology-v1"}).json()
    assert rollout["experiment_id"] == promoted.json()["id"]
    assert (rollout["share"], rollout["steps"], rollout["min_step_units"]) == (
        20.0,
        [20.0, 60.0, 100.0],
        10,
    )
    check = http.get(f"/v1/rollouts/{rollout['id']}").json()
    assert check["state"] == "waiting"
    assert [g["metric"] for g in check["guardrails"]] == ["error_rate", "latency_ms"]
    paused = http.post(f"/v1/rollouts/{rollout['id']}/pause", json={"reason": "holiday"})
    assert (paused.json()["status"], paused.json()["reason"]) == ("paused", "holiday")
    refused = http.post(f"/v1/rollouts/{rollout['id']}/advance")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"
    assert http.post(f"/v1/rollouts/{rollout['id']}/resume").json()["status"] == "running"
    assert http.post(f"/v1/rollouts/{rollout['id']}/advance").json()["share"] == 60.0
    done = http.post(f"/v1/rollouts/{rollout['id']}/advance").json()
    assert (done["status"], done["share"]) == ("completed", 100.0)
    audit = http.get(f"/v1/experiments/{promoted.json()['id']}/audit").json()
    assert [e["action"] for e in audit][:2] == ["forced_promotion", "promote"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"steps": [10, 50]}, "end at 100"),
        ({"steps": []}, "steps"),
        ({"min_step_units": 0}, "min_step_units"),
        ({"rollout": "sometimes"}, "rollout"),
    ],
)
def test_bad_rollout_settings_are_a_422(
    project: Project, body: dict[str, object], message: str
) -> None:
    setup_experiment(project)
    http = project.http()
    refused = http.post("/v1/experiments/trial/promote", json=body)
    assert refused.status_code == 422, refused.text
    assert message in refused.text
    assert http.get("/v1/experiments/trial").json()["status"] == "running"  # nothing lost
    assert http.get("/v1/rollouts").json() == []


def test_unknown_rollouts_are_a_404(project: Project) -> None:
    http = project.http()
    for method, path in (("GET", "/v1/rollouts/ro_nope"), ("POST", "/v1/rollouts/ro_nope/pause")):
        answer = http.request(method, path)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_the_python_client_reaches_rollouts_and_its_errors_are_typed(project: Project) -> None:
    setup_experiment(project)
    setup_experiment(project, "next")
    with Client(base_url=project.server.url, api_key=project.admin_key) as client:
        with pytest.raises(ValidationError):
            client.experiments.promote("trial", steps=[30.0])
        with pytest.raises(Conflict, match="no evidence to promote treatment"):
            client.experiments.promote("trial", steps=[30.0, 100.0])
        client.experiments.promote("trial", steps=[30.0, 100.0], force=True)
        with pytest.raises(Conflict, match="rolling out"):
            client.experiments.promote("next", force=True)
        (rollout,) = client.rollouts.list()
        assert client.rollouts.get(rollout.id).rollout.share == 30.0
        assert client.rollouts.rollback(rollout.id, "bad reviews").status.value == "rolled_back"
        with pytest.raises(InvalidTransition):
            client.rollouts.resume(rollout.id)
        with pytest.raises(NotFound):
            client.rollouts.get("ro_missing")
        client.experiments.promote("next", rollout=False, force=True)
        assert len(client.rollouts.list("radiology-v1")) == 1


def test_the_sdk_assigns_rollouts_as_the_server_does(project: Project) -> None:
    setup_experiment(project)
    http = project.http()
    http.post("/v1/models", json={"model": "radiology-v1", "version": "3.0.0",
                                  "endpoint": "http://m/3.0.0"})  # fmt: skip
    assert http.post("/v1/experiments/trial/promote", json={"force": True}).status_code == 200
    (rollout,) = http.get("/v1/rollouts").json()
    created = http.post(
        "/v1/experiments",
        json={"name": "next", "model_id": "radiology-v1", "control_version": "2.0.0",
              "treatment_version": "3.0.0"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    sdk_http = project.http(project.key(Scope.SDK))
    with Client(
        base_url=project.server.url, api_key=project.key(Scope.SDK), ruleset_refresh=0.2
    ) as sdk:

        def agree() -> bool:
            reasons = set()
            for name in ("trial", "next"):
                for unit in range(200):
                    local = sdk.assign(name, f"u{unit}", log_exposure=False)
                    body = {"experiment": name, "unit_id": f"u{unit}"}
                    remote = sdk_http.post("/v1/assign", json=body).json()
                    # new and sticky differ only in who saw the unit first.
                    same = {"sticky": "new"}
                    seen = (
                        local.variant,
                        local.model_version,
                        local.in_experiment,
                        same.get(local.reason.value, local.reason.value),
                    )
                    wanted = (remote["variant"], remote["model_version"], remote["in_experiment"],
                              same.get(remote["reason"], remote["reason"]))  # fmt: skip
                    if seen != wanted:
                        return False
                    reasons.add(remote["reason"])
            assert {"rollout", "not_in_rollout", "new"} <= reasons
            return True

        assert agree()
        assert http.post(f"/v1/rollouts/{rollout['id']}/advance").status_code == 200
        # The SDK sees the new share at its next ruleset refresh (0.2 s here).
        wait_for(agree)
