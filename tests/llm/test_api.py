"""``/v1/llm`` on a real server, with the example application behind the webhook: runs in
the background, answers that come later by signed callback, bad input as 4xx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ablab.llm.signing import sign
from tests.llm.example_app import ExampleApp
from tests.server.conftest import Project, RunningServer, serving

SECRET = "a-secret-of-some-length"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("llm"))


@pytest.fixture
def project(server: RunningServer) -> Project:
    return server.project()


@pytest.fixture
def app() -> Iterator[ExampleApp]:
    with ExampleApp(secret=SECRET) as running:
        yield running


def settle(http: httpx.Client, name: str, timeout: float = 30) -> dict[str, Any]:
    """The experiment once nothing of it runs any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = http.get(f"/v1/llm/experiments/{name}").json()
        if not found["status"].startswith("running"):
            return dict(found)
        time.sleep(0.05)
    raise AssertionError(f"{name} still runs: {found}")


def setup(project: Project, app: ExampleApp, tasks: int = 6) -> httpx.Client:
    http = project.http()
    for i in range(tasks):
        body = {
            "name": f"t{i}",
            "input": {"question": f"{i}*3", "answer": str(3 * i), "fragile": i < tasks // 2},
            "expected_output": str(3 * i),
            "evaluators": [{"kind": "exact_match"}],
        }
        assert http.post("/v1/llm/tasks", json=body).status_code == 201
    body = {
        "name": "answers",
        "steps": ["response_generator"],
        "tasks": [f"t{i}" for i in range(tasks)],
        "baseline": {"response_generator": {"temperature": 0.5}},
        "webhook_url": app.url,
        "webhook_secret": SECRET,
    }
    created = http.post("/v1/llm/experiments", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["webhook_secret_set"] is True
    assert SECRET not in created.text
    return http


def test_a_run_in_the_background_then_its_results(project: Project, app: ExampleApp) -> None:
    http = setup(project, app)
    started = http.post("/v1/llm/experiments/answers/run")
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running_baseline"
    assert settle(http, "answers")["status"] == "baseline_complete"
    variant = {
        "name": "hot",
        "step": "response_generator",
        "parameter": "temperature",
        "value": 1.2,
    }
    added = http.post("/v1/llm/experiments/answers/variants", json=variant)
    assert added.status_code == 201, added.text
    (shown,) = added.json()["variants"]
    assert shown["config"] == {"response_generator": {"temperature": 1.2}}
    assert http.post("/v1/llm/experiments/answers/run", json={"variant": "hot"}).status_code == 202
    assert settle(http, "answers")["status"] == "idle"
    results = http.get("/v1/llm/experiments/answers/results").json()
    baseline, hot = results["variants"]
    assert (baseline["pass_rate"], hot["pass_rate"]) == (1.0, 0.5)
    test = hot["mcnemar"]
    assert (test["only_baseline_passed"], test["only_variant_passed"], test["pairs"]) == (3, 0, 6)
    # One comparison: the adjusted pair is the unadjusted one, and they agree with the flag.
    assert (results["correction"], results["comparisons"]) == ("bonferroni", 1)
    assert test["adjusted_p_value"] == pytest.approx(test["p_value"])
    assert test["p_value"] > 0.05
    assert not test["significant"]
    assert test["adjusted_ci"][0] < 0 < test["adjusted_ci"][1]
    # Each failed task says why: the evaluator's verdict on what the application answered.
    reasons = {t["name"]: t["reason"] for t in hot["tasks"]}
    assert reasons["t0"] is not None
    assert reasons["t0"].startswith("exact_match: expected '0', got ")
    assert reasons["t5"] is None
    # Not significantly better: refused as the winner unless forced, with a reason.
    refused = http.post("/v1/llm/experiments/answers/complete", json={"winner": "hot"})
    assert refused.status_code == 409, refused.text
    assert "not significantly better than the baseline" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["significantly_better"] is False
    no_reason = http.post(
        "/v1/llm/experiments/answers/complete", json={"winner": "hot", "force": True}
    )
    assert no_reason.status_code == 422
    assert http.get("/v1/llm/experiments/answers").json()["status"] == "idle"
    forced = http.post(
        "/v1/llm/experiments/answers/complete",
        json={"winner": "hot", "force": True, "reason": "cheaper model, same quality for us"},
    )
    assert forced.status_code == 200, forced.text
    done = forced.json()
    assert (done["status"], done["winner"], done["winner_forced"]) == (
        "completed",
        shown["id"],
        True,
    )
    (entry, *_) = http.get("/v1/audit", params={"object_id": done["id"]}).json()
    assert entry["action"] == "complete"
    assert entry["after"]["forced"] is True
    assert entry["after"]["reason"] == "cheaper model, same quality for us"
    assert entry["after"]["evidence"]["adjusted_p_value"] == pytest.approx(test["p_value"])


def test_a_variant_that_changes_nothing_is_refused(project: Project, app: ExampleApp) -> None:
    http = setup(project, app, tasks=1)
    same = {"name": "same", "step": "response_generator", "parameter": "temperature",
            "value": 0.5}  # fmt: skip
    refused = http.post("/v1/llm/experiments/answers/variants", json=same)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["message"] == (
        "variant 'same' changes nothing: response_generator.temperature is 0.5 in the "
        "baseline already; choose another value, parameter or step"
    )
    assert http.get("/v1/llm/experiments/answers").json()["variants"] == []


def test_an_answer_can_come_later_by_a_signed_callback(
    server: RunningServer, project: Project, app: ExampleApp
) -> None:
    http = setup(project, app, tasks=4)
    app.state.mode = "later"
    app.state.callback_url = f"{server.url}/v1/llm/callbacks"
    assert http.post("/v1/llm/experiments/answers/run").status_code == 202
    done = settle(http, "answers")
    assert done["status"] == "baseline_complete", done
    assert app.state.callback_statuses
    assert set(app.state.callback_statuses) == {202}
    # A callback for a finished run, a forged one, and one for nobody.
    test_id = app.state.later[0]
    body = b'{"test_id": "%s", "output": "9"}' % test_id.encode()
    late = httpx.post(
        f"{server.url}/v1/llm/callbacks/{test_id}",
        content=body,
        headers=sign(SECRET, body, int(time.time())),
    )
    assert late.status_code == 409
    # A signed answer stands for its own test only: replayed under another id, it is refused.
    replayed = httpx.post(
        f"{server.url}/v1/llm/callbacks/{app.state.later[1]}",
        content=body,
        headers=sign(SECRET, body, int(time.time())),
    )
    assert replayed.status_code == 422
    assert "must name its test_id" in replayed.json()["error"]["message"]
    forged = httpx.post(
        f"{server.url}/v1/llm/callbacks/{test_id}",
        content=body,
        headers=sign("not-the-secret", body, int(time.time())),
    )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "unauthorized"
    nobody = httpx.post(f"{server.url}/v1/llm/callbacks/llr_nobody", content=body)
    assert nobody.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/llm/tasks", {"name": "x", "input": 1, "evaluators": [{"kind": "nope"}]}, 422),
        ("/v1/llm/tasks", {"name": "x", "input": 1}, 422),
        ("/v1/llm/experiments", {"name": "x", "steps": []}, 422),
        ("/v1/llm/experiments", {"name": "x", "steps": ["s"], "tasks": ["ghost"]}, 404),
        ("/v1/llm/experiments", {"name": "x", "steps": ["s"], "webhook_url": "ftp://x"}, 422),
        (
            "/v1/llm/experiments/answers/variants",
            {"name": "v", "step": "response_generator", "parameter": "top_p", "value": 2},
            422,
        ),
        (
            "/v1/llm/experiments/answers/variants",
            {"name": "v", "step": "response_generator", "parameter": "seed", "value": 2},
            422,
        ),
        ("/v1/llm/experiments/answers/run", {"variant": "ghost"}, 404),
        ("/v1/llm/experiments/ghost/run", None, 404),
    ],
)
def test_bad_input_is_a_4xx_with_the_error_shape(
    project: Project, app: ExampleApp, path: str, body: Any, status: int
) -> None:
    http = setup(project, app, tasks=1)
    answer = http.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"code", "message", "details"}


