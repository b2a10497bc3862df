"""The public surface of ``ablab``: curated, sorted, and free to import."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import ablab
import ablab.errors


def test_all_is_sorted_and_every_name_exists() -> None:
    assert ablab.__all__ == sorted(ablab.__all__)
    for name in ablab.__all__:
        assert getattr(ablab, name) is not None


def test_the_installed_version_is_the_one_in_ablab() -> None:
    # pyproject.toml reads it from ablab.__version__, the one place it is written.
    assert importlib.metadata.version("ablab") == ablab.__version__


def test_importing_ablab_loads_no_store_server_or_numerics() -> None:
    code = (
        "import sys, ablab; heavy = [m for m in ('sqlalchemy', 'duckdb', 'numpy', 'scipy', "
        "'httpx', 'typer', 'pydantic') if m in sys.modules]; print(','.join(heavy))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_error_codes_map_back_to_their_classes() -> None:
    for name in ablab.errors.__all__:
        cls = getattr(ablab.errors, name)
        assert ablab.errors.error_class_for(cls.code) is cls
        error = cls("message", details={"field": "x"})
        assert error.to_dict() == {
            "code": cls.code,
            "message": "message",
            "details": {"field": "x"},
        }
    assert ablab.errors.error_class_for("no_such_code") is ablab.errors.AblabError
