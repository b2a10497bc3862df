"""``ablab db upgrade``: bring the metadata store to the newest schema.

The store is the one ``ablab serve`` would open (``ABLAB_HOME`` or ``--home``, or
``ABLAB_DATABASE_URL``), so like ``ablab users`` this is an operator's command on the
server's host and it refuses ``--url``. Run it after installing a new ablab, before the
servers start on the upgraded code.
"""

from __future__ import annotations

import typer

from ablab.cli.output import OutputFormat, OutputOption, emit
from ablab.cli.store_settings import store_settings

__all__ = ["app"]

app = typer.Typer(help="Look after the metadata store: upgrade its schema.", no_args_is_help=True)


@app.command()
def upgrade(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """Upgrade the metadata store to the newest schema; prints the revisions before and after.

    A store at the newest revision is left as it is; an empty one gets the whole schema.
    """
    from ablab.store.open import upgrade_metadata  # noqa: PLC0415 - the stores load only for this command (CLI start-up)

    before, after = upgrade_metadata(
        store_settings(
            ctx,
            elsewhere="the metadata store is upgraded where the server runs: "
            "run `ablab db upgrade` there, without --url",
        )
    )
    answer = {"from_revision": before, "to_revision": after, "upgraded": before != after}
    emit(output, answer, _message(before, after))


def _message(before: str | None, after: str) -> str:
    if before is None:
        return f"Metadata store created at revision {after} (the newest)."
    if before == after:
        return f"Metadata store already at revision {after} (the newest); nothing to do."
    return f"Metadata store upgraded from revision {before} to {after} (the newest)."
