"""``ablab experiment ...``: the lifecycle from the shell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ablab.cli.experiment_results import rebalance, results, timeseries
from ablab.cli.experiment_view import (
    render_audit,
    render_created,
    render_experiment,
    render_list,
)
from ablab.cli.output import OutputFormat, OutputOption, emit, stderr
from ablab.cli.state import client_of
from ablab.errors import ValidationError

if TYPE_CHECKING:
    from ablab.contract.experiments import ExperimentPublic

app = typer.Typer(
    help="Create experiments and move them through their lifecycle.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="Experiment name or id.")]

app.command()(results)
app.command()(timeseries)
app.command()(rebalance)


def _show(experiment: ExperimentPublic, output: OutputFormat, message: str | None = None) -> None:
    emit(output, experiment, message or render_experiment)
    _warn(experiment)


def _warn(experiment: ExperimentPublic) -> None:
    """The action's warnings (create, launch, resume, promote), one line each on stderr, so
    ``--output json`` on stdout stays one document."""
    for warning in getattr(experiment, "warnings", ()):
        stderr.print(f"warning: {warning}", markup=False)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name, e.g. my-experiment.")],
    model: Annotated[str, typer.Option("--model", help="Registered model, e.g. radiology-v1.")],
    control: Annotated[str, typer.Option("--control", help="Control model version.")],
    treatment: Annotated[
        list[str], typer.Option("--treatment", help="Treatment version; repeat for A/B/n.")
    ],
    traffic_split: Annotated[
        float, typer.Option(help="Percent of traffic to the treatments (shared equally).")
    ] = 50.0,
    group: Annotated[str | None, typer.Option(help="Target a device group.")] = None,
    metric: Annotated[str, typer.Option(help="Primary metric.")] = "accuracy",
    min_samples: Annotated[
        int, typer.Option(help="Units per variant before significance is acted on.")
    ] = 100,
    max_duration_days: Annotated[
        int | None,
        typer.Option(
            help="Days after launch when an inconclusive test stops for futility and keeps "
            "the control [no limit]."
        ),
    ] = None,
    auto_promote: Annotated[
        bool, typer.Option("--auto-promote", help="Promote the treatment when it wins.")
    ] = False,
    draft: Annotated[bool, typer.Option("--draft", help="Create without launching.")] = False,
    source: Annotated[
        str | None,
        typer.Option(help="Analysis source its events are read from [ablab's own events]."),
    ] = None,
    hypothesis: Annotated[str, typer.Option(help="What you expect and why.")] = "",
    coverage: Annotated[
        float, typer.Option(help="Percent of eligible units in the experiment.")
    ] = 100.0,
    secondary_metric: Annotated[
        list[str] | None, typer.Option("--secondary-metric", help="Repeatable.")
    ] = None,
    guardrail: Annotated[
        list[str] | None,
        typer.Option("--guardrail", help='Repeatable bound, e.g. "error_rate<=0.01".'),
    ] = None,
    method: Annotated[
        str, typer.Option(help="Analysis: sequential, fixed or bayesian.")
    ] = "sequential",
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    mde: Annotated[
        float | None, typer.Option(help="Relative effect to detect, e.g. 0.05 for +5%.")
    ] = None,
    sequential_tuning_units: Annotated[
        int | None,
        typer.Option(
            help="Units of control and treatment together where the sequential test is "
            "sharpest (fixes its mixing variance; default 5000, or your planned sample size)."
        ),
    ] = None,
    cuped: Annotated[
        bool, typer.Option("--cuped/--no-cuped", help="Adjust metrics by pre-launch data.")
    ] = True,
    cuped_lookback_days: Annotated[
        int, typer.Option(help="Days before launch that CUPED uses.")
    ] = 14,
    covariate: Annotated[
        str | None, typer.Option(help="Metric events to use as CUPED covariate instead.")
    ] = None,
    bandit: Annotated[
        bool, typer.Option("--bandit", help="Thompson sampling moves traffic to the best arm.")
    ] = False,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Serve the control; mirror to the treatments.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create an experiment comparing model versions; it starts running at once."""
    experiment = client_of(ctx).experiments.create(
        name,
        model_id=model,
        control_version=control,
        treatment_versions=treatment,
        traffic_split=traffic_split,
        group=group,
        primary_metric=metric,
        min_samples=min_samples,
        max_duration_days=max_duration_days,
        auto_promote=auto_promote,
        draft=draft,
        hypothesis=hypothesis,
        coverage=coverage,
        secondary_metrics=secondary_metric or [],
        guardrails=guardrail or [],
        analysis_method=method,
        alpha=alpha,
        mde=mde,
        sequential_tuning_units=sequential_tuning_units,
        cuped=cuped,
        cuped_lookback_days=cuped_lookback_days,
        cuped_covariate=covariate,
        bandit=bandit,
        shadow=shadow,
        source=source,
    )
    emit(output, experiment, render_created)
    _warn(experiment)


