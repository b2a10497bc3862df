"""Wire schemas are used only at the doors (DESIGN.md, "Layers"; issue 15).

The services take and return domain values; ``ablab.contract`` is for the server, the SDK,
the CLI and the gateway's in-process router, which turn requests into specs and values into
wire schemas. The store and the gateway's other modules never need the wire either. Every
import statement is read (lazy ones inside functions too), not only the module's top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "ablab"
INSIDE = ("services", "store", "gateway")
DOORS = {SOURCE / "gateway" / "local_router.py"}


def _wire_imports(path: Path, root: Path = SOURCE) -> list[str]:
    """``module:line`` (relative to ``root``) of each import of ablab.contract in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        if any(n == "ablab.contract" or n.startswith("ablab.contract.") for n in names):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


@pytest.mark.parametrize("room", INSIDE)
def test_no_wire_schema_inside(room: str) -> None:
    modules = sorted(p for p in (SOURCE / room).rglob("*.py") if p not in DOORS)
    assert modules, f"nothing found under {room}"
    offenders = [hit for path in modules for hit in _wire_imports(path)]
    assert offenders == []


def test_the_check_sees_an_import_of_the_wire(tmp_path: Path) -> None:
    """The walk finds both spellings, at the top and inside a function."""
    module = SOURCE / "services" / "__init__.py"
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import ablab.contract.results\ndef f():\n    from ablab.contract import analysis\n",
        encoding="utf-8",
    )
    assert _wire_imports(probe, root=tmp_path) == ["probe.py:1", "probe.py:3"]
    assert _wire_imports(module) == []
