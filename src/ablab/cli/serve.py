"""``ablab serve``: the REST API (and the console) on uvicorn.

With ``--workers N`` uvicorn's supervisor spawns N worker processes, each a fresh
interpreter that builds its own app (``worker_app``) from the same ``ABLAB_*`` environment.
What must happen once per store happens in the supervisor before any worker starts:
the schema migrations, the event tables and the first admin key. Started in each worker,
they raced: on a fresh PostgreSQL database both workers ran the first migration, one failed
on a duplicate ``alembic_version`` type, and uvicorn stopped the whole server; two workers
could also each make and print a "first" admin key.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ablab.cli.output import stderr

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ablab.settings import Settings

__all__ = ["serve", "worker_app"]

logger = logging.getLogger("ablab.server")

# The supervisor hands its logging options to the worker processes here: a spawned worker
# is a fresh interpreter, and logging set up in the supervisor does not reach it (before,
# workers wrote no access log and plain-text lines whatever --json-logs said).
WORKER_LOGGING = "ABLAB_SERVE_WORKER_LOGGING"

# uvicorn's supervisor pings each worker every 0.5 s and replaces one that has not answered
# within this many seconds; its default is 5. Measured on 2 cores under event ingestion
# (64 connections, PostgreSQL): a new worker first answered 2.2 to 3.9 s after it was
# spawned, because the spawned interpreter re-imports the `ablab` command (1.5 to 1.8 s of
# CPU) before it can answer, and that import alone took up to 8.5 s while the machine
# also ran other work. So 5 s killed new workers in a loop (7 kills over 10 starts, one
# worker up only after 6 tries). A started worker under the same load answered within
# 0.53 s at worst. 30 s (gunicorn's default worker timeout) is three times the worst start
# seen; a worker that crashed is still replaced at once (the supervisor checks the process
# before it pings).
DEFAULT_HEALTHCHECK_TIMEOUT = 30


def _configure_logging(level: str, json_logs: bool, access_log: bool) -> None:
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
    logging.getLogger("ablab.server.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )


def _prepare_stores(settings: Settings) -> None:
    """Migrate the metadata store, create the event tables and make the first admin key,
    once, before the workers start (each worker then finds them in place)."""
    from ablab.services.keys import bootstrap_admin_key
    from ablab.store.events import open_event_store
    from ablab.store.metadata import metadata_url, open_metadata_store

    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    events_url = settings.events_url.get_secret_value() if settings.events_url else None
    store = open_metadata_store(metadata_url(settings.home, database_url))
    try:
        generated = bootstrap_admin_key(store, admin_key, settings.project)
    finally:
        store.close()
    open_event_store(settings.home, events_url).close()
    if generated is not None:
        # Shown once: only its hash is stored.
        logger.warning("created the first admin key (save it now): %s", generated)


def _notice_dead_workers_at_once() -> None:
    """Let uvicorn's supervisor see that a worker died while it waits for its health check.

    The supervisor keeps its own copy of the worker's end of the health-check pipe, so that
    pipe never reaches its end when the worker dies: a worker that died with a ping
    unanswered (killed, out of memory) was noticed only when the whole timeout had passed,
    and the other workers went unwatched meanwhile (measured under load: 2 of 8 kill -9s
    were noticed 30 s late). The started worker holds its own copy; the supervisor closing
    its copy ends the wait the moment the worker dies.
    """
    from uvicorn.supervisors.multiprocess import Process

    start = Process.start
    if getattr(start, "lets_go_of_the_worker_pipe", False):
        return

    def start_and_let_go(self: Process) -> None:
        start(self)
        self.child_conn.close()

    start_and_let_go.lets_go_of_the_worker_pipe = True  # type: ignore[attr-defined]
    # A wrapper rather than a subclass: uvicorn makes its Process objects itself, and
    # pickles each one to its worker.
    Process.start = start_and_let_go  # type: ignore[method-assign]


def worker_app() -> FastAPI:
    """The app of one worker of ``ablab serve --workers N`` (uvicorn's app factory): the
    supervisor's logging options, then the app from the ``ABLAB_*`` environment."""
    from ablab.server import create_app

    options = json.loads(os.environ.get(WORKER_LOGGING, "{}"))
    _configure_logging(
        options.get("level", "info"), options.get("json", True), options.get("access", True)
    )
    return create_app()


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes (DuckDB allows one: use PostgreSQL for more)."),
    ] = 1,
    worker_healthcheck_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds a worker may leave the supervisor's health check unanswered "
            "before it is replaced (with --workers above 1).",
        ),
    ] = DEFAULT_HEALTHCHECK_TIMEOUT,
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

    from ablab.settings import Settings

    settings = Settings()
    _configure_logging(log_level, json_logs, access_log)
    if workers > 1 and settings.events_url is None:
        stderr.print(
            "error: several workers need a shared event store: set ABLAB_EVENTS_URL to a "
            "postgresql:// URL (DuckDB opens in one process)",
            markup=False,
        )
        raise typer.Exit(2)
    stderr.print(f"ablab serving on http://{host}:{port} (store: {settings.home})", markup=False)
    if workers > 1:
        _prepare_stores(settings)
        os.environ[WORKER_LOGGING] = json.dumps(
            {"level": log_level, "json": json_logs, "access": access_log}
        )
        _notice_dead_workers_at_once()
        target: object = "ablab.cli.serve:worker_app"
    else:
        from ablab.server import create_app

        target = create_app(settings)
    uvicorn.run(
        target,  # type: ignore[arg-type]
        factory=workers > 1,
        workers=workers,
        timeout_worker_healthcheck=worker_healthcheck_timeout,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
