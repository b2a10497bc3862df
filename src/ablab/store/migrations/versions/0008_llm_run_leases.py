"""An LLM experiment's run has an owner and a lease held in the database.

Before, every server ended every run still marked running as it started, so a second
replica starting ended the runs the first one was still executing. Now the process that
runs a configuration holds a lease on it and renews it; a run is ended by another process
only once its lease has expired. A run recorded before this migration has no lease, and
counts as expired (as before, the next recovery ends it).

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("llm_experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("llm_experiments", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("run_owner")
