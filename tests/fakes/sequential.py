"""The sequential tests' state between looks in memory
(``ablab.services.ports.analysis.SequentialStateRecords``).

The store serialises whole sessions (``metadata.InMemoryMetadataStore``), as SQLite's
BEGIN IMMEDIATE does, so a lock taken here holds until the transaction ends by itself.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from ablab.domain.sequential import SequentialState
from tests.fakes.tables import FakeRecords, finite, refuse_naive

__all__ = ["FakeSequentialStateRecords"]


class FakeSequentialStateRecords(FakeRecords):
    def lock_sequential_states(
        self, experiment_id: str, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], SequentialState]:
        if not keys:
            return {}
        states = self._tables.sequential_states
        for metric, variant in keys:
            states.setdefault((experiment_id, metric, variant), None)  # the empty row
        # Every stored state of the experiment, as the SELECT ... FOR UPDATE reads them.
        return {
            (metric, variant): state
            for (experiment, metric, variant), state in sorted(states.items(), key=lambda i: i[0])
            if experiment == experiment_id and state is not None and state.looks > 0
        }

    def save_sequential_state(self, state: SequentialState) -> None:
        refuse_naive(state)
        key = (state.experiment_id, state.metric, state.variant)
        if key in self._tables.sequential_states:  # an UPDATE: a row never locked stays absent
            stored = replace(state, mixing_variance=finite(state.mixing_variance))
            self._tables.sequential_states[key] = stored
