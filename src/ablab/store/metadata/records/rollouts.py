"""The rollouts on SQL: one in progress per model (a partial unique index), revisions."""

from __future__ import annotations

from sqlalchemy import select, update

from ablab.domain.rollouts import ACTIVE, Rollout
from ablab.errors import Conflict
from ablab.store.metadata import mapping
from ablab.store.metadata.records.base import SqlRecords
from ablab.store.metadata.tables import RolloutRow

__all__ = ["SqlRolloutRecords"]


class SqlRolloutRecords(SqlRecords):
    """``ports.rollouts.RolloutRecords``."""

    def get_rollout(self, project_id: str, rollout_id: str) -> Rollout | None:
        row = self._session.get(RolloutRow, rollout_id)
        if row is None or row.project_id != project_id:
            return None
        return mapping.rollout_from_row(row)

    def list_rollouts(self, project_id: str, model: str | None = None) -> list[Rollout]:
        query = select(RolloutRow).where(RolloutRow.project_id == project_id)
        if model is not None:
            query = query.where(RolloutRow.model == model)
        rows = self._session.scalars(query.order_by(RolloutRow.created_at.desc()))
        return [mapping.rollout_from_row(r) for r in rows]

    def active_rollout(self, project_id: str, model: str) -> Rollout | None:
        row = self._session.scalar(
            select(RolloutRow).where(
                RolloutRow.project_id == project_id,
                RolloutRow.model == model,
                RolloutRow.status.in_([s.value for s in ACTIVE]),
            )
        )
        return mapping.rollout_from_row(row) if row else None

    def add_rollout(self, rollout: Rollout) -> None:
        self._add(
            RolloutRow(**mapping.rollout_columns(rollout)),
            f"model {rollout.model!r} has a rollout in progress already",
            details={"model": rollout.model},
        )

    def update_rollout(self, rollout: Rollout) -> Rollout:
        columns = mapping.rollout_columns(rollout)
        columns["revision"] = rollout.revision + 1
        result = self._session.execute(
            update(RolloutRow)
            .where(RolloutRow.id == rollout.id, RolloutRow.revision == rollout.revision)
            .values(**columns)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("the rollout was changed by someone else: read it again and retry")
        self._session.expire_all()
        row = self._session.get(RolloutRow, rollout.id)
        assert row is not None
        return mapping.rollout_from_row(row)
