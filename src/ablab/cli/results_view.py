"""The results table of ``ablab experiment results`` (seed 000's layout) and the time series."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ablab.cli.experiment_view import age, status_markup
from ablab.cli.output import FittingTable, TableColumn, console, new_table

if TYPE_CHECKING:
    from ablab.contract.results import ExperimentResults, SegmentBreakdown, VariantResults
    from ablab.contract.timeseries import ExperimentTimeseries

__all__ = ["render_results", "render_timeseries"]

_BUILTIN_ROWS = (
    ("Accuracy", "accuracy", "ratio"),
    ("Latency", "latency_ms", "ms"),
    ("Latency p95", "latency_p95_ms", "ms"),
    ("Error rate", "error_rate", "percent"),
)


def _label(variant: VariantResults, is_control: bool, several: bool) -> str:
    role = "Control" if is_control else ("Treatment" if not several else variant.name)
    return f"{role} ({variant.model_version or 'config'})"


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "ms":
        return f"{value:.0f}ms"
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "lift":
        return f"{value:+.1%}"
    if kind == "count":
        return f"{value:.0f}"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def _variant_table(results: ExperimentResults) -> FittingTable:
    experiment = results.experiment
    control_name = experiment.control.name
    several = len(experiment.treatments) > 1
    table = new_table(
        "",
        *(
            TableColumn(_label(v, v.name == control_name, several), justify="right")
            for v in results.variants
        ),
        names=[v.name for v in results.variants],
    )
    variants = results.variants
    # The counts carry the names of the results JSON and the console.
    table.add_row("Units exposed", *(str(v.units_exposed) for v in variants))
    table.add_row("Units with predictions", *(str(v.units_with_predictions) for v in variants))
    table.add_row("Units with labels", *(str(v.units_with_labels) for v in variants))
    table.add_row("Predictions", *(str(v.predictions) for v in variants))
    if any(v.conversions is not None for v in variants):
        table.add_row("Conversions", *(_fmt(v.conversions, "count") for v in variants))
    for title, metric, kind in _BUILTIN_ROWS:
        table.add_row(title, *(_fmt(v.metric(metric), kind) for v in variants))
    builtin = {metric for _, metric, _ in _BUILTIN_ROWS}
    for metric in variants[0].metrics if variants else ():
        if metric not in builtin:
            table.add_row(metric, *(_fmt(v.metric(metric), "value") for v in variants))
    return table


def _significance(results: ExperimentResults) -> str:
    experiment = results.experiment
    comparison = results.primary_comparison
    if comparison is None or comparison.p_value is None:
        return f"Statistical significance: no data yet on {results.primary_metric}"
    verdict = "significant" if results.is_significant else "not significant"
    always_valid = comparison.always_valid_p_value
    details = [verdict, results.primary_metric, experiment.analysis_method.value]
    if always_valid is not None:
        details.append(f"always-valid p={always_valid:.3g}")
    if comparison.relative_lift is not None:
        low, high = comparison.relative_ci
        band = f" [{_fmt(low, 'lift')}, {_fmt(high, 'lift')}]" if low is not None else ""
        details.append(f"lift {_fmt(comparison.relative_lift, 'lift')}{band}")
    if comparison.cuped is not None and comparison.cuped.variance_reduction is not None:
        details.append(f"CUPED -{comparison.cuped.variance_reduction:.0%} variance")
    return f"Statistical significance: p={comparison.p_value:.3g} ({', '.join(details)})"


def _sequential(results: ExperimentResults) -> str | None:
    """The always-valid test's interval and how it was built (None without a look)."""
    comparison = results.primary_comparison
    design = None if comparison is None else comparison.sequential
    if comparison is None or design is None or design.looks == 0:
        return None
    low, high = comparison.confidence_sequence
    shown = f"[{_fmt(low, 'value')}, {_fmt(high, 'value')}]"
    tau_sq = "-" if design.mixing_variance is None else f"{design.mixing_variance:.3g}"
    return (
        f"Confidence sequence {shown} (level {design.level:.3g}, {design.looks} looks; "
        f"tau^2={tau_sq} tuned for {design.tuning_units:,} units)"
    )


