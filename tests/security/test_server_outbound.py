"""Where a key can make a real server send requests: model endpoints and LLM webhooks.

``closed`` has the default policy (no link-local or metadata address, loopback allowed);
``guarded`` also denies loopback, so ``localhost``, a name that really resolves to
127.0.0.1, shows the check made on resolved addresses at connection time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ablab.domain.keys import Scope
from tests.gateway.model_server import ModelServer
from tests.llm.example_app import ExampleApp
from tests.security.conftest import Place, make_place, on_sys_path
from tests.server.conftest import Project, RunningServer, serving

MODULES = "ablab_sec_control"
SECRET = "a-secret-of-some-length"
METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.170.2/v2/credentials",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one number
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0.0.0.0:8000/predict",
    "http://[fe80::1%25eth0]/",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    place = make_place(tmp_path_factory.mktemp("site"))
    (place.modules / f"{MODULES}.py").write_text("def predict(features):\n    return 'local'\n")
    yield from on_sys_path(place)


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("closed"))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, site: Place) -> Iterator[RunningServer]:
    yield from serving(
        tmp_path_factory.mktemp("guarded"),
        artifact_modules=[MODULES],
        outbound_deny=["127.0.0.0/8", "::1"],
    )


@pytest.fixture
def endpoint() -> Iterator[ModelServer]:
    server = ModelServer("from-endpoint")
    yield server
    server.stop()


@pytest.fixture
def app() -> Iterator[ExampleApp]:
    with ExampleApp(secret=SECRET) as running:
        yield running


def writer(server: RunningServer) -> tuple[Project, httpx.Client]:
    project = server.project()
    return project, project.http(project.key(Scope.WRITE, Scope.SDK))


def refused(http: httpx.Client, path: str, body: dict[str, Any], field: str) -> str:
    answer = http.post(path, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["details"]["field"] == field
    return str(error["message"])


@pytest.mark.parametrize("url", METADATA_URLS)
def test_an_endpoint_at_a_metadata_address_is_refused_at_registration(
    closed: RunningServer, url: str
) -> None:
    _, http = writer(closed)
    body = {"model": "m", "version": "1.0.0", "endpoint": url}
    assert "is refused" in refused(http, "/v1/models", body, "endpoint")
    assert http.get("/v1/models/m").status_code == 404


def test_a_name_that_resolves_somewhere_denied_is_refused_at_connection(
    guarded: RunningServer, endpoint: ModelServer
) -> None:
    _, http = writer(guarded)
    model = f"m-{uuid.uuid4().hex[:8]}"
    literal = {"model": model, "version": "2.0.0", "endpoint": endpoint.url}
    assert "ABLAB_OUTBOUND_DENY" in refused(http, "/v1/models", literal, "endpoint")
    by_name = endpoint.url.replace("127.0.0.1", "localhost")
    for body in (
        {"model": model, "version": "1.0.0", "artifact": f"{MODULES}:predict"},
        {"model": model, "version": "2.0.0", "endpoint": by_name},  # the name alone passes
    ):
        created = http.post("/v1/models", json=body)
        assert created.status_code == 201, created.text
    created = http.post(
        "/v1/experiments",
        json={
            "name": "trial",
            "model_id": model,
            "control_version": "1.0.0",
            "treatment_version": "2.0.0",
            "traffic_split": 50,
        },
    )
    assert created.status_code == 201, created.text
    answers = [
        http.post("/v1/predict/trial", json={"unit_id": f"u{i}", "features": [1]}).json()
        for i in range(30)
    ]
    assert {a["variant"] for a in answers} == {"control", "treatment"}
    assert all(a["prediction"] == "local" for a in answers)
    assert all(a["fallback"] for a in answers if a["variant"] == "treatment")
    assert endpoint.calls == 0  # never connected


def test_a_refused_connection_says_why(guarded: RunningServer, endpoint: ModelServer) -> None:
    _, http = writer(guarded)
    model = f"m-{uuid.uuid4().hex[:8]}"
    by_name = endpoint.url.replace("127.0.0.1", "localhost")
    for version in ("1.0.0", "2.0.0"):
        body = {"model": model, "version": version, "endpoint": by_name}
        assert http.post("/v1/models", json=body).status_code == 201
    experiment = {
        "name": "trial",
        "model_id": model,
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
    }
    assert http.post("/v1/experiments", json=experiment).status_code == 201
    answer = http.post("/v1/predict/trial", json={"unit_id": "u", "features": [1]})
    assert answer.status_code == 503
    assert (
        "refused to call localhost: 127.0.0.1 is in a network this server may not call "
        "(ABLAB_OUTBOUND_DENY)" in answer.json()["error"]["message"]
    )
    assert endpoint.calls == 0


def llm_experiment(http: httpx.Client, webhook_url: str, tasks: int = 3) -> httpx.Response:
    for i in range(tasks):
        task = {
            "name": f"t{i}",
            "input": {"answer": str(i)},
            "expected_output": str(i),
            "evaluators": [{"kind": "exact_match"}],
        }
        assert http.post("/v1/llm/tasks", json=task).status_code == 201
    body = {
        "name": "answers",
        "steps": ["response_generator"],
        "tasks": [f"t{i}" for i in range(tasks)],
        "baseline": {"response_generator": {"temperature": 0.5}},
        "webhook_url": webhook_url,
        "webhook_secret": SECRET,
    }
    return http.post("/v1/llm/experiments", json=body)


@pytest.mark.parametrize("url", METADATA_URLS[:3])
def test_an_llm_webhook_at_a_metadata_address_is_refused_at_registration(
    closed: RunningServer, url: str
) -> None:
    _, http = writer(closed)
    answer = llm_experiment(http, url)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"]["field"] == "webhook_url"
    assert http.get("/v1/llm/experiments/answers").status_code == 404


def test_an_llm_webhook_is_checked_where_it_resolves(
    guarded: RunningServer, app: ExampleApp
) -> None:
    _, http = writer(guarded)
    created = llm_experiment(http, app.url.replace("127.0.0.1", "localhost"))
    assert created.status_code == 201, created.text
    assert http.post("/v1/llm/experiments/answers/run").status_code == 202
    deadline = time.monotonic() + 30
    while http.get("/v1/llm/experiments/answers").json()["status"].startswith("running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (baseline,) = http.get("/v1/llm/experiments/answers/results").json()["variants"]
    assert baseline["errors"] == 3
    assert app.state.received == []  # not one request reached the application
