"""``ablab group ...``: device groups that experiments target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, emit, new_table
from ablab.cli.state import client_of
from ablab.errors import ValidationError

if TYPE_CHECKING:
    from ablab.contract.catalogue import GroupPublic

app = typer.Typer(help="Define device groups by a rule or a member list.", no_args_is_help=True)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Group name, e.g. staging-devices.")],
    rule: Annotated[
        str | None,
        typer.Option(help='JSON condition, e.g. \'{"region": {"$in": ["eu", "us"]}}\'.'),
    ] = None,
    members: Annotated[Path | None, typer.Option(help="File with one unit id per line.")] = None,
    description: Annotated[str, typer.Option()] = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create a device group from a JSON rule or a file of unit ids."""
    group = client_of(ctx).groups.create(
        name,
        rule=_parse_rule(rule) if rule is not None else None,
        members=_read_members(members) if members is not None else None,
        description=description,
    )
    what = f"rule {json.dumps(group.rule)}" if group.rule else f"{group.member_count} members"
    emit(output, group, f"Device group created: {group.name} ({what})")


def _parse_rule(text: str) -> dict[str, Any]:
    try:
        rule = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"--rule is not valid JSON: {exc.msg} at column {exc.colno}"
        ) from None
    if not isinstance(rule, dict):
        raise ValidationError('--rule must be a JSON object such as {"region": "eu"}')
    return rule


def _read_members(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValidationError(f"cannot read --members file {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"--members file {str(path)!r} is not UTF-8 text") from None
    return [line.strip() for line in lines if line.strip()]


@app.command("list")
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List device groups."""
    groups = client_of(ctx).groups.list()
    emit(
        output,
        groups,
        _render,
        empty="No device groups yet. Create one with `ablab group create`.",
    )


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Show a device group."""
    emit(output, client_of(ctx).groups.get(name), lambda group: _render([group]))


def _render(groups: list[GroupPublic]) -> None:
    table = new_table("Group", "Definition", "Created")
    for group in groups:
        what = json.dumps(group.rule) if group.rule else f"{group.member_count} members"
        table.add_row(group.name, what, group.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)
