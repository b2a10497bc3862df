"""skops files: real scikit-learn models load; a file holding an untrusted type is refused,
the type named, before any of it is built."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import PurePath

import numpy as np
import pytest
import skops.io
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ablab.domain.keys import Scope
from ablab.domain.trust import ArtifactPolicy
from ablab.errors import ValidationError
from ablab.gateway.artifacts import load_artifact
from tests.security.conftest import Place, fitted_model, make_place
from tests.server.conftest import RunningServer, serving

FEATURES = np.array([[0.0], [1.0], [2.0], [3.0]])


def policy(place: Place, *trusted: str) -> ArtifactPolicy:
    return ArtifactPolicy(folders=(PurePath(place.allowed.resolve()),), skops_trusted_types=trusted)


def test_a_scikit_learn_model_saved_with_skops_loads(place: Place) -> None:
    path = place.allowed / "pipeline.skops"
    model = make_pipeline(StandardScaler(), fitted_model())
    model.fit(FEATURES, [0, 0, 1, 1])
    skops.io.dump(model, path)
    loaded = load_artifact(str(path), policy(place))
    assert list(loaded.predict(FEATURES)) == [0, 0, 1, 1]


def test_a_type_beyond_the_estimators_is_refused_by_name_until_the_operator_trusts_it(
    place: Place,
) -> None:
    path = place.allowed / "forest.skops"
    skops.io.dump(
        RandomForestClassifier(n_estimators=3, random_state=0).fit(FEATURES, [0, 0, 1, 1]), path
    )
    with pytest.raises(ValidationError) as caught:
        load_artifact(str(path), policy(place))
    assert "sklearn.tree._tree.Tree" in caught.value.message
    assert "ABLAB_SKOPS_TRUSTED_TYPES" in caught.value.message
    assert caught.value.details["untrusted_types"] == ["sklearn.tree._tree.Tree"]
    trusted = load_artifact(str(path), policy(place, "sklearn.tree._tree.Tree"))
    assert list(trusted.predict(FEATURES)) == [0, 0, 1, 1]


def crafted(place: Place) -> str:
    """A pipeline whose transformer would hand the features to a shell."""
    path = place.allowed / "crafted.skops"
    skops.io.dump(make_pipeline(FunctionTransformer(os.system), fitted_model()), path)
    return str(path)


def test_a_crafted_file_is_refused_naming_the_untrusted_type(place: Place) -> None:
    with pytest.raises(ValidationError, match=r"does not trust: posix\.system"):
        load_artifact(crafted(place), policy(place))
    # The local store is as strict about a skops file's content as a server.
    with pytest.raises(ValidationError, match=r"does not trust: posix\.system"):
        load_artifact(crafted(place), ArtifactPolicy(anywhere=True))


def test_without_skops_installed_the_error_says_how_to_get_it(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = place.allowed / "model.skops"
    skops.io.dump(fitted_model(), path)
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ValidationError, match=r"pip install 'ablab\[skops\]'"):
        load_artifact(str(path), policy(place))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Place:
    return make_place(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, site: Place) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("skops"), artifact_folders=[site.allowed])


def test_through_the_gateway_a_crafted_file_falls_back_to_the_control(
    server: RunningServer, site: Place
) -> None:
    project = server.project()
    http = project.http(project.key(Scope.WRITE, Scope.SDK))
    control = site.allowed / "control.skops"
    skops.io.dump(fitted_model(), control)
    for version, path in (("1.0.0", str(control)), ("2.0.0", crafted(site))):
        body = {"model": "skops-model", "version": version, "artifact": path}
        assert http.post("/v1/models", json=body).status_code == 201
    experiment = {
        "name": "trial",
        "model_id": "skops-model",
        "control_version": "1.0.0",
        "treatment_version": "2.0.0",
    }
    assert http.post("/v1/experiments", json=experiment).status_code == 201
    answers = [
        http.post("/v1/predict/trial", json={"unit_id": f"u{i}", "features": [3.0]}).json()
        for i in range(30)
    ]
    assert {a["variant"] for a in answers} == {"control", "treatment"}
    assert all(a["prediction"] == 1 for a in answers)  # the control's model answered
    assert all(a["fallback"] for a in answers if a["variant"] == "treatment")
