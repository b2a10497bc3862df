"""An LLM experiment keeps the winner named when it was completed.

``ablab llm complete --winner`` names the configuration to ship: ``baseline`` or a variant's
id in ``winner``, and in ``winner_forced`` whether it was named without the evidence the
rule asks for (a variant not significantly better than the baseline, named on purpose).
Experiments completed before this migration named no winner: NULL and false.

Revision ID: 0011
Revises: 0010
Create Date: 2027-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, never a batch: SQLite's batch mode would copy the table, and
    # dropping the old llm_experiments cascades to every llm_runs row (foreign keys are on).
    op.add_column("llm_experiments", sa.Column("winner", sa.String(length=32), nullable=True))
    op.add_column(
        "llm_experiments",
        sa.Column("winner_forced", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # DROP COLUMN (SQLite 3.35 and later), for the same reason as above.
    op.drop_column("llm_experiments", "winner_forced")
    op.drop_column("llm_experiments", "winner")
