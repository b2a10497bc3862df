"""``ExperimentCache``: the experiments event checks look up, kept a second.

The server's own checks and its checker processes (``event_check_worker``) share it, each
over its own metadata connection and in read-only sessions. A second is how long a launch
or a pause may take to reach the checks; a write through the server drops it at once.
"""

from __future__ import annotations

import time

from ablab.domain.experiments import Experiment
from ablab.services.ports import MetadataStore

__all__ = ["EXPERIMENT_TTL", "ExperimentCache"]

EXPERIMENT_TTL = 1.0


class ExperimentCache:
    """Experiments by (project, id or name) for event checks, kept ``ttl`` seconds."""

    def __init__(self, store: MetadataStore, ttl: float = EXPERIMENT_TTL) -> None:
        self._store = store
        self._ttl = ttl
        self._found: dict[tuple[str, str], tuple[float, Experiment | None]] = {}

    def lookup(self, project_id: str, ref: str) -> Experiment | None:
        now = time.monotonic()
        cached = self._found.get((project_id, ref))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        with self._store.session(read_only=True) as session:
            experiment = session.get_experiment(project_id, ref)
        self._found[(project_id, ref)] = (now, experiment)
        return experiment

    def invalidate(self) -> None:
        self._found.clear()
