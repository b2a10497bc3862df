"""Optional extras: a missing package is named with the extra that installs it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ablab.errors import ValidationError
from ablab.extras import MissingExtra, needs_extra


def test_a_missing_module_names_the_extra_to_install() -> None:
    with (
        pytest.raises(MissingExtra) as raised,
        needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"),
    ):
        importlib.import_module("ablab_no_such_module")
    error = raised.value
    assert error.message == (
        "a PostgreSQL event store needs psycopg (No module named 'ablab_no_such_module'): "
        "pip install 'ablab[postgres]'"
    )
    assert (error.extra, error.package) == ("postgres", "psycopg")
    assert error.details == {
        "extra": "postgres",
        "package": "psycopg",
        "install": "pip install 'ablab[postgres]'",
    }
    # Each edge maps it as a validation error: the CLI's one line and exit 2, the server's 422.
    assert isinstance(error, ValidationError)
    assert error.to_dict()["code"] == "validation_error"
    assert isinstance(error.__cause__, ModuleNotFoundError)


def test_the_callers_details_are_kept_and_a_broken_package_gives_its_first_line() -> None:
    with (
        pytest.raises(MissingExtra) as raised,
        needs_extra("skops", feature="a .skops artifact", package="skops", details={"field": "a"}),
    ):
        raise ImportError("libfoo.so: cannot open shared object file\nmore lines of detail")
    assert raised.value.message == (
        "a .skops artifact needs skops (libfoo.so: cannot open shared object file): "
        "pip install 'ablab[skops]'"
    )
    assert raised.value.details["field"] == "a"


def test_a_block_that_imports_or_raises_otherwise_is_left_alone() -> None:
    with needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"):
        json = importlib.import_module("json")
    assert json.loads("1") == 1
    with (
        pytest.raises(KeyError),
        needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"),
    ):
        raise KeyError("not an import")


# Without any extra: each optional package fails to import the way a missing one does (a
# package first on PYTHONPATH that raises), since the suite's environment has them all.
OPTIONAL_PACKAGES = ("joblib", "jsonschema", "mlflow", "psycopg", "sklearn", "skops")

WITHOUT_EXTRAS = """
import importlib, json, pkgutil, sys, tempfile
from pathlib import Path
import ablab

demo_only = ("ablab.cli.demo.models", "ablab.cli.demo.run")
for info in pkgutil.walk_packages(ablab.__path__, "ablab."):
    if not info.name.startswith((*demo_only, "ablab.store.migrations", "ablab.__main__")):
        importlib.import_module(info.name)

from ablab.domain.trust import ArtifactPolicy
from ablab.extras import MissingExtra
from ablab.gateway.artifacts import load_artifact
from ablab.llm.evaluators import parse_evaluator
from ablab.store.events import open_event_store
from ablab.store.metadata.store import open_metadata_store

folder = Path(tempfile.mkdtemp())
for name in ("model.joblib", "model.skops"):
    (folder / name).write_bytes(b"")
anywhere = ArtifactPolicy(anywhere=True)
# No server answers at this address: each feature must stop before it connects.
postgres = "postgresql://ablab@127.0.0.1:9/ablab"
features = {
    "events": lambda: open_event_store(folder, postgres),
    "metadata": lambda: open_metadata_store(postgres, migrate=False),
    "evaluator": lambda: parse_evaluator({"kind": "json_schema", "params": {"schema": {}}}),
    "joblib": lambda: load_artifact(str(folder / "model.joblib"), anywhere),
    "skops": lambda: load_artifact(str(folder / "model.skops"), anywhere),
    "mlflow": lambda: load_artifact("models:/churn/1", anywhere),
}
messages = {}
for feature, use in features.items():
    try:
        use()
    except MissingExtra as error:
        messages[feature] = error.message
print(json.dumps({"modules": len([m for m in sys.modules if m.startswith("ablab.")]),
                  "messages": messages}))
"""


@pytest.fixture
def without_extras(tmp_path: Path) -> dict[str, str]:
    shims = tmp_path / "shims"
    for package in OPTIONAL_PACKAGES:
        (shims / package).mkdir(parents=True)
        (shims / package / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{package}'\", name='{package}')\n"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env["PYTHONPATH"] = str(shims)
    return env


def test_ablab_imports_without_extras_and_each_feature_names_its_extra(
    without_extras: dict[str, str],
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS],
        env=without_extras,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["modules"] > 200  # the walk reached the whole package
    assert found["messages"] == {
        "events": "a PostgreSQL event store needs psycopg (No module named 'psycopg'): "
        "pip install 'ablab[postgres]'",
        "metadata": "a PostgreSQL metadata store needs psycopg (No module named 'psycopg'): "
        "pip install 'ablab[postgres]'",
        "evaluator": "the json_schema evaluator needs jsonschema "
        "(No module named 'jsonschema'): pip install 'ablab[jsonschema]'",
        "joblib": "a joblib or pickle model file needs joblib (No module named 'joblib'): "
        "pip install 'ablab[joblib]'",
        "skops": "a .skops model file needs skops (No module named 'skops'): "
        "pip install 'ablab[skops]'",
        "mlflow": "an MLflow model needs MLflow (No module named 'mlflow'): "
        "pip install 'ablab[mlflow]'",
    }
