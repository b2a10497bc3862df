"""The package surface: a curated, sorted ``__all__``, the layer rule, runnable examples."""

from __future__ import annotations

import json
import subprocess
import sys
from types import ModuleType

import ablab.assignment


def _ruff_order(name: str) -> tuple[int, str]:
    # RUF022's isort-style order: CONSTANTS, then Classes, then functions.
    if name.isupper():
        return 0, name
    if name[0].isupper():
        return 1, name
    return 2, name


def test_all_is_sorted_and_complete() -> None:
    exported = ablab.assignment.__all__
    assert exported == sorted(exported, key=_ruff_order)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(ablab.assignment, name), name
    public = {
        name
        for name, value in vars(ablab.assignment).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public - {"annotations"} == set(exported)


def test_package_imports_only_the_standard_library_numpy_xxhash_and_errors() -> None:
    code = (
        "import json, sys; before = set(sys.modules); import ablab.assignment; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    roots = {name.split(".")[0] for name in loaded}
    third_party = roots - set(sys.stdlib_module_names) - {"ablab", "numpy", "xxhash"}
    assert not {root for root in third_party if not root.startswith("_")}
    ablab_modules = {name for name in loaded if name.startswith("ablab")}
    allowed = {"ablab", "ablab.errors", "ablab.assignment"}
    assert {
        name
        for name in ablab_modules
        if name not in allowed and not name.startswith("ablab.assignment.")
    } == set()
