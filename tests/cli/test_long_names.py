"""Long names come out whole from real commands, at 40 and 80 columns, in a wide terminal
and through a pipe: never cut with an ellipsis ("my-experi…"), never folded over two lines.

A name is asserted as one substring of one line, which fails if any character is lost,
replaced or moved to another line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.cells import cell_len

from ablab import Client
from ablab.cli.output import console
from tests.cli.conftest import Run


def _name(stem: str, length: int) -> str:
    """``stem`` then numbered parts, ``length`` characters long: a cut anywhere shows."""
    parts = [stem]
    while len("-".join(parts)) < length:
        parts.append(f"{len(parts):02d}")
    return "-".join(parts)[:length]


EXPERIMENT = _name("checkout-ranking-experiment", 128)  # the longest name allowed
MODEL = _name("checkout-ranking-model", 60)
VERSIONS = [_name(f"version-{i}", 60) for i in range(3)]
CONTROL, *TREATMENTS = [_name(f"variant-{i}", 60) for i in range(3)]


@dataclass
class Store:
    run: Run
    rollout_id: str


@pytest.fixture
def store(run: Run, home: Path) -> Store:
    """A model with three versions; an A/B/n experiment on them, promoted (so a rollout runs)."""
    for version in VERSIONS:
        registered = run("model", "register", MODEL, version, "--endpoint",
                         f"http://127.0.0.1:9000/{version}")  # fmt: skip
        assert registered.code == 0, registered.stderr
    with Client() as client:
        client.experiments.create(
            EXPERIMENT,
            model_id=MODEL,
            variants=[
                {"name": name, "model_version": version, "weight": weight, "is_control": i == 0}
                for i, (name, version, weight) in enumerate(
                    zip([CONTROL, *TREATMENTS], VERSIONS, (34, 33, 33), strict=True)
                )
            ],
        )
    promoted = run("experiment", "promote", EXPERIMENT, "--variant", TREATMENTS[0], "--force")
    assert promoted.code == 0, promoted.stderr
    rollouts = json.loads(run("rollout", "list", "-o", "json").stdout)
    return Store(run, rollouts[0]["id"])


def _commands(store: Store) -> dict[tuple[str, ...], list[str]]:
    """Each command and the names it must print."""
    return {
        ("experiment", "list"): [EXPERIMENT, MODEL],
        ("experiment", "show", EXPERIMENT): [EXPERIMENT, MODEL, CONTROL, *TREATMENTS, *VERSIONS],
        # With two treatments the results label each by its name, and every arm by its version.
        ("experiment", "results", EXPERIMENT): [EXPERIMENT, MODEL, *TREATMENTS, *VERSIONS],
        ("model", "list"): [MODEL, *VERSIONS],
        ("rollout", "list"): [MODEL, VERSIONS[0], VERSIONS[1]],
        ("rollout", "show", store.rollout_id): [MODEL, VERSIONS[0], VERSIONS[1], EXPERIMENT],
    }


def test_the_names_are_as_long_as_meant() -> None:
    assert len(EXPERIMENT) == 128
    assert {len(n) for n in (MODEL, *VERSIONS, CONTROL, *TREATMENTS)} == {60}


@pytest.mark.parametrize("columns", [40, 80, 400])
def test_every_name_is_printed_whole_at_any_width(
    store: Store, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    # The console read COLUMNS when it was made, at import; pytest-xdist starts its workers
    # with COLUMNS=80. Forget it, so that the console reads COLUMNS as a new process does.
    monkeypatch.setattr(console, "_width", None)
    assert console.width == columns
    for command, names in _commands(store).items():
        result = store.run(*command)
        assert result.code == 0, (command, result.stderr)
        lines = result.stdout.splitlines()
        for name in names:
            assert any(name in line for line in lines), (command, columns, name, result.stdout)
        assert "…" not in result.stdout, command
        # A drawn table fits the width: only the text lines (a terminal wraps them) are longer.
        table_lines = [line for line in lines if "│" in line or "┃" in line]
        assert all(cell_len(line.rstrip()) <= columns for line in table_lines), command
        if command[1] == "list":
            # Wide enough, the names are in a table's rows; narrower, each row is a record:
            # its first cell, then "Header: value" lines.
            rows = [line for line in lines if names[0] in line]
            assert rows
            assert all(("│" in row) == (columns == 400) for row in rows), result.stdout


@pytest.mark.parametrize("columns", [None, "40"])
def test_names_are_whole_through_a_pipe(store: Store, columns: str | None) -> None:
    """The command in a process of its own, stdout a pipe: Rich assumes 80 columns."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    for command, names in (
        (("experiment", "list"), [EXPERIMENT, MODEL]),
        (("rollout", "list"), [MODEL, VERSIONS[0], VERSIONS[1]]),
    ):
        done = subprocess.run([sys.executable, "-m", "ablab", *command], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        for name in names:
            assert any(name in line for line in done.stdout.splitlines()), (name, done.stdout)
        assert "…" not in done.stdout
