"""Guardrails keep their own always-valid tests between looks.

A relative guardrail such as ``latency_ms<=+10%`` is judged by two one-sided mSPRTs of
``treatment - 1.1 * control`` (one for harm, one for non-inferiority), each carried over
the looks in ``sequential_states`` under a key naming the guardrail and the side, such as
``latency_ms<=+10%:harm``; a rollout step's checks add ``@step2``. Such a key is longer
than a metric name (64 characters), so the column grows to 128.

Revision ID: 0012
Revises: 0011
Create Date: 2027-03-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # sequential_states has no dependent rows, so SQLite's batch copy of it is safe.
    with op.batch_alter_table("sequential_states", schema=None) as batch_op:
        batch_op.alter_column(
            "metric",
            existing_type=sa.String(length=64),
            type_=sa.String(length=128),
            existing_nullable=False,
        )


def downgrade() -> None:
    op.execute("DELETE FROM sequential_states WHERE length(metric) > 64")
    with op.batch_alter_table("sequential_states", schema=None) as batch_op:
        batch_op.alter_column(
            "metric",
            existing_type=sa.String(length=128),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