def _render_segments(breakdown: SegmentBreakdown) -> None:
    names = [v.name for v in breakdown.segments[0].variants] if breakdown.segments else []
    table = new_table(
        breakdown.attribute,
        *(
            TableColumn(header, justify="right")
            for name in names
            for header in (f"{name} units", name)
        ),
        TableColumn("Lift", justify="right"),
        TableColumn("Adjusted p", justify="right"),
        title=f"{breakdown.metric} by {breakdown.attribute} (Benjamini-Hochberg)",
        names=[*names, *(segment.value for segment in breakdown.segments)],
    )
    for segment in breakdown.segments:
        cells = [segment.value]
        for variant in segment.variants:
            cells += [str(variant.units), _fmt(variant.value, "value")]
        lifts = ", ".join(_fmt(c.relative_lift, "lift") for c in segment.comparisons)
        adjusted = ", ".join(
            "-"
            if c.adjusted_p_value is None
            else f"{c.adjusted_p_value:.3g}" + ("*" if c.significant else "")
            for c in segment.comparisons
        )
        table.add_row(*cells, lifts, adjusted)
    console.print(table)


def render_results(results: ExperimentResults) -> None:
    experiment = results.experiment
    console.print(
        f"Experiment: [bold]{experiment.name}[/] ({status_markup(experiment.status.value)}, "
        f"{age(experiment)})"
    )
    if experiment.model_id:
        console.print(f"Model: {experiment.model_id}")
    console.print(_variant_table(results))
    console.print(_significance(results))
    for line in _bayesian(results):
        console.print(line)
    if (sequence := _sequential(results)) is not None:
        console.print(sequence)
    rule = results.min_samples_rule
    if rule is not None:
        colour = "" if rule.reached else "[yellow]"
        console.print(
            f"{colour}Minimum samples: {rule.statement}"
            + ("" if rule.reached else "; results are directional[/]")
        )
    elif not results.min_samples_reached:
        console.print(
            f"[yellow]Below --min-samples ({experiment.min_samples} per variant): "
            "results are directional[/]"
        )
    if results.duration is not None:
        console.print(_duration(results))
    srm = results.srm
    if srm.mismatch:
        console.print(f"[red]Sample ratio mismatch (p={srm.p_value:.2g})[/]")
    elif srm.p_value is not None:
        console.print(f"SRM check: ok (p={srm.p_value:.2g}, each weight period judged alone)")
    for line in _novelty(results):
        console.print(line)
    for guardrail in results.guardrails:
        spec = f"{guardrail.metric}{guardrail.bound}" + (
            f"{guardrail.threshold * 100:+g}% of control"
            if guardrail.relative
            else f"{guardrail.threshold:g}"
        )
        colour = {"fail": "red", "pass": "green"}.get(guardrail.state, "yellow")
        state = "broken" if guardrail.violated else guardrail.state.replace("_", " ")
        console.print(
            f"Guardrail {guardrail.variant} {spec}: [{colour}]{state}[/]"
            + (f" (observed {guardrail.value:.4g})" if guardrail.value is not None else "")
        )
    if results.segments is not None:
        _render_segments(results.segments)
    recommendation = results.recommendation
    # Decisions with more to say than their action (a futility stop, a shadow check, an
    # experiment that has ended) are named as themselves.
    named = recommendation.decision in _NAMED_DECISIONS
    shown = recommendation.decision if named else recommendation.action
    console.print(
        f"Recommendation: [bold]{shown.replace('_', ' ')}"
        + (
            f" {recommendation.variant}"
            if recommendation.variant and recommendation.action == "promote"
            else ""
        )
        + f"[/] ({recommendation.reason})"
    )


