"""A rollout through the gateway: a failing new version is rolled back by the monitor."""

from __future__ import annotations

from ablab.services.automation.monitor import check_running_experiments
from ablab.services.rollouts.steps import RolloutStep
from tests.gateway.test_faults import Models, predict, setup
from tests.server.conftest import Project
from tests.server.test_sdk import wait_for


def test_a_guardrail_breach_during_a_rollout_rolls_back(project: Project, models: Models) -> None:
    control, treatment = models
    setup(project, control, treatment, guardrails=["error_rate<=+50%"])
    http = project.http()
    promoted = http.post(
        "/v1/experiments/trial/promote",
        json={"steps": [50, 100], "min_step_units": 40, "min_step_minutes": 0, "force": True},
    )
    assert promoted.status_code == 200, promoted.text
    (rollout,) = http.get("/v1/rollouts").json()
    assert (rollout["share"], rollout["status"]) == (50.0, "running")
    treatment.mode = "error"
    answers = [predict(http, f"r{i}") for i in range(300)]
    # Every caller is answered: the failing version's share falls back to the control.
    assert [(a.status_code, a.text) for a in answers if a.status_code != 200] == []
    assert all(a.json()["prediction"] == "normal" for a in answers)
    on_new = [a.json() for a in answers if a.json()["variant"] == "treatment"]
    assert on_new
    assert all(a["fallback"] for a in on_new)
    state = project.server.state
    state.event_log.flush()
    check = http.get(f"/v1/rollouts/{rollout['id']}").json()
    assert check["state"] == "harm", check
    checks = check_running_experiments(state.store, state.events)  # one monitor round
    assert (rollout["id"], RolloutStep.ROLLED_BACK) in [(c.rollout, c.action) for c in checks]
    assert http.get(f"/v1/rollouts/{rollout['id']}").json()["rollout"]["status"] == "rolled_back"
    # Within the rules' refresh everyone is on the previous version, without fallbacks.
    new_units = [f"r{i}" for i, a in enumerate(answers) if a.json()["variant"] == "treatment"]
    wait_for(lambda: predict(http, new_units[0]).json()["variant"] == "control")
    after = [predict(http, unit).json() for unit in new_units[:40]]
    assert {(a["variant"], a["model_version"], a["fallback"]) for a in after} == {
        ("control", "1.0.0", False)
    }
