"""``ablab analyze FILE``: a unit-level file in, statistics and a rollout decision out."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ablab.cli.output import OutputFormat, OutputOption, TableColumn, console, emit, new_table
from ablab.contract.analysis import AnalysisReport, format_probability
from ablab.domain.experiments import AnalysisMethod
from ablab.services.analysis.unit_analysis import (
    UnitAnalysisOptions,
    analyze_unit_file,
    parse_weights,
)
from ablab.store.unit_files import DuckDBUnitTableReader

__all__ = ["Alternative", "analyze"]


class Alternative(StrEnum):
    TWO_SIDED = "two-sided"
    GREATER = "greater"
    LESS = "less"


def analyze(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines of unit-level rows.")],
    unit: Annotated[str, typer.Option(help="Column with the unit id (device, user).")],
    variant: Annotated[str, typer.Option(help="Column with the variant name.")],
    metric: Annotated[str, typer.Option(help="Column with the metric value.")],
    covariate: Annotated[str | None, typer.Option(help="Pre-experiment column for CUPED.")] = None,
    control: Annotated[
        str | None, typer.Option(help="Control variant [the one called 'control'].")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            help="Configured split, e.g. control=0.95,treatment=0.05; without it no SRM "
            "check is run (an equal split is never assumed)."
        ),
    ] = None,
    method: Annotated[
        AnalysisMethod, typer.Option(help="Which test decides significance.")
    ] = AnalysisMethod.SEQUENTIAL,
    alternative: Annotated[
        Alternative,
        typer.Option(help="greater: treatment above control; less: below; or two-sided."),
    ] = Alternative.TWO_SIDED,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    mde: Annotated[
        float | None, typer.Option(help="Planned relative MDE, e.g. 0.05 for +5%.")
    ] = None,
    min_samples: Annotated[int, typer.Option(help="Units per arm before deciding.")] = 100,
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="For latency, error rate, cost...")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Analyse a file of units: lifts with intervals, p-values, SRM, CUPED and a decision."""
    found = analyze_unit_file(
        DuckDBUnitTableReader(),
        file,
        unit=unit,
        variant=variant,
        metric=metric,
        options=UnitAnalysisOptions(
            metric=metric,
            control=control,
            weights=parse_weights(weights) if weights else None,
            method=method,
            alternative=alternative.value,
            alpha=alpha,
            mde=mde,
            min_samples=min_samples,
            higher_is_better=not lower_is_better,
            covariate=covariate,
        ),
    )
    emit(output, AnalysisReport.model_validate(found), render_report)


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


def _interval(bounds: tuple[float | None, float | None], percent: bool = False) -> str:
    show = _percent if percent else _number
    return f"[{show(bounds[0])}, {show(bounds[1])}]"


def render_report(report: AnalysisReport) -> None:
    """The report for people: variants, comparisons, SRM, CUPED and the decision."""
    level = f"{1 - report.alpha:.0%}"
    console.print(
        f"[bold]{report.metric}[/] ({report.metric_kind}): {report.units} units from "
        f"{report.rows} rows, {report.analysis_method} analysis, alpha {report.alpha:g}"
        + ("" if report.alternative == "two-sided" else f", one-sided ({report.alternative})")
    )
    if report.excluded_units:
        console.print(
            f"[yellow]{report.excluded_units} units appear under several variants and were "
            "left out[/]"
        )
    variants = new_table(
        "Variant",
        *(TableColumn(c, justify="right") for c in ("Units", "Share", "Mean")),
        TableColumn(f"{level} CI", justify="right", whole=True),
        names=[v.name for v in report.variants],
    )
    for v in report.variants:
        share = report.srm.observed[v.name] / max(1, sum(report.srm.observed.values()))
        variants.add_row(
            v.name + (" (control)" if v.is_control and v.name != "control" else ""),
            str(v.units),
            f"{share:.1%}",
            _number(v.mean),
            _interval(v.ci),
        )
    console.print(variants)
    # One column per treatment keeps the table within 80 columns for A/B and A/B/n alike.
    comparisons = new_table(
        "vs control",
        # Whole: each column holds an interval.
        *(TableColumn(c.variant, justify="right", whole=True) for c in report.comparisons),
        names=[c.variant for c in report.comparisons],
    )
    rows: list[tuple[str, list[str]]] = [
        ("Relative lift", [_percent(c.relative_lift) for c in report.comparisons]),
        (f"{level} CI", [_interval(c.relative_ci, percent=True) for c in report.comparisons]),
        ("Absolute lift", [_number(c.absolute_lift) for c in report.comparisons]),
        ("p-value", [_number(c.p_value, 3) for c in report.comparisons]),
        ("Holm-adjusted p", [_number(c.adjusted_p_value, 3) for c in report.comparisons]),
        ("Always-valid p", [_number(c.always_valid_p_value, 3) for c in report.comparisons]),
        ("mSPRT log-LR", [_number(c.msprt_log_lr, 3) for c in report.comparisons]),
        ("P(beat control)", [format_probability(c.prob_beat_control) for c in report.comparisons]),
        (
            "Significant",
            [
                ("[green]yes[/]" if c.significant else "no")
                + ("" if c.status == "ok" else f" ({c.status})")
                for c in report.comparisons
            ],
        ),
    ]
    for label, cells in rows:
        comparisons.add_row(label, *cells)
    console.print(comparisons)
    srm = report.srm
    if not srm.checked:
        console.print(f"[yellow]SRM check: not run[/] ({srm.note})")
    else:
        verdict = "[red]MISMATCH[/]" if srm.mismatch else "[green]ok[/]"
        console.print(
            f"SRM check: {verdict} (p={_number(srm.p_value, 3)}, alarm below {srm.threshold:g}; "
            + ", ".join(
                f"{k} {v} vs {srm.expected[k]:.0f} expected" for k, v in srm.observed.items()
            )
            + ")"
        )
    for c in report.comparisons:
        if c.cuped is not None:
            reduction = c.cuped.variance_reduction
            console.print(
                f"CUPED on {c.cuped.covariate} ({c.variant}): theta {_number(c.cuped.theta)}, "
                f"variance reduced by {'-' if reduction is None else f'{reduction:.1%}'}"
            )
    decision = report.recommendation
    console.print(
        f"Decision: [bold]{decision.decision.replace('_', ' ')}[/]"
        + (f" ({decision.variant})" if decision.variant else "")
        + f": {decision.reason}"
    )
