"""``ablab users create|list|disable``: the people who sign in to the console.

Users live in the server's metadata store, so these commands work on that store directly
(``ABLAB_HOME`` or ``ABLAB_DATABASE_URL``, as ``ablab serve`` uses), like an operator's
command on the server's host; they refuse ``--url``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, emit, new_table
from ablab.cli.store_settings import store_settings
from ablab.domain.users import User, parse_role
from ablab.services.access import users
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context

app = typer.Typer(help="Create, list and disable console users.", no_args_is_help=True)


@contextmanager
def _project(ctx: typer.Context) -> Iterator[Context]:
    settings = store_settings(
        ctx,
        elsewhere="users are kept in the server's store: run `ablab users` where the server "
        "runs, without --url",
    )
    from ablab.store.open import open_metadata  # noqa: PLC0415 - the metadata store loads only for this command (CLI start-up)

    store = open_metadata(settings)
    try:
        project = ensure_project(store, settings.project)
        yield Context(store, project.id, actor="local:cli")
    finally:
        store.close()


def _public(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role.value,
        "created_at": user.created_at.isoformat(),
        "created_by": user.created_by,
        "disabled_at": user.disabled_at.isoformat() if user.disabled_at else None,
    }


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The sign-in name, e.g. alice.")],
    role: Annotated[str, typer.Option(help="admin, write or read.")] = "read",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create a user of the project; the password is asked for (twice) unless piped in."""
    chosen = parse_role(role)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _project(ctx) as project:
        user = users.create_user(project, name, password, chosen)
    emit(output, _public(user), f"Created user {user.name} ({user.role.value}): sign in at /login")


@app.command("list")
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List the project's users (never their password hashes)."""
    with _project(ctx) as project:
        found = users.list_users(project)
    emit(output, [_public(u) for u in found], lambda _: _render(found))


def _render(found: list[User]) -> None:
    table = new_table("Name", "Role", "Created", "Disabled")
    for user in found:
        table.add_row(
            user.name,
            user.role.value,
            user.created_at.strftime("%Y-%m-%d %H:%M"),
            user.disabled_at.strftime("%Y-%m-%d %H:%M") if user.disabled_at else "-",
        )
    console.print(table)


@app.command()
def disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name.")],
) -> None:
    """Stop a user signing in; their open console sessions end at once."""
    with _project(ctx) as project:
        user = users.disable_user(project, name)
    console.print(f"Disabled user {user.name}")
