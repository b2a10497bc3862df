"""One rollout in progress per model, held by the database (a partial unique index).

Before it was a read followed by a write, and two promotions on two servers could both
start a rollout of the same model. A store where that already happened keeps the rollout
that started first; the later ones are rolled back (with a reason and an audit entry), so
the index can be built.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-15
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEX = "uq_rollouts_one_active_per_model"
# The statuses of a rollout in progress, as they were when this migration was written.
_IN_PROGRESS = ("running", "paused")
_WHERE = sa.text("status IN ('running', 'paused')")

_rollouts = sa.table(
    "rollouts",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("model", sa.String),
    sa.column("status", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("reason", sa.Text),
    sa.column("revision", sa.Integer),
)
_audit = sa.table(
    "audit_log",
    sa.column("project_id", sa.String),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("object_type", sa.String),
    sa.column("object_id", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
)


def _roll_back_duplicates(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(_rollouts.c.id, _rollouts.c.project_id, _rollouts.c.model, _rollouts.c.status)
        .where(_rollouts.c.status.in_(_IN_PROGRESS))
        .order_by(_rollouts.c.project_id, _rollouts.c.model, _rollouts.c.created_at, _rollouts.c.id)
    ).all()
    kept: dict[tuple[str, str], str] = {}
    now = datetime.now(UTC)
    for rollout_id, project_id, model, status in rows:
        first = kept.setdefault((project_id, model), rollout_id)
        if first == rollout_id:
            continue
        reason = f"rolled back by migration 0007: rollout {first} of {model} started first"
        connection.execute(
            sa.update(_rollouts)
            .where(_rollouts.c.id == rollout_id)
            .values(
                status="rolled_back",
                reason=reason,
                updated_at=now,
                revision=_rollouts.c.revision + 1,
            )
        )
        connection.execute(
            sa.insert(_audit).values(
                project_id=project_id,
                actor="ablab:migration",
                action="rollback",
                object_type="rollout",
                object_id=rollout_id,
                at=now,
                before={"status": status},
                after={"status": "rolled_back", "reason": reason},
            )
        )


def upgrade() -> None:
    _roll_back_duplicates(op.get_bind())
    op.create_index(
        _INDEX,
        "rollouts",
        ["project_id", "model"],
        unique=True,
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="rollouts")
