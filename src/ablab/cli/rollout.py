"""``ablab rollout list|show|advance|pause|resume|rollback``: promoted versions, step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, emit, new_table
from ablab.cli.state import client_of
from ablab.domain.results.checks import describe
from ablab.domain.rollouts import RolloutStatus

if TYPE_CHECKING:
    from ablab.contract.rollouts import RolloutCheckPublic, RolloutPublic

app = typer.Typer(
    help="Follow and steer the rollouts that promoting an experiment starts.",
    no_args_is_help=True,
)

RolloutArg = Annotated[str, typer.Argument(help="The rollout's id (ro_...).")]
ReasonOption = Annotated[str, typer.Option(help="Why, for the audit log.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Only this model's rollouts.")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """List rollouts, newest first."""
    found = client_of(ctx).rollouts.list(model)
    emit(output, found, _render, empty="No rollouts yet: promoting an experiment starts one.")


def _render(found: list[RolloutPublic]) -> None:
    table = new_table("Rollout", "Model", "Version", "Previous", "Status", "Share", "Since")
    for rollout in found:
        table.add_row(
            rollout.id,
            rollout.model,
            rollout.version,
            rollout.previous_version,
            rollout.status.value,
            f"{rollout.share:g}%",
            rollout.step_started_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command()
def show(
    ctx: typer.Context, rollout_id: RolloutArg, output: OutputOption = OutputFormat.TABLE
) -> None:
    """Show a rollout and its current step's evidence: units, guardrails, what comes next."""
    emit(output, client_of(ctx).rollouts.get(rollout_id), render_check)


def render_check(check: RolloutCheckPublic) -> None:
    rollout = check.rollout
    active = rollout.status in (RolloutStatus.RUNNING, RolloutStatus.PAUSED)
    steps = ", ".join(
        f"[bold]{s:g}%[/bold]" if i == rollout.step and active else f"{s:g}%"
        for i, s in enumerate(rollout.steps)
    )
    console.print(
        f"Rollout {rollout.id}: {rollout.model} {rollout.previous_version} -> {rollout.version}"
        f" ({rollout.status.value}, {rollout.share:g}% on {rollout.version})"
    )
    console.print(f"Steps: {steps}; each at least {rollout.min_step_minutes:g} minutes and "
                  f"{rollout.min_step_units} units per version")  # fmt: skip
    console.print(f"Last change: {rollout.reason}")
    if not active:
        return
    units = ", ".join(f"{n} on {v}" for v, n in check.units.items())
    console.print(f"This step: {check.minutes_in_step:.0f} minutes, {units}")
    if check.guardrails:
        table = new_table("Guardrail", "Previous", "New", "Limit", "State")
        for g in check.guardrails:
            table.add_row(
                describe(g),
                _number(g.control_value),
                _number(g.value),
                _number(g.limit),
                "[red]broken[/red]" if g.violated else g.state,
            )
        console.print(table)
    console.print(f"State: {check.state} ({check.reason})")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _moved(rollout: RolloutPublic, output: OutputFormat, verb: str) -> None:
    emit(
        output,
        rollout,
        f"Rollout {rollout.id} {verb}: {rollout.status.value}, "
        f"{rollout.share:g}% on {rollout.model} {rollout.version}",
    )


@app.command()
def advance(
    ctx: typer.Context,
    rollout_id: RolloutArg,
    reason: ReasonOption = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Go to the next step now (onto 100%: complete the rollout)."""
    _moved(client_of(ctx).rollouts.advance(rollout_id, reason), output, "advanced")


@app.command()
def pause(
    ctx: typer.Context,
    rollout_id: RolloutArg,
    reason: ReasonOption = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Hold the current share; the monitor leaves a paused rollout alone."""
    _moved(client_of(ctx).rollouts.pause(rollout_id, reason), output, "paused")


@app.command()
def resume(
    ctx: typer.Context,
    rollout_id: RolloutArg,
    reason: ReasonOption = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Carry on from the current step (its clock restarts)."""
    _moved(client_of(ctx).rollouts.resume(rollout_id, reason), output, "resumed")


@app.command()
def rollback(
    ctx: typer.Context,
    rollout_id: RolloutArg,
    reason: ReasonOption = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Serve everyone the previous version again."""
    _moved(client_of(ctx).rollouts.rollback(rollout_id, reason), output, "rolled back")
