"""What a key can make a real server load: only what its operator allowed, never code.

Two servers: ``closed`` with nothing configured, ``operated`` with an artifact folder and
a module prefix. Models that should never load are tripwires: a module whose import, or a
pickle whose loading, creates a marker file.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import joblib
import pytest

from ablab.domain.ids import new_id
from ablab.domain.keys import Scope
from ablab.domain.models import BackendKind, Model, ModelVersion
from ablab.services.access.artifact_access import NO_FILES, NO_MLFLOW, NO_MODULES
from tests.gateway.model_server import ModelServer
from tests.security.conftest import Place, fitted_model, make_place, on_sys_path
from tests.server.conftest import Project, RunningServer, serving

MODULES = "ablab_sec_models"
ATTACK = {"model": "x", "version": "1.0.0", "artifact": "subprocess:getoutput"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    place = make_place(tmp_path_factory.mktemp("site"))
    package = place.modules / MODULES
    package.mkdir()
    (package / "__init__.py").write_text(
        "import os\n\ndef predict(features):\n    return 'from-module'\n"
    )
    joblib.dump(fitted_model(), place.allowed / "control.joblib")
    joblib.dump(fitted_model(), place.outside / "real.joblib")
    (place.allowed / "escape.joblib").symlink_to(place.outside / "real.joblib")
    yield from on_sys_path(place)


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("closed"))


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory, site: Place) -> Iterator[RunningServer]:
    yield from serving(
        tmp_path_factory.mktemp("operated"),
        artifact_folders=[site.allowed],
        artifact_modules=[MODULES],
        model_timeout=10.0,
    )


@pytest.fixture
def control() -> Iterator[ModelServer]:
    server = ModelServer("from-endpoint")
    yield server
    server.stop()


def writer(server: RunningServer) -> tuple[Project, httpx.Client]:
    project = server.project()
    return project, project.http(project.key(Scope.WRITE, Scope.SDK))


def unique_model() -> str:
    # The gateway's breakers are keyed by model@version across projects (see the report):
    # each test serves a model name of its own.
    return f"m-{uuid.uuid4().hex[:8]}"


def refused(http: httpx.Client, body: dict[str, Any]) -> str:
    answer = http.post("/v1/models", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == "artifact"
    assert http.get(f"/v1/models/{body['model']}").status_code == 404  # nothing written
    return str(error["message"])


def create_experiment(http: httpx.Client, model: str) -> None:
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


def predictions(http: httpx.Client, units: int = 40) -> list[dict[str, Any]]:
    answers = []
    for i in range(units):
        answer = http.post("/v1/predict/trial", json={"unit_id": f"u{i}", "features": [3.0]})
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    assert {a["variant"] for a in answers} == {"control", "treatment"}
    return answers


def plant(server: RunningServer, project: Project, model: str, version: str, uri: str) -> None:
    """A version written straight into the store, as an old record or the local CLI would."""
    with server.state.store.session() as session:
        found = session.get_model(project.id, model)
        if found is None:
            found = Model(new_id("mdl"), project.id, model, datetime.now(UTC))
            session.add_model(found)
        session.add_model_version(
            ModelVersion(
                new_id("mdv"), found.id, version, BackendKind.ARTIFACT, uri, datetime.now(UTC)
            )
        )


def test_the_shell_command_attack_is_refused_and_nothing_is_stored(
    closed: RunningServer, operated: RunningServer
) -> None:
    project, http = writer(closed)
    assert refused(http, ATTACK) == NO_MODULES
    assert http.get("/v1/models").json() == []
    audit = project.http().get("/v1/audit").json()
    assert not [e for e in audit if e["object_type"] == "model"]
    # A server that allows some modules still refuses every other one.
    _, http = writer(operated)
    assert "is not among the modules this server loads" in refused(http, ATTACK)
    assert "'_'" in refused(http, {**ATTACK, "artifact": f"{MODULES}:__builtins__"})


def test_with_nothing_configured_the_operator_is_told_how_to_allow(
    closed: RunningServer, site: Place
) -> None:
    _, http = writer(closed)
    for artifact in (str(site.outside / "real.joblib"), "/etc/passwd.pkl"):
        assert refused(http, {**ATTACK, "artifact": artifact}) == NO_FILES
    assert refused(http, {**ATTACK, "artifact": "models:/triage/1"}) == NO_MLFLOW


def test_files_outside_the_folders_are_refused_alike_whether_or_not_they_exist(
    operated: RunningServer, site: Place
) -> None:
    _, http = writer(operated)
    attempts = [
        "/etc/passwd.pkl",
        "/etc/no-such-file.pkl",
        str(site.outside / "real.joblib"),
        str(site.outside / "ghost.joblib"),
        f"{site.allowed}/../outside/real.joblib",
        f"{site.allowed}/../outside/ghost.joblib",
        str(site.allowed / "escape.joblib"),
    ]
    messages = {
        refused(http, {**ATTACK, "artifact": a}).replace(repr(a), "<artifact>") for a in attempts
    }
    assert messages == {
        "artifact <artifact> is not in a folder this server loads models from "
        "(ABLAB_ARTIFACT_FOLDERS)"
    }


def test_an_allowed_file_and_an_allowed_module_serve(operated: RunningServer, site: Place) -> None:
    _, http = writer(operated)
    model = unique_model()
    for version, artifact in (
        ("1.0.0", f"{site.allowed}/./control.joblib"),
        ("2.0.0", f"{MODULES}:predict"),
    ):
        body = {"model": model, "version": version, "artifact": artifact}
        assert http.post("/v1/models", json=body).status_code == 201
    control = http.get(f"/v1/models/{model}").json()["versions"][0]
    assert control["backend_uri"] == str((site.allowed / "control.joblib").resolve())
    create_experiment(http, model)
    for answer in predictions(http):
        assert answer["fallback"] is False
        assert answer["prediction"] == (1 if answer["variant"] == "control" else "from-module")


def test_a_planted_record_is_refused_at_load_and_never_imported(
    operated: RunningServer, place: Place, control: ModelServer
) -> None:
    project, http = writer(operated)
    tripwire, model = place.tripwire_module(), unique_model()
    body = {"model": model, "version": "1.0.0", "endpoint": control.url}
    assert http.post("/v1/models", json=body).status_code == 201
    plant(operated, project, model, "2.0.0", f"{tripwire}:run")
    create_experiment(http, model)
    answers = predictions(http)
    assert all(a["prediction"] == "from-endpoint" for a in answers)
    assert all(a["fallback"] for a in answers if a["variant"] == "treatment")
    assert tripwire not in sys.modules
    assert not place.marker.exists()


def test_when_no_version_can_load_the_answer_is_a_503_that_says_why(
    operated: RunningServer, place: Place
) -> None:
    project, http = writer(operated)
    tripwire, model = place.tripwire_module(), unique_model()
    pickle = place.tripwire_pickle(place.outside / "planted.joblib")
    plant(operated, project, model, "1.0.0", str(pickle))
    plant(operated, project, model, "2.0.0", f"{tripwire}:run")
    create_experiment(http, model)
    answers = [
        http.post("/v1/predict/trial", json={"unit_id": f"u{i}", "features": [1.0]})
        for i in range(8)
    ]
    assert {a.status_code for a in answers} == {503}
    # The first failures say why (later ones find the breakers open).
    first = answers[0].json()["error"]["message"]
    assert "cannot be loaded" in first
    assert "ABLAB_ARTIFACT_" in first
    assert tripwire not in sys.modules
    assert not place.marker.exists()


def test_an_allowed_module_does_not_lead_elsewhere(
    operated: RunningServer, control: ModelServer
) -> None:
    _, http = writer(operated)
    model = unique_model()
    body = {"model": model, "version": "1.0.0", "endpoint": control.url}
    assert http.post("/v1/models", json=body).status_code == 201
    # The form is allowed (nothing is imported to register it); the load stops at os.
    body = {"model": model, "version": "2.0.0", "artifact": f"{MODULES}:os.system"}
    assert http.post("/v1/models", json=body).status_code == 201
    create_experiment(http, model)
    answers = predictions(http)
    assert all(a["prediction"] == "from-endpoint" for a in answers)
    assert all(a["fallback"] for a in answers if a["variant"] == "treatment")
