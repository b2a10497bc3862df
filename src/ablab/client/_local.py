"""The local backend: each operation's function run here, on the stores under ``$ABLAB_HOME``."""

from __future__ import annotations

import getpass
from typing import ParamSpec, TypeVar

from ablab.client._operation import Operation
from ablab.client._trust import local_trust
from ablab.notify import WebhookAlerts
from ablab.services.access.projects import ensure_project
from ablab.services.context import Context
from ablab.services.ports import AlertSink, EventStore
from ablab.settings import Settings
from ablab.store.open import analysis_engines, open_events, open_metadata
from ablab.store.warehouse.sourced_events import SourcedEvents

__all__ = ["LocalBackend"]

P = ParamSpec("P")
Out = TypeVar("Out")


class LocalBackend:
    """Opens (creating on first use) the metadata store and the project named in settings.

    Operations act as ``local:<login name>``, with the trust of a person's own machine.
    """

    def __init__(self, settings: Settings) -> None:
        self._store = open_metadata(settings)
        project = ensure_project(self._store, settings.project)
        self._settings = settings
        self._events: EventStore | None = None
        self.alerts: AlertSink | None = (
            WebhookAlerts(settings.alert_webhook) if settings.alert_webhook else None
        )
        self._engines = analysis_engines(settings)
        self.ctx = Context(
            self._store,
            project.id,
            actor=f"local:{_user()}",
            trust=local_trust(settings),
            sources=self._engines,
        )

    def call(self, operation: Operation[P, Out], /, *args: P.args, **kwargs: P.kwargs) -> Out:
        return operation.serve(self, *args, **kwargs)

    def events(self) -> EventStore:
        # Opened on first use: most commands never touch events, and DuckDB locks its file.
        if self._events is None:
            self._events = SourcedEvents(open_events(self._settings), self._store, self._engines)
        return self._events

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
        self._store.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"
