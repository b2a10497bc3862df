"""``ablab source ...``: where experiments' events are read from, besides ablab's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ablab.cli.output import OutputFormat, OutputOption, console, emit, new_table
from ablab.cli.state import client_of
from ablab.errors import ValidationError

if TYPE_CHECKING:
    from ablab.contract.sources import SourcePublic

app = typer.Typer(
    help="Analysis sources: the team's own tables, on DuckDB, Spark or ClickHouse.",
    no_args_is_help=True,
)


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name, e.g. lake.")],
    tables: Annotated[
        Path,
        typer.Option(
            "--tables",
            help='JSON: per event type, where it lives and its columns, e.g. {"prediction": '
            '{"path": "/data/preds", "columns": {"unit_id": "device", ...}}}.',
        ),
    ],
    engine: Annotated[str, typer.Option(help="duckdb (files), spark or clickhouse.")] = "duckdb",
    refresh_minutes: Annotated[
        int | None,
        typer.Option(help="Keep each answer this long (a warehouse bills each scan) [no]."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Add a source; its engine reads a sample of each table first."""
    source = client_of(ctx).sources.add(
        name, engine=engine, tables=_read_tables(tables), refresh_minutes=refresh_minutes
    )
    emit(output, source, lambda s: _render_one(s, f"Added source {s.name} on {s.engine}"))


@app.command()
def refresh(
    ctx: typer.Context,
    name: str,
    full: Annotated[
        bool, typer.Option("--full", help="Read every day again, not only the recent ones.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Forget the answers kept from the source: the next results ask its engine again for
    the days that may have changed (the tables' late_days before the last kept)."""
    source = client_of(ctx).sources.refresh(name, full=full)
    days = "every day" if full else "the recent days"
    emit(output, source, f"Source {source.name}: the next reads scan {days} on {source.engine}")


@app.command("test")
def check(ctx: typer.Context, name: str, output: OutputOption = OutputFormat.TABLE) -> None:
    """Read a sample of each of the source's tables again."""
    source = client_of(ctx).sources.test(name)
    emit(output, source, lambda s: _render_one(s, f"Source {s.name} reads on {s.engine}"))


@app.command()
def show(ctx: typer.Context, name: str, output: OutputOption = OutputFormat.TABLE) -> None:
    """Show a source's tables and column mappings."""
    source = client_of(ctx).sources.get(name)
    emit(output, source, lambda s: _render_one(s, f"Source {s.name} on {s.engine}"))


@app.command("list")
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List the project's sources."""
    found = client_of(ctx).sources.list()
    emit(output, found, _render_many, empty="No sources yet. Add one with `ablab source add`.")


def _read_tables(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(found, dict):
        raise ValidationError(f"{path} must hold a JSON object of event types")
    return found


def _render_one(source: SourcePublic, headline: str) -> None:
    console.print(headline)
    table = new_table("Event type", "Where", "Columns", "Sample rows")
    for kind, spec in source.tables.items():
        where = spec.get("table") or spec.get("path") or "SELECT ..."
        if spec.get("format") == "delta":
            where = f"{where} (delta)"
        columns = spec.get("columns")
        mapped = (
            ", ".join(f"{k}={v}" for k, v in columns.items()) if isinstance(columns, dict) else ""
        )
        rows = "" if source.sample_rows is None else str(source.sample_rows.get(kind, 0))
        table.add_row(kind, str(where), mapped, rows)
    console.print(table)


def _render_many(sources: list[SourcePublic]) -> None:
    table = new_table("Source", "Engine", "Event types")
    for source in sources:
        table.add_row(source.name, source.engine, ", ".join(source.tables))
    console.print(table)
