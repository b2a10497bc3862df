"""``ablab model ...``: register model versions and their backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, emit, new_table
from ablab.cli.state import client_of

if TYPE_CHECKING:
    from ablab.contract.catalogue import ModelPublic

app = typer.Typer(
    help="Register models and the versions experiments compare.", no_args_is_help=True
)


@app.command()
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name, e.g. radiology-v1.")],
    version: Annotated[str, typer.Argument(help="Version, e.g. 2.0.0.")],
    endpoint: Annotated[str | None, typer.Option(help="HTTP endpoint serving it.")] = None,
    artifact: Annotated[
        str | None, typer.Option(help="joblib/pickle/skops file, or module:attr.")
    ] = None,
    description: Annotated[str, typer.Option(help="Shown in listings.")] = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Register a model version served by an endpoint or a local artifact."""
    model = client_of(ctx).models.register(
        name, version, endpoint=endpoint, artifact=artifact, description=description
    )
    registered = next(v for v in model.versions if v.version == version)
    emit(
        output,
        model,
        f"Registered {model.name} {registered.version} "
        f"({registered.backend.value}: {registered.backend_uri})",
    )


@app.command("list")
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List models and their versions."""
    models = client_of(ctx).models.list()
    emit(output, models, _render, empty="No models yet. Register one with `ablab model register`.")


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Show a model's versions and backends."""
    emit(output, client_of(ctx).models.get(name), lambda model: _render([model]))


def _render(models: list[ModelPublic]) -> None:
    table = new_table("Model", "Version", "Backend", "Location", "Registered")
    for model in models:
        for version in model.versions:
            table.add_row(
                model.name,
                version.version,
                version.backend.value,
                version.backend_uri,
                version.created_at.strftime("%Y-%m-%d %H:%M"),
            )
    console.print(table)
