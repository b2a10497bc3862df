"""``ablab events import``: load a file of events, with a progress bar and a verdict;
``ablab events export``: write the event store's days into a Parquet lake."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from ablab.cli.output import OutputFormat, OutputOption, console, emit, stderr
from ablab.cli.state import client_of
from ablab.cli.store_settings import store_settings
from ablab.contract.events import IngestResultPublic, RejectedEvent
from ablab.errors import ValidationError
from ablab.store.event_files import count_events, read_events

app = typer.Typer(
    help="Load exposures, predictions, labels and metrics; export them to a lake.",
    no_args_is_help=True,
)

SHOWN_REJECTIONS = 10


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON Lines, CSV or Parquet of events.")],
    experiment: Annotated[
        str | None, typer.Option(help="Experiment of the events that name none.")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Import events; a retried import stores nothing twice. Exits 1 if any were rejected."""
    client = client_of(ctx)
    total = count_events(file)
    received = accepted = stored = 0
    rejected: list[RejectedEvent] = []
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(f"importing {file.name}", total=total)
        for chunk in read_events(file):
            result = client.events.log(chunk, experiment=experiment)
            # Indices are per chunk: shift them to positions in the file.
            rejected += [
                r.model_copy(update={"index": r.index + received}) for r in result.rejected
            ]
            received += result.received
            accepted += result.accepted
            stored += result.stored
            progress.advance(task, result.received)
    summary = IngestResultPublic(
        received=received,
        accepted=accepted,
        stored=stored,
        duplicates=accepted - stored,
        rejected=rejected,
    )
    emit(output, summary, lambda s: _render(file, s))
    if rejected:
        raise typer.Exit(1)


def _render(file: Path, summary: IngestResultPublic) -> None:
    console.print(
        f"{file.name}: {summary.received} events, {summary.stored} stored, "
        f"{summary.duplicates} already there, {len(summary.rejected)} rejected"
    )
    for rejection in summary.rejected[:SHOWN_REJECTIONS]:
        console.print(
            f"  event {rejection.index + 1}"
            + (f" ({rejection.event_id})" if rejection.event_id else "")
            + f": {rejection.reason}"
        )
    if len(summary.rejected) > SHOWN_REJECTIONS:
        console.print(f"  ... and {len(summary.rejected) - SHOWN_REJECTIONS} more (--output json)")


@app.command()
def export(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The lake's folder (created if missing).")],
    since: Annotated[
        str | None, typer.Option(help="First UTC day to write (YYYY-MM-DD); default the first.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="UTC day to stop before (YYYY-MM-DD).")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Write the events of each UTC day into day-partitioned Parquet that Spark, ClickHouse
    and DuckDB read; a day written before is replaced. Run where the server runs."""
    from ablab.store.open import open_events  # noqa: PLC0415 - the stores load only for this command (CLI start-up)
    from ablab.store.warehouse.lake_export import ArrowReader, export_lake  # noqa: PLC0415 - likewise

    first, end = _day(since, "--since"), _day(until, "--until")
    if first is not None and end is not None and end <= first:
        raise ValidationError(f"--until {end} is not after --since {first}")
    settings = store_settings(
        ctx, elsewhere="events are exported where the server runs: run it there, without --url"
    )
    store = open_events(settings)
    try:
        if not isinstance(store, ArrowReader):  # pragma: no cover - both stores read Arrow
            raise ValidationError("this event store cannot be exported")
        written = export_lake(store, folder, since=first, until=end)
    finally:
        store.close()
    answer = {"folder": str(folder), "rows": written.rows, "days": written.days}
    emit(output, answer, lambda a: _render_export(folder, written.rows, written.days))


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{option} must be a day as YYYY-MM-DD, got {text!r}") from None


def _render_export(folder: Path, rows: dict[str, int], days: dict[str, int]) -> None:
    for table, count in rows.items():
        console.print(f"{table}: {count} events in {days[table]} day file(s)")
    console.print(f"lake: {folder}")
