"""Custom metric definitions; each experiment's CUPED lookback and explicit covariate.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_definitions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("aggregation", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name"),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        # Existing experiments get the default lookback; the server default stays harmless.
        batch_op.add_column(
            sa.Column(
                "cuped_lookback_days", sa.Integer(), nullable=False, server_default=sa.text("14")
            )
        )
        batch_op.add_column(sa.Column("cuped_covariate", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("cuped_covariate")
        batch_op.drop_column("cuped_lookback_days")
    op.drop_table("metric_definitions")
