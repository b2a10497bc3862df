"""The public surface of ablab.stats and its layer rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ablab.stats

PACKAGE = Path(ablab.stats.__file__).parent


def test_all_is_sorted_unique_and_every_name_exists() -> None:
    names = ablab.stats.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    missing = [name for name in names if not hasattr(ablab.stats, name)]
    assert missing == []


def test_every_public_module_declares_its_exports_in_the_package() -> None:
    exported = set(ablab.stats.__all__)
    for path in PACKAGE.glob("*.py"):
        if path.name.startswith("_"):
            continue
        module_all = ast.literal_eval(
            next(
                node.value
                for node in ast.parse(path.read_text()).body
                if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", None) == "__all__"
            )
        )
        assert set(module_all) <= exported, path.name


def _imported_modules(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name} uses a relative import"
            modules.append(node.module or "")
    return modules


def test_imports_only_numpy_scipy_the_standard_library_and_errors() -> None:
    allowed = set(sys.stdlib_module_names) | {"numpy", "scipy"}
    for path in PACKAGE.glob("*.py"):
        for module in _imported_modules(path):
            root = module.split(".")[0]
            if root == "ablab":
                assert module == "ablab.errors" or module.startswith("ablab.stats"), (
                    path.name,
                    module,
                )
            else:
                assert root in allowed, (path.name, module)


def test_importing_does_no_work() -> None:
    script = (
        "import sys, ablab.stats\n"
        "from ablab.stats._quadrature import legendre_rule, normal_rule\n"
        "print(normal_rule.cache_info().currsize + legendre_rule.cache_info().currsize,"
        " 'statsmodels' in sys.modules, 'pandas' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["0", "False", "False"]
