"""On a person's own machine the embedded store keeps its convenience: any file, any
module, any destination (they can run any code there already)."""

from __future__ import annotations

from pathlib import Path

import joblib

from ablab import Client
from ablab.cli.main import exit_code
from tests.security.conftest import Place, fitted_model


def test_the_local_client_registers_and_routes_a_joblib_model_from_anywhere(
    home: Path, place: Place
) -> None:
    path = place.outside / "anywhere" / "model.joblib"
    path.parent.mkdir()
    joblib.dump(fitted_model(), path)
    module = place.module("def predict(features):\n    return 'from-module'\n")
    with Client() as client:
        client.models.register("triage", "1.0.0", artifact=str(path))
        client.models.register("triage", "2.0.0", artifact=f"{module}:predict")
        # Loopback, link-local: the local store names what it likes.
        client.models.register("triage", "3.0.0", endpoint="http://169.254.169.254/")
        versions = {v.version: v.backend_uri for v in client.models.get("triage").versions}
        assert versions["1.0.0"] == str(path.resolve())
        client.experiments.create(
            "trial", model_id="triage", control_version="1.0.0", treatment_version="2.0.0"
        )
        router = client.router("trial", {"1.0.0": str(path), "2.0.0": f"{module}:predict"})
        answers = [router.predict(f"u{i}", [3.0]) for i in range(20)]
        router.close()
    assert {a.variant for a in answers} == {"control", "treatment"}
    for answer in answers:
        assert answer.prediction == (1 if answer.variant == "control" else "from-module")


def test_the_cli_registers_a_file_from_anywhere(home: Path, place: Place) -> None:
    path = place.outside / "model.joblib"
    joblib.dump(fitted_model(), path)
    assert exit_code(["model", "register", "triage", "1.0.0", "--artifact", str(path)]) == 0
