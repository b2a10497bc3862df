"""The README's Python examples run as written (in a temporary folder)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, home: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


WALKTHROUGH = re.search(
    r"<!-- llm-walkthrough -->\n```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S
)


def test_the_llm_walkthrough_runs_as_written() -> None:
    """The README's shell walkthrough, against the example application, from the root."""
    assert WALKTHROUGH is not None
    root = README.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", WALKTHROUGH.group(1)],
        cwd=root,
        env=env | {"COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "hot-big: response_generator.model" in out
    assert "baseline_complete" in out
    assert "completed" in out
    table = next(line for line in out.splitlines() if line.strip().startswith("hot-big"))
    assert "50.0%" in table
    assert "-50.0%" in table
