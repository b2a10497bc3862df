"""``ablab serve``: the REST API (and the console) on uvicorn."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from ablab.cli.output import stderr

__all__ = ["serve"]


def _configure_logging(level: str, json_logs: bool) -> None:
    from ablab.server.observability import JsonLogFormatter

    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("ablab")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (DuckDB allows one: use PostgreSQL for more).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    json_logs: Annotated[
        bool, typer.Option("--json-logs/--plain-logs", help="One JSON object per log line.")
    ] = True,
) -> None:
    """Serve the REST API on the embedded stores, or PostgreSQL via ABLAB_DATABASE_URL.

    On a fresh store the first admin key is ABLAB_ADMIN_KEY, or a new one printed once.
    """
    import uvicorn

    from ablab.server import create_app
    from ablab.settings import Settings

    settings = Settings()
    _configure_logging(log_level, json_logs)
    logging.getLogger("ablab.server.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )
    if workers > 1 and settings.events_url is None:
        stderr.print(
            "error: several workers need a shared event store: set ABLAB_EVENTS_URL to a "
            "postgresql:// URL (DuckDB opens in one process)",
            markup=False,
        )
        raise typer.Exit(2)
    stderr.print(f"ablab serving on http://{host}:{port} (store: {settings.home})", markup=False)
    if workers > 1:
        # Each worker process builds its own app from the same ABLAB_* environment.
        target: object = "ablab.server:create_app"
    else:
        target = create_app(settings)
    uvicorn.run(
        target,  # type: ignore[arg-type]
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
