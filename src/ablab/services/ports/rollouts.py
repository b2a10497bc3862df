"""The rollouts room's records: progressive rollouts of a promoted version
(``services.rollouts``; a promotion starts one from ``services.experiments``, and assignment
reads the share it serves)."""

from __future__ import annotations

from typing import Protocol

from ablab.domain.rollouts import Rollout

__all__ = ["RolloutRecords"]


class RolloutRecords(Protocol):
    """Rollouts, at most one in progress per model, written under an optimistic lock on
    their revision."""

    def get_rollout(self, project_id: str, rollout_id: str) -> Rollout | None:
        """None also when the rollout belongs to another project."""
        ...

    def list_rollouts(self, project_id: str, model: str | None = None) -> list[Rollout]:
        """The project's rollouts (of one model, if given), newest first."""
        ...

    def active_rollout(self, project_id: str, model: str) -> Rollout | None:
        """The model's running or paused rollout, if any (at most one)."""
        ...

    def add_rollout(self, rollout: Rollout) -> None:
        """Raises Conflict when the model has a rollout in progress (the database's rule)."""
        ...

    def update_rollout(self, rollout: Rollout) -> Rollout:
        """Write if the stored revision is still ``rollout.revision``; raises Conflict.

        Returns the stored rollout with its revision increased by one.
        """
        ...
