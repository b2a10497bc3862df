"""The README's Python examples run as written (in a temporary folder)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ablab.cli.main import exit_code
from ablab.server.embedded import free_port

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


def test_the_llm_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """The README's shell walkthrough, with the application it writes itself, away from the
    repository (nothing of the tests is on its path) and on a port nobody else holds."""
    assert WALKTHROUGH is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABLAB_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", WALKTHROUGH.group(1)],
        cwd=tmp_path,
        env=env | {"COLUMNS": "160", "APP_PORT": str(free_port()), "TMPDIR": str(tmp_path)},
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


EVENTS = re.search(
    r"<!-- events-example -->\n```jsonl\n(.*?)```", README.read_text(encoding="utf-8"), re.S
)


def test_the_example_events_are_all_accepted(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One event of each type as the README shows them, imported into the quick start's
    experiment: none is rejected (a prediction without its variant was)."""
    assert EVENTS is not None
    lines = EVENTS.group(1).splitlines()
    assert [json.loads(line)["type"] for line in lines] == [
        "exposure",
        "prediction",
        "label",
        "metric",
    ]
    for version in ("1.0.0", "2.0.0"):
        assert (
            exit_code(["model", "register", "radiology-v1", version, "--endpoint", "http://m/"])
            == 0
        )
    quick_start = ["--model", "radiology-v1", "--control", "1.0.0", "--treatment", "2.0.0"]
    assert exit_code(["experiment", "create", "my-experiment", *quick_start]) == 0
    events = tmp_path / "events.jsonl"
    events.write_text(EVENTS.group(1), encoding="utf-8")
    capsys.readouterr()
    code = exit_code(["events", "import", str(events), "--experiment", "my-experiment"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 events, 4 stored, 0 already there, 0 rejected" in out
