"""Device groups: named targeting by a condition on unit attributes or by an explicit list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ablab.assignment import compile_condition
from ablab.domain.limits import MAX_CONFIG_BYTES, MAX_MEMBERS, check_identifier, check_json
from ablab.errors import ValidationError

__all__ = ["DeviceGroup", "validate_group_definition"]


@dataclass(frozen=True, slots=True)
class DeviceGroup:
    """Exactly one of ``condition`` (Mongo-style operators) and ``members`` is set."""

    id: str
    project_id: str
    name: str
    created_at: datetime
    condition: Mapping[str, Any] | None = None
    members: frozenset[str] = field(default_factory=frozenset)
    description: str = ""


def validate_group_definition(
    condition: Mapping[str, Any] | None, members: frozenset[str] | None
) -> None:
    """A group has a valid condition or a non-empty member list, not both.

    Raises:
        ValidationError: neither or both given, an invalid or oversized condition, an empty
            unit id or one with a control character, or more than ``MAX_MEMBERS`` members.
    """
    if (condition is None) == (members is None):
        raise ValidationError("a device group needs either a rule or a member list, not both")
    if condition is not None:
        check_json(condition, "rule", max_bytes=MAX_CONFIG_BYTES)
        compile_condition(condition)
        return
    assert members is not None
    if not members:
        raise ValidationError("a device group's member list is empty")
    if any(not m.strip() for m in members):
        raise ValidationError("a device group's member list contains an empty unit id")
    if len(members) > MAX_MEMBERS:
        raise ValidationError(
            f"a device group lists at most {MAX_MEMBERS} members, got {len(members)}",
            details={"field": "members", "limit": MAX_MEMBERS},
        )
    for member in members:
        check_identifier(member, "members")