@app.command()
def update(
    ctx: typer.Context,
    name: NameArg,
    traffic_split: Annotated[
        float | None, typer.Option(help="New percent to the treatments (new units only).")
    ] = None,
    weight: Annotated[
        list[str] | None, typer.Option("--weight", help="VARIANT=PERCENT; repeatable.")
    ] = None,
    min_samples: Annotated[int | None, typer.Option()] = None,
    max_duration_days: Annotated[
        int | None,
        typer.Option(help="Days after launch when an inconclusive test stops for futility."),
    ] = None,
    hypothesis: Annotated[str | None, typer.Option()] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="New primary metric; the next results read every event with it "
            "(refused once the experiment has ended)."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help='Analysis source to read its events from; "" for ablab\'s own.'),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Change the split (units already assigned keep their variant), the primary metric or
    other settings."""
    weights = _parse_weights(weight) if weight else None
    experiment = client_of(ctx).experiments.update(
        name,
        traffic_split=traffic_split,
        weights=weights,
        min_samples=min_samples,
        max_duration_days=max_duration_days,
        hypothesis=hypothesis,
        primary_metric=metric,
        source=source,
    )
    split = ", ".join(f"{v.name} {v.weight:g}%" for v in experiment.variants)
    message = f"Updated {experiment.name}: {split} (new units only)"
    if metric is not None:
        message += f"; primary metric {experiment.primary_metric}"
    _show(experiment, output, message)


def _parse_weights(pairs: list[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for pair in pairs:
        variant, sep, value = pair.partition("=")
        try:
            weights[variant.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValidationError(f"invalid --weight {pair!r}: expected VARIANT=PERCENT")
    return weights


def _action(verb: str, past: str) -> None:
    def command(
        ctx: typer.Context, name: NameArg, output: OutputOption = OutputFormat.TABLE
    ) -> None:
        experiment = getattr(client_of(ctx).experiments, verb)(name)
        _show(
            experiment,
            output,
            f"Experiment {experiment.name} {past} (status: {experiment.status.value})",
        )

    command.__doc__ = {
        "launch": "Start a draft experiment.",
        "pause": "Serve everyone the control; assignments are kept for the resume.",
        "resume": "Resume a paused experiment; units keep their variants.",
        "stop": "End the experiment, keeping the control version.",
        "archive": "Archive an ended (or abandoned draft) experiment.",
    }[verb]
    app.command(name=verb)(command)


for _verb, _past in (
    ("launch", "launched"),
    ("pause", "paused"),
    ("resume", "resumed"),
    ("stop", "stopped"),
    ("archive", "archived"),
):
    _action(_verb, _past)


@app.command()
def promote(
    ctx: typer.Context,
    name: NameArg,
    variant: Annotated[
        str | None, typer.Option(help="Treatment to promote (needed with several).")
    ] = None,
    rollout: Annotated[
        bool, typer.Option(help="Roll the winner out in steps; --no-rollout: to all at once.")
    ] = True,
    steps: Annotated[
        str | None, typer.Option(help="Rollout steps in percent, ending at 100 [10,25,50,100].")
    ] = None,
    min_step_minutes: Annotated[
        float | None, typer.Option(help="Least time a step lasts [60].")
    ] = None,
    min_step_units: Annotated[
        int | None, typer.Option(help="Least units per version a step needs [100].")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Promote even though the results do not recommend it (no data, not "
            "significant, below the MDE...); the audit log records a forced promotion.",
        ),
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """End the experiment making the treatment the winner, and start its rollout.

    Refused when the results do not recommend promoting the treatment, unless --force.
    """
    client = client_of(ctx)
    experiment = client.experiments.promote(
        name,
        variant=variant,
        rollout=rollout,
        steps=parse_steps(steps) if steps is not None else None,
        min_step_minutes=min_step_minutes,
        min_step_units=min_step_units,
        force=force,
    )
    winner = next(v for v in experiment.variants if v.name == experiment.winner)
    message = (
        f"Experiment {experiment.name} promoted: {winner.name} "
        f"({winner.model_version or 'config'}) is the winner"
    )
    started = [
        r for r in client.rollouts.list(experiment.model_id) if r.experiment_id == experiment.id
    ]
    if started:
        first = started[0]
        message += (
            f"\nRollout {first.id} of {first.model} {first.version} {first.status.value} "
            f"at {first.share:g}% (steps {', '.join(f'{s:g}' for s in first.steps)}): "
            f"ablab rollout show {first.id}"
        )
    _show(experiment, output, message)


def parse_steps(text: str) -> list[float]:
    """``10,25,50,100`` as numbers.

    Raises:
        ValidationError: a step that is not a number.
    """
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValidationError(
            f"--steps must be numbers separated by commas, got {text!r}"
        ) from None


@app.command()
def show(ctx: typer.Context, name: NameArg, output: OutputOption = OutputFormat.TABLE) -> None:
    """Show an experiment's settings and variants."""
    _show(client_of(ctx).experiments.get(name), output)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """List the project's experiments, newest first."""
    experiments = client_of(ctx).experiments.list(status)
    emit(
        output,
        experiments,
        render_list,
        empty="No experiments yet. Create one with `ablab experiment create`.",
    )


@app.command()
def assign(
    ctx: typer.Context,
    name: NameArg,
    unit_id: Annotated[str, typer.Argument(help="Device, user or session id.")],
    attribute: Annotated[
        list[str] | None, typer.Option("--attr", help="KEY=VALUE unit attribute; repeatable.")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Assign a unit (stored on first sight) and print its variant."""
    attributes = {}
    for pair in attribute or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"invalid --attr {pair!r}: expected KEY=VALUE")
        attributes[key] = value
    result = client_of(ctx).assign(name, unit_id, attributes)
    emit(
        output,
        result,
        f"{result.unit_id}: {result.variant or '-'} "
        f"(model version {result.model_version or '-'}, {result.reason.value}"
        f"{'' if result.in_experiment else ', not in the experiment'})",
    )


@app.command()
def audit(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(help="Newest entries to show.")] = 50,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Show who changed the experiment, when, and how."""
    emit(output, client_of(ctx).experiments.audit(name, limit=limit), render_audit)
