"""Analysis sources, and the source an experiment is analysed over.

``analysis_sources`` holds each project's named sources (``domain.sources``): the engine, as
JSON where each event type lives and its column mapping, and how long an answer read from
the engine is kept. ``experiments.source`` names
the source an experiment's events are read from; NULL (every experiment before this
migration) reads ablab's own event tables.

Revision ID: 0013
Revises: 0012
Create Date: 2027-03-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_sources",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("tables", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_minutes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name"),
    )
    # A plain ADD COLUMN, never a batch: SQLite's batch mode would copy experiments, and
    # dropping the old table cascades to the rows that refer to it (foreign keys are on).
    op.add_column("experiments", sa.Column("source", sa.String(length=128), nullable=True))


def downgrade() -> None:
    op.drop_column("experiments", "source")
    op.drop_table("analysis_sources")
