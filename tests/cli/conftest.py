from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ablab.cli.main import exit_code


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture
def run(home: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``ablab ARGS...`` in-process on the test's embedded store."""

    def invoke(*args: str) -> Result:
        code = exit_code(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def registered(run: Run) -> Run:
    """The store has radiology-v1 1.0.0, 2.0.0 and 3.0.0."""
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        result = run(
            "model",
            "register",
            "radiology-v1",
            version,
            "--endpoint",
            f"http://127.0.0.1:9000/{version}",
        )
        assert result.code == 0, result.stderr
    return run
