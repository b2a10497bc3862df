"""MLflow's model registry as an artifact source, on a real local registry (SQLite).

Two versions of a real scikit-learn model are logged and registered (version 2 also as
``@champion``); the server loads them by name only, from the registry its operator named.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from ablab import Client
from ablab.domain.keys import Scope
from tests.server.conftest import RunningServer, serving

pytestmark = [
    pytest.mark.slow,
    # MLflow's own code warns: its SQL store uses a loader option SQLAlchemy 2.1 deprecates,
    # and importing mlflow.pyfunc infers types of its own chat schemas.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

FEATURES = np.array([[0.0], [1.0], [2.0], [3.0]])


@dataclass
class Registry:
    uri: str
    run_ids: dict[int, str]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment("triage", artifact_location=(root / "runs").as_uri())
    run_ids = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        # Version 1 answers 1 above 1.5; version 2 the opposite.
        for version, labels in ((1, [0, 0, 1, 1]), (2, [1, 1, 0, 0])):
            with mlflow.start_run(experiment_id=experiment_id) as run:
                mlflow.sklearn.log_model(
                    LogisticRegression().fit(FEATURES, labels),
                    name="model",
                    registered_model_name="triage",
                    pip_requirements=["scikit-learn"],
                )
            run_ids[version] = run.info.run_id
    client.set_registered_model_alias("triage", "champion", "2")
    return Registry(uri, run_ids)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[RunningServer]:
    yield from serving(
        tmp_path_factory.mktemp("server"), mlflow_tracking_uri=registry.uri, model_timeout=10.0
    )


def test_registered_versions_serve_through_the_gateway(server: RunningServer) -> None:
    project = server.project()
    http = project.http(project.key(Scope.WRITE, Scope.SDK))
    for version, artifact in (("1.0.0", "models:/triage/1"), ("2.0.0", "models:/triage@champion")):
        body = {"model": "triage", "version": version, "artifact": artifact}
        created = http.post("/v1/models", json=body)
        assert created.status_code == 201, created.text
    experiment = {
        "name": "trial",
        "model_id": "triage",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
    }
    assert http.post("/v1/experiments", json=experiment).status_code == 201
    answers = [
        http.post("/v1/predict/trial", json={"unit_id": f"u{i}", "features": [3.0]}).json()
        for i in range(30)
    ]
    assert {a["variant"] for a in answers} == {"control", "treatment"}
    for answer in answers:
        assert answer["fallback"] is False
        assert answer["prediction"] == (1 if answer["variant"] == "control" else 0)


def test_a_version_the_registry_does_not_have_fails_without_showing_the_store(
    server: RunningServer, registry: Registry
) -> None:
    project = server.project()
    http = project.http(project.key(Scope.WRITE, Scope.SDK))
    body = {"model": "ghost", "version": "1.0.0", "artifact": "models:/ghost/1"}
    assert http.post("/v1/models", json=body).status_code == 201
    experiment = {"name": "trial", "model_id": "ghost", "control_version": "1.0.0"}
    experiment["treatment_version"] = "1.0.0"
    assert http.post("/v1/experiments", json=experiment).status_code == 201
    answer = http.post("/v1/predict/trial", json={"unit_id": "u", "features": [3.0]})
    assert answer.status_code == 503
    message = answer.json()["error"]["message"]
    assert "cannot load 'models:/ghost/1'" in message
    assert registry.uri not in message


def test_the_local_router_loads_registry_and_run_models(
    home: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)  # the person's own MLflow
    with Client() as client:
        for version in ("1.0.0", "2.0.0"):
            client.models.register("triage", version, endpoint=f"http://m/{version}")
        client.experiments.create(
            "trial", model_id="triage", control_version="1.0.0", treatment_version="2.0.0"
        )
        router = client.router(
            "trial",
            {"1.0.0": "models:/triage/1", "2.0.0": f"runs:/{registry.run_ids[2]}/model"},
            timeout=10.0,
        )
        answers = [router.predict(f"u{i}", [3.0]) for i in range(20)]
        router.close()
    assert {a.variant for a in answers} == {"control", "treatment"}
    for answer in answers:
        assert answer.prediction == (1 if answer.variant == "control" else 0)
