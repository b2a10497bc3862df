"""Writing and reading the audit log. Every change a service makes goes through ``record``."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python

from ablab.domain.audit import AuditEntry
from ablab.domain.experiments import Experiment
from ablab.domain.snapshots import experiment_record
from ablab.errors import ValidationError
from ablab.services.context import Context
from ablab.services.ports import MetadataSession

__all__ = ["experiment_snapshot", "list_audit", "record"]


def experiment_snapshot(experiment: Experiment) -> dict[str, Any]:
    """The JSON form of an experiment, as the audit log keeps it (and the API shows it).

    ``to_jsonable_python`` writes times and enums as the wire's schemas write them.
    """
    snapshot: dict[str, Any] = to_jsonable_python(experiment_record(experiment))
    return snapshot


def record(
    ctx: Context,
    session: MetadataSession,
    action: str,
    object_type: str,
    object_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction, so it commits with the change."""
    session.add_audit(
        AuditEntry(
            project_id=ctx.project_id,
            actor=ctx.actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            at=ctx.clock(),
            before=before,
            after=after,
        )
    )


def list_audit(ctx: Context, object_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
    """The newest entries first, optionally for one object.

    Raises:
        ValidationError: a limit below 1.
    """
    if limit < 1:
        raise ValidationError(f"limit must be 1 or more, got {limit}")
    with ctx.store.session(read_only=True) as session:
        return session.list_audit(ctx.project_id, object_id=object_id, limit=limit)
