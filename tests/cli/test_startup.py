"""``ablab --help`` and a group's help load none of the heavy stacks (issue 16).

Each case runs the command in a fresh interpreter and lists the modules it imported: the
statistics (scipy), the server, the stores and the client load only with a command that
uses them. bench/cli_start.py measures what this saves; no timing is asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import ablab
from ablab.cli.lazy import LazyCommand
from ablab.cli.main import COMMANDS, app

# Packages (with their submodules) that a help screen must not import.
HEAVY = (
    "scipy",
    "numpy",
    "duckdb",
    "pyarrow",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "sqlalchemy",
    "alembic",
    "sklearn",
    "ablab.stats",
    "ablab.server",
    "ablab.services",
    "ablab.client",
    "ablab.store",
    "ablab.gateway",
)

# Runs ``ablab ARGS...`` in process and writes the names of the modules loaded to a file.
_PROBE = """
import json, sys
from ablab.cli.main import exit_code
modules_file, args = sys.argv[1], sys.argv[2:]
code = exit_code(args)
with open(modules_file, "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""


def _help_of(args: list[str], tmp_path: Path) -> tuple[str, set[str]]:
    """The output of ``ablab ARGS...`` (exit code 0) and the modules it imported."""
    modules_file = tmp_path / "modules.json"
    source = str(Path(ablab.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    env.pop("ABLAB_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(modules_file), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, set(json.loads(modules_file.read_text()))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY))


def test_the_root_help_lists_every_command_and_loads_none(tmp_path: Path) -> None:
    out, modules = _help_of(["--help"], tmp_path)
    assert _heavy(modules) == []
    assert {s.target.partition(":")[0] for s in COMMANDS} & modules == set()
    for subcommand in COMMANDS:
        assert f" {subcommand.name} " in out
    assert "Create experiments and move them through their lifecycle." in out


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["experiment", "--help"], ["create", "results", "timeseries", "promote", "audit"]),
        (["experiment", "create", "--help"], ["--traffic-split", "--auto-promote"]),
        (["db", "--help"], ["upgrade"]),
        (["db", "upgrade", "--help"], ["--output"]),
        (["model", "--help"], ["register"]),
        (["group", "--help"], ["create"]),
        (["metric", "--help"], ["create"]),
        (["keys", "--help"], ["revoke"]),
    ],
)
def test_a_group_help_lists_its_commands_without_the_heavy_stacks(
    args: list[str], listed: list[str], tmp_path: Path
) -> None:
    out, modules = _help_of(args, tmp_path)
    assert _heavy(modules) == []
    for word in listed:
        assert word in out


def test_a_command_that_runs_loads_what_it_needs(tmp_path: Path) -> None:
    """The probe sees heavy modules when they are used: the tests above can fail."""
    out, modules = _help_of(["sample-size", "--baseline", "0.1", "--mde", "0.1"], tmp_path)
    assert "scipy" in modules
    assert "ablab.stats" in modules
    assert out


def test_the_table_lines_are_the_commands_own_help() -> None:
    """Each line ``ablab --help`` shows from the table is the command's first paragraph."""
    root = typer.main.get_group(app)
    assert list(root.commands) == [s.name for s in COMMANDS]
    for subcommand in COMMANDS:
        listed = root.commands[subcommand.name]
        assert isinstance(listed, LazyCommand)
        real = listed.load()
        assert real.name == subcommand.name
        own = (real.short_help or real.help or "").split("\n\n")[0]
        assert " ".join(own.split()) == subcommand.help
