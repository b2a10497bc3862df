"""``ablab sample-size``: how many units a test needs, and for how many days."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import typer

from ablab.cli.output import OutputFormat, OutputOption, TableColumn, console, emit, new_table
from ablab.stats import (
    SampleSize,
    SequentialPowerCost,
    rate_test_plan,
)

__all__ = ["sample_size"]


def sample_size(
    baseline: Annotated[float, typer.Option(help="Control rate, e.g. 0.15.")],
    mde: Annotated[float, typer.Option(help="Effect to detect: relative (0.10 = +10%).")],
    absolute: Annotated[
        bool, typer.Option("--absolute", help="Read --mde as an absolute difference.")
    ] = False,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power.")] = 0.8,
    traffic: Annotated[
        float, typer.Option(help="Share of all units that enter the experiment, 0..1.")
    ] = 1.0,
    treatment_share: Annotated[
        float, typer.Option(help="Share of the experiment's units in treatment (0.05 for 95/5).")
    ] = 0.5,
    daily_units: Annotated[
        float | None, typer.Option(help="Units arriving per day, to estimate the duration.")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Units per variant (and in total, and days) for a two-proportion test."""
    mde_type: Literal["relative", "absolute"] = "absolute" if absolute else "relative"
    # Looking once, and looking at any time (the sequential test pays with more units).
    cost = rate_test_plan(
        baseline,
        mde,
        mde_type=mde_type,
        alpha=alpha,
        power=power,
        treatment_share=treatment_share,
        traffic_share=traffic,
        daily_units=daily_units,
    )
    fixed = cost.fixed
    sequential = cost.sequential
    emit(
        output,
        {
            "baseline": baseline,
            "mde": mde,
            "mde_type": mde_type,
            "absolute_mde": fixed.absolute_mde,
            "alpha": alpha,
            "power": power,
            "traffic": traffic,
            "treatment_share": treatment_share,
            "control_units": fixed.control_units,
            "treatment_units": fixed.treatment_units,
            "per_variant_units": max(fixed.control_units, fixed.treatment_units),
            "experiment_units": fixed.total_units,
            "total_units": _all_traffic(fixed.total_units, traffic),
            "days": fixed.days,
            "sequential": {
                "control_units": sequential.control_units,
                "treatment_units": sequential.treatment_units,
                "experiment_units": sequential.total_units,
                "total_units": _all_traffic(sequential.total_units, traffic),
                "days": sequential.days,
                "inflation": cost.inflation,
            },
        },
        lambda _: _render(baseline, fixed, cost, alpha=alpha, power=power, traffic=traffic),
    )


def _render(
    baseline: float,
    fixed: SampleSize,
    cost: SequentialPowerCost,
    *,
    alpha: float,
    power: float,
    traffic: float,
) -> None:
    table = new_table(
        "Test",
        *(
            TableColumn(c, justify="right")
            for c in ("Control", "Treatment", "In experiment", "All traffic", "Days")
        ),
    )
    for name, size in (("fixed horizon", fixed), ("sequential (mSPRT)", cost.sequential)):
        table.add_row(
            name,
            f"{size.control_units:,}",
            f"{size.treatment_units:,}",
            f"{size.total_units:,}",
            f"{_all_traffic(size.total_units, traffic):,}",
            "-" if size.days is None else str(size.days),
        )
    console.print(
        f"Detecting {baseline:g} -> {baseline + fixed.absolute_mde:g} "
        f"({fixed.absolute_mde:+g} absolute) with alpha {alpha:g} and power {power:g}"
    )
    console.print(table)
    console.print(
        f"All traffic counts every unit that must arrive while {traffic:.0%} of it enters the "
        f"experiment. Looking at results at any time (sequential) costs "
        f"{cost.inflation - 1:+.0%} units."
    )


def _all_traffic(experiment_units: int, traffic: float) -> int:
    """Units that must arrive for ``experiment_units`` of them to enter the experiment."""
    return math.ceil(experiment_units / traffic)
