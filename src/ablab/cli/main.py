"""The ``ablab`` command: global options, sub-commands, and the one place errors are printed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ablab.cli.lazy import LazyGroup, Subcommand
from ablab.cli.output import stderr
from ablab.cli.state import ClientOptions
from ablab.errors import AblabError

__all__ = ["COMMANDS", "app", "exit_code", "run"]

# Every subcommand, in the order ``ablab --help`` lists them, with the line it shows there.
# A subcommand's module is imported only when that command runs, for start-up time: importing
# them all loaded scipy, the server and the stores, and ``ablab --help`` took 1.2 s instead of
# ~0.1 s (ablab.cli.lazy; tests/cli/test_startup.py checks these lines against the commands).
COMMANDS = (
    Subcommand(
        "demo",
        "ablab.cli.demo:demo",
        "Run a real two-model experiment on embedded stores and print its results.",
    ),
    Subcommand(
        "sample-size",
        "ablab.cli.sample_size:sample_size",
        "Units per variant (and in total, and days) for a two-proportion test.",
    ),
    Subcommand(
        "analyze",
        "ablab.cli.analyze:analyze",
        "Analyse a file of units: lifts with intervals, p-values, SRM, CUPED and a decision.",
    ),
    Subcommand(
        "serve",
        "ablab.cli.serve:serve",
        "Serve the REST API on the embedded stores, or PostgreSQL via ABLAB_DATABASE_URL.",
    ),
    Subcommand(
        "experiment",
        "ablab.cli.experiment:app",
        "Create experiments and move them through their lifecycle.",
    ),
    Subcommand(
        "rollout",
        "ablab.cli.rollout:app",
        "Follow and steer the rollouts that promoting an experiment starts.",
    ),
    Subcommand(
        "model", "ablab.cli.model:app", "Register models and the versions experiments compare."
    ),
    Subcommand("group", "ablab.cli.group:app", "Define device groups by a rule or a member list."),
    Subcommand("metric", "ablab.cli.metric:app", "Define custom metrics from metric events."),
    Subcommand("keys", "ablab.cli.keys:app", "Create, list and revoke the server's API keys."),
    Subcommand("users", "ablab.cli.users:app", "Create, list and disable console users."),
    Subcommand(
        "llm", "ablab.cli.llm:app", "LLM configuration experiments: baseline, variants, results."
    ),
    Subcommand(
        "events",
        "ablab.cli.events:app",
        "Load exposures, predictions, labels and metrics; export them to a lake.",
    ),
    Subcommand(
        "source",
        "ablab.cli.source:app",
        "Analysis sources: the team's own tables, on DuckDB, Spark or ClickHouse.",
    ),
    Subcommand("db", "ablab.cli.db:app", "Look after the metadata store: upgrade its schema."),
)


class _Commands(LazyGroup):
    subcommands = COMMANDS


app = typer.Typer(
    name="ablab",
    help="Decide between versions of a machine-learning model on real traffic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_Commands,
)


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option(envvar="ABLAB_URL", help="ablab server; default: embedded store.")
    ] = None,
    api_key: Annotated[str | None, typer.Option(envvar="ABLAB_API_KEY", help="Server key.")] = None,
    home: Annotated[
        Path | None, typer.Option(envvar="ABLAB_HOME", help="Embedded store folder [./.ablab].")
    ] = None,
    project: Annotated[str | None, typer.Option(envvar="ABLAB_PROJECT", help="Project.")] = None,
) -> None:
    options = ClientOptions(url=url, api_key=api_key, home=home, project=project)
    ctx.obj = options
    ctx.call_on_close(options.close)


def exit_code(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` and return its exit code.

    Typer reports usage mistakes itself (exit code 2); ablab's own errors are printed here as
    one line on stderr, also with code 2. Neither shows a traceback.
    """
    try:
        app(args=argv)
    except AblabError as exc:
        stderr.print(f"error: {exc.message}", markup=False)
        return 2
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        stderr.print(str(exc.code), markup=False)
        return 1
    return 0


def run() -> None:
    """The console script."""
    sys.exit(exit_code())
