"""What the server holds while it runs: the stores and the caches on top of them.

Everything is opened in the app's lifespan, not at import, and reached by routes through
``request.app.state.ablab``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ablab.domain.experiments import Experiment
from ablab.notify import WebhookAlerts
from ablab.server.auth import KeyCache
from ablab.server.observability import Telemetry
from ablab.services.live_assignment import LiveAssigner
from ablab.services.monitor import Monitor
from ablab.services.ports import EventStore, MetadataStore
from ablab.settings import Settings

__all__ = ["ExperimentCache", "ServerState"]


class ExperimentCache:
    """Experiments by (project, id or name) for event checks, kept ``ttl`` seconds."""

    def __init__(self, store: MetadataStore, ttl: float = 1.0) -> None:
        self._store = store
        self._ttl = ttl
        self._found: dict[tuple[str, str], tuple[float, Experiment | None]] = {}

    def lookup(self, project_id: str, ref: str) -> Experiment | None:
        now = time.monotonic()
        cached = self._found.get((project_id, ref))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        with self._store.session() as session:
            experiment = session.get_experiment(project_id, ref)
        self._found[(project_id, ref)] = (now, experiment)
        return experiment

    def invalidate(self) -> None:
        self._found.clear()


@dataclass
class ServerState:
    settings: Settings
    store: MetadataStore
    events: EventStore
    keys: KeyCache
    assigner: LiveAssigner
    experiments: ExperimentCache
    telemetry: Telemetry
    alerts: WebhookAlerts | None = None
    monitor: Monitor | None = None
    closers: list[object] = field(default_factory=list)

    def store_ping(self) -> None:
        with self.store.session() as session:
            session.get_project_by_name("")

    def events_ping(self) -> None:
        self.events.ping()

    def changed(self) -> None:
        """Something was written through this process: drop the caches that could be stale."""
        self.assigner.invalidate()
        self.experiments.invalidate()
