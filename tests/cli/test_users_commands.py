"""``ablab users create|list|disable`` on the embedded store."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ablab.cli.main import app, exit_code


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def test_create_list_and_disable(home: Path) -> None:
    code, out = run(
        "users", "create", "alice", "--role", "write", "--password-stdin", stdin="correct horse\n"
    )
    assert code == 0, out
    assert "Created user alice (write)" in out
    code, out = run("users", "list", "--output", "json")
    (listed,) = json.loads(out)
    assert (listed["name"], listed["role"], listed["disabled_at"]) == ("alice", "write", None)
    assert "hash" not in out
    code, out = run("users", "disable", "alice")
    assert code == 0
    assert json.loads(run("users", "list", "--output", "json")[1])[0]["disabled_at"] is not None


def test_the_password_is_asked_twice_without_stdin(home: Path) -> None:
    code, out = run("users", "create", "bob", stdin="correct horse\ncorrect horse\n")
    assert code == 0, out
    assert "Created user bob (read)" in out


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "create", "carol", "--password-stdin"], "short\n", "at least 8 characters"),
        (
            ["users", "create", "carol", "--role", "boss", "--password-stdin"],
            "long enough\n",
            "unknown role",
        ),
        (["users", "disable", "nobody"], None, "unknown user"),
        (["--url", "http://127.0.0.1:9", "users", "list"], None, "without --url"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    args: list[str],
    stdin: str | None,
    message: str,
) -> None:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert exit_code(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
