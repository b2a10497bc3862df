"""The state of each always-valid test between looks, and the tuning sample size.

``experiments.sequential_tuning_units`` is the tuning sample size of the experiment's
sequential tests (units of control and treatment together at which the confidence
sequence is tightest), fixed at creation. Experiments created before it have none and are
analysed with the default (5,000, gbstats' default).

``sequential_states`` keeps, per experiment, metric and treatment, the running minimum of
the always-valid p-value and the running intersection of the confidence sequence over the
looks taken, with the design (tuning units, level, alternative, null) they hold for. It
starts empty: the looks before this migration were never recorded.

Revision ID: 0009
Revises: 0008
Create Date: 2027-02-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequential_tuning_units", sa.Integer(), nullable=True))
    op.create_table(
        "sequential_states",
        sa.Column("experiment_id", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=128), nullable=False),
        sa.Column("tuning_units", sa.Integer(), nullable=True),
        sa.Column("level", sa.Double(), nullable=True),
        sa.Column("alternative", sa.String(length=16), nullable=True),
        sa.Column("null_difference", sa.Double(), nullable=True),
        sa.Column("looks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("always_valid_p_value", sa.Double(), nullable=True),
        sa.Column("lower", sa.Double(), nullable=True),
        sa.Column("upper", sa.Double(), nullable=True),
        sa.Column("mixing_variance", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id", "metric", "variant"),
    )


def downgrade() -> None:
    op.drop_table("sequential_states")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("sequential_tuning_units")
