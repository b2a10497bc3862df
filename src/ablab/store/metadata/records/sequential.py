"""The sequential tests' state between looks on SQL, read and written under a row lock."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ablab.domain.sequential import SequentialState
from ablab.store.metadata import mapping
from ablab.store.metadata.records.base import SqlRecords
from ablab.store.metadata.tables import SequentialStateRow

__all__ = ["SqlSequentialStateRecords"]


class SqlSequentialStateRecords(SqlRecords):
    """``ports.analysis.SequentialStateRecords``: a read-modify-write under a row lock.

    The empty rows are inserted first (ON CONFLICT DO NOTHING waits for a concurrent
    inserter of the same key on PostgreSQL), then every row is read FOR UPDATE in key
    order, so two servers taking a look at once queue, and the second merges its look into
    the first's. SQLite's BEGIN IMMEDIATE already serialises the whole transaction.
    """

    def lock_sequential_states(
        self, experiment_id: str, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], SequentialState]:
        ordered = sorted(set(keys))
        if not ordered:
            return {}
        empty = [
            {"experiment_id": experiment_id, "metric": metric, "variant": variant, "looks": 0}
            for metric, variant in ordered
        ]
        postgres = self._session.get_bind().dialect.name == "postgresql"
        statement = (postgresql_insert if postgres else sqlite_insert)(SequentialStateRow)
        self._session.execute(statement.values(empty).on_conflict_do_nothing())
        rows = self._session.scalars(
            select(SequentialStateRow)
            .where(SequentialStateRow.experiment_id == experiment_id)
            .order_by(SequentialStateRow.metric, SequentialStateRow.variant)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        found: dict[tuple[str, str], SequentialState] = {}
        for row in rows:
            state = mapping.sequential_state_from_row(row)
            if state is not None:
                found[(row.metric, row.variant)] = state
        return found

    def save_sequential_state(self, state: SequentialState) -> None:
        self._session.execute(
            update(SequentialStateRow)
            .where(
                SequentialStateRow.experiment_id == state.experiment_id,
                SequentialStateRow.metric == state.metric,
                SequentialStateRow.variant == state.variant,
            )
            .values(**mapping.sequential_state_columns(state))
            .execution_options(synchronize_session=False)
        )
