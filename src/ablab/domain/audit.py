"""The audit log: who changed what, from which state to which."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["AuditEntry"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change. ``before`` is None for a creation; ``after`` is None for a deletion."""

    project_id: str
    actor: str
    action: str
    object_type: str
    object_id: str
    at: datetime
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    id: int | None = None
