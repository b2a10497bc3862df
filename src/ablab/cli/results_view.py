"""The results table of ``ablab experiment results``, in the layout of seed 000."""

from __future__ import annotations

from rich.table import Table

from ablab.cli.experiment_view import age, status_markup
from ablab.cli.output import console
from ablab.contract.results import ExperimentResults, VariantResults

__all__ = ["render_results"]


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
    return f"{value:.3f}"


def render_results(results: ExperimentResults) -> None:
    experiment = results.experiment
    console.print(
        f"Experiment: [bold]{experiment.name}[/] ({status_markup(experiment.status.value)}, "
        f"{age(experiment)})"
    )
    if experiment.model_id:
        console.print(f"Model: {experiment.model_id}")
    control_name = experiment.control.name
    several = len(experiment.treatments) > 1
    table = Table(show_edge=False)
    table.add_column("")
    for variant in results.variants:
        table.add_column(_label(variant, variant.name == control_name, several), justify="right")
    variants = results.variants
    table.add_row("Devices", *(str(v.units) for v in variants))
    table.add_row("Accuracy", *(_fmt(v.accuracy, "ratio") for v in variants))
    table.add_row("Latency", *(_fmt(v.latency_ms, "ms") for v in variants))
    table.add_row("Latency p95", *(_fmt(v.latency_p95_ms, "ms") for v in variants))
    table.add_row("Error rate", *(_fmt(v.error_rate, "percent") for v in variants))
    console.print(table)
    comparison = results.primary_comparison
    if comparison is not None and comparison.p_value is not None:
        verdict = "significant" if results.is_significant else "not significant"
        always_valid = comparison.always_valid_p_value
        console.print(
            f"Statistical significance: p={comparison.p_value:.3g} ({verdict}, "
            f"{results.primary_metric}, {experiment.analysis_method.value}"
            + (f", always-valid p={always_valid:.3g}" if always_valid is not None else "")
            + ")"
        )
    else:
        console.print(f"Statistical significance: no data yet on {results.primary_metric}")
    if not results.min_samples_reached:
        console.print(
            f"[yellow]Below --min-samples ({experiment.min_samples} per variant): "
            "results are directional[/]"
        )
    srm = results.srm
    if srm.mismatch:
        console.print(f"[red]Sample ratio mismatch (p={srm.p_value:.2g})[/]")
    elif srm.p_value is not None:
        console.print(f"SRM check: ok (p={srm.p_value:.2g}, each weight period judged alone)")
    for guardrail in results.guardrails:
        if guardrail.violated:
            console.print(
                f"[red]Guardrail broken: {guardrail.variant} {guardrail.metric}="
                f"{guardrail.value:.4g} ({guardrail.bound}{guardrail.threshold:g})[/]"
            )
    recommendation = results.recommendation
    console.print(
        f"Recommendation: [bold]{recommendation.action.replace('_', ' ')}"
        + (
            f" {recommendation.variant}"
            if recommendation.variant and recommendation.action == "promote"
            else ""
        )
        + f"[/] ({recommendation.reason})"
    )
