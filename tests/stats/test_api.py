"""The public surface of ablab.stats and of the ablab package root, and the stats layer rule."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import ablab
import ablab.errors
import ablab.stats

PACKAGE = Path(ablab.stats.__file__).parent
REPOSITORY = Path(__file__).resolve().parents[2]


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


# Public-named helpers that stats modules share with each other. They are not the public
# surface: nothing outside ablab.stats imports them (checked below), so they may change freely.
SHARED_WITHIN_STATS = {
    "cuped.py": {"pooled_theta"},
    "lift.py": {"fieller_interval", "relative_lift_parts"},
    "moments.py": {"as_vector", "centered_sum_of_squares"},
    "proportions.py": {"check_binary"},
    "quantiles.py": {"order_statistic_ranks", "quantile_standard_error"},
    "ratio.py": {
        "ratio_data_status",
        "ratio_estimate",
        "ratio_residuals",
        "unavailable_ratio_result",
    },
    "sequential_design.py": {"msprt_power_at"},
}


def _public_definitions(path: Path) -> set[str]:
    """Functions, classes and ``Literal`` type aliases a module defines under a public name."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            value = node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Subscript)
                and getattr(value.value, "id", None) == "Literal"
            ):
                names.add(target.id)
    return {name for name in names if not name.startswith("_")}


def _public_modules() -> list[Path]:
    return sorted(path for path in PACKAGE.glob("*.py") if not path.name.startswith("_"))


def test_every_public_definition_is_exported_or_named_as_shared_within_stats() -> None:
    exported = set(ablab.stats.__all__)
    unexported: dict[str, list[str]] = {}
    for path in _public_modules():
        shared = SHARED_WITHIN_STATS.get(path.name, set())
        definitions = _public_definitions(path)
        assert shared <= definitions, f"{path.name}: stale entries {shared - definitions}"
        missing = definitions - exported - shared
        if missing:
            unexported[path.name] = sorted(missing)
    assert unexported == {}


def test_every_export_resolves_to_the_object_its_module_defines() -> None:
    for path in _public_modules():
        module = importlib.import_module(f"ablab.stats.{path.stem}")
        for name in module.__all__:
            assert getattr(ablab.stats, name) is getattr(module, name), (path.name, name)


def test_helpers_shared_within_stats_are_not_imported_from_outside() -> None:
    shared = {
        (f"ablab.stats.{file.removesuffix('.py')}", name)
        for file, names in SHARED_WITHIN_STATS.items()
        for name in names
    }
    leaks: list[tuple[str, str]] = []
    for root in (REPOSITORY / "src", REPOSITORY / "tests"):
        for path in root.rglob("*.py"):
            if path.resolve().is_relative_to(PACKAGE.resolve()):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    leaks.extend(
                        (str(path), alias.name)
                        for alias in node.names
                        if (node.module, alias.name) in shared
                    )
    assert leaks == []


def test_root_all_is_sorted_and_every_name_resolves() -> None:
    names = ablab.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    missing = [name for name in names if getattr(ablab, name, None) is None]
    assert missing == []


def test_root_exports_the_whole_error_tree() -> None:
    errors = {
        name
        for name, value in vars(ablab.errors).items()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == "ablab.errors"
    }
    assert errors == set(ablab.errors.__all__)
    assert errors <= set(ablab.__all__)
    for name in errors:
        assert getattr(ablab, name) is getattr(ablab.errors, name)


def _imported_modules(path: Path) -> list[str]:
    modules: list[str] = []
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
