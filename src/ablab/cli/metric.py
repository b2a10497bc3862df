"""``ablab metric ...``: define custom metrics computed from ``metric`` events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, emit, new_table
from ablab.cli.state import client_of

if TYPE_CHECKING:
    from ablab.contract.metrics import MetricPublic

app = typer.Typer(help="Define custom metrics from metric events.", no_args_is_help=True)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="snake_case name, as the metric events carry it.")],
    aggregation: Annotated[str, typer.Option(help="Per unit: sum, mean, count or any.")] = "sum",
    kind: Annotated[
        str, typer.Option(help="proportion (units above 0) or continuous (the mean).")
    ] = "continuous",
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="A decrease is the improvement.")
    ] = False,
    description: Annotated[str, typer.Option(help="Shown in listings.")] = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Define a metric; experiments can then use it as primary, secondary or guardrail."""
    metric = client_of(ctx).metrics.create(
        name,
        aggregation=aggregation,
        kind=kind,
        higher_is_better=not lower_is_better,
        description=description,
    )
    emit(
        output,
        metric,
        f"Defined metric {metric.name}: {metric.aggregation.value} per unit, "
        f"{metric.kind.value}, {'higher' if metric.higher_is_better else 'lower'} is better",
    )


@app.command("list")
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List the project's custom metrics."""
    metrics = client_of(ctx).metrics.list()
    emit(
        output,
        metrics,
        _render,
        empty="No custom metrics yet. Define one with `ablab metric create`.",
    )


def _render(metrics: list[MetricPublic]) -> None:
    table = new_table("Metric", "Aggregation", "Kind", "Better", "Description")
    for metric in metrics:
        table.add_row(
            metric.name,
            metric.aggregation.value,
            metric.kind.value,
            "higher" if metric.higher_is_better else "lower",
            metric.description,
        )
    console.print(table)
