"""The rollouts in memory: at most one in progress per model (``ablab.services.ports.rollouts``)."""

from __future__ import annotations

from dataclasses import replace

from ablab.domain.rollouts import Rollout
from ablab.errors import Conflict
from tests.fakes.tables import FakeRecords, StoreRefused, refuse, refuse_naive

__all__ = ["FakeRolloutRecords"]


class FakeRolloutRecords(FakeRecords):
    def get_rollout(self, project_id: str, rollout_id: str) -> Rollout | None:
        rollout = self._tables.rollouts.get(rollout_id)
        return rollout if rollout is not None and rollout.project_id == project_id else None

    def list_rollouts(self, project_id: str, model: str | None = None) -> list[Rollout]:
        found = [
            r
            for r in self._tables.rollouts.values()
            if r.project_id == project_id and (model is None or r.model == model)
        ]
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    def active_rollout(self, project_id: str, model: str) -> Rollout | None:
        rollouts = self._tables.rollouts.values()
        return next((r for r in rollouts if self._in_progress(r, project_id, model)), None)

    def add_rollout(self, rollout: Rollout) -> None:
        refuse_naive(rollout)
        busy = rollout.active and self.active_rollout(rollout.project_id, rollout.model)
        if rollout.id in self._tables.rollouts or busy:
            refuse(
                f"model {rollout.model!r} has a rollout in progress already",
                details={"model": rollout.model},
            )
        self._tables.rollouts[rollout.id] = self._as_stored(rollout)

    def update_rollout(self, rollout: Rollout) -> Rollout:
        refuse_naive(rollout)
        stored = self._tables.rollouts.get(rollout.id)
        if stored is None or stored.revision != rollout.revision:
            raise Conflict("the rollout was changed by someone else: read it again and retry")
        others = (r for r in self._tables.rollouts.values() if r.id != rollout.id)
        if rollout.active and any(
            self._in_progress(r, rollout.project_id, rollout.model) for r in others
        ):
            # The partial unique index refuses the UPDATE: an IntegrityError, not a Conflict.
            raise StoreRefused(f"model {rollout.model!r} has another rollout in progress")
        written = self._as_stored(replace(rollout, revision=rollout.revision + 1))
        self._tables.rollouts[rollout.id] = written
        return written

    @staticmethod
    def _in_progress(rollout: Rollout, project_id: str, model: str) -> bool:
        return rollout.active and (rollout.project_id, rollout.model) == (project_id, model)

    @staticmethod
    def _as_stored(rollout: Rollout) -> Rollout:
        return replace(rollout, steps=tuple(float(s) for s in rollout.steps))
