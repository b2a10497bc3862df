"""scikit-learn is the ``demo`` extra: without it ``ablab demo`` says how to get it in one line,
and the rest of ablab imports as before.

scikit-learn is installed here (the ``dev`` extra pulls in ``demo``), so each check runs in a
subprocess whose ``PYTHONPATH`` puts first a ``sklearn`` package that fails to import the way
a missing one does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ABLAB = Path(sys.executable).with_name("ablab")

# Every ablab module but the demo's own and Alembic's (whose env.py runs a migration when loaded).
IMPORT_ALL = """
import importlib, pkgutil, sys
import ablab

demo_only = ("ablab.cli.demo.models", "ablab.cli.demo.run")
for info in pkgutil.walk_packages(ablab.__path__, "ablab."):
    if not info.name.startswith((*demo_only, "ablab.store.migrations", "ablab.__main__")):
        importlib.import_module(info.name)
print(len([name for name in sys.modules if name.startswith("ablab.")]))
"""


@pytest.fixture
def without_scikit_learn(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import sklearn`` fails as it does when it is not installed."""
    shim = tmp_path / "shim" / "sklearn"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'sklearn'\", name='sklearn')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env.update(PYTHONPATH=str(shim.parent), COLUMNS="120")
    return env


def test_the_shim_makes_scikit_learn_unimportable(without_scikit_learn: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sklearn"],
        env=without_scikit_learn,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'sklearn'" in done.stderr


def test_demo_without_scikit_learn_names_the_extra_and_exits_2(
    without_scikit_learn: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [str(ABLAB), "demo", "--port", "0", "--demo-home", str(tmp_path / "demo")],
        env=without_scikit_learn,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        "error: ablab demo needs scikit-learn (No module named 'sklearn'): "
        "pip install 'ablab[demo]'\n"
    )
    assert done.stdout == ""
    assert not (tmp_path / "demo").exists()


def test_every_other_module_imports_without_scikit_learn(
    without_scikit_learn: dict[str, str],
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        env=without_scikit_learn,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 200  # the walk reached the whole package
