"""``ablab serve``: the REST API (and the console) on uvicorn.

With ``--workers N`` uvicorn's supervisor runs N worker processes, each building its own
app (``worker_app``) from the same ``ABLAB_*`` environment. What must happen once per
store happens in the supervisor before any worker starts: the schema migrations, the event
tables and the first admin key. Started in each worker, they raced: on a fresh PostgreSQL
database both workers ran the first migration, one failed on a duplicate
``alembic_version`` type, and uvicorn stopped the whole server; two workers could also
each make and print a "first" admin key.

Three things keep a busy machine's workers alive and replace a dead one in seconds (each
measured on 2 cores under event ingestion, with two more programs using the CPU): a
health-check timeout that a loaded worker can meet, a supervisor that notices a death at
once, and workers forked from a process that has imported the server already.
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

# The supervisor hands its logging options to the workers here: a worker descends from a
# fresh interpreter, and logging set up in the supervisor does not reach it (before, the
# workers wrote no access log, and plain lines whatever --json-logs said).
WORKER_LOGGING = "ABLAB_SERVE_WORKER_LOGGING"

# uvicorn's supervisor pings each worker every 0.5 s and kills one that has not answered
# within this many seconds; its default is 5. A worker spawned as uvicorn does it answered
# its first ping only after re-importing the `ablab` command (1.5 to 1.8 s of CPU): 2.2 to
# 5.5 s after it was spawned under load, so 5 s killed 8 new workers over 10 starts (one
# came up after 6 tries). Forked from the warm process below, a new worker answers within
# 0.5 to 1.1 s, and a started one under load within 0.53 s at worst (p99 0.08 to 0.4 s).
# 30 s (gunicorn's default worker timeout) leaves room for a machine far busier than that;
# a worker that died is replaced at once whatever the timeout (see
# _notice_dead_workers_at_once).
DEFAULT_HEALTHCHECK_TIMEOUT = 30


def _configure_logging(level: str, json_logs: bool, access_log: bool) -> None:
    from ablab.server.observability import JsonLogFormatter  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

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
    from ablab.services.access.keys import bootstrap_admin_key  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)
    from ablab.store.open import open_events, open_metadata  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    store = open_metadata(settings)
    try:
        generated = bootstrap_admin_key(store, admin_key, settings.project)
    finally:
        store.close()
    open_events(settings).close()
    if generated is not None:
        # Shown once: only its hash is stored.
        logger.warning("created the first admin key (save it now): %s", generated)


def _notice_dead_workers_at_once() -> None:
    """Let uvicorn's supervisor see that a worker died while it waits for its health check.

    The supervisor keeps its own copy of the worker's end of the health-check pipe, so that
    pipe never reaches its end when the worker dies: a worker that died with a ping
    unanswered (killed, out of memory) was noticed only when the whole timeout had passed,
    and the other workers went unwatched meanwhile (under load, 2 of 8 kill -9s were
    noticed 30 s late; a worker stopped, then killed, was not noticed within 60 s with a
    600 s timeout, and at once with this). The started worker holds its own copy; the
    supervisor closing its copy ends the wait the moment the worker dies.
    """
    from uvicorn.supervisors.multiprocess import Process  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

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


def _fork_workers_from_a_warm_process() -> None:
    """Start uvicorn's workers by forking a process that has imported the server already.

    uvicorn spawns each worker as a fresh interpreter, which imports the whole server again
    before it can serve: about 3.4 s of CPU here, so 4 to 7 s on 2 busy cores, and 10 to
    27 s when two more programs wanted the CPU. A multiprocessing fork server that
    imports the server once forks each worker ready to build its app: a replacement then
    served 1.4 to 2.8 s after its predecessor's kill -9 on that same busy machine. The
    fork server runs one Python thread and holds no connection or file of ablab's when it
    forks (nothing in ablab works at import), as gunicorn's ``--preload`` asks of an app.
    """
    import multiprocessing  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

    from uvicorn import _subprocess  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ablab.cli.serve", "ablab.server"])
    _subprocess.spawn = context  # type: ignore[assignment]


def worker_app() -> FastAPI:
    """The app of one worker of ``ablab serve --workers N`` (uvicorn's app factory): the
    supervisor's logging options, then the app from the ``ABLAB_*`` environment."""
    from ablab.server import create_app  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

    options = json.loads(os.environ.get(WORKER_LOGGING, "{}"))
    _configure_logging(
        options.get("level", "info"), options.get("json", True), options.get("access", True)
    )
    return create_app()


def _settings_from_environment() -> Settings:
    """The ``ABLAB_*`` settings; a wrong one is one line per mistake on stderr and exit 2,
    before anything opens (not a traceback from the depths of a store)."""
    from pydantic import ValidationError  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

    from ablab.settings import Settings  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "ABLAB_" + "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")  # pydantic's, for a ValueError
            stderr.print(f"error: {name}: {message}", markup=False)
        raise typer.Exit(2) from None


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
    import uvicorn  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

    settings = _settings_from_environment()
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
        _fork_workers_from_a_warm_process()
        _notice_dead_workers_at_once()
        target: object = "ablab.cli.serve:worker_app"
    else:
        from ablab.server import create_app  # noqa: PLC0415 - the server stack loads only for ablab serve (CLI start-up)

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