_NAMED_DECISIONS = {"stop_for_futility", "shadow_passed", "shadow_failed", "ended", "not_launched"}


def _duration(results: ExperimentResults) -> str:
    """Days run against the maximum duration, and the days left (or why there is no figure)."""
    duration = results.duration
    assert duration is not None
    if duration.days_run is None:
        return "Duration: not launched"
    said = f"Duration: {duration.days_run:.1f} days"
    if duration.max_duration_days is not None:
        said += f" of at most {duration.max_duration_days}"
        if duration.max_duration_reached:
            said += " (reached)"
    if duration.days_left is not None:
        return said + f"; about {duration.days_left:.1f} days left to the planned sample size"
    return said + f"; {duration.basis}"


def _bayesian(results: ExperimentResults) -> list[str]:
    """The chance to win of each treatment on the primary metric, with its interval and prior.

    Probabilities go through :func:`ablab.contract.analysis.format_probability`, as in the
    console: ">99.9%" rather than a "100.0%" no finite sample supports.
    """
    from ablab.contract.analysis import format_probability  # noqa: PLC0415 - the wire schemas load when results are printed, not for ablab experiment --help (CLI start-up, ~0.04 s)

    several = len(results.experiment.treatments) > 1
    lines = []
    for comparison in results.comparisons:
        chance = comparison.prob_beat_control
        if comparison.metric != results.primary_metric or chance is None:
            continue
        who = f" ({comparison.variant})" if several else ""
        low, high = comparison.credible_interval
        band = (
            f", lift credible interval [{_fmt(low, 'lift')}, {_fmt(high, 'lift')}]"
            if low is not None and high is not None
            else ""
        )
        prior = f"; prior {comparison.prior}" if comparison.prior else ""
        lines.append(f"Chance to beat control{who}: {format_probability(chance)}{band}{prior}")
    return lines


def _novelty(results: ExperimentResults) -> list[str]:
    """One line per treatment: the trend check of its daily lift on the primary metric."""
    several = len(results.experiment.treatments) > 1
    lines = []
    for comparison in results.comparisons:
        check = comparison.novelty
        if comparison.metric != results.primary_metric or check is None:
            continue
        who = f" ({comparison.variant})" if several else ""
        if check.pattern != "none":
            lines.append(f"[yellow]Novelty check{who}: {check.meaning}[/]")
        else:
            lines.append(f"Novelty check{who}: {check.meaning}")
    return lines


def render_timeseries(series: ExperimentTimeseries) -> None:
    if not series.variants:
        console.print(f"No {series.metric} data yet for {series.experiment}.")
        return
    names = list(dict.fromkeys(p.variant for p in series.variants))
    treatments = list(dict.fromkeys(p.variant for p in series.lifts))
    table = new_table(
        TableColumn("Until (UTC)", whole=True),
        *(TableColumn(f"{name} (units)", justify="right", whole=True) for name in names),
        *(TableColumn(f"{name} lift", justify="right", whole=True) for name in treatments),
        title=f"{series.experiment}: {series.metric} by {series.interval}, cumulative",
        caption="lift [always-valid confidence sequence]",
        names=[*names, *treatments],
    )
    points = {(p.at, p.variant): p for p in series.variants}
    lifts = {(p.at, p.variant): p for p in series.lifts}
    for at in sorted({p.at for p in series.variants}):
        cells = [at.strftime("%m-%d %H:%M")]
        for name in names:
            point = points.get((at, name))
            cells.append(f"{_fmt(point.value, 'value')} ({point.units})" if point else "-")
        for name in treatments:
            lift = lifts.get((at, name))
            if lift is None or lift.relative_lift is None:
                cells.append("-")
                continue
            low, high = lift.confidence_sequence
            band = f" [{_fmt(low, 'lift')}, {_fmt(high, 'lift')}]" if low is not None else ""
            cells.append(f"{_fmt(lift.relative_lift, 'lift')}{band}")
        table.add_row(*cells)
    console.print(table)
