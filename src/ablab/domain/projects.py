"""Projects: the tenants. Everything else belongs to exactly one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DEFAULT_PROJECT", "Project"]

# The embedded store works in one project unless told otherwise.
DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    created_at: datetime
