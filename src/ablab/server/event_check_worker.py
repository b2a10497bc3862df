"""One checker process of the server: request bodies in, checked Arrow batches out.

It reads the body of a ``POST /v1/events`` (or a batch of the gateway's events) from its
end of a pipe, parses it with orjson, checks it column by column
(:func:`~ablab.services.events.ingest.check_events`) and answers the checked batch as Arrow
IPC (:mod:`ablab.server.checked_wire`). It stores nothing: the server stores what comes
back, so an answer it acknowledged is durable whatever becomes of this process, and a body
whose checker died can be checked again anywhere.

Each request is two messages: a header ``[project id, now (ISO 8601), most events or null,
cache generation]`` and the body. Experiments are looked up on this process's own
connection to the metadata store through the server's own ``ExperimentCache`` (read-only
sessions, a second's keep); a new generation (the server wrote something) drops them.
It says ``ready`` once started, and ends when the server closes its end of the pipe, or
dies.
"""

from __future__ import annotations

import logging
import signal
from datetime import datetime
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

import orjson

from ablab.domain.experiments import Experiment
from ablab.errors import AblabError
from ablab.server.checked_wire import encode_checked, encode_error
from ablab.server.event_body import read_events_body
from ablab.server.experiment_cache import ExperimentCache
from ablab.services.events.ingest import check_events
from ablab.services.ports import MetadataStore
from ablab.settings import Settings

__all__ = ["READY", "serve"]

logger = logging.getLogger("ablab.server.events")

READY = b"ready"


class _Experiments:
    """The server's ``ExperimentCache`` over this process's own metadata connection, opened
    at the first lookup (when the server has opened, and migrated, the store)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: MetadataStore | None = None
        self._cache: ExperimentCache | None = None
        self._generation = -1

    def refresh(self, generation: int) -> None:
        """A new generation (the server wrote something) drops what is kept."""
        if generation != self._generation and self._cache is not None:
            self._cache.invalidate()
        self._generation = generation

    def lookup(self, project_id: str, ref: str) -> Experiment | None:
        if self._cache is None:
            from ablab.store.open import open_metadata  # noqa: PLC0415 - SQLAlchemy loads only where experiments are looked up

            self._store = open_metadata(self._settings)
            self._cache = ExperimentCache(self._store)
        return self._cache.lookup(project_id, ref)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def serve(connection: Connection, settings: Settings) -> None:
    """Answer requests on ``connection`` until the server closes it (the process's target)."""
    # Ctrl-C reaches the whole process group: the server stops its checkers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    experiments = _Experiments(settings)
    connection.send_bytes(READY)  # started: the server waits for this before counting on us
    try:
        while True:
            try:
                header = connection.recv_bytes()
                body = connection.recv_bytes()
            except EOFError:
                return
            answer, tables = _answer(orjson.loads(header), body, experiments)
            connection.send_bytes(answer)
            connection.send_bytes(tables)
    finally:
        experiments.close()
        connection.close()


def _answer(header: list[Any], body: bytes, experiments: _Experiments) -> tuple[bytes, Any]:
    project_id, now, max_events, generation = header
    experiments.refresh(generation)
    try:
        events, default = read_events_body(body, max_events)
        checked = check_events(
            project_id,
            datetime.fromisoformat(now),
            events,
            partial(experiments.lookup, project_id),
            default_experiment=default,
        )
    except AblabError as exc:
        return encode_error(exc), b""
    except Exception as exc:  # the server answers it as it answers its own failures
        logger.exception("checking a batch failed")
        return orjson.dumps({"failure": f"{type(exc).__name__}: {exc}"}), b""
    return encode_checked(checked)
