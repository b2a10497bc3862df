"""``ablab events import``: load a file of events, with a progress bar and a verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from ablab.cli.output import OutputFormat, OutputOption, console, emit, stderr
from ablab.cli.state import client_of
from ablab.contract.events import IngestResultPublic, RejectedEvent
from ablab.store.event_files import count_events, read_events

app = typer.Typer(help="Load exposures, predictions, labels and metrics.", no_args_is_help=True)

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
