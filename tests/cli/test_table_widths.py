"""Issue 18: names whole in pipes and CI logs, variant names with spaces included.

Real commands run in a process of their own with stdout a pipe, as in CI. A name is asserted
as one substring of one line, which fails if it is cut ("my-experi…"), folded or broken at
one of its spaces ("v2" above "(distilled)").
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from ablab import Client
from ablab.cli.output import console
from ablab.cli.tables import CommandConsole, new_table
from tests.cli.conftest import Run

EXPERIMENT = "my-experiment-with-a-long-name"
MODEL = "radiology-v1"
VARIANTS = ["v1 (baseline)", "v2 (distilled)", "v3 (quantised int8)"]
VERSIONS = ["1.0.0", "2.0.0", "3.0.0"]
# Three arms, so that the results label every treatment column by its variant's name.
COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("experiment", "list"): [EXPERIMENT, MODEL],
    ("experiment", "show", EXPERIMENT): [EXPERIMENT, MODEL, *VARIANTS, *VERSIONS],
    ("experiment", "results", EXPERIMENT): [EXPERIMENT, MODEL, *VARIANTS[1:], *VERSIONS],
}


@pytest.fixture
def store(run: Run, home: Path) -> Path:
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
                    zip(VARIANTS, VERSIONS, (34, 33, 33), strict=True)
                )
            ],
        )
    return home


def _piped(command: tuple[str, ...], columns: str | None) -> str:
    """``ablab COMMAND`` in its own process, stdout a pipe, no terminal anywhere."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    if columns is not None:
        env["COLUMNS"] = columns
    done = subprocess.run([sys.executable, "-m", "ablab", *command], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _assert_whole(output: str, names: list[str]) -> None:
    lines = output.splitlines()
    for name in names:
        assert any(name in line for line in lines), (name, output)
    assert "…" not in output


@pytest.mark.parametrize("columns", ["80", "40"])
def test_names_are_whole_in_a_pipe_at_the_width_of_columns(store: Path, columns: str) -> None:
    for command, names in COMMANDS.items():
        printed = _piped(command, columns)
        _assert_whole(printed, names)
        drawn = [line for line in printed.splitlines() if "│" in line or "┃" in line]
        assert all(cell_len(line.rstrip()) <= int(columns) for line in drawn), printed


def test_a_pipe_without_columns_prints_each_row_on_one_line(store: Path) -> None:
    """CI logs and ``| grep``: the row of an experiment is one line with all its cells."""
    listed = _piped(("experiment", "list"), None)
    _assert_whole(listed, [EXPERIMENT, MODEL])
    row = next(line for line in listed.splitlines() if EXPERIMENT in line)
    assert [cell.strip() for cell in row.split("│")][:4] == [EXPERIMENT, "running", MODEL, "3"]
    assert cell_len(row.rstrip()) > 80  # Rich's guess for a pipe would have cut it

    shown = _piped(("experiment", "show", EXPERIMENT), None)
    _assert_whole(shown, [*VARIANTS, *VERSIONS])
    for name, version in zip(VARIANTS, VERSIONS, strict=True):
        assert any(name in line and version in line for line in shown.splitlines()), shown

    results = _piped(("experiment", "results", EXPERIMENT), None)
    header = next(line for line in results.splitlines() if "┃" in line)
    for name, version in zip(VARIANTS[1:], VERSIONS[1:], strict=True):
        assert f"{name} ({version})" in header, results


def test_names_are_whole_at_every_width_from_30_to_100(
    store: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same commands in-process, at each width where a column may narrow."""
    for columns in range(30, 101):
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setattr(console, "_width", None)  # read COLUMNS as a new process does
        for command, names in COMMANDS.items():
            result = run(*command)
            assert result.code == 0, result.stderr
            _assert_whole(result.stdout, names)


def test_variant_names_in_a_csv_stay_whole_in_analyze_at_every_width(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "units.csv"
    rows = ["unit,variant,converted"]
    rows += [f"u{i},{VARIANTS[i % 2]},{int(i % 3 == 0)}" for i in range(200)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    for columns in range(40, 81):  # at 53 and 54 a table without names split "v1 (baseline)"
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setattr(console, "_width", None)  # read COLUMNS as a new process does
        result = run("analyze", str(data), "--unit", "unit", "--variant", "variant",
                     "--metric", "converted", "--control", VARIANTS[0])  # fmt: skip
        assert result.code == 0, result.stderr
        _assert_whole(result.stdout, VARIANTS[:2])


def _printed(table: object, width: int) -> str:
    out = io.StringIO()
    CommandConsole(file=out, width=width, soft_wrap=True, color_system=None).print(table)
    return out.getvalue()


@pytest.mark.parametrize("width", range(20, 61))
def test_a_name_with_spaces_is_one_word_at_every_width(width: int) -> None:
    table = new_table("Variant", "Model version", names=VARIANTS)
    for name, version in zip(VARIANTS, VERSIONS, strict=True):
        table.add_row(name, version)
    printed = _printed(table, width)
    _assert_whole(printed, VARIANTS)
    # The table is drawn as long as the longest name and the longest version fit.
    least = len(VARIANTS[-1]) + 3 + len("version")
    assert ("┃" in printed) == (width >= least), printed


def test_without_names_the_same_table_breaks_a_variant_at_its_space() -> None:
    """What ``names`` prevents: the words of a name are free to go to separate lines."""
    table = new_table("Variant", "Model version")
    table.add_row(VARIANTS[-1], VERSIONS[-1])
    printed = _printed(table, 24)
    assert "┃" in printed
    assert not any(VARIANTS[-1] in line for line in printed.splitlines()), printed


def test_the_console_knows_a_pipe_from_a_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    piped = CommandConsole(file=io.StringIO(), soft_wrap=True)  # as ablab.cli.output's
    assert not piped.width_is_known
    table = new_table("Name", "Status", names=[])
    table.add_row("x" * 150, "running")
    piped.print(table)
    rows = piped.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert rows[2].rstrip() == "x" * 150 + " │ running"
    monkeypatch.setenv("COLUMNS", "100")
    assert CommandConsole(file=io.StringIO()).width_is_known
    assert CommandConsole(file=io.StringIO(), width=60).width_is_known
