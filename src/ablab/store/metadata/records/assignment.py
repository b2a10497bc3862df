"""The first assignments on SQL: read in bounded chunks, written in one statement per group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import func, select

from ablab.store.metadata.first_assignments_sql import insert_first_assignments
from ablab.store.metadata.records.base import SqlRecords, chunks
from ablab.store.metadata.tables import AssignmentRow

__all__ = ["SqlAssignmentRecords"]


class SqlAssignmentRecords(SqlRecords):
    """``ports.assignment.AssignmentRecords``."""

    def get_assignments(self, experiment_id: str, unit_ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunks(unit_ids):
            rows = self._session.execute(
                select(AssignmentRow.unit_id, AssignmentRow.variant).where(
                    AssignmentRow.experiment_id == experiment_id, AssignmentRow.unit_id.in_(chunk)
                )
            )
            found.update((unit, variant) for unit, variant in rows)
        return found

    def add_assignments(
        self, experiment_id: str, variants: Mapping[str, str], at: datetime
    ) -> dict[str, str]:
        if not variants:
            return {}
        # A unit assigned concurrently by another process keeps the variant stored first.
        units = list(variants.items())
        inserted = 0
        for start in range(0, len(units), 10_000):
            chunk = dict(units[start : start + 10_000])
            inserted += insert_first_assignments(
                self._session.connection(), experiment_id, chunk, at
            )
        if inserted == len(units):
            return dict(variants)  # all stored as given: no need to read them back
        return self.get_assignments(experiment_id, variants)

    def count_assignments(self, experiment_id: str) -> dict[str, int]:
        rows = self._session.execute(
            select(AssignmentRow.variant, func.count())
            .where(AssignmentRow.experiment_id == experiment_id)
            .group_by(AssignmentRow.variant)
        )
        return dict(rows.all())
