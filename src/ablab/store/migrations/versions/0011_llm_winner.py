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
    with op.batch_alter_table("llm_experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("winner", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("winner_forced", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("llm_experiments", schema=None) as batch_op:
        batch_op.drop_column("winner_forced")
        batch_op.drop_column("winner")
