"""Which artifacts may load, decided before anything is opened or imported."""

from __future__ import annotations

import sys
from pathlib import Path, PurePath

import joblib
import pytest

from ablab.domain.trust import ArtifactPolicy
from ablab.errors import ValidationError
from ablab.gateway.artifacts import load_artifact
from ablab.services.access.artifact_access import NO_FILES, NO_MLFLOW, NO_MODULES, check_artifact
from tests.security.conftest import Place, fitted_model

OPEN = ArtifactPolicy(anywhere=True)


def folders(place: Place) -> ArtifactPolicy:
    return ArtifactPolicy(folders=(PurePath(place.allowed.resolve()),))


def refusal(policy: ArtifactPolicy, artifact: str) -> str:
    with pytest.raises(ValidationError) as caught:
        check_artifact(policy, artifact)
    assert caught.value.details["field"] == "artifact"
    return caught.value.message


def test_a_file_in_an_allowed_folder_loads_and_is_stored_resolved(place: Place) -> None:
    joblib.dump(fitted_model(), place.allowed / "model.joblib")
    (place.allowed / "sub").mkdir()
    roundabout = str(place.allowed / "sub" / ".." / "model.joblib")
    location = check_artifact(folders(place), roundabout)
    assert location.uri == str((place.allowed / "model.joblib").resolve())
    assert load_artifact(roundabout, folders(place)).predict([[3.0]])[0] == 1


def test_outside_is_refused_in_the_same_words_whether_or_not_the_file_exists(
    place: Place,
) -> None:
    joblib.dump(fitted_model(), place.outside / "real.joblib")
    (place.allowed / "escape.joblib").symlink_to(place.outside / "real.joblib")
    (place.allowed / "linked").symlink_to(place.outside, target_is_directory=True)
    policy = folders(place)
    attempts = [
        str(place.outside / "real.joblib"),  # exists
        str(place.outside / "ghost.joblib"),  # does not
        "/etc/passwd.pkl",
        "/etc/hostname.pkl",
        str(place.allowed / ".." / "outside" / "real.joblib"),  # traversal to a real file
        str(place.allowed / ".." / "outside" / "ghost.joblib"),
        str(place.allowed / "escape.joblib"),  # a link out of the folder
        str(place.allowed / "linked" / "real.joblib"),  # a linked folder
        str(place.allowed / "linked" / "ghost.joblib"),
        "~/model.joblib",
        "relative/model.joblib",
        f"{place.allowed}/\x00.joblib",
    ]
    messages = {refusal(policy, a).replace(repr(a), "<artifact>") for a in attempts}
    assert messages == {
        "artifact <artifact> is not in a folder this server loads models from "
        "(ABLAB_ARTIFACT_FOLDERS)"
    }


def test_a_file_missing_inside_an_allowed_folder_is_named_missing(place: Place) -> None:
    message = refusal(folders(place), str(place.allowed / "ghost.joblib"))
    assert message.startswith("artifact file not found")


def test_with_no_folder_configured_every_file_gets_the_how_to(place: Place) -> None:
    joblib.dump(fitted_model(), place.outside / "real.joblib")
    for artifact in (str(place.outside / "real.joblib"), "/nowhere/ghost.pkl"):
        assert refusal(ArtifactPolicy(), artifact) == NO_FILES
    assert "ABLAB_ARTIFACT_FOLDERS" in NO_FILES


def test_modules_load_only_from_allowed_prefixes(place: Place) -> None:
    name = place.module(
        "import os\nfrom os import system as run_shell\n\n"
        "def predict(features):\n    return 'from-module'\n"
    )
    allowed = ArtifactPolicy(modules=(name,))
    assert refusal(ArtifactPolicy(), "subprocess:getoutput") == NO_MODULES
    assert "ABLAB_ARTIFACT_MODULES" in refusal(allowed, "subprocess:getoutput")
    assert "ABLAB_ARTIFACT_MODULES" in refusal(allowed, f"{name}x:predict")  # not a prefix
    assert "'_'" in refusal(allowed, f"{name}:__builtins__")
    assert load_artifact(f"{name}:predict", allowed)(None) == "from-module"
    # The module imported os: through it the allowed module would lead anywhere.
    with pytest.raises(ValidationError, match=r"leads to os, outside the modules"):
        load_artifact(f"{name}:os.system", allowed)
    with pytest.raises(ValidationError, match=r"leads to posix, outside the modules"):
        load_artifact(f"{name}:run_shell", allowed)


def test_a_refused_module_is_never_imported(place: Place) -> None:
    tripwire = place.tripwire_module()
    policy = ArtifactPolicy(modules=("acme",), folders=(PurePath(place.allowed),))
    with pytest.raises(ValidationError, match="ABLAB_ARTIFACT_MODULES"):
        load_artifact(f"{tripwire}:run", policy)
    assert tripwire not in sys.modules
    assert not place.marker.exists()
    # The tripwire works: the open policy of a person's own machine does import it.
    assert load_artifact(f"{tripwire}:run", OPEN)(None) == "ran"
    assert place.marker.exists()


def test_a_refused_file_is_never_unpickled(place: Place) -> None:
    path = place.tripwire_pickle(place.outside / "model.joblib")
    with pytest.raises(ValidationError, match="not in a folder"):
        load_artifact(str(path), folders(place))
    assert not place.marker.exists()
    opened = load_artifact(str(path), OPEN)  # the tripwire works: unpickling opens the marker
    opened.close()
    assert place.marker.exists()


def test_mlflow_needs_the_operator_to_name_its_store() -> None:
    assert refusal(ArtifactPolicy(), "models:/triage/1") == NO_MLFLOW
    assert "ABLAB_MLFLOW_TRACKING_URI" in NO_MLFLOW
    configured = ArtifactPolicy(mlflow_tracking_uri="sqlite:///x.db")
    for uri in ("models:/triage/1", "models:/triage@champion", "runs:/4f2a9c/model"):
        assert check_artifact(configured, uri).uri == uri
    for malformed in ("models:/", "models:/a/../b", "runs:/abc", "models:/a/1\n"):
        assert refusal(configured, malformed).startswith("invalid artifact")


def test_the_local_store_loads_from_anywhere(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    joblib.dump(fitted_model(), place.outside / "mine.joblib")
    monkeypatch.chdir(place.outside)
    location = check_artifact(OPEN, "mine.joblib")
    assert location.uri == str((place.outside / "mine.joblib").resolve())
    assert refusal(OPEN, "ghost.joblib") == "artifact file not found: ghost.joblib"
    assert load_artifact("mine.joblib", OPEN).predict([[0.0]])[0] == 0


def test_an_allowed_folder_named_through_a_link_is_where_it_leads(tmp_path: Path) -> None:
    real = tmp_path / "real-models"
    real.mkdir()
    joblib.dump(fitted_model(), real / "m.joblib")
    (tmp_path / "models").symlink_to(real, target_is_directory=True)
    policy = ArtifactPolicy(folders=(PurePath((tmp_path / "models").resolve()),))
    assert check_artifact(policy, str(tmp_path / "models" / "m.joblib")).uri == str(
        real / "m.joblib"
    )
