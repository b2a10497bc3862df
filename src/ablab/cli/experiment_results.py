"""``ablab experiment results`` and ``ablab experiment timeseries``."""

from __future__ import annotations

from typing import Annotated

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, print_json
from ablab.cli.results_view import render_results, render_timeseries
from ablab.cli.state import client_of

__all__ = ["rebalance", "results", "timeseries"]

NameArg = Annotated[str, typer.Argument(help="Experiment name or id.")]


def results(
    ctx: typer.Context,
    name: NameArg,
    segment: Annotated[
        str | None, typer.Option(help="Break the primary metric down by this unit attribute.")
    ] = None,
    prior: Annotated[
        list[str] | None,
        typer.Option(
            help="Bayesian prior, repeatable: jeffreys (default), uniform or beta:A,B for "
            "proportions; flat (default) or normal:M,V on the relative lift."
        ),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Per-variant devices, accuracy, latency and error rate; significance; recommendation."""
    found = client_of(ctx).experiments.results(name, segment=segment, prior=prior or None)
    if output is OutputFormat.JSON:
        print_json(found)
    else:
        render_results(found)


def timeseries(
    ctx: typer.Context,
    name: NameArg,
    metric: Annotated[str | None, typer.Option(help="Metric [the primary one].")] = None,
    interval: Annotated[str, typer.Option(help="Bucket: minute, hour or day.")] = "day",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The metric per variant and the lift with its confidence sequence, cumulatively."""
    found = client_of(ctx).experiments.timeseries(name, metric=metric, interval=interval)
    if output is OutputFormat.JSON:
        print_json(found)
    else:
        render_timeseries(found)


def rebalance(ctx: typer.Context, name: NameArg, output: OutputOption = OutputFormat.TABLE) -> None:
    """Bandit mode: move the weights toward the better arm now (Thompson sampling)."""
    experiment = client_of(ctx).experiments.rebalance(name)
    if output is OutputFormat.JSON:
        print_json(experiment)
        return
    weights = ", ".join(f"{v.name} {v.weight:g}%" for v in experiment.variants)
    console.print(f"{experiment.name}: {weights}")
