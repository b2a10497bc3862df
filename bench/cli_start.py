"""Benchmark: how long ``ablab --help`` and ``ablab experiment --help`` take to answer.

Each figure is the wall time of a new Python process, as a shell runs the console script
(``from ablab.cli.main import run; run()``), from its start to its exit. Subcommands load
when they run (ablab.cli.lazy), so a help screen should cost little more than the libraries
that draw it.

Anchors, measured in the same run and alternating with ours:
- the issue's: a process that only imports typer and rich (``python -c "import typer,
  rich"``), what any Typer CLI pays before doing anything. Drawing typer's rich help
  imports typer.rich_utils and rich.markdown on top of that (~0.1 s idle), so about 2 is
  the floor of this ratio for a help screen.
- the bare framework: a Typer app of ablab's shape (a root callback with ablab's four
  global options, a group, a command) printing the group's help. Before a group's help
  typer coerces the root options, and typer 0.29 does that with pydantic TypeAdapters
  (importing pydantic, ~0.1-0.3 s); this anchor pays that too, ``import typer, rich`` does
  not.

Run: ``.venv/bin/python bench/cli_start.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

GOAL_RATIO = 3.0  # issue 16: ablab --help within 3x importing typer and rich
BARE_GOAL_RATIO = 1.5

CONSOLE_SCRIPT = "import sys; from ablab.cli.main import run; sys.argv[0] = 'ablab'; run()"

BARE_TYPER_APP = """
from pathlib import Path
from typing import Annotated
import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)
group = typer.Typer(help="A group of commands.", no_args_is_help=True)
app.add_typer(group, name="group")

@app.callback()
def main(
    url: Annotated[str | None, typer.Option(envvar="BARE_URL", help="A server.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="BARE_KEY", help="A key.")] = None,
    home: Annotated[Path | None, typer.Option(envvar="BARE_HOME", help="A folder.")] = None,
    project: Annotated[str | None, typer.Option(envvar="BARE_PROJECT", help="A name.")] = None,
) -> None:
    pass

@group.command(help="Show one thing.")
def show(name: Annotated[str, typer.Argument(help="A name.")], output: str = "table") -> None:
    pass

app()
"""

COMMANDS = {
    "anchor": [sys.executable, "-c", "import typer, rich"],
    "bare_typer_group_help": [sys.executable, "-c", BARE_TYPER_APP, "group", "--help"],
    "cli_start_help": [sys.executable, "-c", CONSOLE_SCRIPT, "--help"],
    "cli_start_experiment_help": [sys.executable, "-c", CONSOLE_SCRIPT, "experiment", "--help"],
}


def wall_seconds(command: list[str]) -> float:
    """One run of ``command``, start to exit; it must succeed."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7, help="runs of each command [7]")
    arguments = parser.parse_args()
    for command in COMMANDS.values():
        wall_seconds(command)  # warm the file cache and the bytecode
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for run in range(arguments.runs):
        # Rotate the order so that no command always runs right after the same one.
        names = list(COMMANDS)
        for name in names[run % len(names) :] + names[: run % len(names)]:
            times[name].append(wall_seconds(COMMANDS[name]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    anchor = medians["anchor"]
    print(f"median of {arguments.runs} runs, wall time of a new process, seconds")
    print(f"{'figure':<28}{'median':>8}{'min':>8}{'max':>8}{'ratio':>8}")
    for name, values in times.items():
        print(
            f"{name:<28}{medians[name]:>8.3f}{min(values):>8.3f}{max(values):>8.3f}"
            f"{medians[name] / anchor:>8.2f}"
        )
    # The 3x goal is the root help's; a group's help pays typer's pydantic on top of it
    # (see the second anchor), so its figure against typer and rich has no goal of its own.
    for name, goal in (("cli_start_help", f"<={GOAL_RATIO:g}"), ("cli_start_experiment_help", "-")):
        print(
            f"bench: {name} ours={medians[name] * 1000:.0f}ms anchor={anchor * 1000:.0f}ms "
            f'(python -c "import typer, rich") ratio={medians[name] / anchor:.2f} goal={goal}'
        )
    bare, ours = medians["bare_typer_group_help"], medians["cli_start_experiment_help"]
    print(
        f"bench: cli_start_experiment_help_vs_bare_typer ours={ours * 1000:.0f}ms "
        f"anchor={bare * 1000:.0f}ms (a bare Typer app of the same shape printing a group's "
        f"help) ratio={ours / bare:.2f} goal=<={BARE_GOAL_RATIO:g}"
    )


if __name__ == "__main__":
    main()
