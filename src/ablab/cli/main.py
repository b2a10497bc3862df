"""The ``ablab`` command: global options, sub-commands, and the one place errors are printed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ablab.cli import demo, events, experiment, group, keys, llm, metric, model, rollout, users
from ablab.cli.analyze import analyze
from ablab.cli.output import stderr
from ablab.cli.sample_size import sample_size
from ablab.cli.serve import serve
from ablab.cli.state import ClientOptions
from ablab.errors import AblabError

__all__ = ["app", "exit_code", "run"]

app = typer.Typer(
    name="ablab",
    help="Decide between versions of a machine-learning model on real traffic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(experiment.app, name="experiment")
app.add_typer(rollout.app, name="rollout")
app.add_typer(model.app, name="model")
app.add_typer(group.app, name="group")
app.add_typer(metric.app, name="metric")
app.add_typer(keys.app, name="keys")
app.add_typer(users.app, name="users")
app.add_typer(llm.app, name="llm")
app.add_typer(events.app, name="events")
app.command(name="demo")(demo.demo)
app.command(name="sample-size")(sample_size)
app.command(name="analyze")(analyze)
app.command(name="serve")(serve)


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
