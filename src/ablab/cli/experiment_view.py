"""Rich renderings of experiments for people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ablab.cli.output import TableColumn, console, key_values, new_table

if TYPE_CHECKING:
    from ablab.contract.catalogue import AuditEntryPublic
    from ablab.contract.experiments import ExperimentPublic

__all__ = ["render_audit", "render_created", "render_experiment", "render_list"]

_STATUS_STYLE = {
    "draft": "dim",
    "running": "green",
    "paused": "yellow",
    "stopped": "red",
    "promoted": "bold cyan",
    "archived": "dim",
}


def status_markup(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, '')}]{status}[/]"


def _label(experiment: ExperimentPublic, name: str) -> str:
    variant = next(v for v in experiment.variants if v.name == name)
    what = variant.model_version or "(config)"
    return f"{what} ({variant.weight:g}%)"


def render_created(experiment: ExperimentPublic) -> None:
    """The short confirmation after ``experiment create``."""
    console.print(f"Experiment created: [bold]{experiment.id}[/]")
    if experiment.model_id:
        console.print(f"Model: {experiment.model_id}")
    for variant in experiment.variants:
        role = "Control" if variant.is_control else _treatment_title(experiment, variant.name)
        console.print(f"{role}: {_label(experiment, variant.name)}")
    if experiment.group:
        console.print(f"Group: {experiment.group}")
    console.print(f"Status: {status_markup(experiment.status.value)}")


def _treatment_title(experiment: ExperimentPublic, name: str) -> str:
    return "Treatment" if len(experiment.treatments) == 1 else f"Treatment {name}"


def render_experiment(experiment: ExperimentPublic) -> None:
    """Everything about one experiment: settings, then its variants."""
    console.print(
        f"[bold]{experiment.name}[/] ({experiment.id})  {status_markup(experiment.status.value)}"
        + (f"  winner: [bold cyan]{experiment.winner}[/]" if experiment.winner else "")
    )
    if experiment.hypothesis:
        console.print(f"Hypothesis: {experiment.hypothesis}")
    settings = [
        ("Model", experiment.model_id or "-"),
        ("Group", experiment.group or "all units"),
        ("Coverage", f"{experiment.coverage:g}%"),
        ("Primary metric", experiment.primary_metric),
        ("Secondary metrics", ", ".join(experiment.secondary_metrics) or "-"),
        (
            "Guardrails",
            ", ".join(g.spec for g in experiment.guardrails) or "-",
        ),
        ("Min samples", str(experiment.min_samples)),
        ("MDE", "-" if experiment.mde is None else f"{experiment.mde:+.1%}"),
        (
            "Max duration",
            "no limit"
            if experiment.max_duration_days is None
            else f"{experiment.max_duration_days} days",
        ),
        (
            "Analysis",
            f"{experiment.analysis_method.value}, alpha {experiment.alpha:g}"
            + (", CUPED" if experiment.cuped else ""),
        ),
        ("Auto-promote", "on" if experiment.auto_promote else "off"),
        ("Running for", age(experiment)),
        ("Version", str(experiment.version)),
    ]
    console.print(key_values(settings))
    table = new_table(
        "Variant",
        "Role",
        "Model version",
        TableColumn("Weight", justify="right", whole=True),
        names=[v.name for v in experiment.variants],
    )
    for variant in experiment.variants:
        table.add_row(
            variant.name,
            "control" if variant.is_control else "treatment",
            variant.model_version or "-",
            f"{variant.weight:g}%",
        )
    console.print(table)


def age(experiment: ExperimentPublic) -> str:
    if experiment.started_at is None:
        return "not started"
    end = experiment.ended_at or datetime.now(UTC)
    seconds = max(0, int((end - experiment.started_at).total_seconds()))
    days, rest = divmod(seconds, 86_400)
    if days:
        return f"{days} day{'s' if days != 1 else ''}"
    hours, rest = divmod(rest, 3600)
    return f"{hours}h {rest // 60}m" if hours else f"{rest // 60}m {rest % 60}s"


def render_list(experiments: list[ExperimentPublic]) -> None:
    table = new_table(
        "Name",
        "Status",
        "Model",
        TableColumn("Variants", justify="right", whole=True),
        TableColumn("Split", justify="right", whole=True),
        "Primary metric",
        "Created",
    )
    for e in experiments:
        table.add_row(
            e.name,
            status_markup(e.status.value),
            e.model_id or "-",
            str(len(e.variants)),
            f"{e.traffic_split:g}%" if e.variants else "-",
            e.primary_metric,
            e.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def render_audit(entries: list[AuditEntryPublic]) -> None:
    table = new_table("When", "Actor", "Action", "Object", "Change")
    for entry in entries:
        table.add_row(
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor,
            entry.action,
            f"{entry.object_type} {entry.object_id}",
            _change(entry),
        )
    console.print(table)


# Timestamps and the version move with every change; the log shows what a person changed.
_UNREMARKABLE = {"updated_at", "version", "started_at", "ended_at", "traffic_split"}


def _change(entry: AuditEntryPublic) -> str:
    """A one-line summary of what changed, e.g. ``weights: control 50→20%, treatment 50→80%``."""
    if entry.before is None:
        return "created" if entry.after is None or "status" in entry.after else _short(entry.after)
    before, after = entry.before, entry.after or {}
    parts = []
    for key, new in after.items():
        old = before.get(key)
        if key in _UNREMARKABLE or old == new:
            continue
        if key == "variants":
            parts.append(_variant_change(old or [], new or []))
        else:
            parts.append(f"{key}: {_short(old)} → {_short(new)}")
    return ", ".join(parts) or "-"


def _variant_change(old: list[dict[str, object]], new: list[dict[str, object]]) -> str:
    old_weights = {str(v["name"]): v["weight"] for v in old}
    if set(old_weights) != {str(v["name"]) for v in new}:
        return "variants: " + ", ".join(str(v["name"]) for v in new)
    return "weights: " + ", ".join(
        f"{v['name']} {old_weights[str(v['name'])]:g}→{v['weight']:g}%" for v in new
    )


def _short(value: object) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"
