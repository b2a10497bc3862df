"""``ablab experiment results`` and ``ablab experiment timeseries``."""

from __future__ import annotations

from typing import Annotated

import typer

from ablab.cli.output import OutputFormat, OutputOption, emit
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
    emit(output, found, render_results)


def timeseries(
    ctx: typer.Context,
    name: NameArg,
    metric: Annotated[str | None, typer.Option(help="Metric [the primary one].")] = None,
    interval: Annotated[str, typer.Option(help="Bucket: minute, hour or day.")] = "day",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The metric per variant and the lift with its confidence sequence, cumulatively."""
    found = client_of(ctx).experiments.timeseries(name, metric=metric, interval=interval)
    emit(output, found, render_timeseries)


def rebalance(ctx: typer.Context, name: NameArg, output: OutputOption = OutputFormat.TABLE) -> None:
    """Bandit mode: move the weights toward the better arm now (Thompson sampling)."""
    experiment = client_of(ctx).experiments.rebalance(name)
    weights = ", ".join(f"{v.name} {v.weight:g}%" for v in experiment.variants)
    emit(output, experiment, f"{experiment.name}: {weights}")
