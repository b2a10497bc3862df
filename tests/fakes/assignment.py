"""The first assignments in memory (``ablab.services.ports.assignment``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from tests.fakes.tables import FakeRecords, refuse_naive

__all__ = ["FakeAssignmentRecords"]


class FakeAssignmentRecords(FakeRecords):
    def get_assignments(self, experiment_id: str, unit_ids: Iterable[str]) -> dict[str, str]:
        stored = self._tables.assignments
        keys = ((experiment_id, unit) for unit in unit_ids)
        return {key[1]: stored[key] for key in keys if key in stored}

    def add_assignments(
        self, experiment_id: str, variants: Mapping[str, str], at: datetime
    ) -> dict[str, str]:
        refuse_naive(at)
        stored = self._tables.assignments
        held: dict[str, str] = {}
        for unit, variant in variants.items():
            # ON CONFLICT DO NOTHING: the first variant stored stays.
            held[unit] = stored.setdefault((experiment_id, unit), variant)
        return held

    def count_assignments(self, experiment_id: str) -> dict[str, int]:
        stored = self._tables.assignments
        return dict(Counter(v for (e, _), v in stored.items() if e == experiment_id))
