"""``ablab keys create|list|revoke``: API keys of a project (the key is shown once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, emit, new_table
from ablab.cli.state import client_of

if TYPE_CHECKING:
    from ablab.contract.keys import KeyCreated, KeyPublic

app = typer.Typer(help="Create, list and revoke the server's API keys.", no_args_is_help=True)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. serving-fleet.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="admin, write, read or sdk; repeatable [read]."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create a key in the project; it is printed this once and stored only as a hash."""
    emit(output, client_of(ctx).keys.create(name, scopes=scope or ["read"]), _render_created)


def _render_created(created: KeyCreated) -> None:
    console.print(f"Created key {created.prefix} ({', '.join(created.scopes)}) for {created.name}")
    console.print("Save it now, it will not be shown again:")
    print(created.key)


@app.command("list")
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List the project's keys (never their secrets)."""
    emit(output, client_of(ctx).keys.list(), _render)


@app.command()
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id or prefix (abk_<id>).")],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Revoke a key: it stops working at once on this server, within seconds on replicas."""
    revoked = client_of(ctx).keys.revoke(key_id)
    emit(output, revoked, f"Revoked {revoked.prefix} ({revoked.name})")


def _render(keys: list[KeyPublic]) -> None:
    table = new_table("Key", "Name", "Scopes", "Created", "Last used", "Revoked")
    for key in keys:
        table.add_row(
            key.prefix,
            key.name,
            ", ".join(key.scopes),
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "-",
            key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else "-",
        )
    console.print(table)
