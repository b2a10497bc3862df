"""Places and models for the code-loading and outbound tests.

A :class:`Place` is a temporary tree: ``allowed/`` (the operator's artifact folder),
``outside/`` (anything else on the machine), ``modules/`` (on ``sys.path``) and a
``marker`` path that code which must never run would create.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

# MLflow reports usage to its servers when imported, unless told not to (test_mlflow.py
# imports it); no test may reach beyond this machine.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@dataclass
class Place:
    root: Path
    allowed: Path
    outside: Path
    modules: Path
    marker: Path

    def module(self, body: str, prefix: str = "ablab_sec") -> str:
        """A new module on ``sys.path`` with ``body``; its unique name."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        (self.modules / f"{name}.py").write_text(body)
        return name

    def tripwire_module(self) -> str:
        """A module whose import creates the marker file."""
        return self.module(
            f"from pathlib import Path\nPath({str(self.marker)!r}).touch()\n"
            "def run(features):\n    return 'ran'\n",
            prefix="ablab_tripwire",
        )

    def tripwire_pickle(self, path: Path) -> Path:
        """A joblib file whose loading creates the marker file."""
        joblib.dump(_Tripwire(self.marker), path)
        return path


class _Tripwire:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def make_place(root: Path) -> Place:
    place = Place(root, root / "allowed", root / "outside", root / "modules", root / "ran")
    for folder in (place.allowed, place.outside, place.modules):
        folder.mkdir(parents=True)
    return place


def on_sys_path(place: Place) -> Iterator[Place]:
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(place.modules))
        yield place


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Place]:
    yield from on_sys_path(make_place(tmp_path))


def fitted_model() -> LogisticRegression:
    """Predicts 1 for features above 1.5, 0 below."""
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    return LogisticRegression().fit(features, [0, 0, 1, 1])
