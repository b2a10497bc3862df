"""The assignment room's records: the sticky first assignments (``services.assignment``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

__all__ = ["AssignmentRecords"]


class AssignmentRecords(Protocol):
    """Each unit's first variant in an experiment: stored once, then served for its life."""

    def get_assignments(self, experiment_id: str, unit_ids: Iterable[str]) -> dict[str, str]:
        """The stored variant of each unit that has one."""
        ...

    def add_assignments(
        self, experiment_id: str, variants: Mapping[str, str], at: datetime
    ) -> dict[str, str]:
        """Store first assignments; a unit already assigned keeps its variant.

        Returns the variant each unit holds after the write (the stored one on a race).
        """
        ...

    def count_assignments(self, experiment_id: str) -> dict[str, int]:
        """Stored units by variant (a variant nobody holds is absent)."""
        ...