def test_the_task_set_is_locked_once_the_baseline_ran(project: Project, app: ExampleApp) -> None:
    http = setup(project, app, tasks=2)
    assert http.post("/v1/llm/experiments/answers/run").status_code == 202
    settle(http, "answers")
    locked = http.put("/v1/llm/experiments/answers/tasks", json={"tasks": ["t0"]})
    assert locked.status_code == 409
    assert "locked" in locked.json()["error"]["message"]
    assert http.post("/v1/llm/experiments/answers/complete").status_code == 200
    assert http.post("/v1/llm/experiments/answers/archive").json()["status"] == "archived"


def test_another_project_sees_nothing(
    server: RunningServer, project: Project, app: ExampleApp
) -> None:
    setup(project, app, tasks=1)
    other = server.project().http()
    assert other.get("/v1/llm/experiments/answers").status_code == 404
    assert other.get("/v1/llm/experiments").json() == []
    assert other.post("/v1/llm/experiments/answers/run").status_code == 404


def test_mistakes_change_nothing(project: Project, app: ExampleApp) -> None:
    http = setup(project, app, tasks=1)
    body = {"name": "no-hook", "steps": ["s"], "tasks": ["t0"]}
    assert http.post("/v1/llm/experiments", json=body).status_code == 201
    refused = http.post("/v1/llm/experiments/no-hook/run")
    assert refused.status_code == 422
    assert "no webhook_url" in refused.json()["error"]["message"]
    assert http.get("/v1/llm/experiments/no-hook").json()["status"] == "baseline_pending"
    # NaN has no JSON: a 422 naming the value, never a 500.
    for content in (
        b'{"config": {"response_generator": {"temperature": NaN}}}',
        b'{"config": {"response_generator": {"max_tokens": 1e400}}}',
    ):
        answer = http.put(
            "/v1/llm/experiments/answers/baseline",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
    python = {"name": "py", "input": 1, "evaluators": [
        {"kind": "python", "params": {"function": "os:getcwd"}}]}  # fmt: skip
    refused = http.post("/v1/llm/tasks", json=python)
    assert refused.status_code == 422
    assert "python evaluators run code" in refused.json()["error"]["message"]
